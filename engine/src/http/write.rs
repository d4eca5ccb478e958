//! Remote write 1.0 (`prometheus.WriteRequest`) and 2.0 (`io.prometheus.write.v2.Request`)
//! over HTTP: the version from the content type, auth, the body, then the decoded and
//! validated series (`remote::write`; a bad request changes nothing) handed to storage.
//! `/api/v1/import` takes a 1.0 body the same way and hands it to `Data::import`.
//! Status codes follow the remote write specification.

use super::body::{decompress, protobuf_message, read_raw};
use super::{ApiError, AppState};
use crate::model::Privilege;
use crate::remote::write::{decode_v1, decode_v2, WriteError};
use crate::data::write::WriteOutcome;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};

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
    handle(req, &db, params.rp.as_deref(), payload, state, Flavour::Write).await
}

/// `/api/v1/write`: Prometheus' own path; `db` defaults to `prometheus`.
pub async fn write(
    req: HttpRequest,
    params: web::Query<WriteParams>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let db = super::database_or_default(&params.db);
    handle(req, &db, params.rp.as_deref(), payload, state, Flavour::Write).await
}

/// `/api/v1/import` (`gemini import`): a remote write 1.0 body of history, merged into series
/// that hold newer samples (`SeriesStore::import`); `db` defaults to `prometheus`.
pub async fn import(
    req: HttpRequest,
    params: web::Query<WriteParams>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !matches!(protobuf_message(&req)?.as_deref(), None | Some("prometheus.WriteRequest")) {
        return Err(ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "an import takes a remote write 1.0 body (prometheus.WriteRequest)"));
    }
    let db = super::database_or_default(&params.db);
    handle(req, &db, params.rp.as_deref(), payload, state, Flavour::Import).await
}

/// What the decoded series (or line protocol's points) go into: `Data::write` or `Data::import`.
#[derive(Clone, Copy)]
pub(super) enum Flavour {
    Write,
    Import,
}

enum Version {
    V1,
    V2,
}

/// A refused write request is a 400.
impl From<WriteError> for ApiError {
    fn from(e: WriteError) -> ApiError {
        ApiError::bad_request(e.to_string())
    }
}

async fn handle(req: HttpRequest, db: &str, rp: Option<&str>, payload: web::Payload, state: web::Data<AppState>, flavour: Flavour) -> Result<HttpResponse, ApiError> {
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
    let outcome = match flavour {
        Flavour::Write => state.data.write(db, rp, decoded.series, &Default::default()).await?,
        Flavour::Import => state.data.import(db, rp, decoded.series, &Default::default()).await?,
    };
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
