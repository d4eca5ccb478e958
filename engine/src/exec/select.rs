//! `SELECT` over the data interface. Field `value` of measurement `m` is the series `m{tags}`; any other
//! field `f` is the series `m_f{tags}` (see `fields.rs`). Per measurement:
//! find the series of each field, drop those the tag condition refuses, read their samples in
//! the time range, join fields by (tags, time) into rows, filter rows on field conditions,
//! split the rows into `GROUP BY` groups and answer raw rows or aggregates per window.
//! Aggregates over one field without field conditions skip the rows (`select_fast.rs`), and
//! read downsampled tiers where those answer (`select_tier.rs`).

use super::fields::FieldMap;
use super::rows::Rows;
use super::select_fast::{fast_calls, windows_by_group};
use super::select_tier::{fast_series, TierUse};
use super::{select_db, show, target_db, Cell, Error, Table};
use crate::data::{Data, Selection, SeriesStream};
use crate::encoding::is_stale_nan;
use crate::labels::Labels;
use crate::index::matcher::{MatchKind, Matcher};
use crate::query::aggregate::{self, Call, Occupied, Wanted, Windows, FUNCTIONS};
use crate::query::ast::{limit_or_all, Expr, Name, Select};
use crate::query::condition::{regex, split_time, Cond, TimeRange};
use crate::data::schema::Policies;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub(super) const NS_PER_MS: i64 = 1_000_000;

pub(super) type TagSet = Vec<(String, String)>;

pub(super) enum Column {
    Field(usize),
    Tag(String),
    Aggregate(Call, usize),
}

/// The statement-wide checks InfluxDB makes before reading anything.
fn check(select: &Select) -> Result<bool, Error> {
    let mut aggregates = 0;
    for field in &select.fields {
        match &field.expr {
            Expr::Wildcard | Expr::Var { .. } => {}
            Expr::Call { name, args } => {
                if !FUNCTIONS.contains(&name.as_str()) {
                    return Err(format!("undefined function {name}()").into());
                }
                let want = if name == "percentile" { 2 } else { 1 };
                if args.len() != want {
                    return Err(format!("invalid number of arguments for {name}, expected {want}, got {}", args.len()).into());
                }
                if !matches!(args[0], Expr::Var { .. } | Expr::Wildcard) {
                    return Err(format!("expected field argument in {name}()").into());
                }
                if want == 2 && !matches!(args[1], Expr::Integer(_) | Expr::Number(_)) {
                    return Err(format!("expected float argument in {name}()").into());
                }
                aggregates += 1;
            }
            other => return Err(format!("unsupported expression {other:?}: SELECT takes fields, tags and the functions {}", FUNCTIONS.join(", ")).into()),
        }
    }
    if aggregates > 0 && aggregates < select.fields.len() {
        return Err("mixing aggregate and non-aggregate queries is not supported".into());
    }
    if aggregates == 0 && select.interval.is_some() {
        return Err("GROUP BY requires at least one aggregate function".into());
    }
    Ok(aggregates > 0)
}

/// The place of field `name` in the rows, added at the end when new.
fn field_index(fields: &mut Vec<String>, name: &str) -> usize {
    fields.iter().position(|f| f == name).unwrap_or_else(|| {
        fields.push(name.to_string());
        fields.len() - 1
    })
}

/// The columns of one measurement, named as InfluxDB names them (`mean`, `mean_1`, …).
fn columns(select: &Select, tag_keys: &BTreeSet<String>, all_fields: &[String], fields: &mut Vec<String>, is_tag: &dyn Fn(&str, Option<&str>) -> bool) -> Vec<(String, Column)> {
    let mut field = |name: &str| field_index(fields, name);
    let mut out: Vec<(String, Column)> = Vec::new();
    for f in &select.fields {
        match &f.expr {
            Expr::Wildcard => {
                let tags = tag_keys.iter().filter(|k| !select.group_by.contains(k) && !select.group_by_all);
                let mut names: Vec<(&String, bool)> = tags.map(|t| (t, false)).chain(all_fields.iter().map(|f| (f, true))).collect();
                names.sort();
                for (n, is_field) in names {
                    let column = if is_field { Column::Field(field(n)) } else { Column::Tag(n.clone()) };
                    out.push((n.clone(), column));
                }
            }
            Expr::Var { name, hint } => {
                let column = if is_tag(name, hint.as_deref()) { Column::Tag(name.clone()) } else { Column::Field(field(name)) };
                out.push((f.alias.clone().unwrap_or(name.clone()), column));
            }
            Expr::Call { name, args } => {
                let arg = match args.get(1) {
                    Some(Expr::Integer(n)) => *n as f64,
                    Some(Expr::Number(n)) => *n,
                    _ => 0.0,
                };
                let call = Call { func: name.clone(), arg };
                match &args[0] {
                    Expr::Var { name: v, .. } => out.push((f.alias.clone().unwrap_or(name.clone()), Column::Aggregate(call, field(v)))),
                    _ => {
                        for f in all_fields {
                            out.push((format!("{name}_{f}"), Column::Aggregate(call.clone(), field(f))));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (name, _) in out.iter_mut() {
        let n = seen.entry(name.clone()).or_insert(0);
        if *n > 0 {
            *name = format!("{name}_{n}");
        }
        *n += 1;
    }
    out
}

fn tag_of<'a>(tags: &'a TagSet, key: &str) -> Option<&'a str> {
    tags.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// A series' tags as InfluxQL shows them (see `FieldMap::tags`).
pub(super) fn tagset(field_map: &FieldMap, labels: &crate::labels::Labels) -> TagSet {
    field_map.tags(labels.iter()).into_iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// The group a series of tags `tags` belongs to: its value of each key (`''` for none).
pub(super) fn group_key(group_keys: &[&String], tags: &TagSet) -> TagSet {
    group_keys.iter().map(|g| (g.to_string(), tag_of(tags, g).unwrap_or_default().to_string())).collect()
}

/// What a condition on tags alone keeps of the series (`None`: every series).
pub(super) fn tag_filter(field_map: &Arc<FieldMap>, cond: Option<&Arc<Cond>>) -> Option<impl Fn(&Labels) -> bool + 'static> {
    let cond = cond.filter(|c| !c.has_fields()).cloned()?;
    let field_map = field_map.clone();
    Some(move |labels: &Labels| {
        let tags = tagset(&field_map, labels);
        cond.eval(&|k| tag_of(&tags, k), &[])
    })
}

/// The matcher of the series of field `field` of measurement `m`.
pub(super) fn field_matcher(m: &str, field: &str) -> Result<Matcher, Error> {
    Ok(Matcher::new(MatchKind::Equal, "__name__", &FieldMap::series_name(m, field))?)
}

/// The series of field `field` of measurement `m` with samples in `[min_t, max_t]` ms; a
/// condition on tags alone drops series before their samples are read.
pub(super) async fn field_series(data: &Data, (db, rp): (&str, Policies<'_>), (field_map, m): (&Arc<FieldMap>, &str), field: &str, cond: Option<&Arc<Cond>>, (min_t, max_t): (i64, i64)) -> Result<SeriesStream, Error> {
    let selection = Selection { matchers: vec![field_matcher(m, field)?], min_t, max_t };
    let mut stream = data.select(db, rp, selection).await?;
    if let Some(keep) = tag_filter(field_map, cond) {
        stream.retain(keep);
    }
    Ok(stream)
}

/// Reads every field's series of measurement `m` into rows keyed by tag set.
async fn read_rows(data: &Data, target: (&str, Policies<'_>), (field_map, m): (&Arc<FieldMap>, &str), fields: &[String], cond: Option<&Arc<Cond>>, range: TimeRange) -> Result<BTreeMap<TagSet, Rows>, Error> {
    let mut out: BTreeMap<TagSet, Rows> = BTreeMap::new();
    for (i, field) in fields.iter().enumerate() {
        let mut stream = field_series(data, target, (field_map, m), field, cond, range.millis()).await?;
        while let Some((labels, mut samples)) = stream.next_series().await? {
            let rows = out.entry(tagset(field_map, &labels)).or_insert_with(|| Rows::new(fields.len()));
            // Prometheus' staleness markers are not values (`select_fast::fold_series` too).
            samples.retain(|s| !is_stale_nan(s.1));
            rows.put_field(i, samples.into_iter().map(|(t, v)| (t * NS_PER_MS, v)));
        }
    }
    if let Some(cond) = cond.filter(|c| c.has_fields()) {
        for (tags, rows) in out.iter_mut() {
            rows.retain(|values| cond.eval(&|k| tag_of(tags, k), values));
        }
    }
    out.retain(|_, rows| !rows.is_empty());
    Ok(out)
}

/// The measurements `select` reads in `db`, sorted and unique.
async fn measurements(data: &Data, select: &Select, (db, rp): (&str, Policies<'_>), fields: &FieldMap) -> Result<Vec<String>, Error> {
    let mut out = BTreeSet::new();
    for source in &select.sources {
        match &source.name {
            Name::Exact(m) => {
                out.insert(m.clone());
            }
            Name::Regex(re) => {
                let re = regex(re)?;
                let names = show::series_names(data, db, rp).await?;
                out.extend(names.iter().map(|n| fields.measurement_of(n)).filter(|n| re.is_match(n)).map(str::to_string));
            }
        }
    }
    Ok(out.into_iter().collect())
}

/// Runs a `SELECT` in the retention policy its sources name, else `default_rp`, else the
/// database's default; the answer is one table per measurement and group.
pub async fn run(data: &Data, select: &Select, (default_db, default_rp): (Option<&str>, Option<&str>), tiers: TierUse<'_>, now: i64) -> Result<Vec<Table>, Error> {
    let aggregate = check(select)?;
    let (mut range, rest) = split_time(select.condition.as_ref(), now)?;
    if select.interval.is_some() && range.max == i64::MAX {
        range.max = now;
    }
    let db = target_db(select_db(select), default_db).ok_or("database name required")?;
    let rp_name = select.sources.iter().find_map(|s| s.rp.as_deref()).or(default_rp);
    data.catalog().require_policy(&db, rp_name)?;
    let rp = Policies::One(rp_name);
    let target = (db.as_str(), rp);
    let mut out = Vec::new();
    let field_map = Arc::new(FieldMap::load(data.catalog(), &db)?);
    let mut aggregate_rows_total = 0;
    for m in measurements(data, select, target, &field_map).await? {
        let all_series = data.series(&db, rp, vec![field_map.matcher(Some(&m))?], None).await?;
        let tag_keys: BTreeSet<String> = all_series.iter().flat_map(|s| field_map.tags(s.iter()).into_iter().map(|(n, _)| n.to_string())).collect();
        let all_fields = field_map.fields_of(&m, all_series.iter().any(|s| s.get("__name__") == m));
        let is_tag = |name: &str, hint: Option<&str>| match hint {
            Some("tag") => true,
            Some("field") => false,
            _ => name != "value" && tag_keys.contains(name),
        };
        let mut fields = Vec::new();
        let columns = columns(select, &tag_keys, &all_fields, &mut fields, &is_tag);
        let cond = rest
            .as_ref()
            .map(|e| {
                Cond::compile(e, &is_tag, &mut |name| field_index(&mut fields, name)).map(Arc::new)
            })
            .transpose()?;
        // `GROUP BY *` is every tag key of the measurement; a series without one has ''.
        let group_keys: Vec<&String> = if select.group_by_all { tag_keys.iter().collect() } else { select.group_by.iter().collect() };
        let fast = if aggregate { fast_calls(&columns, &fields, cond.as_deref()) } else { None };
        let rows = if fast.is_some() { BTreeMap::new() } else { read_rows(data, target, (&field_map, &m), &fields, cond.as_ref(), range).await? };
        let (groups, earliest): (Vec<(TagSet, Group)>, Option<i64>) = match &fast {
            Some(calls) => {
                let windows = windows(select, range, 0);
                let series = fast_series(data, target, (&field_map, &m), &fields[0], cond.as_ref(), range.millis(), (&windows, calls), tiers).await?;
                let (groups, earliest) = windows_by_group(series, &field_map, &group_keys, calls, &windows).await?;
                (groups.into_iter().map(|(key, occupied)| (key, Group::Windows(occupied))).collect(), earliest)
            }
            None => {
                let mut groups: BTreeMap<TagSet, Vec<(&TagSet, &Rows)>> = BTreeMap::new();
                for (tags, series_rows) in &rows {
                    groups.entry(group_key(&group_keys, tags)).or_default().push((tags, series_rows));
                }
                (groups.into_iter().map(|(key, members)| (key, Group::Rows(members))).collect(), rows.values().filter_map(Rows::first_time).min())
            }
        };
        let earliest = earliest.unwrap_or(0);
        for (key, group) in groups {
            let mut values = match group {
                Group::Rows(members) if aggregate => aggregate_rows(&columns, &members, select, range, earliest)?,
                Group::Rows(members) => raw_rows(&columns, &members),
                Group::Windows(occupied) => window_rows(fast.as_deref().unwrap_or_default(), occupied, select, range, earliest)?,
            };
            if aggregate {
                aggregate_rows_total += values.len();
                if aggregate_rows_total > aggregate::MAX_WINDOWS as usize {
                    return Err(format!("the answer would hold more than {} aggregate rows: narrow the time range, widen the interval, add a LIMIT or SLIMIT, or use fill(none)", aggregate::MAX_WINDOWS).into());
                }
            }
            if values.is_empty() {
                continue;
            }
            if select.descending {
                values.reverse();
            }
            let values: Vec<Vec<Cell>> = values.into_iter().skip(select.offset).take(limit_or_all(select.limit)).collect();
            if values.is_empty() {
                continue;
            }
            let grouped = select.group_by_all || !select.group_by.is_empty();
            let names: Vec<String> = std::iter::once("time").chain(columns.iter().map(|(n, _)| n.as_str())).map(str::to_string).collect();
            out.push(Table { name: Some(m.clone()), tags: grouped.then(|| key.into_iter().collect()), columns: names, rows: values });
        }
    }
    // ORDER BY time DESC lists measurements and groups in reverse too, as InfluxDB 1.6 does.
    if select.descending {
        out.reverse();
    }
    Ok(out.into_iter().skip(select.soffset).take(limit_or_all(select.slimit)).collect())
}

/// Raw rows of a group, by time and then by series; rows with no field value are left out.
fn raw_rows(columns: &[(String, Column)], members: &[(&TagSet, &Rows)]) -> Vec<Vec<Cell>> {
    let mut rows: Vec<(i64, usize, Vec<Cell>)> = Vec::new();
    for (i, (tags, series_rows)) in members.iter().enumerate() {
        for (t, values) in series_rows.iter() {
            let mut any_field = false;
            let mut row = vec![Cell::Time(t)];
            for (_, column) in columns {
                row.push(match column {
                    Column::Field(f) => values[*f].map(|v| {
                        any_field = true;
                        Cell::Number(v)
                    }).unwrap_or(Cell::Null),
                    Column::Tag(k) => tag_of(tags, k).map(Cell::from).unwrap_or(Cell::Null),
                    Column::Aggregate(..) => Cell::Null,
                });
            }
            if any_field {
                rows.push((t, i, row));
            }
        }
    }
    rows.sort_by_key(|r| (r.0, r.1));
    rows.into_iter().map(|r| r.2).collect()
}

/// A group's series: their rows, or (fast path) their aggregates per window.
enum Group<'a> {
    Rows(Vec<(&'a TagSet, &'a Rows)>),
    Windows(Occupied),
}

/// The windows of a statement; `earliest` (the first point's time) is their start when the
/// time range has no lower bound.
fn windows(select: &Select, range: TimeRange, earliest: i64) -> Windows {
    match select.interval {
        Some(i) => Windows { start: if range.min == i64::MIN { earliest } else { range.min }, end: range.max, every: Some(i.every), offset: i.offset },
        None => Windows { start: if range.min == i64::MIN { 0 } else { range.min }, end: range.max, every: None, offset: 0 },
    }
}

/// What of the answer the statement wants (see `Wanted`).
fn wanted(select: &Select) -> Wanted {
    Wanted { rows: select.offset.saturating_add(limit_or_all(select.limit)), descending: select.descending }
}

/// Answer rows of aggregate values, one per window.
fn cells(rows: Vec<(i64, Vec<Option<f64>>)>) -> Vec<Vec<Cell>> {
    rows.into_iter()
        .map(|(t, values)| {
            let mut row = vec![Cell::Time(t)];
            row.extend(values.into_iter().map(|v| v.map(Cell::Number).unwrap_or(Cell::Null)));
            row
        })
        .collect()
}

/// Aggregate rows of a group from its occupied windows (fast path), one per window.
fn window_rows(calls: &[Call], occupied: Occupied, select: &Select, range: TimeRange, earliest: i64) -> Result<Vec<Vec<Cell>>, Error> {
    Ok(cells(aggregate::fill_windows(calls, occupied, &windows(select, range, earliest), select.fill, wanted(select))?))
}

/// Aggregate rows of a group, one per window.
fn aggregate_rows(columns: &[(String, Column)], members: &[(&TagSet, &Rows)], select: &Select, range: TimeRange, earliest: i64) -> Result<Vec<Vec<Cell>>, Error> {
    let mut calls = Vec::new();
    let mut points = Vec::new();
    for (_, column) in columns {
        if let Column::Aggregate(call, field) = column {
            let mut pts: Vec<(i64, f64)> = members.iter().flat_map(|(_, rows)| rows.iter().filter_map(|(t, v)| v[*field].map(|v| (t, v)))).collect();
            pts.sort_by_key(|p| p.0);
            calls.push(call.clone());
            points.push(pts);
        }
    }
    Ok(cells(aggregate::rows(&calls, &points, &windows(select, range, earliest), select.fill, wanted(select))?))
}
