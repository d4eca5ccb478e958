//! Statements back to InfluxQL text, in one canonical form: keywords upper case, every
//! identifier double-quoted, every binary expression parenthesized, durations in `ns`.
//! Parsing the text gives the same statement again (the parser tests and the fuzz target
//! check that).

use super::admin::UserStatement;
use crate::model::Privilege;
use super::ast::{Expr, Fill, Name, Select, Source};
use super::influxql::{Statement, TagKeys};
use super::delete::DeleteStatement;
use super::retention::RetentionStatement;
use crate::encoding::rollup::Tier;
use crate::model::PolicyOptions;
use std::fmt::{self, Display, Formatter, Write};

fn quote(s: &str, q: char) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for c in s.chars() {
        if c == q || (c == '\\' && q != '/') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push(q);
    out
}

fn ident(s: &str) -> String {
    quote(s, '"')
}

/// A float as the lexer reads a float back: always with a decimal point, never an exponent.
fn number(v: f64) -> String {
    let s = format!("{v}");
    if s.contains('.') { s } else { s + ".0" }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Var { name, hint } => {
                f.write_str(&ident(name))?;
                match hint {
                    Some(h) => write!(f, "::{h}"),
                    None => Ok(()),
                }
            }
            Expr::Str(s) => f.write_str(&quote(s, '\'')),
            Expr::Number(n) => f.write_str(&number(*n)),
            Expr::Integer(n) => write!(f, "{n}"),
            Expr::Duration(d) => write!(f, "{d}ns"),
            Expr::Regex(r) => f.write_str(&quote(r, '/')),
            Expr::Now => f.write_str("now()"),
            Expr::Wildcard => f.write_str("*"),
            Expr::Call { name, args } => {
                let args: Vec<String> = args.iter().map(Expr::to_string).collect();
                write!(f, "{name}({})", args.join(", "))
            }
            Expr::Binary { op, lhs, rhs } => write!(f, "({lhs} {op} {rhs})"),
        }
    }
}

fn name(n: &Name) -> String {
    match n {
        Name::Exact(s) => ident(s),
        Name::Regex(r) => quote(r, '/'),
    }
}

fn source(s: &Source) -> String {
    match (&s.db, &s.rp) {
        (Some(db), Some(rp)) => format!("{}.{}.{}", ident(db), ident(rp), name(&s.name)),
        (Some(db), None) => format!("{}..{}", ident(db), name(&s.name)),
        (None, Some(rp)) => format!("{}.{}", ident(rp), name(&s.name)),
        (None, None) => name(&s.name),
    }
}

impl Display for Select {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let fields: Vec<String> = self.fields.iter().map(|x| x.expr.to_string() + &x.alias.as_deref().map(|a| format!(" AS {}", ident(a))).unwrap_or_default()).collect();
        let sources: Vec<String> = self.sources.iter().map(source).collect();
        write!(f, "SELECT {} FROM {}", fields.join(", "), sources.join(", "))?;
        if let Some(c) = &self.condition {
            write!(f, " WHERE {c}")?;
        }
        let mut dims: Vec<String> = Vec::new();
        if let Some(i) = self.interval {
            dims.push(if i.offset == 0 { format!("time({}ns)", i.every) } else { format!("time({}ns, {}ns)", i.every, i.offset) });
        }
        dims.extend(self.group_by.iter().map(|t| ident(t)));
        if self.group_by_all {
            dims.push("*".into());
        }
        if !dims.is_empty() {
            write!(f, " GROUP BY {}", dims.join(", "))?;
        }
        match self.fill {
            Fill::Null => {}
            Fill::None => f.write_str(" fill(none)")?,
            Fill::Previous => f.write_str(" fill(previous)")?,
            Fill::Linear => f.write_str(" fill(linear)")?,
            Fill::Value(v) => write!(f, " fill({})", number(v))?,
        }
        if self.descending {
            f.write_str(" ORDER BY time DESC")?;
        }
        for (kw, n) in [("LIMIT", self.limit), ("OFFSET", self.offset), ("SLIMIT", self.slimit), ("SOFFSET", self.soffset)] {
            if n > 0 {
                write!(f, " {kw} {n}")?;
            }
        }
        Ok(())
    }
}

fn on_from(on: &Option<String>, from: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(db) = on {
        let _ = write!(out, " ON {}", ident(db));
    }
    if let Some(m) = from {
        let _ = write!(out, " FROM {}", ident(m));
    }
    out
}

/// ` DURATION d REPLICATION n SHARD DURATION s DOWNSAMPLE 5m DURATION d DOWNSAMPLE 1h DURATION d
/// DEFAULT`, the parts that are set.
fn options(o: &PolicyOptions) -> String {
    let mut out = String::new();
    if let Some(d) = o.duration {
        out += &format!(" DURATION {d}ns");
    }
    if let Some(n) = o.replication {
        out += &format!(" REPLICATION {n}");
    }
    if let Some(s) = o.shard_duration {
        out += &format!(" SHARD DURATION {s}ns");
    }
    for tier in Tier::ALL {
        if let Some(d) = o.tier_durations[tier as usize] {
            out += &format!(" DOWNSAMPLE {} DURATION {d}ns", tier.name());
        }
    }
    if o.default {
        out += " DEFAULT";
    }
    out
}

fn privilege(p: Privilege) -> &'static str {
    p.name()
}

impl Display for UserStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            UserStatement::Create { name, password, admin } => {
                write!(f, "CREATE USER {} WITH PASSWORD {}{}", ident(name), quote(password, '\''), if *admin { " WITH ALL PRIVILEGES" } else { "" })
            }
            UserStatement::Drop(name) => write!(f, "DROP USER {}", ident(name)),
            UserStatement::SetPassword { name, password } => write!(f, "SET PASSWORD FOR {} = {}", ident(name), quote(password, '\'')),
            UserStatement::Grant { privilege: p, db, name } => match db {
                Some(db) => write!(f, "GRANT {} ON {} TO {}", privilege(*p), ident(db), ident(name)),
                None => write!(f, "GRANT ALL PRIVILEGES TO {}", ident(name)),
            },
            UserStatement::Revoke { privilege: p, db, name } => match db {
                Some(db) => write!(f, "REVOKE {} ON {} FROM {}", privilege(*p), ident(db), ident(name)),
                None => write!(f, "REVOKE ALL PRIVILEGES FROM {}", ident(name)),
            },
            UserStatement::ShowUsers => f.write_str("SHOW USERS"),
            UserStatement::ShowGrants(name) => write!(f, "SHOW GRANTS FOR {}", ident(name)),
        }
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::CreateDatabase { name, policy } => {
                write!(f, "CREATE DATABASE {}", ident(name))?;
                match policy {
                    Some((rp, o)) => write!(f, " WITH{} NAME {}", options(o), ident(rp)),
                    None => Ok(()),
                }
            }
            Statement::DropDatabase(db) => write!(f, "DROP DATABASE {}", ident(db)),
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowMeasurements { on, name: n, limit, offset } => {
                write!(f, "SHOW MEASUREMENTS{}", on_from(on, &None))?;
                match n {
                    Some(Name::Exact(m)) => write!(f, " WITH MEASUREMENT = {}", ident(m))?,
                    Some(Name::Regex(r)) => write!(f, " WITH MEASUREMENT =~ {}", quote(r, '/'))?,
                    None => {}
                }
                for (kw, n) in [("LIMIT", limit), ("OFFSET", offset)] {
                    if *n > 0 {
                        write!(f, " {kw} {n}")?;
                    }
                }
                Ok(())
            }
            Statement::ShowTagKeys { on, from } => write!(f, "SHOW TAG KEYS{}", on_from(on, from)),
            Statement::ShowTagValues { on, from, keys } => {
                write!(f, "SHOW TAG VALUES{} WITH KEY ", on_from(on, from))?;
                match keys {
                    TagKeys::In(keys) => write!(f, "IN ({})", keys.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ")),
                    TagKeys::Regex(r) => write!(f, "=~ {}", quote(r, '/')),
                }
            }
            Statement::ShowFieldKeys { on, from } => write!(f, "SHOW FIELD KEYS{}", on_from(on, from)),
            Statement::ShowSeries { on, from, condition, cardinality, exact } => {
                f.write_str("SHOW SERIES")?;
                if *exact {
                    f.write_str(" EXACT")?;
                }
                if *cardinality {
                    f.write_str(" CARDINALITY")?;
                }
                f.write_str(&on_from(on, from))?;
                match condition {
                    Some(c) => write!(f, " WHERE {c}"),
                    None => Ok(()),
                }
            }
            Statement::Select(s) => s.fmt(f),
            Statement::User(u) => u.fmt(f),
            Statement::Retention(r) => match r {
                RetentionStatement::Create { name, db, options: o } => write!(f, "CREATE RETENTION POLICY {} ON {}{}", ident(name), ident(db), options(o)),
                RetentionStatement::Alter { name, db, options: o } => write!(f, "ALTER RETENTION POLICY {} ON {}{}", ident(name), ident(db), options(o)),
                RetentionStatement::Drop { name, db } => write!(f, "DROP RETENTION POLICY {} ON {}", ident(name), ident(db)),
                RetentionStatement::Show { on } => write!(f, "SHOW RETENTION POLICIES{}", on_from(on, &None)),
            },
            Statement::Delete(d) => {
                let (kw, from, condition) = match d {
                    DeleteStatement::DropMeasurement(m) => return write!(f, "DROP MEASUREMENT {}", ident(m)),
                    DeleteStatement::DropSeries { from, condition } => ("DROP SERIES", from, condition),
                    DeleteStatement::Delete { from, condition } => ("DELETE", from, condition),
                };
                f.write_str(kw)?;
                if let Some(from) = from {
                    write!(f, " FROM {}", name(from))?;
                }
                match condition {
                    Some(c) => write!(f, " WHERE {c}"),
                    None => Ok(()),
                }
            }
        }
    }
}
