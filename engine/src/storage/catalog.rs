//! The catalog: databases and their retention policies, as InfluxDB 1.x has them. Pure
//! rules (defaults, validation, InfluxDB's error wording) and their records in the `meta`
//! column family: `db/<name>` → `[id][default policy name]`, `rp/[db id]<name>` → the
//! policy as JSON. `Storage` holds the one `Catalog` and tells the shards what changes.
//!
//! Each policy has an id of its own, the space its series live in inside the shards; a
//! database's first policy has the database's id, so data written before policies existed
//! is its `autogen`.

use super::Error;
use crate::data::schema::{Database, Policy};
use crate::encoding::rollup::Tier;
use crate::model::PolicyOptions;
use std::collections::BTreeMap;

pub const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;
pub const AUTOGEN: &str = "autogen";

#[derive(Default, Debug)]
pub struct Catalog {
    pub databases: BTreeMap<String, Database>,
    pub next_id: u32,
}

/// InfluxDB's shard duration for a policy that names none.
fn default_shard_duration(duration: i64) -> i64 {
    match duration {
        0 => 7 * DAY_NS,
        d if d < 2 * DAY_NS => HOUR_NS,
        d if d < 180 * DAY_NS => DAY_NS,
        _ => 7 * DAY_NS,
    }
}

/// Applies `opts` over `p` (a new policy starts with duration 0 and no shard duration),
/// with InfluxDB's rules and messages.
fn apply(p: &mut Policy, opts: &PolicyOptions, new: bool) -> Result<(), Error> {
    if let Some(d) = opts.duration {
        if d != 0 && d < HOUR_NS {
            return Err(Error::Invalid("retention policy duration must be at least 1h0m0s".into()));
        }
        p.duration = d;
    }
    match opts.shard_duration {
        Some(s) => p.shard_duration = if s == 0 { default_shard_duration(p.duration) } else { s.max(HOUR_NS) },
        None if new => p.shard_duration = default_shard_duration(p.duration),
        None => {}
    }
    if let Some(r) = opts.replication {
        p.replication = r;
    }
    if p.duration != 0 && p.duration < p.shard_duration {
        return Err(Error::Invalid("retention policy duration must be greater than the shard duration".into()));
    }
    apply_tiers(p, opts)
}

/// Sets the downsampled tiers' durations of `opts` on `p`. Each is 0 (forever) or at least
/// 1h, like the raw duration, and no tier keeps less than the finer data below it (the 5m
/// tier at least as long as raw data, the 1h tier at least as long as the 5m tier): a tier
/// is what answers where the finer data is gone, so one that goes first would never answer
/// and only cost the work of writing it, and queries can count on the coarser data reaching
/// at least as far back.
fn apply_tiers(p: &mut Policy, opts: &PolicyOptions) -> Result<(), Error> {
    for tier in Tier::ALL {
        if let Some(d) = opts.tier_durations[tier as usize] {
            if d != 0 && d < HOUR_NS {
                return Err(Error::Invalid(format!("downsample {} duration must be at least 1h0m0s", tier.name())));
            }
            p.tier_durations[tier as usize] = Some(d);
        }
    }
    // Forever is longer than any duration.
    let longest = |d: i64| if d == 0 { i64::MAX } else { d };
    let mut finer = ("the retention policy duration".to_string(), longest(p.duration));
    for tier in Tier::ALL {
        let kept = longest(p.tier_duration(tier));
        if kept < finer.1 {
            return Err(Error::Invalid(format!("downsample {} duration must not be shorter than {}", tier.name(), finer.0)));
        }
        finer = (format!("the downsample {} duration", tier.name()), kept);
    }
    Ok(())
}

pub fn db_key(name: &str) -> Vec<u8> {
    [b"db/".as_slice(), name.as_bytes()].concat()
}

pub fn db_value(d: &Database) -> Vec<u8> {
    [d.id.to_be_bytes().as_slice(), d.default_policy.as_bytes()].concat()
}

pub fn policy_prefix(db: u32) -> Vec<u8> {
    [b"rp/".as_slice(), &db.to_be_bytes()].concat()
}

pub fn policy_key(db: u32, name: &str) -> Vec<u8> {
    [policy_prefix(db).as_slice(), name.as_bytes()].concat()
}

pub fn policy_value(p: &Policy) -> Vec<u8> {
    serde_json::to_vec(p).expect("a policy serializes")
}

/// A change to write to the meta column family before memory takes it.
#[derive(Debug, PartialEq)]
pub enum Record {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
}

impl Catalog {
    /// Rebuilds the catalog from the meta records `db/…` and `rp/…` (key, value) and the
    /// stored next id. Answers the records to add: the `autogen` of databases made before
    /// retention policies existed.
    pub fn load(dbs: Vec<(Vec<u8>, Vec<u8>)>, policies: Vec<(Vec<u8>, Vec<u8>)>, next_id: u32) -> Result<(Catalog, Vec<Record>), Error> {
        let mut c = Catalog { databases: BTreeMap::new(), next_id: next_id.max(1) };
        let mut by_db: BTreeMap<u32, Vec<Policy>> = BTreeMap::new();
        for (k, v) in policies {
            let db = u32::from_be_bytes(k.get(3..7).and_then(|b| b.try_into().ok()).ok_or_else(|| Error::Corrupt("retention policy key".into()))?);
            let p: Policy = serde_json::from_slice(&v).map_err(|source| Error::CorruptJson { what: "retention policy", source })?;
            c.next_id = c.next_id.max(p.id + 1);
            by_db.entry(db).or_default().push(p);
        }
        let mut added = Vec::new();
        for (k, v) in dbs {
            let name = String::from_utf8_lossy(&k[3..]).into_owned();
            let id = u32::from_be_bytes(v.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(|| Error::Corrupt("database entry".into()))?);
            c.next_id = c.next_id.max(id + 1);
            let mut policies = by_db.remove(&id).unwrap_or_default();
            policies.sort_by_key(|p| p.id);
            let default_policy = match v.len() {
                4 => AUTOGEN.to_string(),
                _ => String::from_utf8_lossy(&v[4..]).into_owned(),
            };
            let mut d = Database { id, default_policy, policies };
            if d.policies.is_empty() && v.len() == 4 {
                let autogen = Policy { name: AUTOGEN.into(), id, duration: 0, shard_duration: default_shard_duration(0), replication: 1, tier_durations: [None; 2] };
                added.push(Record::Put(policy_key(id, AUTOGEN), policy_value(&autogen)));
                added.push(Record::Put(db_key(&name), db_value(&Database { policies: vec![], ..d.clone() })));
                d.policies.push(autogen);
            }
            c.databases.insert(name, d);
        }
        Ok((c, added))
    }

    pub fn database(&self, name: &str) -> Result<&Database, Error> {
        self.databases.get(name).ok_or_else(|| Error::DatabaseNotFound(name.to_string()))
    }

    fn database_mut(&mut self, name: &str) -> Result<&mut Database, Error> {
        self.databases.get_mut(name).ok_or_else(|| Error::DatabaseNotFound(name.to_string()))
    }

    /// `CREATE DATABASE name [WITH … NAME rp]`: a new database with its default policy
    /// (`autogen`, kept forever, unless `policy` says otherwise). An existing database is
    /// left as it is, unless the policy asked for conflicts with its own.
    pub fn create_database(&mut self, name: &str, policy: Option<(&str, &PolicyOptions)>) -> Result<Vec<Record>, Error> {
        if name.is_empty() {
            return Err(Error::Invalid("database name required".into()));
        }
        let none = PolicyOptions::default();
        let (rp, opts) = policy.unwrap_or((AUTOGEN, &none));
        let rp = if rp.is_empty() { AUTOGEN } else { rp };
        let mut p = Policy { name: rp.to_string(), id: self.next_id, duration: 0, shard_duration: 0, replication: 1, tier_durations: [None; 2] };
        apply(&mut p, opts, true)?;
        if let Some(d) = self.databases.get(name) {
            return match d.policy(rp) {
                _ if policy.is_none() => Ok(vec![]),
                Some(old) if *old == Policy { id: old.id, ..p } => Ok(vec![]),
                _ => Err(Error::Invalid("retention policy conflicts with an existing policy".into())),
            };
        }
        let d = Database { id: p.id, default_policy: p.name.clone(), policies: vec![p.clone()] };
        self.next_id += 1;
        let records = vec![
            Record::Put(db_key(name), db_value(&d)),
            Record::Put(policy_key(d.id, &p.name), policy_value(&p)),
            Record::Put(b"next_db_id".to_vec(), self.next_id.to_be_bytes().to_vec()),
        ];
        self.databases.insert(name.to_string(), d);
        Ok(records)
    }

    /// `DROP DATABASE`: answers its policies (whose data goes) and the records to delete.
    pub fn drop_database(&mut self, name: &str) -> (Vec<Policy>, Vec<Record>) {
        let Some(d) = self.databases.remove(name) else { return (vec![], vec![]) };
        let mut records = vec![Record::Delete(db_key(name))];
        records.extend(d.policies.iter().map(|p| Record::Delete(policy_key(d.id, &p.name))));
        (d.policies, records)
    }

    /// `CREATE RETENTION POLICY`: creating one exactly like an existing one is not an error.
    pub fn create_policy(&mut self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(Policy, Vec<Record>), Error> {
        let id = self.next_id;
        let d = self.database_mut(db)?;
        let mut p = Policy { name: name.to_string(), id, duration: 0, shard_duration: 0, replication: 1, tier_durations: [None; 2] };
        apply(&mut p, opts, true)?;
        if let Some(old) = d.policy(name) {
            return match *old == (Policy { id: old.id, ..p }) {
                true => Ok((old.clone(), vec![])),
                false => Err(Error::Invalid("retention policy already exists".into())),
            };
        }
        d.policies.push(p.clone());
        let mut records = vec![Record::Put(policy_key(d.id, name), policy_value(&p))];
        if opts.default {
            d.default_policy = name.to_string();
            records.push(Record::Put(db_key(db), db_value(d)));
        }
        self.next_id += 1;
        records.push(Record::Put(b"next_db_id".to_vec(), self.next_id.to_be_bytes().to_vec()));
        Ok((p, records))
    }

    /// `ALTER RETENTION POLICY`: answers the policy as it is now.
    pub fn alter_policy(&mut self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(Policy, Vec<Record>), Error> {
        let d = self.database_mut(db)?;
        let p = d.policies.iter_mut().find(|p| p.name == name).ok_or_else(|| Error::PolicyNotFound(name.to_string()))?;
        let mut changed = p.clone();
        apply(&mut changed, opts, false)?;
        *p = changed.clone();
        let mut records = vec![Record::Put(policy_key(d.id, name), policy_value(&changed))];
        if opts.default {
            d.default_policy = name.to_string();
            records.push(Record::Put(db_key(db), db_value(d)));
        }
        Ok((changed, records))
    }

    /// `DROP RETENTION POLICY`: answers the dropped policy, if it existed. The database's
    /// default keeps its name, as in InfluxDB.
    pub fn drop_policy(&mut self, db: &str, name: &str) -> (Option<Policy>, Vec<Record>) {
        let Some(d) = self.databases.get_mut(db) else { return (None, vec![]) };
        let Some(at) = d.policies.iter().position(|p| p.name == name) else { return (None, vec![]) };
        let p = d.policies.remove(at);
        (Some(p), vec![Record::Delete(policy_key(d.id, name))])
    }

    /// Creates database `name` with no policy yet, as another node of the cluster has it (its
    /// policies follow one by one), or names `default_policy` its default, which need not
    /// exist (as after dropping it).
    pub fn put_database(&mut self, name: &str, default_policy: &str) -> Vec<Record> {
        let mut records = Vec::new();
        let created = !self.databases.contains_key(name);
        if created {
            self.databases.insert(name.to_string(), Database { id: self.next_id, default_policy: default_policy.to_string(), policies: vec![] });
            self.next_id += 1;
            records.push(Record::Put(b"next_db_id".to_vec(), self.next_id.to_be_bytes().to_vec()));
        }
        let d = self.databases.get_mut(name).expect("made above");
        if created || d.default_policy != default_policy {
            d.default_policy = default_policy.to_string();
            records.push(Record::Put(db_key(name), db_value(d)));
        }
        records
    }

    /// Creates policy `wanted.name` or changes it to have exactly the settings of `wanted`
    /// (its id is this node's own).
    pub fn put_policy(&mut self, db: &str, wanted: &Policy) -> Result<Vec<Record>, Error> {
        let opts = PolicyOptions {
            duration: Some(wanted.duration),
            shard_duration: Some(wanted.shard_duration),
            replication: Some(wanted.replication),
            default: false,
            // What they come to (a tier that follows raw data is set back to `None` below).
            tier_durations: Tier::ALL.map(|t| Some(wanted.tier_duration(t))),
        };
        let name = wanted.name.as_str();
        let (mut p, mut records) = match self.database(db)?.policy(name) {
            Some(_) => self.alter_policy(db, name, &opts)?,
            None => self.create_policy(db, name, &opts)?,
        };
        if p.tier_durations != wanted.tier_durations {
            let d = self.database_mut(db)?;
            p.tier_durations = wanted.tier_durations;
            *d.policies.iter_mut().find(|old| old.name == name).expect("put above") = p.clone();
            records.push(Record::Put(policy_key(d.id, name), policy_value(&p)));
        }
        Ok(records)
    }

    /// The policy `rp` of `db`, or its default one.
    pub fn resolve(&self, db: &str, rp: Option<&str>) -> Result<&Policy, Error> {
        let d = self.database(db)?;
        let name = rp.filter(|r| !r.is_empty()).unwrap_or(&d.default_policy);
        d.policy(name).ok_or_else(|| Error::PolicyNotFound(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(duration: Option<i64>, shard: Option<i64>, default: bool) -> PolicyOptions {
        PolicyOptions { duration, shard_duration: shard, replication: None, default, ..Default::default() }
    }

    #[test]
    fn influxdb_defaults_and_rules() {
        let mut c = Catalog { next_id: 1, ..Default::default() };
        c.create_database("a", None).unwrap();
        let a = c.database("a").unwrap();
        assert_eq!((a.default_policy.as_str(), a.policies[0].duration, a.policies[0].shard_duration, a.policies[0].id), ("autogen", 0, 7 * DAY_NS, a.id));
        assert_eq!(c.create_database("a", None).unwrap(), vec![]);
        assert_eq!(c.create_database("a", Some(("autogen", &opts(Some(HOUR_NS), None, false)))).unwrap_err().to_string(), "retention policy conflicts with an existing policy");
        c.create_database("b", Some(("short", &opts(Some(3 * DAY_NS), Some(HOUR_NS / 2), false)))).unwrap();
        let b = c.database("b").unwrap();
        assert_eq!((b.default_policy.as_str(), b.policies[0].shard_duration), ("short", HOUR_NS));
        assert_eq!(c.create_database("e", Some(("x", &opts(Some(HOUR_NS / 2), None, false)))).unwrap_err().to_string(), "retention policy duration must be at least 1h0m0s");

        for (d, shard) in [(DAY_NS, HOUR_NS), (3 * DAY_NS, DAY_NS), (200 * DAY_NS, 7 * DAY_NS)] {
            let (p, _) = c.create_policy("a", &format!("d{d}"), &opts(Some(d), None, false)).unwrap();
            assert_eq!(p.shard_duration, shard);
        }
        let (one, _) = c.create_policy("a", "one", &opts(Some(HOUR_NS), Some(HOUR_NS), true)).unwrap();
        assert!(c.create_policy("a", "one", &opts(Some(HOUR_NS), Some(HOUR_NS), true)).is_ok(), "the same again");
        assert_eq!(c.create_policy("a", "one", &opts(Some(2 * HOUR_NS), None, false)).unwrap_err().to_string(), "retention policy already exists");
        assert_eq!(c.create_policy("a", "x", &opts(Some(HOUR_NS), Some(2 * HOUR_NS), false)).unwrap_err().to_string(), "retention policy duration must be greater than the shard duration");
        assert_eq!(c.create_policy("nope", "x", &opts(Some(HOUR_NS), None, false)).unwrap_err().to_string(), "database not found: nope");
        assert_eq!(c.resolve("a", None).unwrap().id, one.id);
        assert_eq!(c.alter_policy("a", "autogen", &opts(Some(2 * HOUR_NS), None, false)).unwrap_err().to_string(), "retention policy duration must be greater than the shard duration");
        let (altered, _) = c.alter_policy("a", "autogen", &opts(Some(2 * HOUR_NS), Some(HOUR_NS), true)).unwrap();
        assert_eq!((altered.duration, altered.shard_duration), (2 * HOUR_NS, HOUR_NS));
        assert_eq!(c.alter_policy("a", "nope", &opts(Some(HOUR_NS), None, false)).unwrap_err().to_string(), "retention policy not found: nope");
        assert_eq!(c.drop_policy("a", "autogen").0.unwrap().id, a_id(&c));
        assert_eq!(c.resolve("a", None).unwrap_err().to_string(), "retention policy not found: autogen");
        assert_eq!(c.resolve("a", Some("one")).unwrap().id, one.id);
        assert_eq!(c.drop_policy("a", "autogen"), (None, vec![]));
    }

    #[test]
    fn tier_durations_are_checked_and_follow_raw_data_when_unset() {
        let mut c = Catalog { next_id: 1, ..Default::default() };
        c.create_database("a", None).unwrap();
        let tiers = |five: Option<i64>, hour: Option<i64>| PolicyOptions { tier_durations: [five, hour], ..Default::default() };
        let (p, _) = c.create_policy("a", "month", &opts(Some(30 * DAY_NS), None, false)).unwrap();
        assert_eq!((p.tier_duration(Tier::FiveMinutes), p.tier_duration(Tier::OneHour)), (30 * DAY_NS, 30 * DAY_NS), "as long as raw data");
        let (p, _) = c.alter_policy("a", "month", &tiers(Some(365 * DAY_NS), None)).unwrap();
        assert_eq!(p.tier_duration(Tier::OneHour), 365 * DAY_NS, "as long as the 5m tier");
        let (p, _) = c.alter_policy("a", "month", &tiers(None, Some(0))).unwrap();
        assert_eq!(p.tier_durations, [Some(365 * DAY_NS), Some(0)]);
        let (p, _) = c.alter_policy("a", "month", &tiers(None, Some(400 * DAY_NS))).unwrap();
        assert_eq!(p.tier_durations, [Some(365 * DAY_NS), Some(400 * DAY_NS)], "None leaves a tier as it is");
        let refused = |c: &mut Catalog, o: PolicyOptions| c.alter_policy("a", "month", &o).unwrap_err().to_string();
        assert_eq!(refused(&mut c, tiers(Some(HOUR_NS / 2), None)), "downsample 5m duration must be at least 1h0m0s");
        assert_eq!(refused(&mut c, tiers(None, Some(HOUR_NS - 1))), "downsample 1h duration must be at least 1h0m0s");
        assert_eq!(refused(&mut c, tiers(Some(7 * DAY_NS), None)), "downsample 5m duration must not be shorter than the retention policy duration");
        assert_eq!(refused(&mut c, tiers(None, Some(100 * DAY_NS))), "downsample 1h duration must not be shorter than the downsample 5m duration");
        assert_eq!(refused(&mut c, opts(Some(0), None, false)), "downsample 5m duration must not be shorter than the retention policy duration", "raw data forever, tiers not");
        assert_eq!(c.database("a").unwrap().policy("month").unwrap().tier_durations, [Some(365 * DAY_NS), Some(400 * DAY_NS)], "a refused change changes nothing");
        let (p, _) = c.create_policy("a", "forever", &PolicyOptions { duration: Some(0), tier_durations: [Some(0), None], ..Default::default() }).unwrap();
        assert_eq!(p.tier_duration(Tier::OneHour), 0);
        assert_eq!(c.create_policy("a", "x", &tiers(Some(DAY_NS), None)).unwrap_err().to_string(), "downsample 5m duration must not be shorter than the retention policy duration", "a new policy keeps raw data forever");

        // Put as another node has it: exactly, a tier that follows raw data included.
        let mut wanted = c.database("a").unwrap().policy("month").unwrap().clone();
        (wanted.duration, wanted.tier_durations) = (500 * DAY_NS, [None, Some(0)]);
        c.put_policy("a", &wanted).unwrap();
        assert_eq!(*c.database("a").unwrap().policy("month").unwrap(), wanted);
    }

    fn a_id(c: &Catalog) -> u32 {
        c.database("a").unwrap().id
    }

    #[test]
    fn records_load_back_and_old_databases_get_autogen() {
        let mut c = Catalog { next_id: 1, ..Default::default() };
        let mut records = c.create_database("a", None).unwrap();
        records.extend(c.create_policy("a", "one", &opts(Some(HOUR_NS), None, true)).unwrap().1);
        let mut meta: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for r in records {
            if let Record::Put(k, v) = r {
                meta.insert(k, v);
            }
        }
        meta.insert(db_key("old"), 7u32.to_be_bytes().to_vec());
        let pick = |prefix: &[u8]| meta.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(k, v)| (k.clone(), v.clone())).collect();
        let (loaded, added) = Catalog::load(pick(b"db/"), pick(b"rp/"), 3).unwrap();
        assert_eq!(loaded.databases["a"], c.databases["a"]);
        assert_eq!(loaded.databases["old"].policies[0], Policy { name: "autogen".into(), id: 7, duration: 0, shard_duration: 7 * DAY_NS, replication: 1, tier_durations: [None; 2] });
        assert_eq!(loaded.next_id, 8);
        assert_eq!(added.len(), 2);
    }
}
