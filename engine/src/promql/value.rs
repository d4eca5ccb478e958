//! The values PromQL evaluation works with, as Prometheus 2.42 defines them (promql/value.go):
//! label sets, points, instant vectors, range vectors (matrices), scalars and strings. Only
//! float samples: native histograms are refused before evaluation.

use std::fmt;
use std::sync::Arc;

/// A label set: (name, value) pairs sorted by name, names unique, no empty values. Shared:
/// every step's sample of a series holds the same set, and a change copies it.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Arc<Vec<(String, String)>>);

impl Labels {
    /// From pairs in any order; empty values are left out (Prometheus' label rule).
    pub fn new(mut pairs: Vec<(String, String)>) -> Labels {
        pairs.retain(|(_, v)| !v.is_empty());
        pairs.sort();
        pairs.dedup_by(|a, b| a.0 == b.0);
        Labels(Arc::new(pairs))
    }

    /// From pairs already sorted by name, unique, without empty values.
    pub fn from_sorted(pairs: Vec<(String, String)>) -> Labels {
        Labels(Arc::new(pairs))
    }

    /// Keeps the labels whose name satisfies `keep`.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        if self.0.iter().any(|(n, _)| !keep(n)) {
            Arc::make_mut(&mut self.0).retain(|(n, _)| keep(n));
        }
    }

    /// The value of `name`, "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or("")
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// Sets `name` to `value`, or removes it when `value` is empty.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                Arc::make_mut(&mut self.0).remove(i);
            }
            Ok(i) if self.0[i].1 == value => {}
            Ok(i) => Arc::make_mut(&mut self.0)[i].1 = value.to_string(),
            Err(_) if value.is_empty() => {}
            Err(i) => Arc::make_mut(&mut self.0).insert(i, (name.to_string(), value.to_string())),
        }
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
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Labels {
    /// As Prometheus prints a label set: `{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.0.iter().enumerate() {
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
}

/// A stored series whose chunks do not decode, named by its labels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a chunk of series {0} does not decode")]
pub struct Undecodable(pub String);

impl Stored {
    /// A series whose samples are already decoded.
    pub fn decoded(labels: Labels, points: Vec<Point>) -> Stored {
        Stored { labels, samples: Box::new(move || Ok(points.clone())) }
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

/// Prometheus' stale marker: the NaN with this bit pattern ends a series at once.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
