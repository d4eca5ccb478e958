//! PromQL. So far the parser: text → syntax tree (`ast`), with Prometheus 2.42's grammar,
//! type checks and error messages, and the canonical printing of an expression
//! (`/api/v1/format_query`'s). The evaluator and the HTTP query API build on it against the
//! data interface (issue 15); this module must not touch storage or HTTP.

pub mod ast;
pub mod functions;
mod gofmt;
pub mod lexer;
pub mod parser;
mod printer;
