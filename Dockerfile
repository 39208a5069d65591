# Builds the SeatRush server. The protos compile with protox (pure Rust), so no protoc is needed.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin seatrush

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/seatrush /usr/local/bin/seatrush
ENV SEATRUSH_LISTEN=0.0.0.0:50051 SEATRUSH_DATA_DIR=/var/lib/seatrush
VOLUME /var/lib/seatrush
EXPOSE 50051
ENTRYPOINT ["/usr/local/bin/seatrush"]
