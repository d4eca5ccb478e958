//! What a write hands the data interface (`SeriesWrite`: one series' samples) and what it
//! answers (`WriteOutcome`, with the series it refused and why); the cluster's
//! `/internal/v1/write` carries the outcome as JSON.

use crate::labels::Labels;

/// At most this many rejected series are named in an answer.
pub const MAX_REJECTIONS_NAMED: usize = 5;

#[derive(Debug, Clone)]
pub struct SeriesWrite {
    pub labels: Labels,
    pub hash: u64,
    pub samples: Vec<(i64, f64)>,
}

/// What a write did; the cluster's `/internal/v1/write` answers it as JSON.
#[derive(Default, Debug, serde::Serialize, serde::Deserialize)]
pub struct WriteOutcome {
    pub accepted: u64,
    pub duplicates: u64,
    pub new_series: u64,
    pub rejected: u64,
    /// The first few rejected series, each with the reason.
    pub rejections: Vec<Rejection>,
}

/// The first sample of a series that a write refused, and why.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
pub struct Rejection {
    /// The series' labels as they are displayed (`Labels`'s `Display`).
    pub series: String,
    pub why: Refused,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq)]
pub enum Refused {
    /// At `t`, older than the series' newest sample.
    OutOfOrder { t: i64, newest: i64 },
    /// At `t`, the time of the series' newest sample, with another value.
    Duplicate { t: i64 },
    /// A new series beyond a series limit of `max` (`storage::series_limits`).
    SeriesLimit { limit: SeriesLimit, max: u64 },
}

/// The series limits of a node (`--storage.max-*-series`).
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesLimit {
    /// New series in the last hour.
    Hourly,
    /// New series in the last 24 hours.
    Daily,
    /// Series of one database.
    Database,
}

impl SeriesLimit {
    pub const ALL: [SeriesLimit; 3] = [SeriesLimit::Hourly, SeriesLimit::Daily, SeriesLimit::Database];

    /// The name `/metrics` gives it.
    pub fn name(self) -> &'static str {
        match self {
            SeriesLimit::Hourly => "hourly",
            SeriesLimit::Daily => "daily",
            SeriesLimit::Database => "database",
        }
    }

    /// What it limits and the flag that sets it, for an error message.
    fn describe(self, max: u64) -> String {
        match self {
            SeriesLimit::Hourly => format!("the limit of {max} new series per hour (--storage.max-hourly-series)"),
            SeriesLimit::Daily => format!("the limit of {max} new series per day (--storage.max-daily-series)"),
            SeriesLimit::Database => format!("the limit of {max} series per database (--storage.max-series-per-database)"),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (why, t, newest) = match self.why {
            Refused::OutOfOrder { t, newest } => ("out of order sample", t, newest),
            Refused::Duplicate { t } => ("duplicate sample for timestamp", t, t),
            Refused::SeriesLimit { limit, max } => return write!(f, "new series {} refused: {} is reached", self.series, limit.describe(max)),
        };
        write!(f, "{why} {t} (newest is {newest}) for series {}", self.series)
    }
}

impl WriteOutcome {
    pub fn merge(&mut self, o: WriteOutcome) {
        self.accepted += o.accepted;
        self.duplicates += o.duplicates;
        self.new_series += o.new_series;
        self.rejected += o.rejected;
        let room = MAX_REJECTIONS_NAMED.saturating_sub(self.rejections.len());
        self.rejections.extend(o.rejections.into_iter().take(room));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_read_as_they_always_did() {
        let series = Labels::from_sorted([("__name__", "up"), ("job", "a")]).to_string();
        let late = Rejection { series: series.clone(), why: Refused::OutOfOrder { t: 5, newest: 9 } };
        assert_eq!(late.to_string(), format!("out of order sample 5 (newest is 9) for series {series}"));
        let twice = Rejection { series: series.clone(), why: Refused::Duplicate { t: 9 } };
        assert_eq!(twice.to_string(), format!("duplicate sample for timestamp 9 (newest is 9) for series {series}"));
        let json = serde_json::to_string(&late).unwrap();
        assert_eq!(serde_json::from_str::<Rejection>(&json).unwrap(), late);
    }
}
