//! Who is asking: credentials from the `u`/`p` parameters, `Authorization: Basic …` or
//! `Authorization: Token user:password`, checked against the users with auth enabled.
//! Missing or wrong credentials are 401 (with `WWW-Authenticate`); a known user without the
//! privilege is 403 in InfluxDB's words.

use super::{ApiError, AppState};
use crate::model::Privilege;
use crate::exec::Principal;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use base64::Engine;
use std::collections::HashMap;

fn credentials(req: &HttpRequest) -> Option<(String, String)> {
    let params: HashMap<String, String> = serde_urlencoded::from_str(req.query_string()).unwrap_or_default();
    if let (Some(u), Some(p)) = (params.get("u"), params.get("p")) {
        return Some((u.clone(), p.clone()));
    }
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, value) = header.split_once(' ')?;
    let pair = if scheme.eq_ignore_ascii_case("basic") {
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?).ok()?
    } else if scheme.eq_ignore_ascii_case("token") {
        value.trim().to_string()
    } else {
        return None;
    };
    let (u, p) = pair.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

pub const NO_ADMIN: &str = "create admin user first or disable authentication";

/// The caller of `req`; 401 without valid credentials when auth is on.
pub fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Principal, ApiError> {
    if !state.auth.enabled {
        return Ok(Principal::Anyone);
    }
    if state.data.catalog().users().is_empty() {
        return Err(ApiError::new(StatusCode::FORBIDDEN, NO_ADMIN));
    }
    let (user, password) = credentials(req).ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "unable to parse authentication credentials"))?;
    state.data.catalog().users().authenticate(&user, &password).map(Principal::User).ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "authorization failed"))
}

/// 401 without valid credentials, 403 unless the caller may write (`Privilege::Write`) or
/// read (`Privilege::Read`) `db`.
pub fn authorize(req: &HttpRequest, state: &AppState, wanted: Privilege, db: &str) -> Result<(), ApiError> {
    let who = authenticate(req, state)?;
    if who.may(wanted, db) {
        return Ok(());
    }
    let action = if wanted == Privilege::Write { "write to" } else { "read from" };
    Err(ApiError::new(StatusCode::FORBIDDEN, format!("{:?} user is not authorized to {action} database {db:?}", who.name())))
}
