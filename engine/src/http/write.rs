//! Remote write 1.0 (`prometheus.WriteRequest`) and 2.0 (`io.prometheus.write.v2.Request`):
//! decode, validate every series before anything is stored (a bad request changes nothing),
//! then hand the series to storage. Status codes follow the remote write specification.

use super::body::{decompress, protobuf_message, read_raw};
use crate::model::Privilege;
use super::{ApiError, AppState};
use crate::labels::Labels;
use crate::storage::shard::{SeriesWrite, WriteOutcome};
use crate::storage::MetricMeta;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use prost::Message;
use proto::{prometheus as v1, write_v2 as v2};

#[derive(serde::Deserialize)]
pub struct WriteParams {
    db: Option<String>,
    rp: Option<String>,
}

/// `/api/v1/prom/write`: the openGemini ≤1.3 / InfluxDB 1.x path, where `db` is required.
pub async fn prom_write(
    req: HttpRequest,
    params: web::Query<WriteParams>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let db = super::required_database(&params.db)?;
    handle(req, &db, params.rp.as_deref(), payload, state).await
}

/// `/api/v1/write`: Prometheus' own path; `db` defaults to `prometheus`.
pub async fn write(
    req: HttpRequest,
    params: web::Query<WriteParams>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let db = super::database_or_default(&params.db);
    handle(req, &db, params.rp.as_deref(), payload, state).await
}

enum Version {
    V1,
    V2,
}

/// What a decoded request holds, validated and ready for storage.
#[derive(Debug)]
pub(super) struct Decoded {
    pub series: Vec<SeriesWrite>,
    pub metadata: Vec<MetricMeta>,
}

async fn handle(req: HttpRequest, db: &str, rp: Option<&str>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let version = match protobuf_message(&req)?.as_deref() {
        None | Some("prometheus.WriteRequest") => Version::V1,
        Some("io.prometheus.write.v2.Request") => Version::V2,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported remote write message proto={other}: expected prometheus.WriteRequest or io.prometheus.write.v2.Request"),
            ))
        }
    };
    super::auth::authorize(&req, &state, Privilege::Write, db)?;
    // Unknown database or policy before reading the body: nothing to decode for a 404.
    super::require_policy(&state, db, rp)?;
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let body = decompress(&req, &raw, state.max_body_bytes)?;
    let decoded = match version {
        Version::V1 => decode_v1(&body)?,
        Version::V2 => decode_v2(&body)?,
    };
    state.data.put_metadata(db, decoded.metadata)?;
    let outcome = state.data.write(db, rp, decoded.series, &Default::default()).await?;
    let written = outcome.accepted + outcome.duplicates;
    let mut answer = if outcome.rejected > 0 {
        HttpResponse::BadRequest()
    } else {
        HttpResponse::NoContent()
    };
    if let Version::V2 = version {
        answer
            .insert_header(("X-Prometheus-Remote-Write-Samples-Written", written.to_string()))
            .insert_header(("X-Prometheus-Remote-Write-Histograms-Written", "0"))
            .insert_header(("X-Prometheus-Remote-Write-Exemplars-Written", "0"));
    }
    if outcome.rejected > 0 {
        return Ok(answer.json(serde_json::json!({ "error": rejection_message(&outcome) })));
    }
    Ok(answer.finish())
}

fn rejection_message(o: &WriteOutcome) -> String {
    format!(
        "{} sample(s) rejected, {} written: {}",
        o.rejected,
        o.accepted + o.duplicates,
        o.rejections.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; ")
    )
}

/// Checks a label set the way Prometheus' receiver does and encodes it.
fn validate_labels<'a>(pairs: &[(&'a str, &'a str)]) -> Result<Labels, String> {
    let show = || {
        let inner: Vec<String> = pairs.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
        format!("{{{}}}", inner.join(", "))
    };
    let mut has_name = false;
    for (i, (name, value)) in pairs.iter().enumerate() {
        if name.is_empty() {
            return Err(format!("series {}: empty label name", show()));
        }
        if value.is_empty() {
            return Err(format!("series {}: label {name:?} has an empty value", show()));
        }
        if i > 0 {
            let prev = pairs[i - 1].0;
            if prev == *name {
                return Err(format!("series {}: duplicate label name {name:?}", show()));
            }
            if prev > *name {
                return Err(format!("series {}: label names are not sorted ({name:?} comes after {prev:?})", show()));
            }
        }
        has_name |= *name == "__name__";
    }
    if !has_name {
        return Err(format!("series {}: missing metric name (label __name__)", show()));
    }
    Ok(Labels::from_sorted(pairs.iter().copied()))
}

pub(super) fn decode_v1(body: &[u8]) -> Result<Decoded, ApiError> {
    let req = super::decode::write_request(body)
        .map_err(|e| ApiError::bad_request(format!("protobuf decode of prometheus.WriteRequest: {e}")))?;
    let labels = super::label_cache::labels(&req.series, |ts| {
        validate_labels(&ts.labels().map_err(|e| format!("protobuf decode of prometheus.WriteRequest: {e}"))?)
    })
    .map_err(ApiError::bad_request)?;
    let mut series = Vec::with_capacity(req.series.len());
    for (ts, (labels, hash)) in req.series.into_iter().zip(labels) {
        if ts.histograms > 0 {
            return Err(ApiError::bad_request(format!("series {labels}: native histograms are not supported yet")));
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

fn decode_v2(body: &[u8]) -> Result<Decoded, ApiError> {
    let req = v2::Request::decode(body)
        .map_err(|e| ApiError::bad_request(format!("protobuf decode of io.prometheus.write.v2.Request: {e}")))?;
    let symbol = |r: u32| {
        req.symbols.get(r as usize).map(String::as_str).ok_or_else(|| {
            ApiError::bad_request(format!("symbol reference {r} is out of range: the symbol table has {} entries", req.symbols.len()))
        })
    };
    let mut series = Vec::with_capacity(req.timeseries.len());
    let mut metadata = Vec::new();
    for ts in &req.timeseries {
        if ts.labels_refs.len() % 2 != 0 {
            return Err(ApiError::bad_request("labels_refs must hold name and value references in pairs"));
        }
        let mut pairs = Vec::with_capacity(ts.labels_refs.len() / 2);
        for pair in ts.labels_refs.chunks_exact(2) {
            pairs.push((symbol(pair[0])?, symbol(pair[1])?));
        }
        let labels = validate_labels(&pairs).map_err(ApiError::bad_request)?;
        if !ts.histograms.is_empty() {
            return Err(ApiError::bad_request(format!("series {labels}: native histograms are not supported yet")));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_rules() {
        assert!(validate_labels(&[("__name__", "up"), ("job", "x")]).is_ok());
        let e = validate_labels(&[("job", "x")]).unwrap_err();
        assert!(e.contains("missing metric name"), "{e}");
        let e = validate_labels(&[("__name__", "up"), ("b", "1"), ("a", "2")]).unwrap_err();
        assert!(e.contains("not sorted"), "{e}");
        let e = validate_labels(&[("__name__", "up"), ("a", "1"), ("a", "2")]).unwrap_err();
        assert!(e.contains("duplicate label name"), "{e}");
        let e = validate_labels(&[("__name__", "up"), ("a", "")]).unwrap_err();
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
        assert!(decode_v2(&bad.encode_to_vec()).unwrap_err().message.contains("out of range"));
    }
}
