//! InfluxQL's errors, in the words users see: `ParseError` for text that does not parse (with
//! the position InfluxDB gives, "at line 1, char N"), `StatementError` for a statement that
//! parses but cannot run as written. Neither knows anything of storage or HTTP.

use std::fmt;

/// Text that does not parse: what was wrong and, where there is one, the 1-based character
/// position it was found at.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    pub message: String,
    pub char: Option<usize>,
}

impl ParseError {
    /// An error found at the 1-based character `char`.
    pub fn at(message: impl Into<String>, char: usize) -> ParseError {
        ParseError { message: message.into(), char: Some(char) }
    }

    /// An error of the statement as a whole.
    pub fn whole(message: impl Into<String>) -> ParseError {
        ParseError { message: message.into(), char: None }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.char {
            Some(char) => write!(f, "{} at line 1, char {char}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ParseError {}

/// A statement that parses but cannot run as written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StatementError {
    #[error("invalid time {0:?}: expected RFC3339 such as '2024-01-02T15:04:05Z'")]
    InvalidTime(String),
    #[error("time {0:?} is out of range")]
    TimeOutOfRange(String),
    /// The expression as the syntax tree prints it.
    #[error("invalid time expression {0}")]
    TimeExpression(String),
    #[error("invalid time comparison operator: {0}")]
    TimeOperator(String),
    #[error("invalid time condition: time bounds can only be joined to the rest of the condition with AND")]
    TimeUnderOr,
    #[error("invalid regex /{re}/: {reason}")]
    Regex { re: String, reason: String },
    /// The condition as the syntax tree prints it.
    #[error("invalid condition {0}: expected a comparison")]
    NotAComparison(String),
    #[error("invalid condition {0}: the left side must be a tag or field name")]
    LeftNotAName(String),
    #[error("{op} needs a regex on the right, as in {name} {op} /re/")]
    RegexExpected { op: String, name: String },
    #[error("invalid operator {op} for field {name}")]
    FieldOperator { op: String, name: String },
    #[error("GROUP BY time({every_s}s) with a fill gives {count} windows, more than the {max} allowed: narrow the time range, widen the interval, add a LIMIT or use fill(none)")]
    TooManyWindows { every_s: i64, count: i128, max: i64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_names_its_position_when_it_has_one() {
        assert_eq!(ParseError::at("found EOF, expected FROM", 9).to_string(), "found EOF, expected FROM at line 1, char 9");
        assert_eq!(ParseError::whole("empty query").to_string(), "empty query");
    }
}
