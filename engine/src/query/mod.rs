//! InfluxQL: scanner, syntax tree, statement parser and the pure parts of `SELECT`
//! evaluation. It knows nothing of storage or HTTP.
pub mod admin;
pub mod delete;
pub mod error;
pub mod ast;
pub mod influxql;
pub mod lexer;
pub mod render;
pub mod retention;
pub mod select;
pub mod aggregate;
pub mod condition;
