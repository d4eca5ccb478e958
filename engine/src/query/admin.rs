//! Parsing the user statements: `CREATE USER u WITH PASSWORD 'p' [WITH ALL PRIVILEGES]`,
//! `DROP USER u`, `SET PASSWORD FOR u = 'p'`, `GRANT READ | WRITE | ALL [PRIVILEGES] ON db TO u`,
//! `GRANT ALL [PRIVILEGES] TO u`, `REVOKE … ON db FROM u`, `REVOKE ALL [PRIVILEGES] FROM u`,
//! `SHOW USERS`, `SHOW GRANTS FOR u`.

use super::influxql::{Parser, Statement};
use super::error::ParseError;
use super::lexer::Token;

use crate::model::Privilege;

#[derive(Debug, PartialEq)]
pub enum UserStatement {
    Create { name: String, password: String, admin: bool },
    Drop(String),
    SetPassword { name: String, password: String },
    /// `db` None = admin rights.
    Grant { privilege: Privilege, db: Option<String>, name: String },
    Revoke { privilege: Privilege, db: Option<String>, name: String },
    ShowUsers,
    ShowGrants(String),
}

impl Parser {
    fn password(&mut self) -> Result<String, ParseError> {
        match self.advance() {
            Some(Token::Str(p)) => Ok(p),
            _ => {
                self.at -= 1;
                Err(self.error("string"))
            }
        }
    }

    fn privilege(&mut self) -> Result<Privilege, ParseError> {
        let p = if self.keyword("READ") {
            Privilege::Read
        } else if self.keyword("WRITE") {
            Privilege::Write
        } else if self.keyword("ALL") {
            self.keyword("PRIVILEGES");
            Privilege::All
        } else {
            return Err(self.error("READ, WRITE, ALL [PRIVILEGES]"));
        };
        Ok(p)
    }

    /// `GRANT` or `REVOKE`, after the keyword; `to` is `TO` or `FROM`.
    fn grant(&mut self, to: &str) -> Result<(Privilege, Option<String>, String), ParseError> {
        let privilege = self.privilege()?;
        let db = if self.keyword("ON") { Some(self.ident()?) } else { None };
        if db.is_none() && privilege != Privilege::All {
            return Err(self.error("ON"));
        }
        self.expect(to)?;
        Ok((privilege, db, self.ident()?))
    }

    /// The user statements that start with `kw` (already read), or None to try others.
    pub fn user_statement(&mut self, kw: &str) -> Result<Option<Statement>, ParseError> {
        let stmt = match kw {
            "CREATE" if self.keyword("USER") => {
                let name = self.ident()?;
                self.expect("WITH")?;
                self.expect("PASSWORD")?;
                let password = self.password()?;
                let admin = self.keyword("WITH");
                if admin {
                    self.expect("ALL")?;
                    self.expect("PRIVILEGES")?;
                }
                UserStatement::Create { name, password, admin }
            }
            "DROP" if self.keyword("USER") => UserStatement::Drop(self.ident()?),
            "SET" => {
                self.expect("PASSWORD")?;
                self.expect("FOR")?;
                let name = self.ident()?;
                self.expect_op("=")?;
                UserStatement::SetPassword { name, password: self.password()? }
            }
            "GRANT" => {
                let (privilege, db, name) = self.grant("TO")?;
                UserStatement::Grant { privilege, db, name }
            }
            "REVOKE" => {
                let (privilege, db, name) = self.grant("FROM")?;
                UserStatement::Revoke { privilege, db, name }
            }
            "SHOW" if self.keyword("USERS") => UserStatement::ShowUsers,
            "SHOW" if self.keyword("GRANTS") => {
                self.expect("FOR")?;
                UserStatement::ShowGrants(self.ident()?)
            }
            _ => return Ok(None),
        };
        Ok(Some(Statement::User(stmt)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::influxql::parse;
    use super::*;

    fn user(q: &str) -> UserStatement {
        match parse(q).unwrap().pop().unwrap() {
            Statement::User(u) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_user_statements() {
        assert_eq!(user("CREATE USER admin WITH PASSWORD 'it\\'s' WITH ALL PRIVILEGES"), UserStatement::Create { name: "admin".into(), password: "it's".into(), admin: true });
        assert_eq!(user("create user \"bob\" with password 'x'"), UserStatement::Create { name: "bob".into(), password: "x".into(), admin: false });
        assert_eq!(user("DROP USER bob"), UserStatement::Drop("bob".into()));
        assert_eq!(user("SET PASSWORD FOR bob = 'y'"), UserStatement::SetPassword { name: "bob".into(), password: "y".into() });
        assert_eq!(user("GRANT READ ON db TO bob"), UserStatement::Grant { privilege: Privilege::Read, db: Some("db".into()), name: "bob".into() });
        assert_eq!(user("GRANT ALL PRIVILEGES TO bob"), UserStatement::Grant { privilege: Privilege::All, db: None, name: "bob".into() });
        assert_eq!(user("REVOKE WRITE ON \"db\" FROM bob"), UserStatement::Revoke { privilege: Privilege::Write, db: Some("db".into()), name: "bob".into() });
        assert_eq!(user("REVOKE ALL FROM bob"), UserStatement::Revoke { privilege: Privilege::All, db: None, name: "bob".into() });
        assert_eq!(user("SHOW USERS"), UserStatement::ShowUsers);
        assert_eq!(user("SHOW GRANTS FOR bob"), UserStatement::ShowGrants("bob".into()));
        assert_eq!(parse("CREATE USER bob WITH PASSWORD x").unwrap_err().to_string(), "found x, expected string at line 1, char 31");
        assert_eq!(parse("GRANT READ TO bob").unwrap_err().to_string(), "found TO, expected ON at line 1, char 12");
        assert_eq!(parse("GRANT SOME ON db TO bob").unwrap_err().to_string(), "found SOME, expected READ, WRITE, ALL [PRIVILEGES] at line 1, char 7");
    }
}
