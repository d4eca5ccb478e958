//! Parsing `SELECT fields FROM sources [WHERE cond] [GROUP BY time(i[, offset]), tags | *]
//! [fill(…)] [ORDER BY time [ASC|DESC]] [LIMIT n] [OFFSET n] [SLIMIT n] [SOFFSET n]` and
//! the expressions of `WHERE` (precedence: OR < AND < comparison < + -).

use super::ast::{Expr, Fill, Interval, Name, Select, SelectField, Source};
use super::error::ParseError;
use super::influxql::Parser;
use super::lexer::Token;

const COMPARISONS: [&str; 9] = ["=", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"];

impl Parser {
    pub fn select(&mut self) -> Result<Select, ParseError> {
        let mut fields = vec![self.select_field()?];
        while self.op(",") {
            fields.push(self.select_field()?);
        }
        self.expect("FROM")?;
        let mut sources = vec![self.source()?];
        while self.op(",") {
            sources.push(self.source()?);
        }
        let condition = if self.keyword("WHERE") { Some(self.expr()?) } else { None };
        let mut select = Select {
            fields,
            sources,
            condition,
            interval: None,
            group_by: Vec::new(),
            group_by_all: false,
            fill: Fill::Null,
            descending: false,
            limit: 0,
            offset: 0,
            slimit: 0,
            soffset: 0,
        };
        if self.keyword("GROUP") {
            self.expect("BY")?;
            loop {
                self.dimension(&mut select)?;
                if !self.op(",") {
                    break;
                }
            }
        }
        if self.keyword("FILL") {
            select.fill = self.fill()?;
        }
        if self.keyword("ORDER") {
            self.expect("BY")?;
            self.expect("time")?;
            select.descending = self.keyword("DESC");
            if !select.descending {
                self.keyword("ASC");
            }
        }
        for (kw, slot) in [("LIMIT", &mut select.limit), ("OFFSET", &mut select.offset), ("SLIMIT", &mut select.slimit), ("SOFFSET", &mut select.soffset)] {
            if self.keyword(kw) {
                *slot = self.unsigned()?;
            }
        }
        Ok(select)
    }

    fn select_field(&mut self) -> Result<SelectField, ParseError> {
        let expr = if self.op("*") { Expr::Wildcard } else { self.additive()? };
        let alias = if self.keyword("AS") { Some(self.ident()?) } else { None };
        Ok(SelectField { expr, alias })
    }

    /// `m`, `rp.m`, `db.rp.m` or `db..m`, where `m` may be a regex.
    fn source(&mut self) -> Result<Source, ParseError> {
        let mut parts: Vec<Option<Name>> = Vec::new();
        loop {
            let part = match self.peek().cloned() {
                Some(Token::Regex(re)) => {
                    self.advance();
                    Some(Name::Regex(re))
                }
                Some(Token::Word(_)) | Some(Token::QuotedIdent(_)) => Some(Name::Exact(self.ident()?)),
                Some(Token::Op(".")) if !parts.is_empty() => None,
                _ => return Err(self.error("identifier or regex")),
            };
            parts.push(part);
            if parts.len() == 3 || !self.op(".") {
                break;
            }
        }
        let exact = |p: Option<Name>| match p {
            Some(Name::Exact(s)) => Ok(Some(s)),
            None => Ok(None),
            Some(Name::Regex(_)) => Err(ParseError::whole("a database or retention policy name cannot be a regex")),
        };
        let name = parts.pop().flatten().ok_or_else(|| self.error("measurement"))?;
        let rp = parts.pop().map(exact).transpose()?.flatten();
        let db = parts.pop().map(exact).transpose()?.flatten();
        Ok(Source { db, rp, name })
    }

    fn dimension(&mut self, select: &mut Select) -> Result<(), ParseError> {
        if self.op("*") {
            select.group_by_all = true;
            return Ok(());
        }
        if self.peek_keyword("time") && matches!(self.tokens_after(1), Some(Token::Op("("))) {
            self.advance();
            self.advance();
            let every = self.duration()?;
            if every <= 0 {
                return Err(ParseError::whole("GROUP BY time interval must be positive"));
            }
            let offset = if self.op(",") { self.duration()? } else { 0 };
            self.expect_op(")")?;
            if select.interval.replace(Interval { every, offset }).is_some() {
                return Err(ParseError::whole("multiple time dimensions not allowed"));
            }
            return Ok(());
        }
        select.group_by.push(self.ident()?);
        Ok(())
    }

    fn duration(&mut self) -> Result<i64, ParseError> {
        let negative = self.op("-");
        match self.peek() {
            Some(Token::Duration(d)) => {
                let d = *d;
                self.advance();
                Ok(if negative { -d } else { d })
            }
            _ => Err(self.error("duration")),
        }
    }

    fn fill(&mut self) -> Result<Fill, ParseError> {
        self.expect_op("(")?;
        let fill = if self.keyword("null") {
            Fill::Null
        } else if self.keyword("none") {
            Fill::None
        } else if self.keyword("previous") {
            Fill::Previous
        } else if self.keyword("linear") {
            Fill::Linear
        } else {
            let negative = self.op("-");
            let value = match self.advance() {
                Some(Token::Integer(n)) => n as f64,
                Some(Token::Number(n)) => n,
                _ => {
                    self.at -= 1;
                    return Err(self.error("null, none, previous, linear or a number"));
                }
            };
            Fill::Value(if negative { -value } else { value })
        };
        self.expect_op(")")?;
        Ok(fill)
    }

    /// A full condition: `OR` binds loosest.
    pub fn expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.and_expr()?;
        while self.keyword("OR") {
            lhs = Expr::binary("OR", lhs, self.and_expr()?);
        }
        Ok(lhs)
    }

    fn and_expr(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.comparison()?;
        while self.keyword("AND") {
            lhs = Expr::binary("AND", lhs, self.comparison()?);
        }
        Ok(lhs)
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let lhs = self.additive()?;
        let Some(Token::Op(op)) = self.peek().cloned() else { return Ok(lhs) };
        let Some(op) = COMPARISONS.iter().find(|c| **c == op) else { return Ok(lhs) };
        self.advance();
        let op = if *op == "<>" { "!=" } else { op };
        Ok(Expr::binary(op, lhs, self.additive()?))
    }

    fn additive(&mut self) -> Result<Expr, ParseError> {
        let mut lhs = self.unary()?;
        loop {
            let op = if self.op("+") {
                "+"
            } else if self.op("-") {
                "-"
            } else {
                return Ok(lhs);
            };
            lhs = Expr::binary(op, lhs, self.unary()?);
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.op("-") {
            return match self.advance() {
                Some(Token::Integer(n)) => Ok(Expr::Integer(-n)),
                Some(Token::Number(n)) => Ok(Expr::Number(-n)),
                Some(Token::Duration(d)) => Ok(Expr::Duration(-d)),
                _ => {
                    self.at -= 1;
                    Err(self.error("number or duration"))
                }
            };
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        let expected = "identifier, string, number, bool";
        match self.peek().cloned() {
            Some(Token::Op("(")) => {
                self.advance();
                let e = self.expr()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Some(literal @ (Token::Str(_) | Token::Integer(_) | Token::Number(_) | Token::Duration(_) | Token::Regex(_))) => {
                self.advance();
                Ok(match literal {
                    Token::Str(s) => Expr::Str(s),
                    Token::Integer(n) => Expr::Integer(n),
                    Token::Number(n) => Expr::Number(n),
                    Token::Duration(d) => Expr::Duration(d),
                    Token::Regex(r) => Expr::Regex(r),
                    _ => unreachable!("matched above"),
                })
            }
            Some(Token::Word(w)) if ["FROM", "WHERE", "GROUP", "AND", "OR", "AS", "LIMIT"].iter().any(|k| w.eq_ignore_ascii_case(k)) => Err(self.error(expected)),
            Some(Token::Word(w)) if matches!(self.tokens_after(1), Some(Token::Op("("))) => {
                self.advance();
                self.advance();
                let mut args = Vec::new();
                if !self.op(")") {
                    loop {
                        args.push(if self.op("*") { Expr::Wildcard } else { self.expr()? });
                        if self.op(")") {
                            break;
                        }
                        self.expect_op(",")?;
                    }
                }
                if w.eq_ignore_ascii_case("now") {
                    return if args.is_empty() { Ok(Expr::Now) } else { Err(ParseError::whole("now() takes no arguments")) };
                }
                Ok(Expr::Call { name: w.to_ascii_lowercase(), args })
            }
            Some(Token::Word(_)) | Some(Token::QuotedIdent(_)) => {
                let name = self.ident()?;
                let hint = if self.op("::") { Some(self.ident()?.to_ascii_lowercase()) } else { None };
                Ok(Expr::Var { name, hint })
            }
            _ => Err(self.error(expected)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::influxql::{parse, Statement};
    use super::*;

    fn select(q: &str) -> Select {
        match parse(q).unwrap().pop().unwrap() {
            Statement::Select(s) => *s,
            other => panic!("not a select: {other:?}"),
        }
    }

    #[test]
    fn parses_a_grafana_query() {
        let s = select("SELECT mean(\"value\") AS m FROM \"db\".\"autogen\".\"cpu\" WHERE (\"host\" =~ /^a$/) AND time >= 1600000000000ms and time <= now() - 5m GROUP BY time(1m, 30s), \"host\" fill(linear) ORDER BY time DESC LIMIT 10 SLIMIT 2");
        assert_eq!(s.fields, vec![SelectField { expr: Expr::Call { name: "mean".into(), args: vec![Expr::var("value")] }, alias: Some("m".into()) }]);
        assert_eq!(s.sources, vec![Source { db: Some("db".into()), rp: Some("autogen".into()), name: Name::Exact("cpu".into()) }]);
        let host = Expr::binary("=~", Expr::var("host"), Expr::Regex("^a$".into()));
        let lower = Expr::binary(">=", Expr::var("time"), Expr::Duration(1_600_000_000_000_000_000));
        let upper = Expr::binary("<=", Expr::var("time"), Expr::binary("-", Expr::Now, Expr::Duration(300_000_000_000)));
        assert_eq!(s.condition, Some(Expr::binary("AND", Expr::binary("AND", host, lower), upper)));
        assert_eq!(s.interval, Some(Interval { every: 60_000_000_000, offset: 30_000_000_000 }));
        assert_eq!(s.group_by, vec!["host".to_string()]);
        assert_eq!((s.fill, s.descending, s.limit, s.slimit), (Fill::Linear, true, 10, 2));
    }

    #[test]
    fn parses_sources_fields_and_precedence() {
        let s = select("select *, percentile(value, 95), value::field from /cp.*/, db..mem where a = 'x' or b != 'y' and c <> 'z' group by * fill(-1)");
        assert_eq!(s.fields[0].expr, Expr::Wildcard);
        assert_eq!(s.fields[1].expr, Expr::Call { name: "percentile".into(), args: vec![Expr::var("value"), Expr::Integer(95)] });
        assert_eq!(s.fields[2].expr, Expr::Var { name: "value".into(), hint: Some("field".into()) });
        assert_eq!(s.sources[0].name, Name::Regex("cp.*".into()));
        assert_eq!(s.sources[1], Source { db: Some("db".into()), rp: None, name: Name::Exact("mem".into()) });
        let a = Expr::binary("=", Expr::var("a"), Expr::Str("x".into()));
        let b = Expr::binary("!=", Expr::var("b"), Expr::Str("y".into()));
        let c = Expr::binary("!=", Expr::var("c"), Expr::Str("z".into()));
        assert_eq!(s.condition, Some(Expr::binary("OR", a, Expr::binary("AND", b, c))));
        assert!(s.group_by_all);
        assert_eq!(s.fill, Fill::Value(-1.0));
    }

    #[test]
    fn rejects_bad_selects() {
        for (q, err) in [
            ("SELECT FROM cpu", "found FROM, expected identifier, string, number, bool at line 1, char 8"),
            ("SELECT value cpu", "found cpu, expected FROM at line 1, char 14"),
            ("SELECT value FROM", "found EOF, expected identifier or regex at line 1, char 18"),
            ("SELECT mean(value FROM cpu", "found FROM, expected , at line 1, char 19"),
            ("SELECT value FROM cpu GROUP BY time(0s)", "GROUP BY time interval must be positive"),
            ("SELECT value FROM cpu fill(sometimes)", "found sometimes, expected null, none, previous, linear or a number at line 1, char 28"),
            ("SELECT value FROM cpu LIMIT -1", "found -, expected integer at line 1, char 29"),
            ("SELECT value FROM cpu ORDER BY host", "found host, expected time at line 1, char 32"),
        ] {
            assert_eq!(parse(q).unwrap_err().to_string(), err, "{q}");
        }
    }
}
