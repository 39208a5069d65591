//! Compiles `proto/` with protox (pure Rust: no system `protoc`), writes the
//! descriptor set that server reflection serves, and generates the tonic code.

use prost::Message;
use std::{env, path::PathBuf};

const PROTOS: &[&str] = &[
    "proto/seatrush/v1/accounts.proto",
    "proto/seatrush/v1/inventory.proto",
    "proto/seatrush/v1/booking.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(PROTOS, ["proto"])?;
    let out = PathBuf::from(env::var("OUT_DIR")?);
    std::fs::write(out.join("seatrush_descriptor.bin"), fds.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::codec::SmallBufferCodec")
        .compile_fds(fds)?;
    Ok(())
}
