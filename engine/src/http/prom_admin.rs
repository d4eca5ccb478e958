//! Prometheus' admin API (web/api/v1/api.go's `deleteSeries`, `cleanTombstones`, `snapshot`),
//! served only with `--web.enable-admin-api` and, with auth on, to admin users
//! (`Access::Admin`, checked before anything else as Prometheus checks it). Deleting series is
//! the deletion InfluxQL's `DELETE` does, shared with a cluster's other nodes the same way;
//! cleaning tombstones and snapshots work on this node's data only, as on a Prometheus server.

use super::prom_envelope::{Answer, PromError, Ready};
use super::prom_series::time_range;
use super::AppState;
use crate::exec::delete::SeriesDeletion;
use actix_web::{web, HttpRequest};

/// `POST /api/v1/admin/tsdb/delete_series?match[]=…&start=&end=`: the series matching any
/// selector in `db`, their samples in [start, end], or all of them without a range; 204.
pub async fn delete_series(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let selectors: Vec<String> = r.form.values("match[]").into_iter().map(str::to_string).collect();
    if selectors.is_empty() {
        return Err(PromError::bad_data("no match[] parameter provided"));
    }
    let range = time_range(&r)?;
    let deletion = SeriesDeletion::new(selectors, range).map_err(|e| PromError::invalid("match[]", e))?;
    super::require_policy(&state, &r.db, None)?;
    deletion.run(state.data.catalog(), &r.db, None).await.map_err(super::ApiError::from)?;
    state.data.share_deletion(&r.db, &deletion.to_json()).await?;
    Ok(Answer::none())
}

/// `POST /api/v1/admin/tsdb/clean_tombstones`: drops from disk what deletions left; 204.
pub async fn clean_tombstones(_r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    state.data.clean_tombstones().await?;
    Ok(Answer::none())
}

/// `POST /api/v1/admin/tsdb/snapshot[?skip_head=true]`: a consistent copy of this node's data
/// in `<data-dir>/snapshots/<name>`, answered as `{"name": "<name>"}`. Every sample
/// acknowledged before the call is in it; `skip_head` is accepted and changes nothing, since
/// Gemini's recent samples are on disk like the rest.
pub async fn snapshot(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    match r.form.value("skip_head") {
        "" | "true" | "false" | "1" | "0" | "t" | "f" | "TRUE" | "FALSE" | "True" | "False" | "T" | "F" => {}
        other => return Err(PromError::bad_data(format!("unable to parse boolean 'skip_head' argument: strconv.ParseBool: parsing {other:?}: invalid syntax"))),
    }
    let name = snapshot_name(jiff::Timestamp::now(), getrandom::u64().unwrap_or_default());
    state.data.snapshot(name.clone()).await?;
    let mut data = String::from("{\"name\":");
    super::prom_format::string(&name, &mut data);
    data.push('}');
    Ok(Answer::new(data))
}

/// Prometheus' snapshot name: the UTC time to the second, then 16 hex digits of a random
/// non-negative 63-bit number.
fn snapshot_name(now: jiff::Timestamp, random: u64) -> String {
    format!("{}-{:016x}", now.strftime("%Y%m%dT%H%M%SZ"), random >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_as_prometheus_makes_them() {
        let t: jiff::Timestamp = "2017-12-10T21:12:24.5Z".parse().unwrap();
        assert_eq!(snapshot_name(t, 0x5f_4ca0_6bba_07ae), "20171210T211224Z-002fa65035dd03d7");
        assert_eq!(snapshot_name(t, u64::MAX), "20171210T211224Z-7fffffffffffffff");
    }
}
