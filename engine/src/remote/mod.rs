//! Prometheus' remote protocols, both directions, in one place (as Prometheus'
//! `storage/remote/codec.go`): what a request or an answer means as series, selections and
//! chunks. HTTP handlers (`http::write`, `http::read`, `http::internal`) and the cluster's
//! client (`cluster::transport`) call it; the bytes around the messages (snappy, the frame
//! header and CRC) are `proto::remote`, which the end-to-end tests' helpers share.
//!
//! - `write`: decode a remote write 1.0 or 2.0 request into validated series, encode a 1.0 one;
//! - `raw`: the in-place decoder of 1.0 requests, and `label_cache`, its label sets seen before;
//! - `read`: read requests and SAMPLES answers, encoded and decoded, the response type negotiated;
//! - `frames`: STREAMED_XOR_CHUNKS frames cut from series and read back into series.

pub mod frames;
pub mod label_cache;
pub mod raw;
pub mod read;
pub mod write;
