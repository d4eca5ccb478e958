//! `POST /write`: InfluxDB 1.x line protocol (plain or gzip), as `influx` and Telegraf send it.
//! A point's field `value` of measurement `m` with tags `t` is the series `m{t}` that
//! Prometheus remote read sees; any other field `f` is the series `m_f{t}` (the mapping
//! Telegraf's Prometheus output uses). Float, integer and boolean fields are stored as
//! float64; strings, and integers beyond 2^53, are refused. Lines that parse are stored even
//! when others do not (400 `partial write: …`, as InfluxDB answers).
//! `POST /api/v1/import/influx` (`gemini import influx`) takes the same parameters and body and
//! answers the same way, but merges the points into series that hold newer samples
//! (`Data::import`), as `/api/v1/import` does for remote write bodies.

use super::body::{read_raw, too_large};
use super::write::Flavour;
use super::line_protocol::{parse_line, to_millis, FieldValue, ParseError, Point, TimestampError};
use super::{ApiError, AppState};
use crate::labels::Labels;
use crate::data::write::SeriesWrite;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;

#[derive(serde::Deserialize)]
pub struct Params {
    db: Option<String>,
    rp: Option<String>,
    #[serde(default)]
    precision: String,
}

/// Why a line is not stored; the answer says `unable to parse '<line>': ` and this.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
    #[error("duplicate tag {0:?}")]
    DuplicateTag(String),
    #[error("tag \"__name__\" is reserved for the measurement")]
    ReservedTag,
    #[error("field {0:?}: integers beyond 2^53 cannot be stored exactly as float64")]
    InexactInteger(String),
    #[error("field {0:?} is a string: Gemini stores numbers (float, integer, boolean) only")]
    StringField(String),
}

/// Integers above this lose precision as float64.
const MAX_EXACT_INTEGER: u64 = 1 << 53;

fn body_text(req: &HttpRequest, raw: &[u8], limit: usize) -> Result<String, ApiError> {
    let encoding = req.headers().get("content-encoding").and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "" | "identity" => raw.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(raw)
                .take(limit as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::bad_request(format!("gzip decode: {e}")))?;
            if out.len() > limit {
                return Err(too_large(limit));
            }
            out
        }
        other => return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("unsupported content encoding {other:?}: send line protocol plain or gzip"))),
    };
    String::from_utf8(bytes).map_err(|e| ApiError::bad_request(format!("line protocol must be UTF-8: {e}")))
}

fn number(field: &str, value: &FieldValue) -> Result<f64, Refused> {
    match value {
        FieldValue::Float(v) => Ok(*v),
        FieldValue::Boolean(b) => Ok(if *b { 1.0 } else { 0.0 }),
        FieldValue::Integer(i) if i.unsigned_abs() <= MAX_EXACT_INTEGER => Ok(*i as f64),
        FieldValue::Unsigned(u) if *u <= MAX_EXACT_INTEGER => Ok(*u as f64),
        FieldValue::Integer(_) | FieldValue::Unsigned(_) => Err(Refused::InexactInteger(field.to_string())),
        FieldValue::String(_) => Err(Refused::StringField(field.to_string())),
    }
}

/// The series and samples of one point: one per field.
fn samples_of(p: &Point, precision: &str, now_ms: i64) -> Result<Vec<(Labels, i64, f64)>, Refused> {
    let ts = match p.timestamp {
        Some(t) => to_millis(t, precision)?,
        None => now_ms,
    };
    let mut tags: Vec<(&str, &str)> = p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    tags.sort_unstable();
    for w in tags.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Refused::DuplicateTag(w[0].0.to_string()));
        }
    }
    if tags.iter().any(|(k, _)| *k == "__name__") {
        return Err(Refused::ReservedTag);
    }
    let mut out = Vec::with_capacity(p.fields.len());
    for (field, value) in &p.fields {
        let v = number(field, value)?;
        let name = if field == "value" { p.measurement.clone() } else { format!("{}_{field}", p.measurement) };
        let mut pairs = tags.clone();
        let at = pairs.partition_point(|(k, _)| *k < "__name__");
        pairs.insert(at, ("__name__", name.as_str()));
        out.push((Labels::from_sorted(pairs), ts, v));
    }
    Ok(out)
}

/// `/write`: InfluxDB's line protocol write.
pub async fn write(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    handle(req, params, payload, state, Flavour::Write).await
}

/// `/api/v1/import/influx`: `/write` of history, merged into series that hold newer samples.
pub async fn import(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    handle(req, params, payload, state, Flavour::Import).await
}

async fn handle(req: HttpRequest, params: web::Query<Params>, payload: web::Payload, state: web::Data<AppState>, flavour: Flavour) -> Result<HttpResponse, ApiError> {
    let db = super::required_database(&params.db)?;
    super::auth::authorize(&req, &state, crate::model::Privilege::Write, &db)?;
    to_millis(0, &params.precision).map_err(|e| ApiError::bad_request(e.to_string()))?;
    super::require_policy(&state, &db, params.rp.as_deref())?;
    let raw = read_raw(payload, state.max_body_bytes).await?;
    let text = body_text(&req, &raw, state.max_body_bytes)?;
    let now_ms = crate::clock::now_ms();

    // Per series, timestamp → value: within one request the last value of a timestamp wins.
    let mut series: BTreeMap<Vec<u8>, (Labels, BTreeMap<i64, f64>)> = BTreeMap::new();
    let mut errors = Vec::new();
    // Measurement → fields of the good lines, for the field registry.
    let mut fields: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        match parse_line(line).map_err(Refused::from).and_then(|p| samples_of(&p, &params.precision, now_ms).map(|s| (p, s))) {
            Ok((point, samples)) => {
                for (field, _) in &point.fields {
                    if !fields.get(&point.measurement).is_some_and(|f| f.contains(field)) {
                        fields.entry(point.measurement.clone()).or_default().insert(field.clone());
                    }
                }
                for (labels, ts, v) in samples {
                    series.entry(labels.as_bytes().to_vec()).or_insert_with(|| (labels, BTreeMap::new())).1.insert(ts, v);
                }
            }
            Err(reason) => errors.push(format!("unable to parse '{line}': {reason}")),
        }
    }
    let writes: Vec<SeriesWrite> = series
        .into_values()
        .map(|(labels, samples)| SeriesWrite { hash: labels.stable_hash(), labels, samples: samples.into_iter().collect() })
        .collect();
    let pairs: BTreeSet<(String, String)> = fields.into_iter().flat_map(|(m, fs)| fs.into_iter().map(move |f| (m.clone(), f))).collect();
    let outcome = match flavour {
        Flavour::Write => state.data.write(&db, params.rp.as_deref(), writes, &pairs).await?,
        Flavour::Import => state.data.import(&db, params.rp.as_deref(), writes, &pairs).await?,
    };
    errors.extend(outcome.rejections.iter().map(|r| r.to_string()));
    if errors.is_empty() {
        return Ok(HttpResponse::NoContent().finish());
    }
    Ok(HttpResponse::BadRequest().json(serde_json::json!({ "error": format!("partial write: {}", errors.join("\n")) })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_series_the_way_telegraf_names_them() {
        let p = parse_line("cpu,host=a,zone=z value=1,idle=2i,up=t 5000000").unwrap();
        let s = samples_of(&p, "", 0).unwrap();
        let names: Vec<String> = s.iter().map(|(l, _, _)| l.to_string()).collect();
        assert_eq!(names, vec![r#"cpu{host="a", zone="z"}"#, r#"cpu_idle{host="a", zone="z"}"#, r#"cpu_up{host="a", zone="z"}"#]);
        assert_eq!(s.iter().map(|(_, t, v)| (*t, *v)).collect::<Vec<_>>(), vec![(5, 1.0), (5, 2.0), (5, 1.0)]);
        let upper = parse_line("m,Z=1,A=2 value=1").unwrap();
        let s = samples_of(&upper, "", 77).unwrap();
        let order: Vec<&str> = s[0].0.iter().map(|(n, _)| n).collect();
        assert_eq!(order, vec!["A", "Z", "__name__"], "label order is byte order");
        assert_eq!(s[0].1, 77, "no timestamp: now");
    }

    #[test]
    fn strings_big_integers_and_reserved_tags_are_refused() {
        let err = |line: &str| samples_of(&parse_line(line).unwrap(), "", 0).unwrap_err().to_string();
        assert!(err("m msg=\"x\"").contains("field \"msg\" is a string"));
        assert!(err("m value=9007199254740993i").contains("beyond 2^53"));
        assert!(err("m,__name__=x value=1").contains("reserved"));
        assert!(err("m,a=1,a=2 value=1").contains("duplicate tag \"a\""));
        assert!(samples_of(&parse_line("m value=9007199254740992i").unwrap(), "", 0).is_ok(), "2^53 itself is exact");
    }
}
