//! `gemini import influx`: a file of line protocol as `influx_inspect export` writes it (plain or
//! gzip; see `influx_export`) streamed into Gemini's `/api/v1/import/influx`, which parses and
//! maps it exactly as `/write` does but merges the points into series that hold newer samples.
//!
//! Where the points go: `--db` is the database in Gemini; the file's own database name is not
//! used, except that a file holding two databases is refused before anything of the second is
//! sent (export one at a time with `influx_inspect export -database`). `_internal`, InfluxDB's
//! monitoring of itself, is skipped. The retention policy is `--rp`, else the file's
//! `CONTEXT-RETENTION-POLICY`, else the database's default. Nothing is created: a database or
//! policy missing in Gemini fails the import before any point of it is sent (a request with no
//! lines asks Gemini, since the DDL section names every policy before the first point), because
//! only the user knows the duration a policy should keep.
//!
//! Requests hold at most `--batch` lines, a few in flight at once; each is retried when the
//! connection fails or Gemini answers 5xx (`batch::Target`), never on 4xx: a refused line is
//! reported with its line number and Gemini's words, the rest goes on, and the exit status says
//! it. `--state` records each acknowledged range of lines; a rerun with the same file skips the
//! unbroken run of them from the start (re-sending would be harmless anyway: an exact duplicate
//! is idempotent).

use super::batch::{Failure, Target};
use super::influx_export::{ExportReader, Line};
use super::progress::FileProgress;
use super::state::State;
use crate::http::line_protocol::{count_fields, parse_line};
use futures_util::stream::{FuturesOrdered, StreamExt};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

/// Requests in flight at once.
const IN_FLIGHT: usize = 4;
/// A request's body, at most (a batch is cut sooner when its lines are long).
const MAX_BODY: usize = 8 << 20;
/// Refused lines named in the error, at most.
const NAMED: usize = 20;

#[derive(clap::Args, Debug, Clone)]
pub struct InfluxArgs {
    /// The file `influx_inspect export` wrote (gzip with `-compress`, recognised by its content),
    /// or any file of line protocol.
    #[arg(long)]
    pub file: PathBuf,
    /// Gemini's base URL, e.g. http://gemini:8086; lines go to <to>/api/v1/import/influx.
    #[arg(long)]
    pub to: String,
    /// Database in Gemini to import into (it must exist); the file's database name is not used.
    #[arg(long)]
    pub db: String,
    /// Retention policy to import into (it must exist) [default: the file's
    /// CONTEXT-RETENTION-POLICY, else the database's default].
    #[arg(long)]
    pub rp: Option<String>,
    /// Precision of the file's timestamps: ns (what influx_inspect export writes), u, ms, s, m, h.
    #[arg(long, default_value = "ns")]
    pub precision: String,
    /// User for Gemini (`--to`), when it runs with auth: it needs the WRITE grant on --db.
    #[arg(long, env = "GEMINI_USERNAME")]
    pub username: Option<String>,
    /// That user's password.
    #[arg(long, env = "GEMINI_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Lines per import request, at most.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    /// File that records each range of lines once Gemini acknowledged it (first,last one a
    /// line); a rerun of the same --file with it skips what arrived.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Count lines and samples per measurement; send nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Why `gemini import influx` failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--batch must be at least 1")]
    Zero,
    #[error("--precision: {0}")]
    Precision(String),
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
    #[error("the file holds databases {0} and {1}: import one at a time (influx_inspect export -database NAME)")]
    Databases(String, String),
    #[error("{what} in Gemini: {why}")]
    Target { what: String, why: String },
    #[error("lines {first}-{last} did not arrive: {why}; run the same command again to go on (with --state, what arrived is skipped)")]
    Unreachable { first: u64, last: u64, why: String },
    #[error("{count} refused (the other lines arrived):\n{}", named.join("\n"))]
    Refused { count: String, named: Vec<String> },
}

/// Where the points being read belong, from the file's context lines.
struct Context {
    /// `--rp`, which wins over the file's.
    rp: Option<String>,
    file_rp: Option<String>,
    /// The first database the file names (other than `_internal`).
    database: Option<String>,
    /// Whether the points being read are `_internal`'s.
    internal: bool,
}

impl Context {
    /// Takes a line that is not a point; answers the policy it names that the import will use.
    fn take(&mut self, line: &Line) -> Result<Option<String>, Error> {
        let database = match line {
            Line::Policy { database, .. } | Line::Database(database) => database,
            Line::RetentionPolicy(rp) => {
                self.file_rp = Some(rp.clone());
                return Ok(if self.internal || self.rp.is_some() { None } else { Some(rp.clone()) });
            }
            Line::Point(_) | Line::Other => return Ok(None),
        };
        let internal = database == "_internal";
        if !internal {
            match &self.database {
                Some(first) if first != database => return Err(Error::Databases(first.clone(), database.clone())),
                _ => self.database = Some(database.clone()),
            }
        }
        match line {
            Line::Policy { policy, .. } if !internal && self.rp.is_none() => Ok(Some(policy.clone())),
            Line::Database(_) => {
                self.internal = internal;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// The policy the points being read go to (`None`: the database's default).
    fn policy(&self) -> Option<&str> {
        self.rp.as_deref().or(self.file_rp.as_deref())
    }
}

/// One request: the file's lines `first..=last` (comments included), the points among them.
struct Batch {
    first: u64,
    last: u64,
    body: String,
    numbers: Vec<u64>,
    samples: u64,
    /// Bytes of the file read once the batch was cut.
    read: u64,
    target: Rc<Target>,
}

/// The samples a line will give: one per field.
fn samples_of(line: &str) -> u64 {
    count_fields(line) as u64
}

/// Gemini's answer in its own words (the `error` of its JSON).
fn words(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body).ok().and_then(|v| v["error"].as_str().map(str::to_string)).unwrap_or_else(|| body.to_string())
}

/// The refusals of a 400 answer to `batch`, each naming its line: `/write` says `unable to
/// parse '<line>': <why>` per refused line; what names no line (a series' sample) names the
/// batch's range. Also the lines and samples of the batch that arrived.
fn refusals(batch: &Batch, error: &str) -> (Vec<String>, u64, u64) {
    let error = error.strip_prefix("partial write: ").unwrap_or(error);
    let lines: Vec<&str> = batch.body.lines().collect();
    let (mut arrived, mut samples) = (lines.len() as u64, batch.samples);
    let named = error
        .lines()
        .map(|piece| {
            let quoted = piece.strip_prefix("unable to parse '");
            let at = quoted.and_then(|q| lines.iter().position(|l| q.starts_with(l) && q[l.len()..].starts_with("': ")));
            match at {
                Some(i) => {
                    arrived -= 1;
                    samples -= samples_of(lines[i]);
                    format!("line {}: {piece}", batch.numbers[i])
                }
                None => format!("lines {}-{}: {piece}", batch.first, batch.last),
            }
        })
        .collect();
    (named, arrived, samples)
}

/// The run: the file, where its points go, and what arrived.
struct Run {
    args: InfluxArgs,
    reader: ExportReader,
    context: Context,
    client: awc::Client,
    targets: HashMap<Option<String>, Rc<Target>>,
    /// Lines up to this one arrived in an earlier run.
    done_before: i64,
    skipped: u64,
    internal: u64,
    /// The line the next batch starts at.
    next_first: u64,
}

impl Run {
    fn file_error(&self, source: std::io::Error) -> Error {
        Error::File { path: self.args.file.display().to_string(), source }
    }

    /// The import URL for policy `rp`, asked once with no lines whether Gemini takes it.
    async fn target(&mut self, rp: Option<String>) -> Result<Rc<Target>, Error> {
        if let Some(t) = self.targets.get(&rp) {
            return Ok(t.clone());
        }
        let credentials = self.args.username.clone().map(|u| (u, self.args.password.clone().unwrap_or_default()));
        let params = [("db", Some(self.args.db.as_str())), ("rp", rp.as_deref()), ("precision", Some(self.args.precision.as_str()))];
        let target = Rc::new(Target::at(self.client.clone(), &self.args.to, "/api/v1/import/influx", &params, credentials));
        let what = format!("database {:?}{}", self.args.db, rp.as_ref().map(|p| format!(", retention policy {p:?}")).unwrap_or_default());
        match target.post(bytes::Bytes::new(), &[("Content-Type", "text/plain")]).await {
            Ok(()) => {}
            Err(Failure::Refused { status, body, .. }) if status == awc::http::StatusCode::NOT_FOUND => {
                let why = format!("{}: create it in Gemini first (CREATE DATABASE / CREATE RETENTION POLICY), or name another with --db/--rp", words(&body));
                return Err(Error::Target { what, why });
            }
            Err(e) => return Err(Error::Target { what, why: e.to_string() }),
        }
        self.targets.insert(rp, target.clone());
        Ok(target)
    }

    /// The next batch of points to send, cut at `--batch` lines, `MAX_BODY` bytes, a change of
    /// policy or the end of the file. Context lines are taken even where points are skipped.
    async fn next_batch(&mut self) -> Result<Option<Batch>, Error> {
        let mut batch: Option<Batch> = None;
        loop {
            let Some((number, line)) = self.reader.next_line().map_err(|e| self.file_error(e))? else { break };
            let point = match line {
                Line::Point(point) => point,
                other => {
                    let policy_before = self.context.policy().map(str::to_string);
                    if let Some(rp) = self.context.take(&other)? {
                        self.target(Some(rp)).await?;
                    }
                    if batch.is_some() && self.context.policy().map(str::to_string) != policy_before {
                        // The points after this line go elsewhere: this line starts the next batch.
                        let mut b = batch.take().expect("a batch");
                        b.read = self.reader.bytes_read();
                        self.next_first = number;
                        return Ok(Some(b));
                    }
                    continue;
                }
            };
            if self.context.internal {
                self.internal += 1;
                continue;
            }
            if number as i64 <= self.done_before {
                self.skipped += 1;
                self.next_first = number + 1;
                continue;
            }
            if batch.is_none() {
                let target = self.target(self.context.policy().map(str::to_string)).await?;
                batch = Some(Batch { first: self.next_first, last: number, body: String::new(), numbers: Vec::new(), samples: 0, read: 0, target });
            }
            let b = batch.as_mut().expect("a batch");
            b.samples += samples_of(&point);
            b.body.push_str(&point);
            b.body.push('\n');
            b.numbers.push(number);
            b.last = number;
            if b.numbers.len() >= self.args.batch || b.body.len() >= MAX_BODY {
                self.next_first = number + 1;
                break;
            }
        }
        Ok(batch.map(|mut b| {
            b.read = self.reader.bytes_read();
            b
        }))
    }
}

/// Sends one batch; answers it back with the outcome.
async fn send(batch: Batch) -> (Batch, Result<(), Failure>) {
    let body = bytes::Bytes::from(batch.body.clone());
    let result = batch.target.post(body, &[("Content-Type", "text/plain; charset=utf-8")]).await;
    (batch, result)
}

/// Runs the import (see the module doc).
pub async fn import(args: InfluxArgs) -> Result<(), Error> {
    if args.batch == 0 {
        return Err(Error::Zero);
    }
    crate::http::line_protocol::to_millis(0, &args.precision).map_err(|e| Error::Precision(e.to_string()))?;
    let path = args.file.display().to_string();
    let file_error = |source| Error::File { path: path.clone(), source };
    let file = std::fs::File::open(&args.file).map_err(file_error)?;
    let size = file.metadata().map_err(file_error)?.len();
    let reader = ExportReader::new(file).map_err(file_error)?;
    let state_path = args.state.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let state_error = |source| Error::File { path: state_path.clone(), source };
    let mut state = args.state.as_deref().map(State::load).transpose().map_err(state_error)?;
    let done_before = state.as_ref().map_or(0, |s| s.done_through(1));
    let context = Context { rp: args.rp.clone(), file_rp: None, database: None, internal: false };
    if args.dry_run {
        return dry_run(reader, context, done_before, &path);
    }
    let client = awc::Client::builder().timeout(Duration::from_secs(300)).finish();
    let next_first = done_before as u64 + 1;
    let mut run = Run { args, reader, context, client, targets: HashMap::new(), done_before, skipped: 0, internal: 0, next_first };
    if let Some(rp) = run.args.rp.clone() {
        run.target(Some(rp)).await?;
    }
    let compressed = if run.reader.gzip { "gzip, " } else { "" };
    eprintln!("importing {path} ({compressed}{size} bytes) into database {:?} of {}", run.args.db, run.args.to);
    let mut progress = FileProgress::new(size);
    let mut in_flight = FuturesOrdered::new();
    let mut refused = Vec::new();
    let mut reading = true;
    loop {
        while reading && in_flight.len() < IN_FLIGHT {
            match run.next_batch().await? {
                Some(batch) => in_flight.push_back(send(batch)),
                None => reading = false,
            }
        }
        let Some((batch, result)) = in_flight.next().await else { break };
        match result {
            Ok(()) => {
                if let Some(state) = state.as_mut() {
                    state.record((batch.first as i64, batch.last as i64)).map_err(state_error)?;
                }
                progress.batch_done(batch.numbers.len() as u64, batch.samples, batch.read);
            }
            Err(Failure::Refused { status, body, .. }) if status == awc::http::StatusCode::BAD_REQUEST => {
                let (named, arrived, samples) = refusals(&batch, &words(&body));
                refused.extend(named);
                progress.batch_done(arrived, samples, batch.read);
            }
            Err(e) => return Err(Error::Unreachable { first: batch.first, last: batch.last, why: e.to_string() }),
        }
    }
    eprintln!("{}", progress.summary(run.skipped));
    if run.internal > 0 {
        eprintln!("skipped {} lines of _internal (InfluxDB's monitoring of itself)", run.internal);
    }
    if refused.is_empty() {
        return Ok(());
    }
    let count = match refused.len() {
        1 => "a line was".to_string(),
        n => format!("{n} lines were"),
    };
    let mut named: Vec<String> = refused.iter().take(NAMED).cloned().collect();
    if refused.len() > NAMED {
        named.push(format!("… and {} more", refused.len() - NAMED));
    }
    Err(Error::Refused { count, named })
}

/// `--dry-run`: lines and samples per measurement, printed; nothing sent.
fn dry_run(mut reader: ExportReader, mut context: Context, done_before: i64, path: &str) -> Result<(), Error> {
    let mut measurements: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let (mut bad, mut internal, mut skipped) = (0u64, 0u64, 0u64);
    let file_error = |source| Error::File { path: path.to_string(), source };
    let mut policies = Vec::new();
    while let Some((number, line)) = reader.next_line().map_err(file_error)? {
        let Line::Point(point) = line else {
            context.take(&line)?;
            if let Some(rp) = context.policy().filter(|rp| !policies.iter().any(|p| p == rp)) {
                policies.push(rp.to_string());
            }
            continue;
        };
        if context.internal {
            internal += 1;
        } else if number as i64 <= done_before {
            skipped += 1;
        } else {
            match parse_line(&point) {
                Ok(p) => {
                    let counts = measurements.entry(p.measurement).or_default();
                    counts.0 += 1;
                    counts.1 += p.fields.len() as u64;
                }
                Err(_) => bad += 1,
            }
        }
    }
    for (measurement, (lines, samples)) in &measurements {
        println!("measurement {measurement}: {lines} lines, {samples} samples");
    }
    let (lines, samples) = measurements.values().fold((0, 0), |(a, b), (l, s)| (a + l, b + s));
    let policies = if policies.is_empty() { "the default policy".to_string() } else { format!("policies {}", policies.join(", ")) };
    println!(
        "would import {lines} lines, {samples} samples of {} measurements into {policies}; {bad} lines do not parse; {skipped} lines skipped as done before; {internal} lines of _internal skipped",
        measurements.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(rp: Option<&str>) -> Context {
        Context { rp: rp.map(str::to_string), file_rp: None, database: None, internal: false }
    }

    #[test]
    fn the_files_policies_are_used_unless_rp_is_given_and_a_second_database_is_refused() {
        let policy = |db: &str, rp: &str| Line::Policy { database: db.into(), policy: rp.into() };
        let mut c = context(None);
        assert_eq!(c.take(&policy("_internal", "monitor")).unwrap(), None, "_internal is not imported");
        assert_eq!(c.take(&policy("src", "autogen")).unwrap(), Some("autogen".into()), "checked before any point");
        assert_eq!(c.policy(), None);
        c.take(&Line::Database("src".into())).unwrap();
        c.take(&Line::RetentionPolicy("week".into())).unwrap();
        assert_eq!(c.policy(), Some("week"));
        c.take(&Line::Database("_internal".into())).unwrap();
        assert!(c.internal);
        c.take(&Line::Database("src".into())).unwrap();
        assert!(!c.internal);
        let err = c.take(&Line::Database("other".into())).unwrap_err().to_string();
        assert!(err.contains("databases src and other") && err.contains("-database"), "{err}");

        let mut given = context(Some("mine"));
        assert_eq!(given.take(&policy("src", "autogen")).unwrap(), None, "--rp wins: the file's policies need not exist");
        given.take(&Line::RetentionPolicy("week".into())).unwrap();
        assert_eq!(given.policy(), Some("mine"));
    }

    #[test]
    fn refused_lines_are_named_by_their_number() {
        let batch = Batch {
            first: 7,
            last: 12,
            body: "cpu value=1 1\nlog msg=\"it's: here\" 2\ncpu value=2 3\n".into(),
            numbers: vec![9, 10, 12],
            samples: 3,
            read: 0,
            target: Rc::new(Target::at(awc::Client::default(), "http://g", "/x", &[], None)),
        };
        let error = "partial write: unable to parse 'log msg=\"it's: here\" 2': field \"msg\" is a string: Gemini stores numbers (float, integer, boolean) only\nseries cpu: a different value at a stored timestamp";
        let (named, arrived, samples) = refusals(&batch, error);
        assert_eq!(
            named,
            vec![
                "line 10: unable to parse 'log msg=\"it's: here\" 2': field \"msg\" is a string: Gemini stores numbers (float, integer, boolean) only".to_string(),
                "lines 7-12: series cpu: a different value at a stored timestamp".to_string(),
            ]
        );
        assert_eq!((arrived, samples), (2, 2), "the named line did not arrive");
        assert_eq!(words(r#"{"error":"database not found: x"}"#), "database not found: x");
        assert_eq!(words("plain"), "plain");
        assert_eq!(samples_of("cpu a=1,b=2i,c=t 5"), 3);
        assert_eq!(samples_of("not_line_protocol"), 0);
    }
}
