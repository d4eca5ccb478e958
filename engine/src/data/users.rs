//! Users, their passwords (argon2id, PHC strings) and privileges, as the catalog handle hands
//! them out (`UserStore`; the store keeps them: `storage::users`). A password that verified
//! once is remembered as a keyed BLAKE2b digest (key random per process), so requests do not
//! pay argon2 each time.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use blake2::{Blake2b512, Digest};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::RwLock;

use super::StoreError as Error;
use crate::model::Privilege;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    pub name: String,
    hash: String,
    pub admin: bool,
    pub privileges: BTreeMap<String, Privilege>,
}

impl User {
    /// Whether the user may do `wanted` on `db`.
    pub fn may(&self, wanted: Privilege, db: &str) -> bool {
        self.admin || self.privileges.get(db).is_some_and(|p| p.allows(wanted))
    }
}

fn hash(password: &str) -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(Error::Random)?;
    let salt = SaltString::encode_b64(&bytes).map_err(Error::Password)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Password(e).context("cannot hash the password"))
}

pub struct UserStore {
    users: RwLock<BTreeMap<String, User>>,
    verified: RwLock<HashMap<String, Vec<u8>>>,
    cache_key: [u8; 32],
}

impl UserStore {
    /// The users as the store keeps them.
    pub fn new(users: BTreeMap<String, User>) -> Result<UserStore, Error> {
        let mut cache_key = [0u8; 32];
        getrandom::fill(&mut cache_key).map_err(Error::Random)?;
        Ok(UserStore { users: RwLock::new(users), verified: RwLock::default(), cache_key })
    }

    pub fn is_empty(&self) -> bool {
        self.users.read().unwrap().is_empty()
    }

    pub fn list(&self) -> Vec<User> {
        self.users.read().unwrap().values().cloned().collect()
    }

    pub fn get(&self, name: &str) -> Option<User> {
        self.users.read().unwrap().get(name).cloned()
    }

    fn digest(&self, name: &str, password: &str) -> Vec<u8> {
        let mut h = Blake2b512::new();
        h.update(self.cache_key);
        h.update(name.as_bytes());
        h.update([0]);
        h.update(password.as_bytes());
        h.finalize().to_vec()
    }

    /// The user, when `password` is theirs.
    pub fn authenticate(&self, name: &str, password: &str) -> Option<User> {
        let user = self.get(name)?;
        let digest = self.digest(name, password);
        if self.verified.read().unwrap().get(name) == Some(&digest) {
            return Some(user);
        }
        let parsed = PasswordHash::new(&user.hash).ok()?;
        Argon2::default().verify_password(password.as_bytes(), &parsed).ok()?;
        self.verified.write().unwrap().insert(name.to_string(), digest);
        Some(user)
    }

    /// Applies `change` to a copy of the user list and has `persist` keep user `name` as it
    /// is then (`None`: gone); what `change` refuses is answered as it is, and leaves the
    /// users as they were.
    pub fn update(&self, name: &str, change: impl FnOnce(&mut BTreeMap<String, User>) -> Result<(), Error>, persist: impl FnOnce(Option<&User>) -> Result<(), Error>) -> Result<(), Error> {
        let mut users = self.users.write().unwrap();
        let mut next = users.clone();
        change(&mut next)?;
        persist(next.get(name))?;
        *users = next;
        self.verified.write().unwrap().remove(name);
        Ok(())
    }

    pub fn new_user(name: &str, password: &str, admin: bool) -> Result<User, Error> {
        Ok(User { name: name.to_string(), hash: hash(password)?, admin, privileges: BTreeMap::new() })
    }

    pub fn set_password(user: &mut User, password: &str) -> Result<(), Error> {
        user.hash = hash(password)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hashed_and_checked() {
        let u = UserStore::new_user("alice", "s3cret", false).unwrap();
        assert!(u.hash.starts_with("$argon2id$"), "{}", u.hash);
        assert!(!u.hash.contains("s3cret"));
        let mut with_grant = u.clone();
        with_grant.privileges.insert("db".into(), Privilege::Read);
        assert!(with_grant.may(Privilege::Read, "db"));
        assert!(!with_grant.may(Privilege::Write, "db"));
        assert!(!with_grant.may(Privilege::Read, "other"));
        assert!(Privilege::All.allows(Privilege::Write));
    }
}
