//! The protobuf codec of every SeatRush service: tonic's prost codec with small encode buffers,
//! and decode errors that say whose mistake they are.
//!
//! tonic keeps one encode buffer per response stream, batches ready messages into it up to a
//! yield threshold (32 KiB by default), and never shrinks it. With thousands of WatchSeats
//! streams that retained capacity dominated the server's memory (measured with heaptrack: 83 of
//! 152 MiB with 2,000 watchers). A 1 KiB initial buffer and a 4 KiB yield threshold keep each
//! stream's buffer at the size of one snapshot part.
//!
//! A message that does not decode is the sender's fault: the server answers INVALID_ARGUMENT
//! naming the message type, without the parser's text (prost would say INTERNAL with it, which
//! pages operators for a client's bug).

use prost::Message;
use std::marker::PhantomData;
use tonic::Status;
use tonic::codec::{BufferSettings, Codec, DecodeBuf, Decoder};
use tonic_prost::{ProstCodec, ProstDecoder, ProstEncoder};

const ENCODE_BUFFER: usize = 1024;
const YIELD_THRESHOLD: usize = 4 * 1024;

/// Named by `build.rs` (`codec_path`) for all generated servers and clients.
#[derive(Debug, Clone, Copy)]
pub struct SmallBufferCodec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for SmallBufferCodec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> Codec for SmallBufferCodec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = CheckedDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstCodec::<T, U>::raw_encoder(BufferSettings::new(ENCODE_BUFFER, YIELD_THRESHOLD))
    }

    fn decoder(&mut self) -> Self::Decoder {
        CheckedDecoder(ProstCodec::<T, U>::raw_decoder(BufferSettings::default()))
    }
}

/// prost's decoder, with INVALID_ARGUMENT for a message that is not of the expected type.
pub struct CheckedDecoder<U>(ProstDecoder<U>);

impl<U: Message + Default> Decoder for CheckedDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        self.0.decode(buf).map_err(|_| {
            let name = std::any::type_name::<U>();
            let name = name.rsplit("::").next().unwrap_or(name);
            Status::invalid_argument(format!("the message is not a valid {name}"))
        })
    }

    fn buffer_settings(&self) -> BufferSettings {
        self.0.buffer_settings()
    }
}
