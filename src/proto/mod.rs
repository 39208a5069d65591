//! The generated protobuf types, clients and servers of `proto/seatrush/v1`, and the descriptor
//! set served by reflection.

#[allow(clippy::all, clippy::pedantic, missing_docs)]
pub mod v1 {
    pub use super::shared::{GetSeatLayoutResponse, SeatChangeBatch};
    tonic::include_proto!("seatrush.v1");
}

pub mod shared;

/// Encoded `FileDescriptorSet` of the SeatRush protos, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/seatrush_descriptor.bin"));
