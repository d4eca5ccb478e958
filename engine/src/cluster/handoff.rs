//! Hinted handoff: a node that took a copy in place of an owner that was down (the next node
//! in hash order, see `coordinator`) keeps a hint, and gives the owner its samples once it
//! answers again. A hint names the owner, the database and policy, the series, and the time
//! range of the samples taken for it; writes while the owner stays down widen that range.
//! Hints live in the `meta` column family (`ho/…`), written with the samples before the write
//! is answered, so they survive a restart of either node. Delivery (`deliver_hints_once`,
//! every second) reads the series' samples in that range from this node's storage and writes
//! them to the owner as an ordinary copy; a hint is removed only when the owner stored them
//! and no write widened it meanwhile. Samples stored twice are duplicates, not new samples,
//! so delivering again is harmless. The fallback keeps its own copy afterwards: reads merge
//! copies, and retention removes it with the rest of its partition.

use super::coordinator::Coordinator;
use super::WRITE_BUDGET;
use crate::data::{FieldPairs, Selection};
use crate::storage::series_store::local_stream;
use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use crate::storage::catalog::Record;
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::data::schema::Policies;
use crate::data::StoreError as Error;
use crate::storage::Storage;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

const PREFIX: &[u8] = b"ho/";
/// Hints sent to an owner in one request, at most.
const BATCH: usize = 500;
/// Samples sent to an owner in one request: a batch stops after the series that reaches this
/// (after a long outage a series alone may hold more), so a request fits the write budget.
const BATCH_SAMPLES: usize = 200_000;

/// What a copy sent to a node is.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CopyKind<'a> {
    /// The node owns the series.
    Owned,
    /// The node stands in for this owner, which is down: it keeps a hint.
    StandingFor(&'a str),
    /// Samples a stand-in held for the node, handed over: older ones than the series' newest
    /// are merged in, not refused.
    HandedOff,
    /// History (`SeriesStore::import`), merged in as `HandedOff` is; on a node that stands in
    /// for this owner (down), with a hint, as `StandingFor`.
    Imported(Option<&'a str>),
}

/// Whose series, where.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HintKey {
    pub owner: String,
    pub db: String,
    /// Empty for the database's default policy.
    pub rp: String,
    pub labels: Labels,
}

/// The samples this node holds for the owner: times in [min_t, max_t], kept since `since_ms`
/// (wall clock). `version` changes with every write that touches the hint (not stored: after
/// a restart every hint starts over at 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hint {
    pub since_ms: i64,
    pub min_t: i64,
    pub max_t: i64,
    version: u64,
}

/// Per owner: hints waiting, and since when the oldest waits (ms, wall clock).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Pending {
    pub series: usize,
    pub oldest_since_ms: i64,
}

/// This node's storage with its hints.
pub struct Handoff {
    storage: Arc<Storage>,
    hints: Mutex<Hints>,
}

#[derive(Default)]
struct Hints {
    map: BTreeMap<HintKey, Hint>,
    version: u64,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn take_str<'a>(bytes: &mut &'a [u8]) -> Option<&'a str> {
    let len = u16::from_be_bytes(bytes.get(..2)?.try_into().ok()?) as usize;
    let s = std::str::from_utf8(bytes.get(2..2 + len)?).ok()?;
    *bytes = &bytes[2 + len..];
    Some(s)
}

impl HintKey {
    fn encode(&self) -> Vec<u8> {
        let mut out = PREFIX.to_vec();
        for s in [&self.owner, &self.db, &self.rp] {
            put_str(&mut out, s);
        }
        out.extend_from_slice(self.labels.as_bytes());
        out
    }

    fn decode(key: &[u8]) -> Option<HintKey> {
        let mut rest = key.strip_prefix(PREFIX)?;
        let (owner, db, rp) = (take_str(&mut rest)?.to_string(), take_str(&mut rest)?.to_string(), take_str(&mut rest)?.to_string());
        Some(HintKey { owner, db, rp, labels: Labels::from_encoded(rest)? })
    }
}

impl Hint {
    fn encode(&self) -> Vec<u8> {
        [self.since_ms, self.min_t, self.max_t].iter().flat_map(|v| v.to_be_bytes()).collect()
    }

    fn decode(value: &[u8]) -> Option<Hint> {
        let at = |i: usize| Some(i64::from_be_bytes(value.get(i * 8..i * 8 + 8)?.try_into().ok()?));
        Some(Hint { since_ms: at(0)?, min_t: at(1)?, max_t: at(2)?, version: 0 })
    }
}

impl Handoff {
    /// Loads the hints this node keeps.
    pub fn open(storage: Arc<Storage>) -> Result<Handoff, Error> {
        let mut map = BTreeMap::new();
        for (k, v) in storage.meta_records(PREFIX)? {
            match (HintKey::decode(&k), Hint::decode(&v)) {
                (Some(key), Some(hint)) => {
                    map.insert(key, hint);
                }
                _ => return Err(Error::Corrupt(format!("handoff hint {}", String::from_utf8_lossy(&k)))),
            }
        }
        if !map.is_empty() {
            tracing::info!(series = map.len(), "handoff: hints to deliver");
        }
        Ok(Handoff { storage, hints: Mutex::new(Hints { map, version: 0 }) })
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// Stores a copy of `series` here; one standing in for an owner with a hint for each
    /// series, before it answers.
    pub async fn store_copy(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, kind: CopyKind<'_>) -> Result<WriteOutcome, Error> {
        if series.is_empty() {
            return Ok(WriteOutcome::default());
        }
        let (merge, stands_for) = match kind {
            CopyKind::Owned => (false, None),
            CopyKind::StandingFor(owner) => (false, Some(owner)),
            CopyKind::HandedOff => (true, None),
            CopyKind::Imported(stands_for) => (true, stands_for),
        };
        let ranges: Vec<(Labels, i64, i64)> = match stands_for {
            Some(_) => series.iter().filter_map(|s| Some((s.labels.clone(), s.samples.iter().map(|x| x.0).min()?, s.samples.iter().map(|x| x.0).max()?))).collect(),
            None => Vec::new(),
        };
        let outcome = match merge {
            true => self.storage.backfill(db, rp, series).await?,
            false => self.storage.write(db, rp, series).await?,
        };
        if let Some(owner) = stands_for {
            self.note(owner, db, rp.unwrap_or(""), ranges)?;
        }
        Ok(outcome)
    }

    /// Adds or widens the hints of `series` (labels, min and max time) for `owner`.
    fn note(&self, owner: &str, db: &str, rp: &str, series: Vec<(Labels, i64, i64)>) -> Result<(), Error> {
        let mut hints = self.hints.lock().unwrap();
        hints.version += 1;
        let version = hints.version;
        let mut records = Vec::new();
        for (labels, min_t, max_t) in series {
            let key = HintKey { owner: owner.to_string(), db: db.to_string(), rp: rp.to_string(), labels };
            let hint = match hints.map.get(&key) {
                Some(h) => Hint { min_t: h.min_t.min(min_t), max_t: h.max_t.max(max_t), version, ..*h },
                None => Hint { since_ms: crate::clock::now_ms(), min_t, max_t, version },
            };
            records.push(Record::Put(key.encode(), hint.encode()));
            hints.map.insert(key, hint);
        }
        // Under the lock, so that a delivery's removal and this write reach RocksDB in the
        // order they happened here.
        self.storage.write_meta(records)
    }

    /// Per owner: how many hints wait and the oldest's age.
    pub fn pending(&self) -> BTreeMap<String, Pending> {
        let mut out: BTreeMap<String, Pending> = BTreeMap::new();
        for (key, hint) in &self.hints.lock().unwrap().map {
            let p = out.entry(key.owner.clone()).or_insert(Pending { series: 0, oldest_since_ms: hint.since_ms });
            p.series += 1;
            p.oldest_since_ms = p.oldest_since_ms.min(hint.since_ms);
        }
        out
    }

    /// Up to `BATCH` hints for `owner` after `after`, all of one database and policy.
    pub(super) fn batch(&self, owner: &str, after: Option<&HintKey>) -> Vec<(HintKey, Hint)> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let hints = self.hints.lock().unwrap();
        let start = HintKey { owner: owner.to_string(), db: String::new(), rp: String::new(), labels: Labels::from_sorted([]) };
        let from = match after {
            Some(k) => Excluded(k.clone()),
            None => Included(start),
        };
        let mut out: Vec<(HintKey, Hint)> = Vec::new();
        for (k, h) in hints.map.range((from, Unbounded)).take_while(|(k, _)| k.owner == owner) {
            if out.len() == BATCH || out.first().is_some_and(|(first, _)| (&first.db, &first.rp) != (&k.db, &k.rp)) {
                break;
            }
            out.push((k.clone(), *h));
        }
        out
    }

    /// Removes the hints delivered, unless a write touched them since they were read.
    pub(super) fn delivered(&self, done: Vec<(HintKey, Hint)>) -> Result<(), Error> {
        let mut hints = self.hints.lock().unwrap();
        let mut records = Vec::new();
        for (key, hint) in done {
            if hints.map.get(&key) == Some(&hint) {
                records.push(Record::Delete(key.encode()));
                hints.map.remove(&key);
            }
        }
        self.storage.write_meta(records)
    }

    /// The samples of the hinted series in their ranges, as a write to their owner: the series
    /// with samples, line protocol's fields among them, and how many of the hints that is (up
    /// to the one whose series reaches `BATCH_SAMPLES`).
    async fn read_back(&self, batch: &[(HintKey, Hint)]) -> Result<(Vec<SeriesWrite>, FieldPairs, usize), Error> {
        let Some((first, _)) = batch.first() else { return Ok((Vec::new(), FieldPairs::new(), 0)) };
        let rp = Some(first.rp.as_str()).filter(|r| !r.is_empty());
        let mut series: Vec<SeriesWrite> = Vec::new();
        let mut used = 0;
        for (key, hint) in batch {
            if series.iter().map(|s| s.samples.len()).sum::<usize>() >= BATCH_SAMPLES {
                break;
            }
            used += 1;
            let matchers = key.labels.iter().map(|(n, v)| Matcher::new(MatchKind::Equal, n, v)).collect::<Result<Vec<_>, _>>().map_err(|e| Error::Invalid(e.to_string()))?;
            let selection = Selection { matchers, min_t: hint.min_t, max_t: hint.max_t };
            let mut stream = local_stream(self.storage.clone(), &key.db, Policies::One(rp), selection).await.map_err(|e| match e {
                crate::data::Error::Storage(e) => e,
                other => Error::Invalid(other.to_string()),
            })?;
            while let Some((labels, samples)) = stream.next_series().await.map_err(|e| Error::Invalid(e.to_string()))? {
                if labels == key.labels && !samples.is_empty() {
                    series.push(SeriesWrite { hash: labels.stable_hash(), labels, samples });
                }
            }
        }
        // Field `value` of measurement m is the series m, any other field f the series m_f.
        let mut fields = FieldPairs::new();
        let names: BTreeSet<&str> = series.iter().map(|s| s.labels.get("__name__")).collect();
        for (m, fs) in self.storage.line_fields(&first.db)? {
            for f in fs {
                let name = if f == "value" { m.clone() } else { format!("{m}_{f}") };
                if names.contains(name.as_str()) {
                    fields.insert((m.clone(), f));
                }
            }
        }
        Ok((series, fields, used))
    }
}

impl Coordinator {
    /// Delivers hints every second, for as long as the server runs.
    pub async fn deliver_hints(self: Arc<Self>) {
        let mut tick = actix_web::rt::time::interval(super::PROBE_EVERY);
        loop {
            tick.tick().await;
            self.deliver_hints_once().await;
        }
    }

    /// Delivers the hints for every owner not marked down, batch by batch; stops for an owner
    /// at its first failure (it is then marked down, and probed).
    pub async fn deliver_hints_once(&self) {
        let peers = self.cluster.peers();
        for (owner, _) in self.handoff().pending() {
            if self.cluster.is_down(&owner) || !peers.names.contains(&owner) {
                continue;
            }
            // Each hint once per round: one a write touched meanwhile waits for the next.
            let mut after: Option<HintKey> = None;
            loop {
                let mut batch = self.handoff().batch(&owner, after.as_ref());
                let Some((first, _)) = batch.first() else { break };
                let (db, rp) = (first.db.clone(), Some(first.rp.clone()).filter(|r| !r.is_empty()));
                let (series, fields, used) = match self.handoff().read_back(&batch).await {
                    Ok(read) => read,
                    Err(e) if e.is_not_found() => (Vec::new(), FieldPairs::new(), batch.len()),
                    Err(e) => {
                        tracing::error!(%owner, error = %e, "handoff: cannot read the hinted samples");
                        break;
                    }
                };
                batch.truncate(used);
                after = batch.last().map(|(k, _)| k.clone());
                if !series.is_empty() {
                    let samples: usize = series.iter().map(|s| s.samples.len()).sum();
                    let sent = self.ask(&owner, WRITE_BUDGET, self.transport.write(&owner, &db, rp.as_deref(), &series, &fields, CopyKind::HandedOff)).await;
                    if let Err(e) = sent {
                        tracing::warn!(%owner, error = %e, "handoff: owner unreachable, hints kept");
                        self.cluster.mark_down(&owner);
                        break;
                    }
                    self.cluster.count(&owner, |s| s.handed_off_samples += samples as u64);
                    tracing::info!(%owner, series = series.len(), samples, "handoff: delivered");
                }
                if let Err(e) = self.handoff().delivered(batch) {
                    tracing::error!(%owner, error = %e, "handoff: cannot remove delivered hints");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "handoff_tests.rs"]
mod tests;
