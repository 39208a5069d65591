//! Messages that many responses carry unchanged, encoded once and then sent as bytes.
//!
//! A batch of seat changes goes to every watcher of the event, and a stadium's layout (10,000
//! rows) to every fan that opens the map. Building and encoding them per response made the
//! server's cost follow watchers × changes; [`Shared`] lets the first sender encode and every
//! other one copy the bytes. On the wire nothing changes: a client decodes a `Shared<M>` exactly
//! as it would decode `M`, and reads it through `Deref`.
//!
//! prost generates the messages that carry these (`WatchSeatsResponse`, the service) against
//! the aliases below (`extern_path` in `build.rs`); the field structs repeat the `.proto`
//! definitions, and a test checks them against the descriptor set.

use bytes::{Buf, BufMut, Bytes};
use prost::encoding::{DecodeContext, WireType};
use prost::{DecodeError, Message};
use std::ops::Deref;

/// `seatrush.v1.SeatChangeBatch`.
pub type SeatChangeBatch = Shared<SeatChangeBatchFields>;
/// `seatrush.v1.GetSeatLayoutResponse`.
pub type GetSeatLayoutResponse = Shared<GetSeatLayoutResponseFields>;

/// A message, or the bytes of one encoded earlier.
///
/// A value made by [`Shared::from_encoded`] only carries its bytes: its fields read as the
/// default until it is decoded on the other side.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shared<M> {
    message: M,
    /// Pieces of one encoded message, sent one after the other.
    encoded: Option<Vec<Bytes>>,
}

impl<M: Message + Default> Shared<M> {
    pub fn new(message: M) -> Self {
        Self {
            message,
            encoded: None,
        }
    }

    /// The bytes of `message`, to send many times with [`Shared::from_encoded`].
    pub fn encode(message: &M) -> Bytes {
        Bytes::from(message.encode_to_vec())
    }

    pub fn from_encoded(encoded: Bytes) -> Self {
        Self::from_parts(vec![encoded])
    }

    /// A message whose encoding is these pieces in order: protobuf fields may come in any
    /// order and a repeated field's entries may be spread over pieces.
    pub fn from_parts(parts: Vec<Bytes>) -> Self {
        Self {
            message: M::default(),
            encoded: Some(parts),
        }
    }

    pub fn into_inner(self) -> M {
        self.message
    }
}

impl<M> Deref for Shared<M> {
    type Target = M;

    fn deref(&self) -> &M {
        &self.message
    }
}

impl<M: Message + Default> Message for Shared<M> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        match &self.encoded {
            Some(parts) => parts.iter().for_each(|part| buf.put_slice(part)),
            None => self.message.encode_raw(buf),
        }
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        self.encoded = None;
        self.message.merge_field(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        match &self.encoded {
            Some(parts) => parts.iter().map(Bytes::len).sum(),
            None => self.message.encoded_len(),
        }
    }

    fn clear(&mut self) {
        self.message.clear();
        self.encoded = None;
    }
}

/// The changes of a short window (at most 50 ms), in order.
#[derive(Clone, PartialEq, Message)]
pub struct SeatChangeBatchFields {
    /// The versions of the first and the last change of the batch; the next batch starts at
    /// to_version + 1.
    #[prost(uint64, tag = "1")]
    pub from_version: u64,
    #[prost(uint64, tag = "2")]
    pub to_version: u64,
    #[prost(message, repeated, tag = "3")]
    pub updates: Vec<super::v1::SeatUpdate>,
    /// The general-admission areas whose free places changed, with their count after each batch.
    #[prost(message, repeated, tag = "5")]
    pub areas: Vec<super::v1::AreaAvailability>,
    /// When the batch's first change was made (the store's clock).
    #[prost(message, optional, tag = "4")]
    pub first_at: Option<prost_types::Timestamp>,
}

#[derive(Clone, PartialEq, Message)]
pub struct GetSeatLayoutResponseFields {
    #[prost(string, tag = "1")]
    pub event_id: String,
    /// Changes only if the layout does (it never does after creation).
    #[prost(string, tag = "2")]
    pub digest: String,
    #[prost(uint32, tag = "3")]
    pub seat_count: u32,
    /// In layout order. An event without sections has one section with an empty code.
    #[prost(message, repeated, tag = "4")]
    pub sections: Vec<super::v1::LayoutSection>,
    /// Empty for a free event.
    #[prost(message, repeated, tag = "5")]
    pub price_categories: Vec<super::v1::PriceCategory>,
    /// The general-admission areas.
    #[prost(message, repeated, tag = "6")]
    pub areas: Vec<super::v1::AreaSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::field_descriptor_proto::{Label, Type};
    use prost_types::{DescriptorProto, FileDescriptorSet};

    fn described(name: &str) -> DescriptorProto {
        let set = FileDescriptorSet::decode(super::super::FILE_DESCRIPTOR_SET).expect("set");
        set.file
            .iter()
            .filter(|f| f.package() == "seatrush.v1")
            .flat_map(|f| f.message_type.iter())
            .find(|m| m.name() == name)
            .cloned()
            .expect(name)
    }

    /// (number, name, type, repeated, message type) of each field of the `.proto` message.
    fn fields(name: &str) -> Vec<(i32, String, Type, bool, String)> {
        described(name)
            .field
            .iter()
            .map(|f| {
                (
                    f.number(),
                    f.name().to_owned(),
                    f.r#type(),
                    f.label() == Label::Repeated,
                    f.type_name().to_owned(),
                )
            })
            .collect()
    }

    fn field(
        number: i32,
        name: &str,
        kind: Type,
        repeated: bool,
        message: &str,
    ) -> (i32, String, Type, bool, String) {
        (number, name.to_owned(), kind, repeated, message.to_owned())
    }

    #[test]
    fn the_field_structs_match_the_proto() {
        assert_eq!(
            fields("SeatChangeBatch"),
            vec![
                field(1, "from_version", Type::Uint64, false, ""),
                field(2, "to_version", Type::Uint64, false, ""),
                field(3, "updates", Type::Message, true, ".seatrush.v1.SeatUpdate"),
                field(
                    5,
                    "areas",
                    Type::Message,
                    true,
                    ".seatrush.v1.AreaAvailability"
                ),
                field(
                    4,
                    "first_at",
                    Type::Message,
                    false,
                    ".google.protobuf.Timestamp"
                ),
            ]
        );
        assert_eq!(
            fields("GetSeatLayoutResponse"),
            vec![
                field(1, "event_id", Type::String, false, ""),
                field(2, "digest", Type::String, false, ""),
                field(3, "seat_count", Type::Uint32, false, ""),
                field(
                    4,
                    "sections",
                    Type::Message,
                    true,
                    ".seatrush.v1.LayoutSection"
                ),
                field(
                    5,
                    "price_categories",
                    Type::Message,
                    true,
                    ".seatrush.v1.PriceCategory"
                ),
                field(6, "areas", Type::Message, true, ".seatrush.v1.AreaSpec"),
            ]
        );
    }

    #[test]
    fn encoded_bytes_decode_as_the_message() {
        let batch = SeatChangeBatchFields {
            from_version: 7,
            to_version: 9,
            updates: vec![super::super::v1::SeatUpdate {
                seat_index: 3,
                status: 2,
                reason: 1,
                label: "A4".into(),
            }],
            areas: vec![super::super::v1::AreaAvailability {
                code: "FLOOR".into(),
                available: 17,
                capacity: 20,
            }],
            first_at: Some(prost_types::Timestamp {
                seconds: 5,
                nanos: 6,
            }),
        };
        let sent = SeatChangeBatch::from_encoded(SeatChangeBatch::encode(&batch));
        assert_eq!(sent.encoded_len(), batch.encoded_len());
        let received = SeatChangeBatch::decode(sent.encode_to_vec().as_slice()).expect("decode");
        assert_eq!(*received, batch);
        assert_eq!(received.encode_to_vec(), batch.encode_to_vec());
    }
}
