//! A recursive-descent parser for the InfluxQL statements Gemini serves: `CREATE DATABASE`,
//! `DROP DATABASE`, `SHOW DATABASES`, `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT =~ /re/ |
//! = m] [LIMIT n] [OFFSET n]`, `SHOW TAG KEYS [ON db] [FROM m]`, `SHOW TAG VALUES [ON db]
//! [FROM m] WITH KEY = k | IN (k, …) | =~ /re/`, `SHOW FIELD KEYS [ON db] [FROM m]`,
//! `SHOW SERIES [CARDINALITY] [ON db] [FROM m] [WHERE …]`, `SHOW SERIES EXACT CARDINALITY`, `SELECT`
//! (see `select.rs`), the user statements (see `admin.rs`) and the retention policy
//! statements with `CREATE DATABASE … WITH` (see `retention.rs`) and the deleting ones
//! (see `delete.rs`).
//! Statements are separated by `;`; keywords are case-insensitive; identifiers may be
//! double-quoted. Errors give the position, like InfluxDB's `at line 1, char N`.

use super::admin::UserStatement;
use super::delete::DeleteStatement;
use super::retention::RetentionStatement;
use crate::model::PolicyOptions;
use super::ast::{Expr, Name, Select};
use super::error::ParseError;
use super::lexer::{tokenize, Token};

#[derive(Debug, PartialEq)]
pub enum Statement {
    /// `policy`: the default retention policy's name and settings, from `WITH`.
    CreateDatabase { name: String, policy: Option<(String, PolicyOptions)> },
    DropDatabase(String),
    ShowDatabases,
    ShowMeasurements { on: Option<String>, name: Option<Name>, limit: usize, offset: usize },
    ShowTagKeys { on: Option<String>, from: Option<String> },
    ShowTagValues { on: Option<String>, from: Option<String>, keys: TagKeys },
    ShowFieldKeys { on: Option<String>, from: Option<String> },
    /// `CARDINALITY` without `FROM` or `EXACT` is one total, as InfluxDB's estimate; with either,
    /// an exact count per measurement.
    ShowSeries { on: Option<String>, from: Option<String>, condition: Option<Expr>, cardinality: bool, exact: bool },
    Select(Box<Select>),
    User(UserStatement),
    Retention(RetentionStatement),
    Delete(DeleteStatement),
}

impl Statement {
    /// Whether the statement changes databases, retention policies or users: what every node
    /// of a cluster keeps the same.
    pub fn changes_catalog(&self) -> bool {
        self.is_change() && !matches!(self, Statement::Delete(_))
    }

    /// Whether the statement changes something (InfluxDB wants those over POST).
    pub fn is_change(&self) -> bool {
        match self {
            Statement::CreateDatabase { .. } | Statement::DropDatabase(_) | Statement::Delete(_) => true,
            Statement::User(u) => !matches!(u, UserStatement::ShowUsers | UserStatement::ShowGrants(_)),
            Statement::Retention(r) => !matches!(r, RetentionStatement::Show { .. }),
            _ => false,
        }
    }
}

/// The keys `SHOW TAG VALUES` lists.
#[derive(Debug, PartialEq)]
pub enum TagKeys {
    In(Vec<String>),
    Regex(String),
}

pub struct Parser {
    tokens: Vec<(usize, Token)>,
    pub(super) at: usize,
    end: usize,
}

impl Parser {
    pub fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    /// The token `n` places after the next one.
    pub fn tokens_after(&self, n: usize) -> Option<&Token> {
        self.tokens.get(self.at + n).map(|(_, t)| t)
    }

    pub fn advance(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.at).map(|(_, t)| t.clone());
        self.at += 1;
        t
    }

    /// The 1-based character position of the next token, as errors give it.
    pub fn position(&self) -> usize {
        self.tokens.get(self.at).map(|(p, _)| *p).unwrap_or(self.end) + 1
    }

    pub fn error(&self, expected: &str) -> ParseError {
        let found = self.peek().map(Token::describe).unwrap_or_else(|| "EOF".into());
        ParseError::at(format!("found {found}, expected {expected}"), self.position())
    }

    pub fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    pub fn keyword(&mut self, kw: &str) -> bool {
        let found = self.peek_keyword(kw);
        if found {
            self.at += 1;
        }
        found
    }

    pub fn expect(&mut self, kw: &str) -> Result<(), ParseError> {
        self.keyword(kw).then_some(()).ok_or_else(|| self.error(kw))
    }

    pub fn op(&mut self, op: &str) -> bool {
        let found = matches!(self.peek(), Some(Token::Op(o)) if *o == op);
        if found {
            self.at += 1;
        }
        found
    }

    pub fn expect_op(&mut self, op: &str) -> Result<(), ParseError> {
        self.op(op).then_some(()).ok_or_else(|| self.error(op))
    }

    pub fn ident(&mut self) -> Result<String, ParseError> {
        match self.peek().cloned() {
            Some(Token::Word(w)) | Some(Token::QuotedIdent(w)) => {
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.error("identifier")),
        }
    }

    pub fn unsigned(&mut self) -> Result<usize, ParseError> {
        match self.peek() {
            Some(Token::Integer(n)) if *n >= 0 => {
                let n = *n as usize;
                self.at += 1;
                Ok(n)
            }
            _ => Err(self.error("integer")),
        }
    }

    /// `KW ident` when the next word is `kw`.
    fn optional(&mut self, kw: &str) -> Result<Option<String>, ParseError> {
        if self.keyword(kw) { Ok(Some(self.ident()?)) } else { Ok(None) }
    }

    fn statement(&mut self) -> Result<Statement, ParseError> {
        if self.keyword("SELECT") {
            return Ok(Statement::Select(Box::new(self.select()?)));
        }
        for kw in ["CREATE", "DROP", "SHOW", "SET", "GRANT", "REVOKE", "ALTER", "DELETE"] {
            if self.keyword(kw) {
                if let Some(stmt) = self.delete_statement(kw)? {
                    return Ok(stmt);
                }
                if let Some(stmt) = self.user_statement(kw)? {
                    return Ok(stmt);
                }
                if let Some(stmt) = self.retention_statement(kw)? {
                    return Ok(stmt);
                }
                return match kw {
                    "CREATE" => {
                        self.expect("DATABASE")?;
                        self.create_database()
                    }
                    "ALTER" => Err(self.error("RETENTION")),
                    "DROP" => {
                        self.expect("DATABASE")?;
                        Ok(Statement::DropDatabase(self.ident()?))
                    }
                    _ => self.show(),
                };
            }
        }
        for kw in ["EXPLAIN", "KILL"] {
            if self.peek_keyword(kw) {
                return Err(ParseError::at(format!("{kw} is not supported by Gemini"), self.position()));
            }
        }
        // Worded as InfluxDB 1.6 words it, its statements in its order.
        Err(self.error("SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL"))
    }

    fn show(&mut self) -> Result<Statement, ParseError> {
        if self.keyword("DATABASES") {
            return Ok(Statement::ShowDatabases);
        }
        if self.keyword("MEASUREMENTS") {
            let on = self.optional("ON")?;
            let mut name = None;
            if self.keyword("WITH") {
                self.expect("MEASUREMENT")?;
                name = Some(if self.op("=") {
                    Name::Exact(self.ident()?)
                } else if self.op("=~") {
                    match self.advance() {
                        Some(Token::Regex(re)) => Name::Regex(re),
                        _ => return Err(self.error("regex")),
                    }
                } else {
                    return Err(self.error("= or =~"));
                });
            }
            let limit = if self.keyword("LIMIT") { self.unsigned()? } else { 0 };
            let offset = if self.keyword("OFFSET") { self.unsigned()? } else { 0 };
            return Ok(Statement::ShowMeasurements { on, name, limit, offset });
        }
        if self.keyword("TAG") {
            if self.keyword("KEYS") {
                let on = self.optional("ON")?;
                return Ok(Statement::ShowTagKeys { on, from: self.optional("FROM")? });
            }
            self.expect("VALUES")?;
            let on = self.optional("ON")?;
            let from = self.optional("FROM")?;
            self.expect("WITH")?;
            self.expect("KEY")?;
            let keys = if self.op("=") {
                TagKeys::In(vec![self.ident()?])
            } else if self.op("=~") {
                match self.advance() {
                    Some(Token::Regex(re)) => TagKeys::Regex(re),
                    _ => return Err(self.error("regex")),
                }
            } else if self.keyword("IN") {
                self.expect_op("(")?;
                let mut keys = vec![self.ident()?];
                while self.op(",") {
                    keys.push(self.ident()?);
                }
                self.expect_op(")")?;
                TagKeys::In(keys)
            } else {
                return Err(self.error("=, =~ or IN"));
            };
            return Ok(Statement::ShowTagValues { on, from, keys });
        }
        if self.keyword("FIELD") {
            self.expect("KEYS")?;
            let on = self.optional("ON")?;
            return Ok(Statement::ShowFieldKeys { on, from: self.optional("FROM")? });
        }
        if self.keyword("SERIES") {
            let exact = self.keyword("EXACT");
            let cardinality = self.keyword("CARDINALITY");
            if exact && !cardinality {
                return Err(self.error("CARDINALITY"));
            }
            let on = self.optional("ON")?;
            let from = self.optional("FROM")?;
            let condition = if self.keyword("WHERE") { Some(self.expr()?) } else { None };
            return Ok(Statement::ShowSeries { on, from, condition, cardinality, exact });
        }
        Err(self.error("DATABASES, MEASUREMENTS, TAG, FIELD, SERIES"))
    }
}

/// Parses one or more `;`-separated statements.
pub fn parse(src: &str) -> Result<Vec<Statement>, ParseError> {
    Ok(parse_with_text(src)?.into_iter().map(|(s, _)| s).collect())
}

/// Parses one or more `;`-separated statements, each with its source text.
pub fn parse_with_text(src: &str) -> Result<Vec<(Statement, String)>, ParseError> {
    let tokens = tokenize(src)?;
    let mut p = Parser { tokens, at: 0, end: src.len() };
    let mut out = Vec::new();
    let position = |p: &Parser| p.tokens.get(p.at).map(|(pos, _)| *pos).unwrap_or(src.len());
    loop {
        while p.op(";") {}
        if p.peek().is_none() {
            break;
        }
        let start = position(&p);
        let stmt = p.statement()?;
        let text = src[start..position(&p)].trim().to_string();
        out.push((stmt, text));
        if p.peek().is_some() && !p.op(";") {
            return Err(p.error(";"));
        }
    }
    if out.is_empty() {
        return Err(ParseError::whole("empty query"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statements() {
        assert_eq!(parse("create database prometheus").unwrap(), vec![Statement::CreateDatabase { name: "prometheus".into(), policy: None }]);
        assert_eq!(
            parse("SHOW DATABASES; show measurements on \"my db\";").unwrap(),
            vec![Statement::ShowDatabases, Statement::ShowMeasurements { on: Some("my db".into()), name: None, limit: 0, offset: 0 }]
        );
        assert_eq!(parse("DROP DATABASE x").unwrap(), vec![Statement::DropDatabase("x".into())]);
        assert_eq!(
            parse("SHOW MEASUREMENTS WITH MEASUREMENT =~ /cpu.*/ LIMIT 10 OFFSET 2").unwrap(),
            vec![Statement::ShowMeasurements { on: None, name: Some(Name::Regex("cpu.*".into())), limit: 10, offset: 2 }]
        );
        assert_eq!(parse("show tag keys from cpu").unwrap(), vec![Statement::ShowTagKeys { on: None, from: Some("cpu".into()) }]);
        assert_eq!(
            parse("SHOW TAG VALUES ON db FROM \"cpu\" WITH KEY = \"host\"").unwrap(),
            vec![Statement::ShowTagValues { on: Some("db".into()), from: Some("cpu".into()), keys: TagKeys::In(vec!["host".into()]) }]
        );
        assert_eq!(
            parse("SHOW TAG VALUES WITH KEY IN (host, \"dc\")").unwrap(),
            vec![Statement::ShowTagValues { on: None, from: None, keys: TagKeys::In(vec!["host".into(), "dc".into()]) }]
        );
        assert_eq!(
            parse("show series cardinality on db").unwrap(),
            vec![Statement::ShowSeries { on: Some("db".into()), from: None, condition: None, cardinality: true, exact: false }]
        );
        assert_eq!(
            parse("SHOW SERIES FROM cpu WHERE host = 'a'").unwrap(),
            vec![Statement::ShowSeries {
                on: None,
                from: Some("cpu".into()),
                condition: Some(Expr::binary("=", Expr::var("host"), Expr::Str("a".into()))),
                cardinality: false,
                exact: false
            }]
        );
        assert_eq!(parse("SHOW FIELD KEYS ON db").unwrap(), vec![Statement::ShowFieldKeys { on: Some("db".into()), from: None }]);
    }

    #[test]
    fn errors_give_position() {
        let e = parse("SHOW FOO").unwrap_err().to_string();
        assert_eq!(e, "found FOO, expected DATABASES, MEASUREMENTS, TAG, FIELD, SERIES at line 1, char 6");
        let texts: Vec<String> = parse_with_text(" SHOW DATABASES ;SELECT value FROM m").unwrap().into_iter().map(|(_, t)| t).collect();
        assert_eq!(texts, vec!["SHOW DATABASES", "SELECT value FROM m"]);
        assert_eq!(parse("SHOW TAG VALUES WITH KEY host").unwrap_err().to_string(), "found host, expected =, =~ or IN at line 1, char 26");
        let e = parse("CREATE DATABASE").unwrap_err().to_string();
        assert_eq!(e, "found EOF, expected identifier at line 1, char 16");
        assert!(parse("SHOW DATABASES x").unwrap_err().to_string().contains("expected ;"));
        assert!(parse("   ").is_err());
        let e = parse("SELEC value FROM up").unwrap_err().to_string();
        assert_eq!(e, "found SELEC, expected SELECT, DELETE, SHOW, CREATE, DROP, EXPLAIN, GRANT, REVOKE, ALTER, SET, KILL at line 1, char 1");
        assert_eq!(parse("KILL QUERY 1").unwrap_err().to_string(), "KILL is not supported by Gemini at line 1, char 1");
    }
}
