//! InfluxQL: the statement parser used by `/query`. It knows nothing of storage or HTTP.
pub mod influxql;
