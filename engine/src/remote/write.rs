//! Remote write 1.0 (`prometheus.WriteRequest`) and 2.0 (`io.prometheus.write.v2.Request`),
//! both directions: decode a request into validated series and metadata (every series checked
//! the way Prometheus' receiver does before anything is stored, so a bad request changes
//! nothing), and encode a 1.0 request (a node's share of a write sent to a peer). Version 1.0
//! goes through the in-place decoder (`raw`) and the label cache (`label_cache`).

use super::raw::RawError;
use crate::labels::Labels;
use crate::data::write::SeriesWrite;
use crate::data::schema::MetricMeta;
use prost::Message;
use proto::{prometheus as v1, write_v2 as v2};

/// What a decoded request holds, validated and ready for storage.
#[derive(Debug)]
pub struct Decoded {
    pub series: Vec<SeriesWrite>,
    pub metadata: Vec<MetricMeta>,
}

/// Why a write request is refused (a 400: the sender must not retry it).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WriteError {
    #[error("protobuf decode of prometheus.WriteRequest: {0}")]
    V1(RawError),
    #[error("protobuf decode of io.prometheus.write.v2.Request: {0}")]
    V2(prost::DecodeError),
    #[error(transparent)]
    Labels(#[from] LabelError),
    #[error("series {0}: native histograms are not supported yet")]
    Histograms(Labels),
    #[error("symbol reference {reference} is out of range: the symbol table has {symbols} entries")]
    Symbol { reference: u32, symbols: usize },
    #[error("labels_refs must hold name and value references in pairs")]
    OddLabelRefs,
}

/// A label set Prometheus' receiver refuses, shown as sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("series {series}: {problem}")]
pub struct LabelError {
    pub series: String,
    pub problem: LabelProblem,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LabelProblem {
    #[error("empty label name")]
    EmptyName,
    #[error("label {0:?} has an empty value")]
    EmptyValue(String),
    #[error("duplicate label name {0:?}")]
    Duplicate(String),
    #[error("label names are not sorted ({name:?} comes after {prev:?})")]
    Unsorted { name: String, prev: String },
    #[error("missing metric name (label __name__)")]
    NoMetricName,
}

/// Checks a label set the way Prometheus' receiver does and encodes it.
pub fn validate_labels<'a>(pairs: &[(&'a str, &'a str)]) -> Result<Labels, LabelError> {
    let refuse = |problem| {
        let inner: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
        LabelError { series: format!("{{{}}}", inner.join(", ")), problem }
    };
    let mut has_name = false;
    for (i, (name, value)) in pairs.iter().enumerate() {
        if name.is_empty() {
            return Err(refuse(LabelProblem::EmptyName));
        }
        if value.is_empty() {
            return Err(refuse(LabelProblem::EmptyValue(name.to_string())));
        }
        if i > 0 {
            let prev = pairs[i - 1].0;
            if prev == *name {
                return Err(refuse(LabelProblem::Duplicate(name.to_string())));
            }
            if prev > *name {
                return Err(refuse(LabelProblem::Unsorted { name: name.to_string(), prev: prev.to_string() }));
            }
        }
        has_name |= *name == "__name__";
    }
    if !has_name {
        return Err(refuse(LabelProblem::NoMetricName));
    }
    Ok(Labels::from_sorted(pairs.iter().copied()))
}

/// Decodes and validates a remote write 1.0 body (protobuf, decompressed).
pub fn decode_v1(body: &[u8]) -> Result<Decoded, WriteError> {
    let req = super::raw::write_request(body).map_err(WriteError::V1)?;
    let labels = super::label_cache::labels(&req.series, |ts| -> Result<Labels, WriteError> { Ok(validate_labels(&ts.labels().map_err(WriteError::V1)?)?) })?;
    let mut series = Vec::with_capacity(req.series.len());
    for (ts, (labels, hash)) in req.series.into_iter().zip(labels) {
        if ts.histograms > 0 {
            return Err(WriteError::Histograms(labels));
        }
        series.push(SeriesWrite { hash, labels, samples: ts.samples });
    }
    let metadata = req
        .metadata
        .into_iter()
        .map(|m| MetricMeta {
            kind: v1::metric_metadata::MetricType::try_from(m.r#type)
                .map(|t| t.as_str_name().to_ascii_lowercase())
                .unwrap_or_else(|_| "unknown".into()),
            family: m.metric_family_name,
            help: m.help,
            unit: m.unit,
        })
        .collect();
    Ok(Decoded { series, metadata })
}

/// Decodes and validates a remote write 2.0 body (protobuf, decompressed).
pub fn decode_v2(body: &[u8]) -> Result<Decoded, WriteError> {
    let req = v2::Request::decode(body).map_err(WriteError::V2)?;
    let symbol = |r: u32| req.symbols.get(r as usize).map(String::as_str).ok_or(WriteError::Symbol { reference: r, symbols: req.symbols.len() });
    let mut series = Vec::with_capacity(req.timeseries.len());
    let mut metadata = Vec::new();
    for ts in &req.timeseries {
        if ts.labels_refs.len() % 2 != 0 {
            return Err(WriteError::OddLabelRefs);
        }
        let mut pairs = Vec::with_capacity(ts.labels_refs.len() / 2);
        for pair in ts.labels_refs.chunks_exact(2) {
            pairs.push((symbol(pair[0])?, symbol(pair[1])?));
        }
        let labels = validate_labels(&pairs)?;
        if !ts.histograms.is_empty() {
            return Err(WriteError::Histograms(labels));
        }
        if let Some(m) = &ts.metadata {
            let kind = v2::metadata::MetricType::try_from(m.r#type)
                .map(|t| t.as_str_name().trim_start_matches("METRIC_TYPE_").to_ascii_lowercase())
                .unwrap_or_else(|_| "unknown".into());
            let (help, unit) = (symbol(m.help_ref)?, symbol(m.unit_ref)?);
            if m.r#type != 0 || !help.is_empty() || !unit.is_empty() {
                metadata.push(MetricMeta { family: labels.get("__name__").to_string(), kind, help: help.into(), unit: unit.into() });
            }
        }
        let samples = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
        series.push(SeriesWrite { hash: labels.stable_hash(), labels, samples });
    }
    Ok(Decoded { series, metadata })
}

/// The series as a snappy remote write 1.0 body.
pub fn encode_v1(series: &[SeriesWrite]) -> Result<Vec<u8>, snap::Error> {
    let timeseries = series
        .iter()
        .map(|s| v1::TimeSeries {
            labels: super::read::labels_pb(&s.labels),
            samples: s.samples.iter().map(|(t, v)| v1::Sample { timestamp: *t, value: *v }).collect(),
            ..Default::default()
        })
        .collect();
    proto::remote::snappy_message(&v1::WriteRequest { timeseries, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_rules() {
        assert!(validate_labels(&[("__name__", "up"), ("job", "x")]).is_ok());
        let e = validate_labels(&[("job", "x")]).unwrap_err().to_string();
        assert!(e.contains("missing metric name"), "{e}");
        let e = validate_labels(&[("__name__", "up"), ("b", "1"), ("a", "2")]).unwrap_err().to_string();
        assert!(e.contains("not sorted"), "{e}");
        let e = validate_labels(&[("__name__", "up"), ("a", "1"), ("a", "2")]).unwrap_err().to_string();
        assert!(e.contains("duplicate label name"), "{e}");
        let e = validate_labels(&[("__name__", "up"), ("a", "")]).unwrap_err().to_string();
        assert!(e.contains("empty value"), "{e}");
    }

    #[test]
    fn v2_symbols_resolve() {
        let req = v2::Request {
            symbols: vec!["".into(), "__name__".into(), "up".into(), "job".into(), "n".into(), "help text".into()],
            timeseries: vec![v2::TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![v2::Sample { value: 1.0, timestamp: 5 }],
                metadata: Some(v2::Metadata { r#type: 2, help_ref: 5, unit_ref: 0 }),
                ..Default::default()
            }],
        };
        let d = decode_v2(&req.encode_to_vec()).unwrap();
        assert_eq!(d.series[0].labels.to_string(), r#"up{job="n"}"#);
        assert_eq!(d.metadata[0].kind, "gauge");
        assert_eq!(d.metadata[0].help, "help text");
        let bad = v2::Request { symbols: vec!["".into()], timeseries: vec![v2::TimeSeries { labels_refs: vec![0, 9], ..Default::default() }] };
        assert!(decode_v2(&bad.encode_to_vec()).unwrap_err().to_string().contains("out of range"));
    }
}
