//! Users in the `meta` column family, under `user/<name>` as JSON: loading them at start and
//! keeping a changed one (the users themselves are `data::users`).

use super::Error;
use crate::data::users::{User, UserStore};
use rocksdb::DB;
use std::collections::BTreeMap;

fn key(name: &str) -> Vec<u8> {
    [b"user/".as_slice(), name.as_bytes()].concat()
}

pub fn load(db: &DB, cf: &impl rocksdb::AsColumnFamilyRef) -> Result<UserStore, Error> {
    let mut users = BTreeMap::new();
    for item in db.prefix_iterator_cf(cf, b"user/") {
        let (k, v) = item?;
        if !k.starts_with(b"user/") {
            break;
        }
        let user: User = serde_json::from_slice(&v).map_err(|source| Error::CorruptJson { what: "user record", source })?;
        users.insert(user.name.clone(), user);
    }
    UserStore::new(users)
}

/// Applies `change` to the users and keeps user `name` as it is then.
pub fn update(users: &UserStore, db: &DB, cf: &impl rocksdb::AsColumnFamilyRef, name: &str, change: impl FnOnce(&mut BTreeMap<String, User>) -> Result<(), Error>) -> Result<(), Error> {
    users.update(name, change, |user| {
        Ok(match user {
            Some(u) => db.put_cf(cf, key(name), serde_json::to_vec(u).unwrap()),
            None => db.delete_cf(cf, key(name)),
        }?)
    })
}
