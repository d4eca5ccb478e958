//! The load itself, once the servers run: waits until each answers its readiness check, sends
//! the pre-encoded remote write requests over concurrent keep-alive connections (connection
//! `i` to server `i mod n`), then reads back through the first server (in a cluster it asks
//! every node and merges) and takes what sealing did before the clean stop.

use super::reads::{metric, read_metric, streamed_read_all, wait_for_sealing, SEALED};
use super::workload::Workload;
use super::{BenchArgs, Error, Server};
use std::time::{Duration, Instant};

/// What the load measured while the servers ran.
#[derive(Debug, Default)]
pub(super) struct Loaded {
    /// From the first request sent to the last answered.
    pub elapsed: Duration,
    /// Of every write request.
    pub latencies: Vec<Duration>,
    /// The remote read of `READ_METRIC`: best time, series, samples (zero when not served).
    pub read: (Duration, usize, usize),
    /// The streamed read of everything: best time, series, frames (zero when not served).
    pub streamed: (Duration, usize, usize),
    /// `--queries`: each range query's median time and answer.
    pub queries: Vec<super::queries::Timed>,
    /// Gemini only: samples sealed and shard seconds spent sealing before the stop.
    pub sealing: (f64, f64),
}

/// Runs the load of `requests` (one list of bodies a connection) against the servers at
/// `bases` (`http://host:port`).
pub(super) async fn drive(args: &BenchArgs, bases: &[String], requests: Vec<Vec<Vec<u8>>>, workload: &Workload) -> Result<Loaded, Error> {
    let client = awc::Client::builder().timeout(Duration::from_secs(120)).finish();
    let ready = Instant::now();
    for base in bases {
        let (path, ok) = args.server.ready();
        while client.get(format!("{base}{path}")).send().await.ok().map(|r| r.status().as_u16()) != Some(ok) {
            if ready.elapsed() > Duration::from_secs(60) {
                return Err(Error::NotStarted);
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
    if args.server == Server::Influxdb {
        // InfluxDB writes only into a database that exists.
        let create = format!("{}/query?q=CREATE%20DATABASE%20prometheus", bases[0]);
        let resp = client.post(create).send().await.map_err(|source| Error::Send { what: "CREATE DATABASE failed", source })?;
        if !resp.status().is_success() {
            return Err(Error::NotStarted);
        }
    }
    let started = Instant::now();
    let tasks = requests.into_iter().enumerate().map(|(i, bodies)| {
        let path = args.server.write_path();
        let (client, url) = (client.clone(), format!("{}{path}", bases[i % bases.len()]));
        async move {
            let mut lat = Vec::with_capacity(bodies.len());
            for body in bodies {
                let t = Instant::now();
                let resp = client
                    .post(&url)
                    .insert_header(("Content-Type", "application/x-protobuf"))
                    .insert_header(("Content-Encoding", "snappy"))
                    .send_body(body)
                    .await
                    .map_err(|source| Error::Send { what: "request failed", source })?;
                if resp.status().as_u16() != 204 {
                    return Err(Error::WriteStatus(resp.status()));
                }
                lat.push(t.elapsed());
            }
            Ok::<_, Error>(lat)
        }
    });
    let mut loaded = Loaded::default();
    for r in futures_util::future::join_all(tasks).await {
        loaded.latencies.extend(r?);
    }
    loaded.elapsed = started.elapsed();
    let base = &bases[0];
    if args.read_after_sealing && args.server == Server::Gemini {
        wait_for_sealing(&client, base).await?;
    }
    if args.queries {
        loaded.queries = super::queries::run(&client, args.server, base, workload, args.long_range).await?;
    }
    let Some(read_path) = args.server.read_path() else {
        return Ok(loaded);
    };
    let url = format!("{base}{read_path}");
    loaded.read = read_metric(&client, &url, workload).await?;
    loaded.streamed = streamed_read_all(&client, &url, workload).await?;
    if args.server == Server::Gemini {
        // What sealing did before the clean stop, which runs the last pass.
        loaded.sealing = (metric(&client, base, SEALED).await?, metric(&client, base, "gemini_storage_seal_seconds_total").await?);
    }
    Ok(loaded)
}
