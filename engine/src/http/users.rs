//! `/query` and users: who may run which statement (as InfluxDB 1.x decides it) and the user
//! statements themselves. Passwords never appear in answers or errors.

use super::auth::{self, Principal};
use super::{ApiError, AppState};
use crate::query::admin::UserStatement;
use super::query::{select_db, target_db};
use crate::query::influxql::Statement;
use crate::query::delete::DeleteStatement;
use crate::query::retention::RetentionStatement;
use crate::model::Privilege;
use crate::storage::users::UserStore;
use actix_web::http::StatusCode;
use actix_web::HttpRequest;
use serde_json::{json, Value};

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

/// The caller, when they may run every statement; else 401/403 as InfluxDB answers. While no
/// user exists (auth on), only `CREATE USER … WITH ALL PRIVILEGES` runs, without credentials.
pub fn authorize(req: &HttpRequest, state: &AppState, statements: &[(Statement, String)], db: Option<&str>) -> Result<Principal, ApiError> {
    if state.auth.enabled && state.storage.users().is_empty() {
        let bootstrap = statements.iter().all(|(s, _)| matches!(s, Statement::User(UserStatement::Create { admin: true, .. })));
        return if bootstrap { Ok(Principal::Anyone) } else { Err(ApiError::new(StatusCode::FORBIDDEN, format!("error authorizing query: {}", auth::NO_ADMIN))) };
    }
    let who = auth::authenticate(req, state)?;
    for (stmt, text) in statements {
        let missing = match need(stmt, db) {
            Need::Nothing => None,
            Need::Admin => (!who.is_admin()).then(|| "admin privilege".to_string()),
            Need::Read(db) => (!who.may(Privilege::Read, &db)).then(|| format!("READ on {db}")),
            Need::Write(db) => (!who.may(Privilege::Write, &db)).then(|| format!("WRITE on {db}")),
        };
        if let Some(missing) = missing {
            let msg = format!("error authorizing query: {} not authorized to execute statement '{}', requires {missing}", who.name(), quoted(stmt, text));
            return Err(ApiError::new(StatusCode::FORBIDDEN, msg));
        }
    }
    Ok(who)
}

/// The databases `SHOW DATABASES` lists to the caller: all for admins, else those they hold a
/// privilege on.
pub fn visible_databases(state: &AppState, who: &Principal) -> Vec<String> {
    let all = state.storage.databases();
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

pub fn execute(state: &AppState, stmt: UserStatement) -> Result<Value, String> {
    let not_found = || "user not found".to_string();
    match stmt {
        UserStatement::Create { name, password, admin } => {
            let user = UserStore::new_user(&name, &password, admin)?;
            state.storage.change_user(&name, |users| match users.contains_key(&name) {
                true => Err("user already exists".into()),
                false => {
                    users.insert(name.clone(), user);
                    Ok(())
                }
            })?;
        }
        UserStatement::Drop(name) => state.storage.change_user(&name, |users| Ok(users.remove(&name).map(|_| ()).ok_or_else(not_found)?))?,
        UserStatement::SetPassword { name, password } => {
            state.storage.change_user(&name, |users| UserStore::set_password(users.get_mut(&name).ok_or_else(not_found)?, &password))?
        }
        UserStatement::Grant { privilege, db, name } => state.storage.change_user(&name, |users| {
            let user = users.get_mut(&name).ok_or_else(not_found)?;
            match db {
                Some(db) => {
                    user.privileges.insert(db, privilege);
                }
                None => user.admin = true,
            }
            Ok(())
        })?,
        UserStatement::Revoke { privilege, db, name } => state.storage.change_user(&name, |users| {
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
            let rows: Vec<Value> = state.storage.users().list().into_iter().map(|u| json!([u.name, u.admin])).collect();
            return Ok(json!([table(&["user", "admin"], rows)]));
        }
        UserStatement::ShowGrants(name) => {
            let user = state.storage.users().get(&name).ok_or_else(not_found)?;
            let rows: Vec<Value> = user.privileges.iter().map(|(db, p)| json!([db, p.name()])).collect();
            return Ok(json!([table(&["database", "privilege"], rows)]));
        }
    }
    Ok(Value::Null)
}

/// A table InfluxDB prints even when empty (then without `values`).
fn table(columns: &[&str], rows: Vec<Value>) -> Value {
    if rows.is_empty() { json!({ "columns": columns }) } else { json!({ "columns": columns, "values": rows }) }
}
