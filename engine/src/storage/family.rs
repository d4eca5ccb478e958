//! The column families of the one RocksDB instance, typed. `meta` holds the catalog, metric
//! metadata, fields and users; each shard has six of its own for raw data (`Family::ALL`) and
//! one per downsampled tier (`Family::TIERS`), named `shard<N>.<kind>`. Every family's name is
//! spelled here and nowhere else; the rest of the engine names a family by its variant. This
//! file knows nothing of what the families hold.

use crate::encoding::piece::Encoding;
use crate::encoding::rollup::Tier;
use rocksdb::{ColumnFamily, DB};

/// The name of the family outside the shards.
pub const META: &str = "meta";

/// The handle of the `meta` family (it always exists: `open` creates it).
pub fn meta(db: &DB) -> &ColumnFamily {
    db.cf_handle(META).expect("the meta column family exists")
}

/// One of a shard's column families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// Series id → label set (and the next series id).
    Series,
    /// The inverted index: (label name, value, series id).
    Postings,
    /// Open chunks as of the last checkpoint, and the partition lengths they were cut by.
    Head,
    /// Full XOR chunks (`encoding::piece::Encoding::Xor`).
    Chunks,
    /// Sealed blocks (`encoding::piece::Encoding::Block`).
    Blocks,
    /// Accepted samples since the last checkpoint.
    Log,
    /// The 5-minute tier: rows of windows (`encoding::rollup`) under the keys of chunks, and
    /// the marker of each partition whose tier is whole (`keys::partition_prefix`).
    Rollup5m,
    /// The 1-hour tier, laid out as the 5-minute one (made from it).
    Rollup1h,
}

impl Family {
    /// A shard's families, in the order a shard keeps their names (`Family::index`).
    pub const ALL: [Family; 6] = [Family::Series, Family::Postings, Family::Head, Family::Chunks, Family::Blocks, Family::Log];
    /// A shard's families of downsampled tiers, after `ALL` in `Family::index` order.
    pub const TIERS: [Family; 2] = [Family::Rollup5m, Family::Rollup1h];
    /// Every family of a shard: `ALL`, then `TIERS`.
    pub const EVERY: [Family; 8] = [Family::Series, Family::Postings, Family::Head, Family::Chunks, Family::Blocks, Family::Log, Family::Rollup5m, Family::Rollup1h];
    /// The families of raw data keyed by time partition after the policy, which retention
    /// drops by range (the tiers' families are keyed so too, with retentions of their own).
    pub const PARTITIONED: [Family; 2] = [Family::Chunks, Family::Blocks];

    /// What the family's name ends with, after `shard<N>.`.
    pub fn kind(self) -> &'static str {
        match self {
            Family::Series => "series",
            Family::Postings => "postings",
            Family::Head => "head",
            Family::Chunks => "chunks",
            Family::Blocks => "blocks",
            Family::Log => "log",
            Family::Rollup5m => "rollup5m",
            Family::Rollup1h => "rollup1h",
        }
    }

    /// The family that holds `tier`.
    pub fn of_tier(tier: Tier) -> Family {
        match tier {
            Tier::FiveMinutes => Family::Rollup5m,
            Tier::OneHour => Family::Rollup1h,
        }
    }

    /// The family that holds full pieces of `encoding`.
    pub fn of(encoding: Encoding) -> Family {
        match encoding {
            Encoding::Xor => Family::Chunks,
            Encoding::Block => Family::Blocks,
        }
    }

    /// Its position in `EVERY`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The family's name in shard `shard`.
    pub fn name(self, shard: usize) -> String {
        format!("shard{shard}.{}", self.kind())
    }

    /// The shard and family of a shard's column family name (`None` for `meta`).
    pub fn parse(name: &str) -> Option<(usize, Family)> {
        let (shard, kind) = name.strip_prefix("shard")?.split_once('.')?;
        Some((shard.parse().ok()?, Family::EVERY.into_iter().find(|f| f.kind() == kind)?))
    }

    /// The shard family a column family name belongs to (`None` for `meta`).
    pub fn of_name(name: &str) -> Option<Family> {
        Family::parse(name).map(|(_, f)| f)
    }
}

/// The kind of a column family named `name`: `meta`, or its shard family's `kind` (what
/// `Storage::table_bytes` sums over the shards).
pub fn kind_of(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_as_they_always_were() {
        let names: Vec<String> = Family::ALL.iter().map(|f| f.name(3)).collect();
        assert_eq!(names, ["shard3.series", "shard3.postings", "shard3.head", "shard3.chunks", "shard3.blocks", "shard3.log"]);
        for (i, f) in Family::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(Family::parse(&f.name(12)), Some((12, *f)));
            assert_eq!(kind_of(&f.name(12)), f.kind());
        }
        assert_eq!((Family::of(Encoding::Xor), Family::of(Encoding::Block)), (Family::Chunks, Family::Blocks));
        assert_eq!((Family::of_name(META), Family::of_name("shard1.other"), kind_of(META)), (None, None, "meta"));
    }

    #[test]
    fn every_family_is_the_raw_ones_then_the_tiers() {
        assert_eq!(Family::EVERY.to_vec(), [Family::ALL.to_vec(), Family::TIERS.to_vec()].concat());
        for (i, f) in Family::EVERY.iter().enumerate() {
            assert_eq!((f.index(), Family::parse(&f.name(2))), (i, Some((2, *f))));
        }
        assert_eq!(Family::Rollup5m.name(4), "shard4.rollup5m");
        assert_eq!(Family::Rollup1h.name(4), "shard4.rollup1h");
        assert_eq!(Tier::ALL.map(Family::of_tier), Family::TIERS);
        assert!(Family::PARTITIONED.iter().all(|f| Family::EVERY.contains(f) && *f != Family::Log));
    }
}
