//! Users: who the caller is (`Principal`), who may run which statement (as InfluxDB 1.x
//! decides it) and the user statements themselves. Passwords never appear in answers or
//! errors.

use super::{select_db, target_db, Cell, Error, Table};
use crate::model::Privilege;
use crate::query::admin::UserStatement;
use crate::query::delete::DeleteStatement;
use crate::query::influxql::Statement;
use crate::query::retention::RetentionStatement;
use crate::data::users::{User, UserStore};
use crate::data::Catalog;

/// The caller: anyone when auth is off, else an authenticated user.
pub enum Principal {
    Anyone,
    User(User),
}

impl Principal {
    pub fn may(&self, wanted: Privilege, db: &str) -> bool {
        match self {
            Principal::Anyone => true,
            Principal::User(u) => u.may(wanted, db),
        }
    }

    pub fn is_admin(&self) -> bool {
        match self {
            Principal::Anyone => true,
            Principal::User(u) => u.admin,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Principal::Anyone => "anonymous",
            Principal::User(u) => &u.name,
        }
    }
}

/// What running a statement takes.
enum Need {
    Nothing,
    Admin,
    Read(String),
    Write(String),
}

fn need(stmt: &Statement, db: Option<&str>) -> Need {
    let on = |on: Option<&str>| target_db(on, db).map(Need::Read).unwrap_or(Need::Nothing);
    match stmt {
        Statement::CreateDatabase { .. } | Statement::DropDatabase(_) | Statement::User(_) => Need::Admin,
        Statement::Retention(RetentionStatement::Show { on: o }) => on(o.as_deref()),
        Statement::Retention(_) => Need::Admin,
        // As InfluxDB: dropping a measurement takes an admin, deleting series or points WRITE.
        Statement::Delete(DeleteStatement::DropMeasurement(_)) => Need::Admin,
        Statement::Delete(_) => target_db(None, db).map(Need::Write).unwrap_or(Need::Nothing),
        Statement::ShowDatabases => Need::Nothing,
        Statement::ShowMeasurements { on: o, .. } | Statement::ShowTagKeys { on: o, .. } | Statement::ShowTagValues { on: o, .. } => on(o.as_deref()),
        Statement::ShowFieldKeys { on: o, .. } | Statement::ShowSeries { on: o, .. } => on(o.as_deref()),
        Statement::Select(s) => on(select_db(s)),
    }
}

/// The statement as errors may quote it: user statements lose their password.
pub fn quoted(stmt: &Statement, text: &str) -> String {
    match stmt {
        Statement::User(UserStatement::Create { name, .. }) => format!("CREATE USER {name} WITH PASSWORD [REDACTED]"),
        Statement::User(UserStatement::SetPassword { name, .. }) => format!("SET PASSWORD FOR {name} = [REDACTED]"),
        _ => text.to_string(),
    }
}

/// Whether the statements only create an admin user: what runs without credentials while no
/// user exists (auth on).
pub fn is_bootstrap(statements: &[(Statement, String)]) -> bool {
    statements.iter().all(|(s, _)| matches!(s, Statement::User(UserStatement::Create { admin: true, .. })))
}

/// What `who` lacks to run `stmt` (`admin privilege`, `READ on db`, `WRITE on db`), as
/// InfluxDB names it; `None` when they may run it.
pub fn missing_privilege(who: &Principal, stmt: &Statement, db: Option<&str>) -> Option<String> {
    match need(stmt, db) {
        Need::Nothing => None,
        Need::Admin => (!who.is_admin()).then(|| "admin privilege".to_string()),
        Need::Read(db) => (!who.may(Privilege::Read, &db)).then(|| format!("READ on {db}")),
        Need::Write(db) => (!who.may(Privilege::Write, &db)).then(|| format!("WRITE on {db}")),
    }
}

/// The databases `SHOW DATABASES` lists to the caller: all for admins, else those they hold a
/// privilege on.
pub fn visible_databases(catalog: &dyn Catalog, who: &Principal) -> Vec<String> {
    let all = catalog.databases();
    match who {
        Principal::User(u) if !u.admin => all.into_iter().filter(|d| u.privileges.contains_key(d)).collect(),
        _ => all,
    }
}

fn revoke(current: Privilege, revoked: Privilege) -> Option<Privilege> {
    match (current, revoked) {
        (_, Privilege::All) => None,
        (Privilege::All, Privilege::Read) => Some(Privilege::Write),
        (Privilege::All, Privilege::Write) => Some(Privilege::Read),
        (c, r) if c == r => None,
        (c, _) => Some(c),
    }
}

pub fn execute(catalog: &dyn Catalog, stmt: UserStatement) -> Result<Vec<Table>, Error> {
    let not_found = || "user not found".to_string();
    match stmt {
        UserStatement::Create { name, password, admin } => {
            let user = UserStore::new_user(&name, &password, admin)?;
            catalog.change_user(&name, |users| match users.contains_key(&name) {
                true => Err("user already exists".into()),
                false => {
                    users.insert(name.clone(), user);
                    Ok(())
                }
            })?;
        }
        UserStatement::Drop(name) => catalog.change_user(&name, |users| Ok(users.remove(&name).map(|_| ()).ok_or_else(not_found)?))?,
        UserStatement::SetPassword { name, password } => {
            catalog.change_user(&name, |users| UserStore::set_password(users.get_mut(&name).ok_or_else(not_found)?, &password))?
        }
        UserStatement::Grant { privilege, db, name } => catalog.change_user(&name, |users| {
            let user = users.get_mut(&name).ok_or_else(not_found)?;
            match db {
                Some(db) => {
                    user.privileges.insert(db, privilege);
                }
                None => user.admin = true,
            }
            Ok(())
        })?,
        UserStatement::Revoke { privilege, db, name } => catalog.change_user(&name, |users| {
            let user = users.get_mut(&name).ok_or_else(not_found)?;
            match db {
                Some(db) => match user.privileges.get(&db).and_then(|p| revoke(*p, privilege)) {
                    Some(p) => {
                        user.privileges.insert(db, p);
                    }
                    None => {
                        user.privileges.remove(&db);
                    }
                },
                None => user.admin = false,
            }
            Ok(())
        })?,
        UserStatement::ShowUsers => {
            let rows = catalog.users().list().into_iter().map(|u| vec![u.name.into(), Cell::Bool(u.admin)]).collect();
            return Ok(vec![Table::new(None, &["user", "admin"], rows)]);
        }
        UserStatement::ShowGrants(name) => {
            let user = catalog.users().get(&name).ok_or_else(not_found)?;
            let rows = user.privileges.iter().map(|(db, p)| vec![db.as_str().into(), p.name().into()]).collect();
            return Ok(vec![Table::new(None, &["database", "privilege"], rows)]);
        }
    }
    Ok(Vec::new())
}
