//! The writing side of `gemini import`: series cut into requests of a bounded number of samples
//! (`Batcher`; a long series goes on in the next request), each sent to Gemini's
//! `/api/v1/import` as a snappy remote write 1.0 body (`Target`), retried when the connection
//! fails or Gemini answers 5xx (a retry stores nothing twice); a 4xx is a refusal, not retried.
//! `gemini import influx` posts line protocol to `/api/v1/import/influx` through the same
//! `Target::post`.

use crate::data::write::SeriesWrite;
use crate::labels::Labels;
use std::time::Duration;

/// Samples per import request, at most, by default.
pub const MAX_SAMPLES: usize = 10_000;
/// Tries of one request before its slice fails.
const TRIES: u32 = 3;

/// Gathers series into requests of at most `max` samples.
pub struct Batcher {
    max: usize,
    pending: Vec<SeriesWrite>,
    samples: usize,
}

impl Batcher {
    pub fn new(max: usize) -> Batcher {
        Batcher { max: max.max(1), pending: Vec::new(), samples: 0 }
    }

    /// Adds a series' samples; answers the requests this filled.
    pub fn push(&mut self, labels: Labels, mut samples: Vec<(i64, f64)>) -> Vec<Vec<SeriesWrite>> {
        let mut full = Vec::new();
        while !samples.is_empty() {
            let room = self.max - self.samples;
            let rest = if samples.len() > room { samples.split_off(room) } else { Vec::new() };
            self.samples += samples.len();
            self.pending.push(SeriesWrite { hash: labels.stable_hash(), labels: labels.clone(), samples });
            if self.samples == self.max {
                full.extend(self.finish());
            }
            samples = rest;
        }
        full
    }

    /// The last, partly filled request, if any.
    pub fn finish(&mut self) -> Option<Vec<SeriesWrite>> {
        self.samples = 0;
        Some(std::mem::take(&mut self.pending)).filter(|p| !p.is_empty())
    }
}

/// Where an import writes: the flags every source shares.
#[derive(clap::Args, Debug, Clone)]
pub struct TargetArgs {
    /// Gemini's base URL, e.g. http://gemini:8086; samples go to <to>/api/v1/import.
    #[arg(long)]
    pub to: String,
    /// Database to import into [default: the server's, prometheus].
    #[arg(long)]
    pub db: Option<String>,
    /// Retention policy to import into [default: the database's default].
    #[arg(long)]
    pub rp: Option<String>,
    /// User for Gemini (`--to`), when it runs with auth: it needs the WRITE grant on --db.
    #[arg(long, env = "GEMINI_USERNAME")]
    pub username: Option<String>,
    /// That user's password.
    #[arg(long, env = "GEMINI_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Samples per import request, at most.
    #[arg(long, default_value_t = MAX_SAMPLES)]
    pub batch: usize,
}

impl TargetArgs {
    /// The import path these flags name; each write may take 5 minutes.
    pub fn target(&self) -> Target {
        let credentials = self.username.clone().map(|u| (u, self.password.clone().unwrap_or_default()));
        Target::new(awc::Client::builder().timeout(Duration::from_secs(300)).finish(), &self.to, self.db.as_deref(), self.rp.as_deref(), credentials)
    }
}

/// Why a request did not arrive.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Gemini answered 4xx with `body`: sending it again would not help.
    #[error("{url}: {status} {body}")]
    Refused { url: String, status: awc::http::StatusCode, body: String },
    /// No answer, or 5xx, every time it was tried.
    #[error("{0}")]
    Unreachable(String),
}

/// Gemini's import path.
pub struct Target {
    client: awc::Client,
    url: String,
    /// User and password, sent as basic auth.
    credentials: Option<(String, String)>,
}

impl Target {
    /// `<to>/api/v1/import` with `db` and `rp` when given.
    pub fn new(client: awc::Client, to: &str, db: Option<&str>, rp: Option<&str>, credentials: Option<(String, String)>) -> Target {
        Target::at(client, to, "/api/v1/import", &[("db", db), ("rp", rp)], credentials)
    }

    /// `<to><path>` with the parameters that are given.
    pub fn at(client: awc::Client, to: &str, path: &str, params: &[(&str, Option<&str>)], credentials: Option<(String, String)>) -> Target {
        let params: Vec<(&str, &str)> = params.iter().filter_map(|(k, v)| Some((*k, (*v)?))).collect();
        let query = serde_urlencoded::to_string(params).unwrap_or_default();
        let mut url = format!("{}{path}", to.trim_end_matches('/'));
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        Target { client, url, credentials }
    }

    /// Sends one remote write request; Ok once Gemini answered 2xx.
    pub async fn send(&self, batch: &[SeriesWrite]) -> Result<(), String> {
        let body = crate::remote::write::encode_v1(batch).map_err(|e| e.to_string())?;
        let headers = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy"), ("X-Prometheus-Remote-Write-Version", "0.1.0")];
        self.post(body.into(), &headers).await.map_err(|e| e.to_string())
    }

    /// Posts `body` with `headers`; Ok once Gemini answered 2xx. A refusal (4xx) is not retried.
    pub async fn post(&self, body: bytes::Bytes, headers: &[(&str, &str)]) -> Result<(), Failure> {
        let mut last = Failure::Unreachable(String::new());
        for attempt in 0..TRIES {
            if attempt > 0 {
                actix_web::rt::time::sleep(Duration::from_millis(500 << attempt)).await;
            }
            let mut request = self.client.post(&self.url);
            if let Some((user, password)) = &self.credentials {
                request = request.basic_auth(user, password);
            }
            for header in headers {
                request = request.insert_header(*header);
            }
            let mut answer = match request.send_body(body.clone()).await {
                Ok(a) => a,
                Err(e) => {
                    last = Failure::Unreachable(format!("{}: {e}", self.url));
                    continue;
                }
            };
            let status = answer.status();
            if status.is_success() {
                return Ok(());
            }
            let text = answer.body().limit(1 << 20).await.map(|b| String::from_utf8_lossy(&b).trim().to_string()).unwrap_or_default();
            if status.is_client_error() {
                return Err(Failure::Refused { url: self.url.clone(), status, body: text });
            }
            last = Failure::Unreachable(format!("{}: {status} {text}", self.url));
        }
        Err(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(name: &str) -> Labels {
        Labels::from_sorted([("__name__", name)])
    }

    #[test]
    fn requests_hold_at_most_max_samples_and_long_series_go_on_in_the_next() {
        let mut b = Batcher::new(10);
        assert!(b.push(labels("a"), (0..4).map(|t| (t, 0.0)).collect()).is_empty());
        let full = b.push(labels("b"), (0..23).map(|t| (t, 1.0)).collect());
        let shape = |r: &Vec<SeriesWrite>| r.iter().map(|s| (s.labels.get("__name__").to_string(), s.samples.len())).collect::<Vec<_>>();
        assert_eq!(full.iter().map(shape).collect::<Vec<_>>(), vec![vec![("a".into(), 4), ("b".into(), 6)], vec![("b".into(), 10)]]);
        assert_eq!(full[1][0].samples[0], (6, 1.0), "b goes on where it stopped");
        let last = b.finish().unwrap();
        assert_eq!(shape(&last), vec![("b".into(), 7)]);
        assert_eq!(last[0].samples.last(), Some(&(22, 1.0)));
        assert!(b.finish().is_none());
        assert_eq!(last[0].hash, labels("b").stable_hash());
    }

    #[actix_web::test]
    async fn the_import_url_names_database_and_policy_when_given() {
        let client = awc::Client::default;
        assert_eq!(Target::new(client(), "http://g:8086/", None, None, None).url, "http://g:8086/api/v1/import");
        assert_eq!(Target::new(client(), "http://g:8086", Some("my db"), Some("rp"), None).url, "http://g:8086/api/v1/import?db=my+db&rp=rp");
    }
}
