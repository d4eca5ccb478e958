//! Databases, retention policies and users as one catalog across the cluster, without
//! consensus. Every object (`db <name>`, `rp <db> <name>`, `user <name>`) has an entry with a
//! version (time, node) and the newest version wins; a dropped object keeps its entry as a
//! tombstone, so a node that missed the drop does not bring it back. `born` is the version
//! that created the object: a newer object with another `born` was dropped and made again
//! while this node was away, so what this node kept of the old one goes.
//!
//! Deletions (`DROP SERIES`, `DROP MEASUREMENT`, `DELETE`) are entries too, `delete <id>`,
//! kept for ever: another node runs them once, bounded to the points that existed when they
//! ran (`before_ns`), so a node that was away deletes what it missed and nothing written
//! since.
//!
//! Entries live in the `meta` column family under `sync/`. A change made here is versioned by
//! `record_local` (after the statement ran) and exchanged at once; `merge` applies what
//! another node knows better. Objects found without an entry at start (made by the
//! configuration, or before the cluster) get version zero, the same on every node, so nodes
//! started with the same configuration agree from the start.

use crate::data::schema::Policy;
use crate::data::Deletion;
use crate::storage::catalog::Record;
use crate::data::users::User;
use crate::data::StoreError as Error;
use crate::storage::Storage;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// When a change was made and by which node (ties between nodes break by name).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Version {
    pub time_ns: i64,
    pub node: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub version: Version,
    pub born: Version,
    /// The object's settings; `None` once dropped.
    pub object: Option<Value>,
}

impl Entry {
    /// Whether this entry wins over `other`: a newer version, or at the same version the
    /// larger object, so that every node settles on the same one.
    fn beats(&self, other: &Entry) -> bool {
        let text = |e: &Entry| e.object.as_ref().map(Value::to_string);
        (&self.version, text(self)) > (&other.version, text(other))
    }
}

/// `["db", name]`, `["rp", db, name]`, `["user", name]` or `["delete", id]`: databases sort
/// before deletions and their policies, so a batch creates a database before filling it.
pub type Key = Vec<String>;
pub type Entries = BTreeMap<Key, Entry>;

const PREFIX: &[u8] = b"sync/";

fn meta_key(key: &Key) -> Vec<u8> {
    [PREFIX, serde_json::to_string(key).expect("a key serializes").as_bytes()].concat()
}

/// The objects as this node has them now.
fn objects(storage: &Storage) -> BTreeMap<Key, Value> {
    let mut out = BTreeMap::new();
    for name in storage.databases() {
        let Ok(d) = storage.database(&name) else { continue };
        out.insert(vec!["db".into(), name.clone()], json!({ "default_policy": d.default_policy }));
        for p in &d.policies {
            let mut settings = json!({ "duration": p.duration, "shard_duration": p.shard_duration, "replication": p.replication });
            // Only when set, so that entries made before tiers had durations stay equal.
            if p.tier_durations != [None; 2] {
                settings["tier_durations"] = json!(p.tier_durations);
            }
            out.insert(vec!["rp".into(), name.clone(), p.name.clone()], settings);
        }
    }
    for u in storage.users().list() {
        out.insert(vec!["user".into(), u.name.clone()], serde_json::to_value(&u).expect("a user serializes"));
    }
    out
}

pub fn load(storage: &Storage) -> Result<Entries, Error> {
    let mut out = Entries::new();
    for (k, v) in storage.meta_records(PREFIX)? {
        let key: Key = serde_json::from_slice(&k[PREFIX.len()..]).map_err(|source| Error::CorruptJson { what: "catalog entry key", source })?;
        out.insert(key, serde_json::from_slice(&v).map_err(|source| Error::CorruptJson { what: "catalog entry", source })?);
    }
    Ok(out)
}

fn store(storage: &Storage, changed: &[(Key, Entry)]) -> Result<(), Error> {
    let records = changed.iter().map(|(k, e)| Record::Put(meta_key(k), serde_json::to_vec(e).expect("an entry serializes"))).collect();
    storage.write_meta(records)
}

/// Gives what changed on this node since the entries were last written a new version
/// (later than any seen, so a slow clock does not lose a change) and stores it. Objects that
/// never had an entry get version zero at start (`after_statement` false), a new version
/// after a statement. Answers the changed entries.
pub fn record_local(storage: &Storage, self_name: &str, after_statement: bool) -> Result<Vec<(Key, Entry)>, Error> {
    let entries = load(storage)?;
    let latest = entries.values().map(|e| e.version.time_ns).max().unwrap_or(0);
    let now = Version { time_ns: crate::clock::now_ns().max(latest + 1), node: self_name.to_string() };
    let objects = objects(storage);
    let mut changed = Vec::new();
    for (key, object) in &objects {
        let entry = match entries.get(key) {
            Some(e) if e.object.as_ref() == Some(object) => continue,
            Some(e) if e.object.is_some() => Entry { version: now.clone(), born: e.born.clone(), object: Some(object.clone()) },
            None if after_statement => Entry { version: now.clone(), born: now.clone(), object: Some(object.clone()) },
            None => Entry { version: Version::default(), born: Version::default(), object: Some(object.clone()) },
            // Made again after a drop.
            Some(_) => Entry { version: now.clone(), born: now.clone(), object: Some(object.clone()) },
        };
        changed.push((key.clone(), entry));
    }
    for (key, e) in &entries {
        if e.object.is_some() && !objects.contains_key(key) && !is_deletion(key) {
            changed.push((key.clone(), Entry { version: now.clone(), born: e.born.clone(), object: None }));
        }
    }
    store(storage, &changed)?;
    Ok(changed)
}

fn is_deletion(key: &Key) -> bool {
    key.first().is_some_and(|k| k == "delete")
}

/// A deletion run here, for the other nodes to run too: the statement, its database and when
/// it ran.
pub fn record_deletion(storage: &Storage, self_name: &str, db: &str, statement: &str) -> Result<(), Error> {
    let now = crate::clock::now_ns();
    let version = Version { time_ns: now, node: self_name.to_string() };
    let key = vec!["delete".to_string(), format!("{now:020}.{self_name}")];
    let object = json!({ "db": db, "statement": statement, "before_ns": now });
    store(storage, &[(key, Entry { version: version.clone(), born: version, object: Some(object) })])
}

/// Applies the entries that beat this node's own, in key order, and stores them; runs each
/// new deletion with `delete`. Answers how many it applied.
pub async fn merge<F: std::future::Future<Output = Result<(), Box<dyn std::error::Error>>>>(storage: &Storage, incoming: Entries, delete: impl Fn(Deletion) -> F) -> Result<usize, Error> {
    let mut entries = load(storage)?;
    let mut applied = 0;
    for (key, entry) in incoming {
        let mine = entries.get(&key);
        if mine.is_some_and(|m| !entry.beats(m)) {
            continue;
        }
        // Made again while this node was away: the old object goes first.
        let reborn = mine.is_some_and(|m| m.object.is_some() && m.born != entry.born);
        let applied_here = match (is_deletion(&key), &entry.object) {
            (true, Some(o)) => {
                let text = |name: &str| field(o, name)?.as_str().map(str::to_string).ok_or_else(|| Error::Corrupt(format!("catalog entry: {name} is not a string")));
                let deletion = Deletion { db: text("db")?, statement: text("statement")?, before_ns: int(o, "before_ns")? };
                delete(deletion).await.map_err(|e| Error::Invalid(e.to_string()))
            }
            (true, None) => Ok(()),
            (false, _) => apply(storage, &key, &entry, reborn).await,
        };
        applied_here.map_err(|e| e.context(format!("catalog entry {key:?}")))?;
        store(storage, &[(key.clone(), entry.clone())])?;
        entries.insert(key, entry);
        applied += 1;
    }
    Ok(applied)
}

fn field<'a>(object: &'a Value, name: &str) -> Result<&'a Value, Error> {
    object.get(name).ok_or_else(|| Error::Corrupt(format!("catalog entry: missing {name}")))
}

fn int(object: &Value, name: &str) -> Result<i64, Error> {
    field(object, name)?.as_i64().ok_or_else(|| Error::Corrupt(format!("catalog entry: {name} is not a number")))
}

async fn apply(storage: &Storage, key: &Key, entry: &Entry, reborn: bool) -> Result<(), Error> {
    let parts: Vec<&str> = key.iter().map(String::as_str).collect();
    match (parts.as_slice(), &entry.object) {
        (["db", name], None) => storage.drop_database(name).await,
        (["db", name], Some(o)) => {
            let default = field(o, "default_policy")?.as_str().ok_or_else(|| Error::Corrupt("catalog entry: default_policy is not a string".into()))?;
            if reborn {
                storage.drop_database(name).await?;
            }
            storage.put_database(name, default)
        }
        (["rp", db, name], None) => storage.drop_policy(db, name).await,
        // A policy of a database this node dropped later: nothing to hold it.
        (["rp", db, _], Some(_)) if storage.database(db).is_err() => Ok(()),
        (["rp", db, name], Some(o)) => {
            if reborn {
                storage.drop_policy(db, name).await?;
            }
            let replication = u32::try_from(int(o, "replication")?).map_err(|e| Error::Corrupt(format!("catalog entry: replication {e}")))?;
            let tier_durations = match o.get("tier_durations") {
                None => [None; 2],
                Some(t) => serde_json::from_value(t.clone()).map_err(|source| Error::CorruptJson { what: "catalog entry: tier_durations", source })?,
            };
            let wanted = Policy { name: name.to_string(), id: 0, duration: int(o, "duration")?, shard_duration: int(o, "shard_duration")?, replication, tier_durations };
            storage.put_policy(db, &wanted)
        }
        (["user", name], object) => {
            let user: Option<User> = object.clone().map(serde_json::from_value).transpose().map_err(|source| Error::CorruptJson { what: "catalog entry of a user", source })?;
            storage.change_user(name, |users| {
                match user {
                    Some(u) if u.name == *name => users.insert(u.name.clone(), u),
                    Some(_) => return Err(Error::Corrupt("catalog entry: the user's name differs from its key".into())),
                    None => users.remove(*name),
                };
                Ok(())
            })
        }
        _ => Err(Error::Corrupt("catalog entry: unknown kind of object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PolicyOptions;
    use crate::storage::{catalog::HOUR_NS, StorageOptions};

    fn open(dir: &std::path::Path) -> Storage {
        Storage::open(StorageOptions { data_dir: dir.to_path_buf(), shards: 1, sync_writes: false }, Default::default()).unwrap()
    }

    async fn no_deletions(d: Deletion) -> Result<(), Box<dyn std::error::Error>> {
        Err(format!("unexpected deletion: {}", d.statement).into())
    }

    fn names(s: &Storage) -> Vec<String> {
        s.databases()
    }

    #[actix_web::test]
    async fn a_node_that_missed_changes_catches_up_without_resurrecting_drops() {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let (a, b) = (open(dirs[0].path()), open(dirs[1].path()));
        // The same configuration on both: version zero, no conflict.
        for s in [&a, &b] {
            s.create_database("prometheus", None).unwrap();
            s.create_database("old", None).unwrap();
            assert_eq!(record_local(s, "x", false).unwrap().len(), 4);
        }
        assert_eq!(merge(&b, load(&a).unwrap(), no_deletions).await.unwrap(), 0, "nothing differs");

        // b is away while a changes things.
        let day = PolicyOptions { duration: Some(24 * HOUR_NS), default: true, ..Default::default() };
        a.create_policy("prometheus", "day", &day).unwrap();
        let tiers = PolicyOptions { tier_durations: [Some(365 * 24 * HOUR_NS), Some(0)], ..Default::default() };
        a.alter_policy("prometheus", "day", &tiers).unwrap();
        a.drop_database("old").await.unwrap();
        a.create_database("new", Some(("short", &PolicyOptions { duration: Some(2 * HOUR_NS), ..Default::default() }))).unwrap();
        a.change_user("ann", |u| {
            u.insert("ann".into(), crate::data::users::UserStore::new_user("ann", "pw", true).unwrap());
            Ok(())
        })
        .unwrap();
        let changed = record_local(&a, "a", true).unwrap();
        assert_eq!(changed.len(), 7, "{changed:?}");
        assert_eq!(record_local(&a, "a", true).unwrap(), vec![], "recorded once");

        assert!(merge(&b, load(&a).unwrap(), no_deletions).await.unwrap() > 0);
        assert_eq!(names(&b), vec!["prometheus", "new"]);
        let p = b.database("prometheus").unwrap();
        assert_eq!((p.default_policy.as_str(), p.policies.len()), ("day", 2));
        assert_eq!(p.policy("day").unwrap().tier_durations, [Some(365 * 24 * HOUR_NS), Some(0)], "the tiers' durations too");
        assert_eq!(p.policy("autogen").unwrap().tier_durations, [None; 2]);
        let n = b.database("new").unwrap();
        assert_eq!((n.default_policy.as_str(), n.policies[0].name.as_str(), n.policies[0].duration), ("short", "short", 2 * HOUR_NS));
        assert!(b.users().authenticate("ann", "pw").is_some());
        assert_eq!(record_local(&b, "b", true).unwrap(), vec![], "b now has exactly a's objects");
        // Sending b's entries back changes nothing on a: the tombstone of `old` holds.
        assert_eq!(merge(&a, load(&b).unwrap(), no_deletions).await.unwrap(), 0);

        // Dropped and made again while b was away: b's copy of the old one goes.
        b.create_database("new", None).unwrap();
        b.create_policy("new", "stale", &PolicyOptions::default()).unwrap();
        a.drop_database("new").await.unwrap();
        record_local(&a, "a", true).unwrap();
        a.create_database("new", None).unwrap();
        record_local(&a, "a", true).unwrap();
        merge(&b, load(&a).unwrap(), no_deletions).await.unwrap();
        let n = b.database("new").unwrap();
        assert_eq!(n.policies.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), vec!["autogen"]);
    }

    #[test]
    fn the_newer_version_wins_and_ties_settle_the_same_everywhere() {
        let v = |t: i64, n: &str| Version { time_ns: t, node: n.into() };
        let e = |version: Version, o: Option<Value>| Entry { born: Version::default(), version, object: o };
        assert!(e(v(2, "a"), None).beats(&e(v(1, "b"), Some(json!(1)))));
        assert!(e(v(1, "b"), None).beats(&e(v(1, "a"), Some(json!(1)))));
        assert!(e(v(0, ""), Some(json!(2))).beats(&e(v(0, ""), Some(json!(1)))));
        assert!(!e(v(0, ""), Some(json!(1))).beats(&e(v(0, ""), Some(json!(1)))));
    }
}
