//! Label matchers with Prometheus semantics: `=`, `!=`, `=~`, `!~`; regexes are fully
//! anchored, and a series that lacks a label has the empty value for it, so `foo=""` matches
//! series without `foo`. This file knows nothing of storage.

use crate::labels::Labels;
use regex::Regex;

#[derive(Clone, Debug)]
pub enum MatchOp {
    Equal(String),
    NotEqual(String),
    Regex(Regex),
    NotRegex(Regex),
}

/// The four kinds of matcher; on the remote read wire they are 0 to 3 in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchKind {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// Why a matcher cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("invalid regular expression {value:?} for label {name:?}: {source}")]
    Regex { name: String, value: String, source: regex::Error },
    /// A remote read matcher type other than 0 to 3.
    #[error("unknown matcher type {kind} for label {name:?}")]
    UnknownType { kind: i32, name: String },
}

#[derive(Clone, Debug)]
pub struct Matcher {
    pub name: String,
    pub op: MatchOp,
}

impl Matcher {
    /// Builds a matcher; a regex is fully anchored.
    pub fn new(kind: MatchKind, name: &str, value: &str) -> Result<Matcher, Error> {
        let re = || {
            Regex::new(&format!("^(?s:{value})$"))
                .map_err(|source| Error::Regex { name: name.to_string(), value: value.to_string(), source })
        };
        let op = match kind {
            MatchKind::Equal => MatchOp::Equal(value.to_string()),
            MatchKind::NotEqual => MatchOp::NotEqual(value.to_string()),
            MatchKind::Regex => MatchOp::Regex(re()?),
            MatchKind::NotRegex => MatchOp::NotRegex(re()?),
        };
        Ok(Matcher { name: name.to_string(), op })
    }

    /// A matcher as the remote read proto carries it: `kind` 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
    pub fn from_wire(kind: i32, name: &str, value: &str) -> Result<Matcher, Error> {
        let kind = match kind {
            0 => MatchKind::Equal,
            1 => MatchKind::NotEqual,
            2 => MatchKind::Regex,
            3 => MatchKind::NotRegex,
            other => return Err(Error::UnknownType { kind: other, name: name.to_string() }),
        };
        Matcher::new(kind, name, value)
    }

    /// (kind, name, value) as the remote read proto carries it.
    pub fn to_wire(&self) -> (i32, String, String) {
        let inner = |r: &Regex| r.as_str().strip_prefix("^(?s:").and_then(|s| s.strip_suffix(")$")).unwrap_or(r.as_str()).to_string();
        match &self.op {
            MatchOp::Equal(v) => (0, self.name.clone(), v.clone()),
            MatchOp::NotEqual(v) => (1, self.name.clone(), v.clone()),
            MatchOp::Regex(r) => (2, self.name.clone(), inner(r)),
            MatchOp::NotRegex(r) => (3, self.name.clone(), inner(r)),
        }
    }

    pub fn matches_value(&self, value: &str) -> bool {
        match &self.op {
            MatchOp::Equal(v) => value == v,
            MatchOp::NotEqual(v) => value != v,
            MatchOp::Regex(r) => r.is_match(value),
            MatchOp::NotRegex(r) => !r.is_match(value),
        }
    }

    pub fn matches(&self, labels: &Labels) -> bool {
        self.matches_value(labels.get(&self.name))
    }

    /// Whether the empty value (a missing label) matches: such matchers cannot be answered
    /// from the postings of this label alone.
    pub fn matches_empty(&self) -> bool {
        self.matches_value("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_sorted(pairs.iter().copied())
    }

    #[test]
    fn regex_is_anchored() {
        let m = Matcher::new(MatchKind::Regex, "job", "no").unwrap();
        assert!(!m.matches(&l(&[("job", "node")])));
        let m = Matcher::new(MatchKind::Regex, "job", "no.*").unwrap();
        assert!(m.matches(&l(&[("job", "node")])));
        let m = Matcher::new(MatchKind::Regex, "device", "lo|eth.*").unwrap();
        assert!(m.matches(&l(&[("device", "lo")])));
        assert!(m.matches(&l(&[("device", "eth0")])));
        assert!(!m.matches(&l(&[("device", "wlo")])));
    }

    #[test]
    fn empty_value_matches_missing_label() {
        let m = Matcher::new(MatchKind::Equal, "foo", "").unwrap();
        assert!(m.matches(&l(&[("job", "a")])));
        assert!(!m.matches(&l(&[("foo", "x")])));
        let m = Matcher::new(MatchKind::NotEqual, "foo", "").unwrap();
        assert!(!m.matches(&l(&[("job", "a")])));
        let m = Matcher::new(MatchKind::NotRegex, "job", "node").unwrap();
        assert!(m.matches(&l(&[("x", "y")])));
        assert!(m.matches_empty());
    }

    #[test]
    fn bad_regex_names_the_problem() {
        let err = Matcher::new(MatchKind::Regex, "job", "(").unwrap_err().to_string();
        assert!(err.contains("job") && err.contains("invalid regular expression"), "{err}");
    }
}
