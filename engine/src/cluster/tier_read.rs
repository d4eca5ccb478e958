//! A read of a downsampled tier over the cluster (`SeriesStore::select_tier`): every node
//! downsamples its own copies, so the coordinator asks this node and every peer not marked down
//! for their windows (`/internal/v1/select_tier`), as a raw read asks them for chunks, with the
//! same rule for nodes left out (`Coordinator::ask_others`: skipped while fewer than the
//! copies; as many as the copies fail the read, naming them). This file owns the merge of the
//! answers and their wire format.
//!
//! Merge (`merge`):
//! - `through` is the smallest of the answering nodes': before it every node's tier holds all
//!   its samples, so every copy's windows are whole there; a node whose tier is behind makes
//!   the reader take raw data after its `through`, and one that holds no tier (`i64::MIN`:
//!   nothing downsampled yet, or no data of the policy at all) makes the whole read raw.
//! - Windows that start at or after the merged `through` are dropped (the tier does not vouch
//!   for them; the reader answers those steps from raw data), and series left without a window.
//! - A series several copies hold is merged by window start: a window only one copy has is
//!   kept (that copy holds samples the other lacks, as a raw read's merge keeps them); of two
//!   windows with the same start the one of more samples wins (copies written alike are
//!   equal; a copy that missed samples has fewer), the first answer's (this node's, then the
//!   peers' in name order) on a tie.
//!
//! Wire format (snappy-compressed; integers little-endian):
//! ```text
//! answer = through:i64  series*
//! series = labels_len:u32  labels (`Labels::as_bytes`)  rows:u32  row*
//! row    = len:u32  windows as `encoding::rollup::encode_row` stores them (bit-exact, NaN
//!          payloads too; at most `block::MAX_SAMPLES` windows a row)
//! ```

use super::coordinator::Coordinator;
use crate::data::schema::Policies;
use crate::data::{Error, Selection, Tier, TierAnswer};
use crate::encoding::block::MAX_SAMPLES;
use crate::encoding::rollup::{decode_row_into, encode_row, Window};
use crate::labels::Labels;
use std::cmp::Ordering;
use std::collections::BTreeMap;

impl Coordinator {
    /// The windows of `tier` of the series matching `selection` on every node, merged (see the
    /// module doc).
    pub async fn read_tier(&self, db: &str, which: Policies<'_>, selection: Selection, tier: Tier) -> Result<TierAnswer, Error> {
        let local = self.node().read_tier(db, which, selection.clone(), tier).await?;
        let (others, asked) = (self.others(), &selection);
        let (peers, _) = self.ask_others(&others, "select_tier", |p| self.transport.tier(p, db, which, asked, tier)).await?;
        Ok(merge(std::iter::once(local).chain(peers).collect()))
    }
}

/// The nodes' answers as one (see the module doc), the first answer's windows first on a tie.
pub fn merge(answers: Vec<TierAnswer>) -> TierAnswer {
    let through = answers.iter().map(|a| a.through).min().unwrap_or(i64::MIN);
    if through == i64::MIN {
        return TierAnswer::default();
    }
    let mut all: BTreeMap<Labels, Vec<Window>> = BTreeMap::new();
    for answer in answers {
        for (labels, mut windows) in answer.series {
            windows.retain(|w| w.start < through);
            if windows.is_empty() {
                continue;
            }
            match all.remove(&labels) {
                Some(first) => all.insert(labels, by_start(first, windows)),
                None => all.insert(labels, windows),
            };
        }
    }
    TierAnswer { series: all.into_iter().collect(), through }
}

/// Two copies' windows of one series (each in start order) by start; of two with one start,
/// the one of more samples, `a`'s on a tie.
fn by_start(a: Vec<Window>, b: Vec<Window>) -> Vec<Window> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut a, mut b) = (a.into_iter().peekable(), b.into_iter().peekable());
    loop {
        let next = match (a.peek(), b.peek()) {
            (None, None) => return out,
            (Some(_), None) => a.next(),
            (None, Some(_)) => b.next(),
            (Some(x), Some(y)) => match x.start.cmp(&y.start) {
                Ordering::Less => a.next(),
                Ordering::Greater => b.next(),
                Ordering::Equal => {
                    let (x, y) = (a.next().expect("peeked"), b.next().expect("peeked"));
                    Some(if y.count > x.count { y } else { x })
                }
            },
        };
        out.extend(next);
    }
}

/// An answer in the wire format (before snappy).
pub fn encode(answer: &TierAnswer) -> Vec<u8> {
    let mut out = answer.through.to_le_bytes().to_vec();
    let put_len = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&u32::try_from(n).expect("under 4 GiB").to_le_bytes());
    for (labels, windows) in &answer.series {
        put_len(&mut out, labels.as_bytes().len());
        out.extend_from_slice(labels.as_bytes());
        put_len(&mut out, windows.len().div_ceil(MAX_SAMPLES));
        for run in windows.chunks(MAX_SAMPLES) {
            let row = encode_row(run);
            put_len(&mut out, row.len());
            out.extend_from_slice(&row);
        }
    }
    out
}

/// An answer that does not decode, described.
#[derive(Debug, thiserror::Error)]
#[error("tier answer: {0}")]
pub struct DecodeError(String);

/// The bytes of an answer not read yet.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError(format!("truncated in {what}")));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn len(&mut self, what: &str) -> Result<usize, DecodeError> {
        Ok(u32::from_le_bytes(self.take(4, what)?.try_into().expect("4 bytes")) as usize)
    }
}

/// An answer from the wire format (before snappy).
pub fn decode(bytes: &[u8]) -> Result<TierAnswer, DecodeError> {
    let mut r = Reader(bytes);
    let through = i64::from_le_bytes(r.take(8, "through")?.try_into().expect("8 bytes"));
    let mut series = Vec::new();
    while !r.0.is_empty() {
        let labels_len = r.len("labels length")?;
        let labels = Labels::from_encoded(r.take(labels_len, "labels")?).ok_or_else(|| DecodeError("labels do not decode".into()))?;
        let mut windows = Vec::new();
        for _ in 0..r.len("row count")? {
            let row_len = r.len("row length")?;
            decode_row_into(r.take(row_len, "row")?, |_| true, &mut windows).map_err(|e| DecodeError(format!("{labels}: {e}")))?;
        }
        series.push((labels, windows));
    }
    Ok(TierAnswer { series, through })
}

#[cfg(test)]
#[path = "tier_read_tests.rs"]
mod tests;
