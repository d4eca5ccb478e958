//! The values PromQL evaluation works with, as Prometheus 2.42 defines them (promql/value.go):
//! label sets, points, instant vectors, range vectors (matrices), scalars and strings. Only
//! float samples: native histograms are refused before evaluation.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

/// A label set: (name, value) pairs sorted by name, names unique, no empty values. It is the
/// stored form (`crate::labels::Labels`, one shared byte string), so a series read for a query
/// costs no allocation per label, every step's sample of a series holds the same set, and a
/// change makes a new one. Ordered as Prometheus orders label sets (pair by pair, name then
/// value), which the byte order of the encoding is not.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Labels(crate::labels::Labels);

/// The empty set, shared (scalars at every step carry it).
static EMPTY: LazyLock<Labels> = LazyLock::new(|| Labels(crate::labels::Labels::from_sorted([])));

impl Default for Labels {
    fn default() -> Labels {
        EMPTY.clone()
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Labels) -> Ordering {
        self.iter().cmp(other.iter())
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<crate::labels::Labels> for Labels {
    /// A stored series' label set, shared as it is.
    fn from(stored: crate::labels::Labels) -> Labels {
        Labels(stored)
    }
}

impl Labels {
    /// From pairs in any order; empty values are left out (Prometheus' label rule).
    pub fn new(mut pairs: Vec<(String, String)>) -> Labels {
        pairs.retain(|(_, v)| !v.is_empty());
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        Labels::from_sorted(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())))
    }

    /// From pairs already sorted by name, unique, without empty values.
    pub fn from_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        Labels(crate::labels::Labels::from_sorted(pairs))
    }

    /// Keeps the labels whose name satisfies `keep`.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        if self.iter().any(|(n, _)| !keep(n)) {
            *self = Labels::from_sorted(self.iter().filter(|(n, _)| keep(n)));
        }
    }

    /// The value of `name`, "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name)
    }

    pub fn has(&self, name: &str) -> bool {
        self.iter().any(|(n, _)| n == name)
    }

    /// Sets `name` to `value`, or removes it when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.remove(name);
            return;
        }
        if self.get(name) == value {
            return;
        }
        let before = self.iter().filter(|(n, _)| *n < name);
        let after = self.iter().filter(|(n, _)| *n > name);
        *self = Labels::from_sorted(before.chain([(name, value)]).chain(after));
    }

    pub fn remove(&mut self, name: &str) {
        self.retain(|n| n != name);
    }

    /// Without `__name__`.
    pub fn without_name(&self) -> Labels {
        let mut l = self.clone();
        l.remove("__name__");
        l
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_bytes().is_empty()
    }
}

impl fmt::Display for Labels {
    /// As Prometheus prints a label set: `{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

/// One sample: time in milliseconds, value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub t: i64,
    pub v: f64,
}

/// A series' points in time order: a stored series, or one of a range answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub points: Vec<Point>,
}

/// A stored series as a query read it: its labels, and its samples in the read's time range
/// (staleness markers included), decoded only when the evaluator comes to the series, one
/// series at a time; until then the query holds what storage gave (compressed chunks).
pub struct Stored {
    pub labels: Labels,
    /// The samples, or why they cannot be read (data that does not decode).
    pub samples: Box<dyn Fn() -> Result<Vec<Point>, Undecodable> + Send + Sync>,
    /// When a downsampled tier answers the read (`promql::tier`): its windows, which answer
    /// the steps before `through`; the samples then cover only the steps after it.
    pub tier: Option<TierPart>,
}

/// A stored series' windows of a downsampled tier, in time order.
pub struct TierPart {
    /// Every step whose window ends at or before this time (ms) is answered from `windows`.
    pub through: i64,
    pub windows: Vec<crate::encoding::rollup::Window>,
}

/// A stored series whose chunks do not decode, named by its labels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a chunk of series {0} does not decode")]
pub struct Undecodable(pub String);

impl Stored {
    /// A series whose samples are already decoded.
    pub fn decoded(labels: Labels, points: Vec<Point>) -> Stored {
        Stored { labels, samples: Box::new(move || Ok(points.clone())), tier: None }
    }

    pub fn decode(&self) -> Result<Series, super::error::EvalError> {
        let points = (self.samples)().map_err(super::error::EvalError::Storage)?;
        Ok(Series { labels: self.labels.clone(), points })
    }
}

/// An element of an instant vector: a label set with one point.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub point: Point,
}

pub type Vector = Vec<Sample>;
pub type Matrix = Vec<Series>;

/// What an expression evaluates to (at one step, or over a whole query).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(Point),
    String(Point, String),
    Vector(Vector),
    Matrix(Matrix),
}

/// Prometheus' rule for a label name (`model.LabelNameRE`): `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().enumerate().all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (b.is_ascii_digit() && i > 0))
}

/// Prometheus' stale marker (stored as any sample, see `encoding`).
pub use crate::encoding::{is_stale_nan, STALE_NAN_BITS};
