//! Wire types of Prometheus remote storage, generated at build time from `proto/*.proto`:
//! remote write 1.0 (`prometheus::WriteRequest`), remote read (`prometheus::ReadRequest`,
//! `ReadResponse`, `ChunkedReadResponse`) and remote write 2.0 (`write_v2::Request`).
//! This crate holds only the types; what they mean to storage is the engine's business.

/// Remote write 1.0 and remote read (package `prometheus`).
pub mod prometheus {
    include!(concat!(env!("OUT_DIR"), "/prometheus.rs"));
}

/// Remote write 2.0 (package `io.prometheus.write.v2`).
pub mod write_v2 {
    include!(concat!(env!("OUT_DIR"), "/io.prometheus.write.v2.rs"));
}

pub use prost::Message;
