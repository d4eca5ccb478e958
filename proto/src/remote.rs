//! The wire level of Prometheus' remote protocols, shared by the server (`engine/src/remote`)
//! and the end-to-end tests' helpers: snappy (block format) bodies around prost messages, and
//! the frames of a STREAMED_XOR_CHUNKS answer (a uvarint length, the big-endian CRC32-C of the
//! message, a `ChunkedReadResponse`). Nothing here knows what a message means to storage.

use crate::prometheus as pb;
use prost::Message;

/// Largest streamed frame, header included, as Prometheus' server uses.
pub const MAX_FRAME_BYTES: usize = 1 << 20;

/// Snappy (block format) compression of a body.
pub fn snappy(bytes: &[u8]) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Encoder::new().compress_vec(bytes)
}

/// Decompresses a snappy (block format) body.
pub fn unsnappy(bytes: &[u8]) -> Result<Vec<u8>, snap::Error> {
    snap::raw::Decoder::new().decompress_vec(bytes)
}

/// A message as a remote write or read body carries it: protobuf, then snappy.
pub fn snappy_message(msg: &impl Message) -> Result<Vec<u8>, snap::Error> {
    snappy(&msg.encode_to_vec())
}

/// Frames one message: uvarint length, big-endian CRC32-Castagnoli of the message, message.
pub fn encode_frame(msg: &pb::ChunkedReadResponse) -> Vec<u8> {
    let body = msg.encode_to_vec();
    let mut out = Vec::with_capacity(body.len() + 14);
    prost::encoding::encode_varint(body.len() as u64, &mut out);
    out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Why a frame cannot be read.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    /// A message longer than `MAX_FRAME_BYTES`.
    TooBig(u64),
    /// Ten bytes that do not end a uvarint.
    NoUvarint,
    /// The CRC32-C of the message is not the one sent.
    Crc,
    /// The message is no `ChunkedReadResponse`.
    Message(prost::DecodeError),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TooBig(len) => write!(f, "a frame of {len} bytes, over the {MAX_FRAME_BYTES} allowed"),
            FrameError::NoUvarint => f.write_str("a frame length that is no uvarint"),
            FrameError::Crc => f.write_str("a frame whose CRC32-C does not match"),
            FrameError::Message(e) => write!(f, "a frame that does not decode: {e}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// One whole frame at the start of a buffer, not yet checked.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// Bytes of the length uvarint.
    pub varint_len: usize,
    /// The CRC32-C sent with the message.
    pub crc: u32,
    pub message: &'a [u8],
}

impl<'a> Frame<'a> {
    /// Bytes of the whole frame: length, CRC and message.
    pub fn len(&self) -> usize {
        self.varint_len + 4 + self.message.len()
    }

    /// Never true: a frame holds at least its length and CRC.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The message, its CRC checked.
    pub fn decode(&self) -> Result<pb::ChunkedReadResponse, FrameError> {
        if crc32c::crc32c(self.message) != self.crc {
            return Err(FrameError::Crc);
        }
        pb::ChunkedReadResponse::decode(self.message).map_err(FrameError::Message)
    }
}

/// The frame at the start of `buf`; `None` while it has not all arrived.
pub fn split_frame(buf: &[u8]) -> Result<Option<Frame<'_>>, FrameError> {
    let mut len = 0u64;
    for (i, b) in buf.iter().enumerate().take(10) {
        len |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            if len > MAX_FRAME_BYTES as u64 {
                return Err(FrameError::TooBig(len));
            }
            let header = i + 1 + 4;
            if buf.len() < header + len as usize {
                return Ok(None);
            }
            let crc = u32::from_be_bytes(buf[i + 1..header].try_into().expect("4 bytes"));
            return Ok(Some(Frame { varint_len: i + 1, crc, message: &buf[header..header + len as usize] }));
        }
    }
    match buf.len() >= 10 {
        true => Err(FrameError::NoUvarint),
        false => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_splits_back_into_its_message() {
        let msg = pb::ChunkedReadResponse { chunked_series: vec![pb::ChunkedSeries::default()], query_index: 7 };
        let bytes = encode_frame(&msg);
        for cut in 0..bytes.len() {
            assert!(split_frame(&bytes[..cut]).unwrap().is_none(), "{cut} bytes");
        }
        let frame = split_frame(&bytes).unwrap().unwrap();
        assert_eq!(frame.len(), bytes.len());
        assert_eq!(frame.decode().unwrap(), msg);
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(split_frame(&bad).unwrap().unwrap().decode(), Err(FrameError::Crc));
        assert_eq!(split_frame(&[0xff; 12]).unwrap_err(), FrameError::NoUvarint);
        assert_eq!(unsnappy(&snappy_message(&msg).unwrap()).unwrap(), msg.encode_to_vec());
    }
}
