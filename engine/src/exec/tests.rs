//! The executor against the data interface, without HTTP: statements run on a fresh local
//! storage; expected tables are written out by hand from InfluxDB 1.x's semantics.

use super::*;
use crate::labels::Labels;
use crate::metrics::Metrics;
use crate::query::influxql;
use crate::data::write::SeriesWrite;
use crate::storage::{Storage, StorageOptions};
use std::sync::Arc;

const S: i64 = 1_000; // ms
const NS: i64 = 1_000_000_000;

fn open(dir: &std::path::Path) -> Data {
    let storage = Storage::open(StorageOptions { data_dir: dir.into(), shards: 2, sync_writes: false }, Arc::new(Metrics::default())).unwrap();
    storage.create_database("db", None).unwrap();
    crate::storage::series_store::local_data(Arc::new(storage))
}

/// `cpu{host=a}` 1..6 and `cpu{host=b}` 10..60 at 0 s, 10 s, …, 50 s.
async fn write_cpu(data: &Data) {
    let series = ["a", "b"]
        .iter()
        .zip([1.0, 10.0])
        .map(|(host, scale)| {
            let labels = Labels::from_sorted([("__name__", "cpu"), ("host", host)]);
            let samples = (0..6).map(|i| (i * 10 * S, (i + 1) as f64 * scale)).collect();
            SeriesWrite { hash: labels.stable_hash(), labels, samples }
        })
        .collect();
    let outcome = data.write("db", None, series, &Default::default()).await.unwrap();
    assert_eq!(outcome.accepted, 12);
}

async fn query(data: &Data, q: &str) -> Result<Vec<Table>, Error> {
    let mut out = Vec::new();
    for (stmt, text) in influxql::parse_with_text(q).unwrap() {
        out.extend(run(data, &Principal::Anyone, stmt, &text, &Params { db: Some("db"), rp: None, ..Params::default() }).await?);
    }
    Ok(out)
}

fn row(cells: &[Cell]) -> Vec<Cell> {
    cells.to_vec()
}

fn grouped(host: &str, columns: &[&str], rows: Vec<Vec<Cell>>) -> Table {
    Table { name: Some("cpu".into()), tags: Some([("host".to_string(), host.to_string())].into()), columns: columns.iter().map(|c| c.to_string()).collect(), rows }
}

#[actix_web::test]
async fn select_aggregates_per_window_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let data = open(dir.path());
    write_cpu(&data).await;
    let range = "time >= '1970-01-01T00:00:00Z' AND time < '1970-01-01T00:01:00Z'";
    let tables = query(&data, &format!("SELECT mean(value), max(value), count(value) FROM cpu WHERE {range} GROUP BY time(30s), host")).await.unwrap();
    let columns = ["time", "mean", "max", "count"];
    use Cell::{Number as N, Time as T};
    assert_eq!(
        tables,
        vec![
            grouped("a", &columns, vec![row(&[T(0), N(2.0), N(3.0), N(3.0)]), row(&[T(30 * NS), N(5.0), N(6.0), N(3.0)])]),
            grouped("b", &columns, vec![row(&[T(0), N(20.0), N(30.0), N(3.0)]), row(&[T(30 * NS), N(50.0), N(60.0), N(3.0)])]),
        ]
    );

    // Without GROUP BY: one row for the whole range, at its start, over both series.
    let tables = query(&data, &format!("SELECT sum(value), min(value), percentile(value, 50) FROM cpu WHERE {range}")).await.unwrap();
    assert_eq!(tables, vec![Table::new(Some("cpu"), &["time", "sum", "min", "percentile"], vec![row(&[T(0), N(231.0), N(1.0), N(6.0)])])]);

    // A tag condition picks series before their samples are read; raw rows in time order.
    let tables = query(&data, "SELECT value FROM cpu WHERE host = 'b' AND value > 35").await.unwrap();
    assert_eq!(tables, vec![Table::new(Some("cpu"), &["time", "value"], vec![row(&[T(30 * NS), N(40.0)]), row(&[T(40 * NS), N(50.0)]), row(&[T(50 * NS), N(60.0)])])]);

    let e = query(&data, "SELECT nosuch(value) FROM cpu").await.unwrap_err();
    assert_eq!(e.to_string(), "undefined function nosuch()");
}

#[actix_web::test]
async fn delete_with_time_bounds_removes_only_those_samples() {
    let dir = tempfile::tempdir().unwrap();
    let data = open(dir.path());
    write_cpu(&data).await;
    let done = query(&data, "DELETE FROM cpu WHERE time >= '1970-01-01T00:00:10Z' AND time <= '1970-01-01T00:00:30Z'").await.unwrap();
    assert_eq!(done, vec![]);
    // Only host b, and only before 20 s: 0 s goes (10 s is already gone).
    query(&data, "DELETE FROM cpu WHERE host = 'b' AND time < '1970-01-01T00:00:20Z'").await.unwrap();
    use Cell::{Number as N, Text, Time as T};
    let tables = query(&data, "SELECT value, host FROM cpu").await.unwrap();
    let rows = vec![
        row(&[T(0), N(1.0), Text("a".into())]),
        row(&[T(40 * NS), N(5.0), Text("a".into())]),
        row(&[T(40 * NS), N(50.0), Text("b".into())]),
        row(&[T(50 * NS), N(6.0), Text("a".into())]),
        row(&[T(50 * NS), N(60.0), Text("b".into())]),
    ];
    assert_eq!(tables, vec![Table::new(Some("cpu"), &["time", "value", "host"], rows)]);

    let e = query(&data, "DROP SERIES FROM cpu WHERE time < '1970-01-01T00:00:20Z'").await.unwrap_err();
    assert_eq!(e.to_string(), "DROP SERIES doesn't support time in WHERE clause");
    // Without bounds the series goes entirely.
    query(&data, "DROP SERIES FROM cpu WHERE host = 'a'").await.unwrap();
    let tables = query(&data, "SHOW SERIES").await.unwrap();
    assert_eq!(tables, vec![Table::new(None, &["key"], vec![row(&[Text("cpu,__name__=cpu,host=b".into())])])]);
}

#[actix_web::test]
async fn catalog_statements_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let data = open(dir.path());
    query(&data, "CREATE DATABASE other WITH DURATION 2h NAME short").await.unwrap();
    let tables = query(&data, "SHOW DATABASES; SHOW RETENTION POLICIES ON other").await.unwrap();
    use Cell::{Bool, Number as N, Text};
    assert_eq!(
        tables,
        vec![
            Table::new(Some("databases"), &["name"], vec![row(&[Text("db".into())]), row(&[Text("other".into())])]),
            Table::new(None, &["name", "duration", "shardGroupDuration", "replicaN", "default"], vec![row(&[Text("short".into()), Text("2h0m0s".into()), Text("1h0m0s".into()), N(1.0), Bool(true)])]),
        ]
    );
    // Tiers' durations: two more columns, once a policy of the database has one set.
    let q = "CREATE RETENTION POLICY month ON other DURATION 30d DOWNSAMPLE 5m DURATION 365d DOWNSAMPLE 1h DURATION INF; SHOW RETENTION POLICIES ON other";
    let tables = query(&data, q).await.unwrap();
    assert_eq!(
        tables,
        vec![Table::new(
            None,
            &["name", "duration", "shardGroupDuration", "replicaN", "default", "downsample5mDuration", "downsample1hDuration"],
            vec![
                row(&[Text("short".into()), Text("2h0m0s".into()), Text("1h0m0s".into()), N(1.0), Bool(true), Text("2h0m0s".into()), Text("2h0m0s".into())]),
                row(&[Text("month".into()), Text("720h0m0s".into()), Text("24h0m0s".into()), N(1.0), Bool(false), Text("8760h0m0s".into()), Text("0s".into())]),
            ]
        )]
    );
    let e = query(&data, "ALTER RETENTION POLICY month ON other DOWNSAMPLE 1h DURATION 30d").await.unwrap_err();
    assert_eq!(e.to_string(), "downsample 1h duration must not be shorter than the downsample 5m duration");
    let e = query(&data, "SELECT value FROM nosuch..cpu").await.unwrap_err();
    assert!(matches!(e, Error::Data(crate::data::Error::Storage(_))), "{e:?}");
    assert_eq!(e.to_string(), "database not found: nosuch");
}
