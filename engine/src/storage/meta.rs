//! Records beside the catalog in `meta`: metric metadata, the fields line protocol
//! wrote, users, and the raw records other layers keep there.

use super::catalog::Record;
use super::{family, users, Error, MetricMeta, Storage};
use crate::data::schema::Fields;
use crate::data::users::{User, UserStore};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering::Relaxed;

pub(super) fn meta_metadata_key(db: u32, family: &str) -> Vec<u8> {
    [b"md/".as_slice(), &db.to_be_bytes(), family.as_bytes()].concat()
}

impl Storage {
    pub fn put_metadata(&self, db: &str, entries: Vec<MetricMeta>) -> Result<(), Error> {
        let id = self.require(db)?;
        if entries.is_empty() {
            return Ok(());
        }
        let cf = family::meta(&self.db);
        let mut batch = rocksdb::WriteBatch::default();
        for m in &entries {
            batch.put_cf(cf, meta_metadata_key(id, &m.family), serde_json::to_vec(m).unwrap());
        }
        self.db.write_opt(batch, &self.write_opts())?;
        self.metrics.metadata_ingested.fetch_add(entries.len() as u64, Relaxed);
        let mut md = self.metadata.write().unwrap();
        let map = md.entry(id).or_default();
        for m in entries {
            map.insert(m.family.clone(), m);
        }
        Ok(())
    }

    /// Records the (measurement, field) pairs line protocol wrote; see `fields.rs`.
    pub fn register_fields(&self, db: &str, pairs: &BTreeSet<(String, String)>) -> Result<(), Error> {
        let id = self.require(db)?;
        let missing = self.fields.missing(id, pairs);
        if missing.is_empty() {
            return Ok(());
        }
        let mut batch = rocksdb::WriteBatch::default();
        self.fields.stage(&mut batch, family::meta(&self.db), id, &missing);
        self.db.write_opt(batch, &self.write_opts())?;
        self.fields.commit(id, missing);
        Ok(())
    }

    /// The `meta` records under `prefix` (key, value), for state kept beside the catalog.
    pub fn meta_records(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, Error> {
        Self::meta_prefix(&self.db, prefix)
    }

    /// Writes `meta` records at once.
    pub fn write_meta(&self, records: Vec<Record>) -> Result<(), Error> {
        Self::persist(&self.db, records, &self.write_opts())
    }

    pub fn users(&self) -> &UserStore {
        &self.users
    }

    /// Changes the users (see `UserStore::update`); `name` is the user whose record changes.
    pub fn change_user(&self, name: &str, change: impl FnOnce(&mut BTreeMap<String, User>) -> Result<(), Error>) -> Result<(), Error> {
        users::update(&self.users, &self.db, family::meta(&self.db), name, change)
    }

    /// Measurement → fields, for what line protocol wrote to `db`.
    pub fn line_fields(&self, db: &str) -> Result<Fields, Error> {
        Ok(self.fields.get(self.require(db)?))
    }

    pub fn metadata(&self, db: &str) -> Result<Vec<MetricMeta>, Error> {
        let id = self.require(db)?;
        Ok(self.metadata.read().unwrap().get(&id).map(|m| m.values().cloned().collect()).unwrap_or_default())
    }
}
