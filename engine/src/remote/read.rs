//! Remote read (`prometheus.ReadRequest` / `ReadResponse`), both directions: a request's
//! queries as selections, the response type both sides speak (SAMPLES or STREAMED_XOR_CHUNKS,
//! whose frames are `frames`), a SAMPLES answer's series; and for a client (a cluster node
//! asking a peer) a request of one query and the series of a SAMPLES answer.

use crate::data::Selection;
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use prost::Message;
use proto::prometheus::{self as pb, read_request::ResponseType};
use proto::remote::{snappy_message, unsnappy};

/// Why a read request is refused (a 400).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error("protobuf decode of prometheus.ReadRequest: {0}")]
    Decode(prost::DecodeError),
    #[error("query {index}: {reason}")]
    Matcher { index: usize, reason: crate::index::matcher::Error },
    #[error("none of the accepted response types {0:?} is supported: use SAMPLES (0) or STREAMED_XOR_CHUNKS (1)")]
    ResponseTypes(Vec<i32>),
}

/// Why a SAMPLES answer cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("{0}")]
    Snappy(#[from] snap::Error),
    #[error("{0}")]
    Protobuf(#[from] prost::DecodeError),
}

/// A `ReadRequest` (protobuf, decompressed).
pub fn decode_request(body: &[u8]) -> Result<pb::ReadRequest, ReadError> {
    pb::ReadRequest::decode(body).map_err(ReadError::Decode)
}

/// The queries of a remote read request, as selections.
pub fn parse_queries(req: &pb::ReadRequest) -> Result<Vec<Selection>, ReadError> {
    req.queries
        .iter()
        .enumerate()
        .map(|(index, q)| {
            let matchers = q
                .matchers
                .iter()
                .map(|m| Matcher::from_wire(m.r#type, &m.name, &m.value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|reason| ReadError::Matcher { index, reason })?;
            Ok(Selection { matchers, min_t: q.start_timestamp_ms, max_t: q.end_timestamp_ms })
        })
        .collect()
}

/// The first response type of the client's list that we serve; an empty list means SAMPLES.
pub fn negotiate(req: &pb::ReadRequest) -> Result<ResponseType, ReadError> {
    if req.accepted_response_types.is_empty() {
        return Ok(ResponseType::Samples);
    }
    req.accepted_response_types
        .iter()
        .find_map(|t| ResponseType::try_from(*t).ok())
        .ok_or_else(|| ReadError::ResponseTypes(req.accepted_response_types.clone()))
}

pub fn labels_pb(labels: &Labels) -> Vec<pb::Label> {
    labels.iter().map(|(n, v)| pb::Label { name: n.to_string(), value: v.to_string() }).collect()
}

/// One series of a SAMPLES answer.
pub fn timeseries(labels: &Labels, samples: Vec<(i64, f64)>) -> pb::TimeSeries {
    let samples = samples.into_iter().map(|(timestamp, value)| pb::Sample { value, timestamp }).collect();
    pb::TimeSeries { labels: labels_pb(labels), samples, ..Default::default() }
}

/// A SAMPLES answer as its body: protobuf, then snappy.
pub fn encode_response(response: &pb::ReadResponse) -> Result<Vec<u8>, snap::Error> {
    snappy_message(response)
}

/// A snappy request of one query, answered as `accepted` (empty: SAMPLES).
pub fn encode_request(matchers: &[Matcher], min_t: i64, max_t: i64, accepted: Vec<i32>) -> Result<Vec<u8>, snap::Error> {
    let matchers = matchers
        .iter()
        .map(|m| {
            let (r#type, name, value) = m.to_wire();
            pb::LabelMatcher { r#type, name, value }
        })
        .collect();
    let query = pb::Query { start_timestamp_ms: min_t, end_timestamp_ms: max_t, matchers, hints: None };
    snappy_message(&pb::ReadRequest { queries: vec![query], accepted_response_types: accepted })
}

/// The series of a snappy `ReadResponse` (every query's) with their samples, labels sorted.
pub fn decode_response(body: &[u8]) -> Result<Vec<(Labels, Vec<(i64, f64)>)>, AnswerError> {
    let response = pb::ReadResponse::decode(unsnappy(body)?.as_slice())?;
    Ok(response
        .results
        .into_iter()
        .flat_map(|r| r.timeseries)
        .map(|ts| {
            let mut pairs: Vec<(String, String)> = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
            pairs.sort();
            let labels = Labels::from_sorted(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())));
            (labels, ts.samples.into_iter().map(|s| (s.timestamp, s.value)).collect())
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_and_a_samples_answer_go_both_ways() {
        let matchers = vec![Matcher::from_wire(0, "__name__", "up").unwrap()];
        let body = encode_request(&matchers, 1, 2, vec![ResponseType::StreamedXorChunks as i32]).unwrap();
        let req = decode_request(&unsnappy(&body).unwrap()).unwrap();
        assert_eq!(negotiate(&req), Ok(ResponseType::StreamedXorChunks));
        let q = parse_queries(&req).unwrap();
        assert_eq!((q[0].min_t, q[0].max_t, q[0].matchers.len()), (1, 2, 1));
        let labels = Labels::from_sorted([("__name__", "up"), ("job", "a")]);
        let answer = pb::ReadResponse { results: vec![pb::QueryResult { timeseries: vec![timeseries(&labels, vec![(5, 1.5)])] }] };
        assert_eq!(decode_response(&encode_response(&answer).unwrap()).unwrap(), vec![(labels, vec![(5, 1.5)])]);
        let refused = pb::ReadRequest { queries: vec![], accepted_response_types: vec![7] };
        assert!(negotiate(&refused).unwrap_err().to_string().starts_with("none of the accepted response types [7]"));
    }
}
