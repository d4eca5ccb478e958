//! A recursive-descent parser for the InfluxQL statements Gemini serves: `CREATE DATABASE`,
//! `DROP DATABASE`, `SHOW DATABASES`, `SHOW MEASUREMENTS [ON db]`, `SHOW TAG KEYS [ON db]
//! [FROM m]`, `SHOW TAG VALUES [ON db] [FROM m] WITH KEY = k`, `SHOW FIELD KEYS [ON db] [FROM m]`,
//! `SHOW SERIES [CARDINALITY] [ON db] [FROM m]`.
//! Statements are separated by `;`; keywords are case-insensitive; identifiers may be
//! double-quoted. Errors give the byte position, like InfluxDB's `at line 1, char N`.

#[derive(Debug, PartialEq)]
pub enum Statement {
    CreateDatabase(String),
    DropDatabase(String),
    ShowDatabases,
    ShowMeasurements { on: Option<String> },
    ShowTagKeys { on: Option<String>, from: Option<String> },
    ShowTagValues { on: Option<String>, from: Option<String>, key: String },
    ShowFieldKeys { on: Option<String>, from: Option<String> },
    ShowSeries { on: Option<String>, from: Option<String>, cardinality: bool },
}

#[derive(Debug, PartialEq, Clone)]
enum Token {
    Word(String),
    Quoted(String),
    Semicolon,
    Other(char),
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Result<Option<(usize, Token)>, String> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let mut chars = trimmed.chars();
        let Some(c) = chars.next() else { return Ok(None) };
        if c.is_alphanumeric() || c == '_' {
            let len = trimmed.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(trimmed.len());
            self.pos += len;
            return Ok(Some((start, Token::Word(trimmed[..len].to_string()))));
        }
        if c == '"' {
            let mut out = String::new();
            let mut escaped = false;
            for (i, ch) in trimmed.char_indices().skip(1) {
                match (escaped, ch) {
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        self.pos += i + 1;
                        return Ok(Some((start, Token::Quoted(out))));
                    }
                    _ => {
                        escaped = false;
                        out.push(ch);
                    }
                }
            }
            return Err(format!("found unterminated quoted identifier at char {}", start + 1));
        }
        self.pos += c.len_utf8();
        Ok(Some((start, if c == ';' { Token::Semicolon } else { Token::Other(c) })))
    }
}

struct Parser {
    tokens: Vec<(usize, Token)>,
    at: usize,
    end: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn pos(&self) -> usize {
        self.tokens.get(self.at).map(|(p, _)| *p).unwrap_or(self.end) + 1
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "EOF".into(),
            Some(Token::Word(w)) => w.clone(),
            Some(Token::Quoted(w)) => format!("\"{w}\""),
            Some(Token::Semicolon) => ";".into(),
            Some(Token::Other(c)) => c.to_string(),
        }
    }

    fn error(&self, expected: &str) -> String {
        format!("found {}, expected {expected} at line 1, char {}", self.describe(), self.pos())
    }

    fn keyword(&mut self, kw: &str) -> bool {
        if matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kw: &str) -> Result<(), String> {
        self.keyword(kw).then_some(()).ok_or_else(|| self.error(kw))
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek().cloned() {
            Some(Token::Word(w)) | Some(Token::Quoted(w)) => {
                self.at += 1;
                Ok(w)
            }
            _ => Err(self.error("identifier")),
        }
    }

    /// `KW ident` when the next word is `kw`.
    fn optional(&mut self, kw: &str) -> Result<Option<String>, String> {
        if self.keyword(kw) {
            Ok(Some(self.ident()?))
        } else {
            Ok(None)
        }
    }

    fn statement(&mut self) -> Result<Statement, String> {
        if self.keyword("CREATE") {
            self.expect("DATABASE")?;
            return Ok(Statement::CreateDatabase(self.ident()?));
        }
        if self.keyword("DROP") {
            self.expect("DATABASE")?;
            return Ok(Statement::DropDatabase(self.ident()?));
        }
        if self.keyword("SHOW") {
            if self.keyword("DATABASES") {
                return Ok(Statement::ShowDatabases);
            }
            if self.keyword("MEASUREMENTS") {
                return Ok(Statement::ShowMeasurements { on: self.optional("ON")? });
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
                if self.peek() != Some(&Token::Other('=')) {
                    return Err(self.error("="));
                }
                self.at += 1;
                return Ok(Statement::ShowTagValues { on, from, key: self.ident()? });
            }
            if self.keyword("FIELD") {
                self.expect("KEYS")?;
                let on = self.optional("ON")?;
                return Ok(Statement::ShowFieldKeys { on, from: self.optional("FROM")? });
            }
            if self.keyword("SERIES") {
                let cardinality = self.keyword("CARDINALITY");
                let on = self.optional("ON")?;
                return Ok(Statement::ShowSeries { on, from: self.optional("FROM")?, cardinality });
            }
            return Err(self.error("DATABASES, MEASUREMENTS, TAG, FIELD, SERIES"));
        }
        Err(self.error("CREATE, DROP, SHOW"))
    }
}

/// Parses one or more `;`-separated statements.
pub fn parse(src: &str) -> Result<Vec<Statement>, String> {
    let mut lexer = Lexer { src, pos: 0 };
    let mut tokens = Vec::new();
    while let Some(t) = lexer.next()? {
        tokens.push(t);
    }
    let mut p = Parser { tokens, at: 0, end: src.len() };
    let mut out = Vec::new();
    loop {
        while p.peek() == Some(&Token::Semicolon) {
            p.at += 1;
        }
        if p.peek().is_none() {
            break;
        }
        out.push(p.statement()?);
        match p.peek() {
            None | Some(Token::Semicolon) => {}
            _ => return Err(p.error(";")),
        }
    }
    if out.is_empty() {
        return Err("empty query".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_statements() {
        assert_eq!(parse("create database prometheus").unwrap(), vec![Statement::CreateDatabase("prometheus".into())]);
        assert_eq!(
            parse("SHOW DATABASES; show measurements on \"my db\";").unwrap(),
            vec![Statement::ShowDatabases, Statement::ShowMeasurements { on: Some("my db".into()) }]
        );
        assert_eq!(parse("DROP DATABASE x").unwrap(), vec![Statement::DropDatabase("x".into())]);
        assert_eq!(parse("SHOW MEASUREMENTS").unwrap(), vec![Statement::ShowMeasurements { on: None }]);
        assert_eq!(parse("show tag keys from cpu").unwrap(), vec![Statement::ShowTagKeys { on: None, from: Some("cpu".into()) }]);
        assert_eq!(
            parse("SHOW TAG VALUES ON db FROM \"cpu\" WITH KEY = \"host\"").unwrap(),
            vec![Statement::ShowTagValues { on: Some("db".into()), from: Some("cpu".into()), key: "host".into() }]
        );
        assert_eq!(parse("show series cardinality on db").unwrap(), vec![Statement::ShowSeries { on: Some("db".into()), from: None, cardinality: true }]);
        assert_eq!(parse("SHOW SERIES FROM cpu").unwrap(), vec![Statement::ShowSeries { on: None, from: Some("cpu".into()), cardinality: false }]);
        assert_eq!(parse("SHOW FIELD KEYS ON db").unwrap(), vec![Statement::ShowFieldKeys { on: Some("db".into()), from: None }]);
    }

    #[test]
    fn errors_give_position() {
        let e = parse("SHOW FOO").unwrap_err();
        assert_eq!(e, "found FOO, expected DATABASES, MEASUREMENTS, TAG, FIELD, SERIES at line 1, char 6");
        assert_eq!(parse("SHOW TAG VALUES WITH KEY host").unwrap_err(), "found host, expected = at line 1, char 26");
        let e = parse("CREATE DATABASE").unwrap_err();
        assert_eq!(e, "found EOF, expected identifier at line 1, char 16");
        assert!(parse("SHOW DATABASES x").unwrap_err().contains("expected ;"));
        assert!(parse("   ").is_err());
    }
}
