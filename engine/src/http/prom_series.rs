//! The series side of Prometheus' HTTP API: `/api/v1/series`, `/api/v1/labels`,
//! `/api/v1/label/<name>/values` and `/api/v1/metadata`, read from the data interface
//! (`Data::series`, `label_names`, `label_values`), so the same on one node and in a
//! cluster. With `start` or `end`, `/api/v1/series` counts only series with a sample in
//! [start, end]; the label listings come from the index and count the series whose newest
//! sample is at or after `start` and whose first is at or before `end` (see
//! `storage::shard::labels`); without them, every series in the index. Answers are sorted as
//! Prometheus sorts them; `limit` cuts them with the warning later Prometheus versions give.
//! Handlers return an `Answer` or a `PromError`;
//! `prom_envelope` makes the request ready and renders the envelope.

use super::prom_envelope::{time_param, Answer, PromError, Ready};
use super::prom_format;
use super::prom_params::{self, ParamError};
use super::AppState;
use crate::data::{Data, TimeRange};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::data::schema::Policies;
use actix_web::{web, HttpRequest};
use std::collections::BTreeSet;

const TRUNCATED: &str = "results truncated due to limit";

/// Where series must have a sample: `None` for no bound (no `start` and `end`, or
/// Prometheus' own minimum and maximum times, which clients send for an open range).
pub(super) fn time_range(r: &Ready) -> Result<TimeRange, PromError> {
    let start = time_param(&r.form, "start", prom_params::MIN_TIME)?;
    let end = time_param(&r.form, "end", prom_params::MAX_TIME)?;
    Ok(match (start, end) {
        (prom_params::MIN_TIME, prom_params::MAX_TIME) => None,
        (s, e) => Some((prom_params::millis(s), prom_params::millis(e))),
    })
}

fn limit(r: &Ready) -> Result<Option<usize>, PromError> {
    prom_params::parse_limit(r.form.value("limit")).map_err(|e| PromError::invalid("limit", e))
}

/// Every `match[]`, parsed; `wrap` words a parse error as the endpoint does.
pub(super) fn selectors(r: &Ready, wrap: impl Fn(ParamError) -> PromError) -> Result<Vec<Vec<Matcher>>, PromError> {
    r.form.values("match[]").into_iter().map(|text| crate::promql::selector::parse(text).map_err(|e| wrap(e.into()))).collect()
}

/// The union of the series of every matcher set.
async fn union(data: &Data, r: &Ready, sets: Vec<Vec<Matcher>>, range: TimeRange) -> Result<BTreeSet<Labels>, PromError> {
    let mut all = BTreeSet::new();
    for matchers in sets {
        all.extend(data.series(&r.db, Policies::One(r.rp.as_deref()), matchers, range).await?);
    }
    Ok(all)
}

/// Cuts `items` to `limit`, saying so in the warnings.
fn cut<T>(items: &mut Vec<T>, limit: Option<usize>, warnings: &mut Vec<String>) {
    if let Some(n) = limit.filter(|n| items.len() > *n) {
        items.truncate(n);
        warnings.push(TRUNCATED.into());
    }
}

fn strings(items: &[String]) -> String {
    let mut out = String::new();
    prom_format::array(items, &mut out, |s, out| prom_format::string(s, out));
    out
}

/// `/api/v1/series`: the label sets of the series matching any `match[]` (at least one).
pub async fn series(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    if r.form.values("match[]").is_empty() {
        return Err(PromError::bad_data("no match[] parameter provided"));
    }
    let range = time_range(&r)?;
    let sets = selectors(&r, |e| PromError::invalid("match[]", e))?;
    let limit = limit(&r)?;
    let mut found: Vec<Labels> = union(&state.data, &r, sets, range).await?.into_iter().collect();
    // Prometheus' label set order: pair by pair, name then value, a prefix first.
    found.sort_by(|a, b| a.iter().cmp(b.iter()));
    let mut warnings = Vec::new();
    cut(&mut found, limit, &mut warnings);
    let mut data = String::new();
    prom_format::array(&found, &mut data, |labels, out| prom_format::labels(labels.iter(), out));
    Ok(Answer::with_warnings(data, warnings))
}

/// `/api/v1/labels`: the label names of the series matching any `match[]`, or of every series,
/// from the index (`Data::label_names`).
pub async fn label_names(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let range = time_range(&r)?;
    let sets = selectors(&r, PromError::bad_data)?;
    let limit = limit(&r)?;
    let mut names = BTreeSet::new();
    for matchers in sets_or_all(sets) {
        names.extend(state.data.label_names(&r.db, Policies::One(r.rp.as_deref()), matchers, range).await?);
    }
    Ok(listing(names, limit))
}

/// One empty selector (every series) when no `match[]` was given.
fn sets_or_all(sets: Vec<Vec<Matcher>>) -> Vec<Vec<Matcher>> {
    if sets.is_empty() {
        vec![vec![]]
    } else {
        sets
    }
}

/// A sorted listing cut to `limit`, saying so in the warnings.
fn listing(items: BTreeSet<String>, limit: Option<usize>) -> Answer {
    let mut items: Vec<String> = items.into_iter().collect();
    let mut warnings = Vec::new();
    cut(&mut items, limit, &mut warnings);
    Answer::with_warnings(strings(&items), warnings)
}

/// `/api/v1/label/<name>/values`: the values of label `name` (`__name__`: metric names) in
/// the series matching any `match[]`, or in every series, from the index (`Data::label_values`).
pub async fn label_values(r: Ready, req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let name = req.match_info().get("name").unwrap_or_default().to_string();
    if !crate::promql::value::is_valid_label_name(&name) {
        return Err(PromError::bad_data(format!("invalid label name: {name:?}")));
    }
    let range = time_range(&r)?;
    let sets = selectors(&r, PromError::bad_data)?;
    let limit = limit(&r)?;
    let mut values = BTreeSet::new();
    for matchers in sets_or_all(sets) {
        values.extend(state.data.label_values(&r.db, Policies::One(r.rp.as_deref()), &name, matchers, range).await?);
    }
    Ok(listing(values, limit))
}

/// `/api/v1/metadata`: type, help and unit of each metric as remote write carried them
/// (`metric=` for one; `limit=` metrics at most, a negative limit for all, as 2.42 does).
pub async fn metadata(r: Ready, _req: HttpRequest, state: web::Data<AppState>) -> Result<Answer, PromError> {
    let limit: i64 = match r.form.value("limit") {
        "" => -1,
        text => text.parse().map_err(|_| PromError::bad_data("limit must be a number"))?,
    };
    let metric = r.form.value("metric");
    let all = state.data.catalog().metadata(&r.db)?;
    let mut data = String::from("{");
    let chosen = all.iter().filter(|m| metric.is_empty() || m.family == metric);
    for (i, m) in chosen.take(if limit < 0 { usize::MAX } else { limit as usize }).enumerate() {
        if i > 0 {
            data.push(',');
        }
        prom_format::string(&m.family, &mut data);
        data.push_str(":[");
        prom_format::labels([("type", m.kind.as_str()), ("help", m.help.as_str()), ("unit", m.unit.as_str())], &mut data);
        data.push(']');
    }
    data.push('}');
    Ok(Answer::new(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_cut_with_a_warning() {
        let mut v = vec![1, 2, 3];
        let mut w = Vec::new();
        cut(&mut v, Some(3), &mut w);
        assert_eq!((v.len(), w.len()), (3, 0));
        cut(&mut v, Some(2), &mut w);
        assert_eq!((v, w), (vec![1, 2], vec![TRUNCATED.to_string()]));
    }
}
