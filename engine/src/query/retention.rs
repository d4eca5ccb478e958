//! Parsing the retention policy statements: `CREATE RETENTION POLICY rp ON db DURATION d
//! [REPLICATION n] [SHARD DURATION s] [DEFAULT]`, `ALTER RETENTION POLICY rp ON db` with any
//! of those, `DROP RETENTION POLICY rp ON db`, `SHOW RETENTION POLICIES [ON db]`, and the
//! `WITH DURATION d [REPLICATION n] [SHARD DURATION s] [NAME rp]` of `CREATE DATABASE`.
//! `REPLICATION` is optional (InfluxDB 1.x requires it); `DURATION INF` and `0s` keep data
//! forever. Each of them also takes `DOWNSAMPLE 5m DURATION d` and `DOWNSAMPLE 1h DURATION d`
//! (Gemini's own): how long that downsampled tier keeps data. Also Go's duration format, which `SHOW RETENTION POLICIES` prints.

use super::influxql::{Parser, Statement};
use super::error::ParseError;
use super::lexer::Token;

use crate::encoding::rollup::Tier;
use crate::model::PolicyOptions;

#[derive(Debug, PartialEq)]
pub enum RetentionStatement {
    Create { name: String, db: String, options: PolicyOptions },
    Alter { name: String, db: String, options: PolicyOptions },
    Drop { name: String, db: String },
    Show { on: Option<String> },
}

impl Parser {
    fn policy_duration(&mut self) -> Result<i64, ParseError> {
        match self.peek() {
            Some(Token::Duration(ns)) => {
                let ns = *ns;
                self.at += 1;
                Ok(ns)
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("INF") => {
                self.at += 1;
                Ok(0)
            }
            _ => Err(self.error("duration")),
        }
    }

    /// `5m DURATION d` or `1h DURATION d`, after `DOWNSAMPLE`: how long that tier keeps data.
    fn tier_duration(&mut self, o: &mut PolicyOptions) -> Result<(), ParseError> {
        let names = Tier::ALL.map(Tier::name).join(", ");
        let tier = match self.peek() {
            Some(Token::Duration(ns)) => Tier::ALL.into_iter().find(|t| t.resolution() * 1_000_000 == *ns),
            _ => None,
        };
        let Some(tier) = tier else { return Err(self.error(&names)) };
        if o.tier_durations[tier as usize].is_some() {
            return Err(ParseError::at(format!("DOWNSAMPLE {} given twice", tier.name()), self.position()));
        }
        self.at += 1;
        self.expect("DURATION")?;
        o.tier_durations[tier as usize] = Some(self.policy_duration()?);
        Ok(())
    }

    /// The options in any order, each at most once (`DOWNSAMPLE` once per tier); `allowed` are
    /// the keywords this statement takes besides `DOWNSAMPLE` (`NAME` answers the name, for
    /// `CREATE DATABASE … WITH`). Errors list `allowed` only, in InfluxDB's words.
    fn policy_options(&mut self, allowed: &[&str]) -> Result<(PolicyOptions, Option<String>), ParseError> {
        let mut o = PolicyOptions::default();
        let mut name = None;
        let mut seen = Vec::new();
        loop {
            if self.keyword("DOWNSAMPLE") {
                self.tier_duration(&mut o)?;
                seen.push("DOWNSAMPLE");
                continue;
            }
            let Some(kw) = allowed.iter().find(|kw| !seen.contains(*kw) && self.peek_keyword(kw)) else { break };
            self.at += 1;
            seen.push(*kw);
            match *kw {
                "DURATION" => o.duration = Some(self.policy_duration()?),
                "SHARD" => {
                    self.expect("DURATION")?;
                    o.shard_duration = Some(self.policy_duration()?);
                }
                "REPLICATION" => {
                    let at = self.at;
                    let n = self.unsigned()?;
                    if n == 0 || n > i32::MAX as usize {
                        self.at = at;
                        return Err(ParseError::at(format!("invalid value {n}: must be 1 <= n <= 2147483647"), self.position()));
                    }
                    o.replication = Some(n as u32);
                }
                "DEFAULT" => o.default = true,
                _ => name = Some(self.ident()?),
            }
        }
        if seen.is_empty() {
            return Err(self.error(&allowed.join(", ")));
        }
        Ok((o, name))
    }

    /// `CREATE DATABASE name [WITH …]`, after `CREATE DATABASE`.
    pub fn create_database(&mut self) -> Result<Statement, ParseError> {
        let name = self.ident()?;
        let policy = match self.keyword("WITH") {
            true => {
                let (options, rp) = self.policy_options(&["DURATION", "REPLICATION", "SHARD", "NAME"])?;
                Some((rp.unwrap_or_else(|| "autogen".into()), options))
            }
            false => None,
        };
        Ok(Statement::CreateDatabase { name, policy })
    }

    /// The retention policy statements that start with `kw` (already read), or None.
    pub fn retention_statement(&mut self, kw: &str) -> Result<Option<Statement>, ParseError> {
        let stmt = match kw {
            "SHOW" if self.keyword("RETENTION") => {
                self.expect("POLICIES")?;
                RetentionStatement::Show { on: if self.keyword("ON") { Some(self.ident()?) } else { None } }
            }
            "CREATE" | "ALTER" | "DROP" if self.keyword("RETENTION") => {
                self.expect("POLICY")?;
                let name = self.ident()?;
                self.expect("ON")?;
                let db = self.ident()?;
                match kw {
                    "CREATE" => {
                        if !self.peek_keyword("DURATION") {
                            return Err(self.error("DURATION"));
                        }
                        let (options, _) = self.policy_options(&["DURATION", "REPLICATION", "SHARD", "DEFAULT"])?;
                        RetentionStatement::Create { name, db, options }
                    }
                    "ALTER" => {
                        let (options, _) = self.policy_options(&["DURATION", "REPLICATION", "SHARD", "DEFAULT"])?;
                        RetentionStatement::Alter { name, db, options }
                    }
                    _ => RetentionStatement::Drop { name, db },
                }
            }
            _ => return Ok(None),
        };
        Ok(Some(Statement::Retention(stmt)))
    }
}

/// A duration as Go prints one (`0s`, `1h0m0s`, `1h30m15s`, `1.5s`, `250ms`), which is how
/// InfluxDB shows policy durations.
pub fn go_duration(ns: i64) -> String {
    let fraction = |v: u64, digits: u32| {
        let scale = 10u64.pow(digits);
        let frac = format!("{:0width$}", v % scale, width = digits as usize);
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() { format!("{}", v / scale) } else { format!("{}.{frac}", v / scale) }
    };
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let body = match u {
        0 => "0s".to_string(),
        u if u < 1_000 => format!("{u}ns"),
        u if u < 1_000_000 => format!("{}µs", fraction(u, 3)),
        u if u < 1_000_000_000 => format!("{}ms", fraction(u, 6)),
        u => {
            let (h, rest) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
            let (m, s) = (rest / 60_000_000_000, rest % 60_000_000_000);
            let secs = format!("{}s", fraction(s, 9));
            match (h, m) {
                (0, 0) => secs,
                (0, m) => format!("{m}m{secs}"),
                (h, m) => format!("{h}h{m}m{secs}"),
            }
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::super::influxql::parse;
    use super::*;

    const H: i64 = 3_600_000_000_000;

    #[test]
    fn parses_policy_statements() {
        let one = |q: &str| parse(q).unwrap().pop().unwrap();
        assert_eq!(
            one("CREATE RETENTION POLICY one ON db DURATION 1h REPLICATION 1 SHARD DURATION 30m DEFAULT"),
            Statement::Retention(RetentionStatement::Create {
                name: "one".into(),
                db: "db".into(),
                options: PolicyOptions { duration: Some(H), shard_duration: Some(H / 2), replication: Some(1), default: true, ..Default::default() }
            })
        );
        assert_eq!(
            one("alter retention policy \"a b\" on db default duration inf"),
            Statement::Retention(RetentionStatement::Alter {
                name: "a b".into(),
                db: "db".into(),
                options: PolicyOptions { duration: Some(0), default: true, ..Default::default() }
            })
        );
        assert_eq!(one("DROP RETENTION POLICY x ON db"), Statement::Retention(RetentionStatement::Drop { name: "x".into(), db: "db".into() }));
        assert_eq!(one("SHOW RETENTION POLICIES"), Statement::Retention(RetentionStatement::Show { on: None }));
        assert_eq!(
            one("CREATE DATABASE d WITH DURATION 3d SHARD DURATION 1h NAME short"),
            Statement::CreateDatabase {
                name: "d".into(),
                policy: Some(("short".into(), PolicyOptions { duration: Some(72 * H), shard_duration: Some(H), ..Default::default() }))
            }
        );
        const D: i64 = 24 * H;
        assert_eq!(
            one("ALTER RETENTION POLICY x ON db DOWNSAMPLE 1h DURATION INF downsample 5m duration 365d"),
            Statement::Retention(RetentionStatement::Alter {
                name: "x".into(),
                db: "db".into(),
                options: PolicyOptions { tier_durations: [Some(365 * D), Some(0)], ..Default::default() }
            })
        );
        assert_eq!(
            one("CREATE RETENTION POLICY x ON db DURATION 30d DOWNSAMPLE 5m DURATION 365d DEFAULT"),
            Statement::Retention(RetentionStatement::Create {
                name: "x".into(),
                db: "db".into(),
                options: PolicyOptions { duration: Some(30 * D), tier_durations: [Some(365 * D), None], default: true, ..Default::default() }
            })
        );
        assert_eq!(
            one("CREATE DATABASE d WITH DURATION 30d DOWNSAMPLE 1h DURATION 0s NAME month"),
            Statement::CreateDatabase {
                name: "d".into(),
                policy: Some(("month".into(), PolicyOptions { duration: Some(30 * D), tier_durations: [None, Some(0)], ..Default::default() }))
            }
        );
        let refused = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(refused("ALTER RETENTION POLICY x ON db DOWNSAMPLE 10m DURATION 1d"), "found 600000000000ns, expected 5m, 1h at line 1, char 43");
        assert_eq!(refused("ALTER RETENTION POLICY x ON db DOWNSAMPLE DURATION 1d"), "found DURATION, expected 5m, 1h at line 1, char 43");
        assert_eq!(refused("ALTER RETENTION POLICY x ON db DOWNSAMPLE 5m 1d"), "found 86400000000000ns, expected DURATION at line 1, char 46");
        assert_eq!(refused("ALTER RETENTION POLICY x ON db DOWNSAMPLE 5m DURATION"), "found EOF, expected duration at line 1, char 54");
        assert_eq!(refused("ALTER RETENTION POLICY x ON db DOWNSAMPLE 5m DURATION 1d DOWNSAMPLE 5m DURATION 2d"), "DOWNSAMPLE 5m given twice at line 1, char 69");
        assert_eq!(refused("CREATE RETENTION POLICY x ON db DOWNSAMPLE 5m DURATION 1d"), "found DOWNSAMPLE, expected DURATION at line 1, char 33");
        assert_eq!(parse("ALTER RETENTION POLICY x ON db").unwrap_err().to_string(), "found EOF, expected DURATION, REPLICATION, SHARD, DEFAULT at line 1, char 31");
        assert_eq!(parse("CREATE RETENTION POLICY x ON db DURATION 1h REPLICATION 0").unwrap_err().to_string(), "invalid value 0: must be 1 <= n <= 2147483647 at line 1, char 57");
        assert_eq!(parse("CREATE RETENTION POLICY x ON db DURATION 1h DURATION 2h").unwrap_err().to_string(), "found DURATION, expected ; at line 1, char 45");
        assert_eq!(parse("CREATE RETENTION POLICY x ON db SHARD DURATION 1h").unwrap_err().to_string(), "found SHARD, expected DURATION at line 1, char 33");
    }

    #[test]
    fn durations_print_as_go_and_influxql_do() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(H), "1h0m0s");
        assert_eq!(go_duration(168 * H), "168h0m0s");
        assert_eq!(go_duration(H + 30 * 60_000_000_000 + 15_000_000_000), "1h30m15s");
        assert_eq!(go_duration(H + 1_000_000_000), "1h0m1s");
        assert_eq!(go_duration(90_500_000_000), "1m30.5s");
        assert_eq!(go_duration(250_000_000), "250ms");
        assert_eq!(go_duration(1_500), "1.5µs");
    }
}
