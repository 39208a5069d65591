//! Compiles `proto/` with protox (pure Rust: no system `protoc`), writes the
//! descriptor set that server reflection serves, and generates the tonic code.
//!
//! The served descriptor set is encoded by protox itself, which keeps extension options such as
//! `google.api.http`; `prost_types` would drop them on the way through.

use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/seatrush/v1/accounts.proto",
    "proto/seatrush/v1/inventory.proto",
    "proto/seatrush/v1/booking.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let mut compiler = protox::Compiler::new(["proto"])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(
        out.join("seatrush_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::SmallBufferCodec")
        // Packed seat statuses are shared between readers, not copied.
        .bytes(".seatrush.v1")
        // Encoded once, sent to many (see src/proto/shared.rs).
        .extern_path(
            ".seatrush.v1.SeatChangeBatch",
            "crate::proto::shared::SeatChangeBatch",
        )
        .extern_path(
            ".seatrush.v1.GetSeatLayoutResponse",
            "crate::proto::shared::GetSeatLayoutResponse",
        )
        .compile_fds(compiler.file_descriptor_set())?;
    Ok(())
}
