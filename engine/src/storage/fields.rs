//! The fields line protocol has written, per database and measurement. Field `value` of `m`
//! is the series `m`, any other field `f` the series `m_f`; this registry is what lets
//! InfluxQL see `m_f` as field `f` of measurement `m` (for `SELECT *`, `SHOW FIELD KEYS`,
//! `SHOW MEASUREMENTS`). Kept in the `meta` column family under `lf/<db><m>\0<f>`.

use super::Error;
use crate::data::schema::Fields;
use rocksdb::{WriteBatch, DB};
use std::collections::{BTreeSet, HashMap};
use std::sync::RwLock;

fn key(db: u32, measurement: &str, field: &str) -> Vec<u8> {
    [b"lf/".as_slice(), &db.to_be_bytes(), measurement.as_bytes(), b"\0", field.as_bytes()].concat()
}

pub fn prefix(db: u32) -> Vec<u8> {
    key(db, "", "")[..7].to_vec()
}

#[derive(Default)]
pub struct FieldRegistry(RwLock<HashMap<u32, Fields>>);

impl FieldRegistry {
    pub fn load(db: &DB, cf: &impl rocksdb::AsColumnFamilyRef) -> Result<FieldRegistry, Error> {
        let mut out: HashMap<u32, Fields> = HashMap::new();
        for item in db.prefix_iterator_cf(cf, b"lf/") {
            let (k, _) = item?;
            if !k.starts_with(b"lf/") {
                break;
            }
            let corrupt = || Error::Corrupt("field key".into());
            let id = u32::from_be_bytes(k[3..7].try_into().map_err(|_| corrupt())?);
            let rest = std::str::from_utf8(&k[7..]).map_err(|_| corrupt())?;
            let (m, f) = rest.split_once('\0').ok_or_else(corrupt)?;
            out.entry(id).or_default().entry(m.to_string()).or_default().insert(f.to_string());
        }
        Ok(FieldRegistry(RwLock::new(out)))
    }

    /// The (measurement, field) pairs not yet known, added to `batch` and to memory by `commit`.
    pub fn missing(&self, db: u32, pairs: &BTreeSet<(String, String)>) -> Vec<(String, String)> {
        let known = self.0.read().unwrap();
        let fields = known.get(&db);
        pairs.iter().filter(|(m, f)| !fields.and_then(|x| x.get(m)).is_some_and(|s| s.contains(f))).cloned().collect()
    }

    pub fn stage(&self, batch: &mut WriteBatch, cf: &impl rocksdb::AsColumnFamilyRef, db: u32, pairs: &[(String, String)]) {
        for (m, f) in pairs {
            batch.put_cf(cf, key(db, m, f), b"");
        }
    }

    pub fn commit(&self, db: u32, pairs: Vec<(String, String)>) {
        let mut known = self.0.write().unwrap();
        let fields = known.entry(db).or_default();
        for (m, f) in pairs {
            fields.entry(m).or_default().insert(f);
        }
    }

    pub fn get(&self, db: u32) -> Fields {
        self.0.read().unwrap().get(&db).cloned().unwrap_or_default()
    }

    pub fn drop_database(&self, db: u32) {
        self.0.write().unwrap().remove(&db);
    }
}
