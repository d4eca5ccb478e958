//! Reading request bodies: the size limit (413), snappy decompression and the content-type
//! and content-encoding checks (415) shared by remote write and remote read.

use super::ApiError;
use actix_web::{http::StatusCode, web, HttpRequest};
use futures_util::StreamExt;

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("request body too large: the limit is {limit} bytes after decompression"))
}

/// Reads the raw body, refusing early when it cannot fit `limit` once decompressed
/// (snappy never shrinks below about 6/7 of its input, so the compressed cap has slack).
pub async fn read_raw(mut payload: web::Payload, limit: usize) -> Result<web::BytesMut, ApiError> {
    let cap = limit + limit / 6 + 64;
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("reading request body: {e}")))?;
        if buf.len() + chunk.len() > cap {
            return Err(too_large(limit));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf)
}

/// Checks `Content-Encoding` (snappy, or none meaning snappy as Prometheus always sends) and
/// decompresses within the limit.
pub fn decompress(req: &HttpRequest, raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    if let Some(enc) = req.headers().get("content-encoding") {
        let enc = enc.to_str().unwrap_or("").trim().to_ascii_lowercase();
        if enc != "snappy" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content encoding {enc:?}: remote write and read bodies must be snappy (block format)"),
            ));
        }
    }
    let len = snap::raw::decompress_len(raw).map_err(|e| ApiError::bad_request(format!("snappy decode: {e}")))?;
    if len > limit {
        return Err(too_large(limit));
    }
    snap::raw::Decoder::new().decompress_vec(raw).map_err(|e| ApiError::bad_request(format!("snappy decode: {e}")))
}

/// The `proto=` parameter of an `application/x-protobuf` content type: `Ok(None)` when there
/// is none (or no content type at all), 415 for any other media type.
pub fn protobuf_message(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(ct) = req.headers().get("content-type") else { return Ok(None) };
    let ct = ct.to_str().unwrap_or("");
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or("").to_ascii_lowercase();
    if media != "application/x-protobuf" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("unsupported content type {ct:?}: expected application/x-protobuf"),
        ));
    }
    Ok(parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("proto"))
        .map(|(_, v)| v.trim().trim_matches('"').to_string()))
}
