//! Wire types of Prometheus remote storage, generated at build time from `proto/*.proto`:
//! remote write 1.0 (`prometheus::WriteRequest`), remote read (`prometheus::ReadRequest`,
//! `ReadResponse`, `ChunkedReadResponse`) and remote write 2.0 (`write_v2::Request`).
//! Besides the types, `remote` holds the wire level around them (snappy bodies, the frames of
//! a streamed read), which the engine and the tests' helpers share; what the messages mean to
//! storage is the engine's business.

/// Remote write 1.0 and remote read (package `prometheus`).
pub mod prometheus {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// Remote write 2.0 (package `io.prometheus.write.v2`).
pub mod write_v2 {
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}

pub mod remote;

pub use prost::Message;
