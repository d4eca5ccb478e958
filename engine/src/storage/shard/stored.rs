//! Walking what is stored of a series besides its open chunk: one column family per stored
//! encoding (`encoding::piece::Encoding::STORED`: full XOR chunks in `chunks`, sealed blocks in
//! `blocks`, see `seal`), all under the same keys
//! (`[policy][partition][series][min time]` → `[max time][bytes]`). Readers walk them with
//! `each_stored` and get each value as a `Piece`, which decodes whatever its encoding.

use super::{column_family, Shard};
use crate::storage::keys::{self, Partition};
use crate::encoding::piece::{Encoding, Piece};
use crate::storage::family::Family;
use crate::storage::{Error, PolicyId};
use rocksdb::DBRawIterator;

/// Iterators over the families of each stored encoding, made once for many series (making one
/// costs more than a seek).
pub(super) struct StoredIterators<'a> {
    its: [(DBRawIterator<'a>, Encoding); Encoding::STORED.len()],
}

impl<'a> StoredIterators<'a> {
    pub(super) fn new(db: &'a rocksdb::DB, cf_names: &[String]) -> StoredIterators<'a> {
        StoredIterators { its: Encoding::STORED.map(|e| (db.raw_iterator_cf(column_family(db, cf_names, Family::of(e))), e)) }
    }

    /// Each iterator with the encoding of the family it walks, in `Encoding::STORED` order.
    pub(super) fn by_encoding<'s>(&'s mut self) -> impl Iterator<Item = (&'s mut DBRawIterator<'a>, Encoding)> + 's {
        self.its.iter_mut().map(|(it, e)| (it, *e))
    }
}

impl Shard {
    pub(super) fn stored_iterators(&self) -> StoredIterators<'_> {
        StoredIterators::new(&self.db, &self.cf_names)
    }

    /// Walks what is stored of series `id` in the partitions `keep` accepts: per partition, its
    /// full chunks by start time, then its blocks by start time (`Encoding::STORED` order). `f`
    /// gets each one's key, min and max time and contents, and answers whether to go on in that
    /// partition and family.
    pub(super) fn each_stored(
        &self,
        its: &mut StoredIterators<'_>,
        policy: PolicyId,
        id: u64,
        keep: impl Fn(&Partition) -> bool,
        mut f: impl FnMut(&[u8], i64, i64, Piece<'_>) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        for p in self.partitions.get(&policy).into_iter().flatten().filter(|p| keep(p)) {
            let prefix = keys::chunk_prefix(policy, *p, id);
            for (it, encoding) in its.by_encoding() {
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let (c_max, bytes) = keys::decode_chunk_value(v)?;
                    if !f(k, keys::unflip(&k[20..]), c_max, Piece::new(encoding, bytes))? {
                        break;
                    }
                    it.next();
                }
                it.status()?;
            }
        }
        Ok(())
    }
}
