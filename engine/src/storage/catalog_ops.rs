//! The catalog as `Storage` serves it: looking databases and policies up, and changing
//! them (create, alter, drop, and the `put_` forms a cluster peer sends), each change
//! stored before it takes effect.

use super::catalog::{Catalog, Record};
use crate::data::schema::{Database, Policy};
use super::{fields, Error, Policies, PolicyId, Storage, family};
use crate::model::PolicyOptions;

impl Storage {
    /// Runs a catalog change on a copy, stores its records, then makes it the catalog: a
    /// change that cannot be stored leaves no trace.
    pub(super) fn change_catalog<T>(&self, change: impl FnOnce(&mut Catalog) -> Result<(T, Vec<Record>), Error>) -> Result<T, Error> {
        let mut c = self.catalog.write().unwrap();
        let mut next = Catalog { databases: c.databases.clone(), next_id: c.next_id };
        let (out, records) = change(&mut next)?;
        Self::persist(&self.db, records, &self.write_opts())?;
        *self.partition_lengths.write().unwrap() = Self::lengths(&next);
        *c = next;
        // A dropped or altered policy, another default policy: answers of any database may
        // read other data now.
        self.generations.bump_all();
        Ok(out)
    }

    pub fn database_id(&self, name: &str) -> Option<u32> {
        self.catalog.read().unwrap().databases.get(name).map(|d| d.id)
    }

    /// A database with its retention policies.
    pub fn database(&self, name: &str) -> Result<Database, Error> {
        self.catalog.read().unwrap().databases.get(name).cloned().ok_or_else(|| Error::DatabaseNotFound(name.to_string()))
    }

    /// The ids of the policies an operation covers.
    pub(super) fn policy_ids(&self, db: &str, which: Policies) -> Result<Vec<PolicyId>, Error> {
        let c = self.catalog.read().unwrap();
        let d = c.databases.get(db).ok_or_else(|| Error::DatabaseNotFound(db.to_string()))?;
        match which {
            Policies::All => Ok(d.policies.iter().map(|p| p.id).collect()),
            Policies::One(rp) => {
                let name = rp.filter(|r| !r.is_empty()).unwrap_or(&d.default_policy);
                Ok(vec![d.policy(name).ok_or_else(|| Error::PolicyNotFound(name.to_string()))?.id])
            }
        }
    }

    /// 404-style errors for a database or policy that does not exist.
    pub fn require_policy(&self, db: &str, rp: Option<&str>) -> Result<(), Error> {
        self.policy_ids(db, Policies::One(rp)).map(|_| ())
    }

    pub(super) fn require(&self, name: &str) -> Result<u32, Error> {
        self.database_id(name).ok_or_else(|| Error::DatabaseNotFound(name.to_string()))
    }

    /// Database names in the order they were created, as InfluxDB lists them.
    pub fn databases(&self) -> Vec<String> {
        let catalog = self.catalog.read().unwrap();
        let mut by_id: Vec<(u32, &String)> = catalog.databases.iter().map(|(name, d)| (d.id, name)).collect();
        by_id.sort();
        by_id.into_iter().map(|(_, name)| name.clone()).collect()
    }

    /// Creates a database with its default retention policy (see `Catalog::create_database`);
    /// creating one that exists is not an error (as InfluxDB).
    pub fn create_database(&self, name: &str, policy: Option<(&str, &PolicyOptions)>) -> Result<(), Error> {
        self.change_catalog(|c| Ok(((), c.create_database(name, policy)?)))
    }

    pub fn create_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), Error> {
        self.change_catalog(|c| c.create_policy(db, name, opts).map(|(_, r)| ((), r)))
    }

    /// Changes a policy; a shorter duration takes effect at the next retention check.
    pub fn alter_policy(&self, db: &str, name: &str, opts: &PolicyOptions) -> Result<(), Error> {
        self.change_catalog(|c| c.alter_policy(db, name, opts).map(|(_, r)| ((), r)))
    }

    /// See `Catalog::put_database`.
    pub fn put_database(&self, name: &str, default_policy: &str) -> Result<(), Error> {
        self.change_catalog(|c| Ok(((), c.put_database(name, default_policy))))
    }

    /// See `Catalog::put_policy`.
    pub fn put_policy(&self, db: &str, wanted: &Policy) -> Result<(), Error> {
        self.change_catalog(|c| Ok(((), c.put_policy(db, wanted)?)))
    }

    /// Drops a policy and its data; dropping one that does not exist is not an error.
    pub async fn drop_policy(&self, db: &str, name: &str) -> Result<(), Error> {
        if let Some(p) = self.change_catalog(|c| Ok(c.drop_policy(db, name)))? {
            self.drop_policy_data(p.id).await?;
        }
        Ok(())
    }

    /// Drops a database and all its data; dropping one that does not exist is not an error.
    pub async fn drop_database(&self, name: &str) -> Result<(), Error> {
        let id = self.database_id(name);
        let policies = self.change_catalog(|c| Ok(c.drop_database(name)))?;
        let Some(id) = id else { return Ok(()) };
        let cf = family::meta(&self.db);
        for prefix in [super::meta::meta_metadata_key(id, ""), fields::prefix(id)] {
            let mut end = prefix.clone();
            *end.last_mut().unwrap() += 1;
            self.db.delete_range_cf(cf, &prefix, &end)?;
        }
        self.metadata.write().unwrap().remove(&id);
        self.fields.drop_database(id);
        for p in policies {
            self.drop_policy_data(p.id).await?;
        }
        Ok(())
    }
}
