//! Finding series by their labels: Prometheus matchers and the per-shard inverted index.
pub mod matcher;
pub mod postings;
