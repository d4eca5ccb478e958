//! `SHOW MEASUREMENTS`, `SHOW TAG KEYS`, `SHOW TAG VALUES`, `SHOW SERIES` and `SHOW FIELD
//! KEYS`: what the series of a database (in every retention policy, on every node) look like
//! through InfluxQL's names (see `fields.rs`).

use super::fields::FieldMap;
use super::{table, Cell, Error, Table};
use crate::data::Data;
use crate::labels::Labels;
use crate::query::ast::{limit_or_all, Expr, Name};
use crate::query::condition::{regex, Cond};
use crate::query::influxql::TagKeys;
use crate::data::schema::Policies;
use std::collections::{BTreeMap, BTreeSet};

/// The series of measurement `from` (all its fields), or of every measurement.
async fn series_of(data: &Data, db: &str, from: Option<&str>) -> Result<(FieldMap, Vec<Labels>), Error> {
    let fields = FieldMap::load(data.catalog(), db)?;
    let found = data.series(db, Policies::All, vec![fields.matcher(from)?], None).await?;
    Ok((fields, found))
}

/// The series of `from` (every measurement when `None`), grouped by measurement: name →
/// (tag, value) pairs.
async fn tags_by_measurement(data: &Data, db: &str, from: Option<&str>) -> Result<BTreeMap<String, BTreeSet<(String, String)>>, Error> {
    let (fields, found) = series_of(data, db, from).await?;
    let mut out: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for s in &found {
        let tags = fields.tags(s.iter()).into_iter().map(|(n, v)| (n.to_string(), v.to_string()));
        out.entry(fields.measurement_of(s.get("__name__")).to_string()).or_default().extend(tags);
    }
    Ok(out)
}

/// One table per measurement with `columns` and its rows.
fn per_measurement(columns: &[&str], rows: BTreeMap<String, Vec<Vec<Cell>>>) -> Vec<Table> {
    rows.into_iter().filter_map(|(name, values)| table(Some(&name), columns, values)).collect()
}

/// A series key as InfluxDB prints it: `m,tag=v,…` with line-protocol escaping.
fn series_key(measurement: &str, tags: &[(&str, &str)]) -> String {
    let esc = |s: &str, extra: &[char]| {
        s.chars().fold(String::new(), |mut o, c| {
            if c == ',' || c == ' ' || extra.contains(&c) {
                o.push('\\');
            }
            o.push(c);
            o
        })
    };
    let mut key = esc(measurement, &[]);
    for (n, v) in tags {
        key.push(',');
        key.push_str(&esc(n, &['=']));
        key.push('=');
        key.push_str(&esc(v, &['=']));
    }
    key
}

/// Whether a series' tags satisfy `condition` (tags only: series have no fields here).
pub fn tag_filter<'a>(fields: &'a FieldMap, condition: &Option<Expr>) -> Result<impl Fn(&Labels) -> bool + 'a, Error> {
    let cond = condition.as_ref().map(|expr| Cond::compile(expr, &|_, hint| hint != Some("field"), &mut |_| 0)).transpose()?;
    Ok(move |labels: &Labels| {
        let Some(cond) = &cond else { return true };
        let tags = fields.tags(labels.iter());
        cond.eval(&|k| tags.iter().find(|(n, _)| *n == k).map(|(_, v)| *v), &[])
    })
}

/// Keeps the series whose tags satisfy `condition` (see `tag_filter`).
pub fn filter_series<T>(found: &mut Vec<T>, fields: &FieldMap, labels: impl Fn(&T) -> &Labels, condition: &Option<Expr>) -> Result<(), Error> {
    if condition.is_none() {
        return Ok(());
    }
    let keep = tag_filter(fields, condition)?;
    found.retain(|s| keep(labels(s)));
    Ok(())
}

/// Every series name of `db` in the policies asked for.
pub async fn series_names(data: &Data, db: &str, which: Policies<'_>) -> Result<Vec<String>, Error> {
    Ok(data.label_values(db, which, "__name__", vec![], None).await?)
}

pub async fn measurements(data: &Data, db: &str, name: Option<Name>, limit: usize, offset: usize) -> Result<Vec<Table>, Error> {
    if data.catalog().database(db).is_err() {
        // InfluxDB 1.6 lists no measurements of a database it does not have, without an error.
        return Ok(Vec::new());
    }
    let fields = FieldMap::load(data.catalog(), db)?;
    let mut names: BTreeSet<String> = series_names(data, db, Policies::All).await?.iter().map(|n| fields.measurement_of(n).to_string()).collect();
    match name {
        Some(Name::Exact(m)) => names.retain(|n| *n == m),
        Some(Name::Regex(re)) => {
            let re = regex(&re)?;
            names.retain(|n| re.is_match(n));
        }
        None => {}
    }
    let rows = names.into_iter().skip(offset).take(limit_or_all(limit)).map(|n| vec![n.into()]).collect();
    Ok(table(Some("measurements"), &["name"], rows).into_iter().collect())
}

pub async fn tag_keys(data: &Data, db: &str, from: Option<&str>) -> Result<Vec<Table>, Error> {
    let tags = tags_by_measurement(data, db, from).await?;
    let rows = tags
        .into_iter()
        .map(|(m, pairs)| (m, pairs.into_iter().map(|(k, _)| k).collect::<BTreeSet<_>>().into_iter().map(|k| vec![k.into()]).collect()))
        .collect();
    Ok(per_measurement(&["tagKey"], rows))
}

pub async fn tag_values(data: &Data, db: &str, from: Option<&str>, keys: TagKeys) -> Result<Vec<Table>, Error> {
    let wanted: Box<dyn Fn(&str) -> bool> = match keys {
        TagKeys::In(keys) => Box::new(move |k| keys.iter().any(|w| w == k)),
        TagKeys::Regex(re) => {
            let re = regex(&re)?;
            Box::new(move |k| re.is_match(k))
        }
    };
    let tags = tags_by_measurement(data, db, from).await?;
    let rows = tags.into_iter().map(|(m, pairs)| (m, pairs.into_iter().filter(|(k, _)| wanted(k)).map(|(k, v)| vec![k.into(), v.into()]).collect())).collect();
    Ok(per_measurement(&["key", "value"], rows))
}

pub async fn series(data: &Data, db: &str, from: Option<&str>, condition: &Option<Expr>, cardinality: bool, exact: bool) -> Result<Vec<Table>, Error> {
    let (fields, mut found) = series_of(data, db, from).await?;
    filter_series(&mut found, &fields, |s| s, condition)?;
    // measurement → its series keys (a key once, whatever number of fields it has)
    let mut keys: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for s in &found {
        let m = fields.measurement_of(s.get("__name__"));
        keys.entry(m.to_string()).or_default().insert(series_key(m, &fields.tags(s.iter())));
    }
    if cardinality && (exact || from.is_some()) {
        return Ok(per_measurement(&["count"], keys.into_iter().map(|(m, k)| (m, vec![vec![Cell::Number(k.len() as f64)]])).collect()));
    }
    let all: BTreeSet<String> = keys.into_values().flatten().collect();
    if cardinality {
        let rows = if all.is_empty() { vec![] } else { vec![vec![Cell::Number(all.len() as f64)]] };
        return Ok(table(None, &["cardinality estimation"], rows).into_iter().collect());
    }
    Ok(table(None, &["key"], all.into_iter().map(|k| vec![k.into()]).collect()).into_iter().collect())
}

pub async fn field_keys(data: &Data, db: &str, from: Option<&str>) -> Result<Vec<Table>, Error> {
    // Every field is a float64 series; see `fields.rs` for how fields map onto series.
    let (fields, found) = series_of(data, db, from).await?;
    let mut has_value: BTreeMap<String, bool> = BTreeMap::new();
    for s in &found {
        let name = s.get("__name__");
        let m = fields.measurement_of(name);
        *has_value.entry(m.to_string()).or_default() |= m == name;
    }
    let rows = has_value.into_iter().map(|(m, v)| {
        let rows = fields.fields_of(&m, v).into_iter().map(|f| vec![f.into(), "float".into()]).collect();
        (m, rows)
    });
    Ok(per_measurement(&["fieldKey", "fieldType"], rows.collect()))
}
