//! Parsing the statements that delete data: `DROP MEASUREMENT m`, `DROP SERIES [FROM m | /re/]
//! [WHERE tag conditions]` and `DELETE [FROM m | /re/] [WHERE tag conditions and time bounds]`.
//! `DROP SERIES` and `DELETE` need a `FROM` or a `WHERE`, as in InfluxDB.

use super::ast::{Expr, Name};
use super::influxql::{Parser, Statement};
use super::error::ParseError;
use super::lexer::Token;

#[derive(Debug, PartialEq)]
pub enum DeleteStatement {
    DropMeasurement(String),
    /// Whole series, with all their data.
    DropSeries { from: Option<Name>, condition: Option<Expr> },
    /// The points of the matching series inside the condition's time bounds (all of them
    /// without one); a series left without points goes too.
    Delete { from: Option<Name>, condition: Option<Expr> },
}

impl Parser {
    fn measurement_name(&mut self) -> Result<Name, ParseError> {
        match self.peek() {
            Some(Token::Regex(re)) => {
                let re = re.clone();
                self.at += 1;
                Ok(Name::Regex(re))
            }
            _ => Ok(Name::Exact(self.ident()?)),
        }
    }

    /// `[FROM m | /re/] [WHERE cond]`, at least one of them.
    fn from_where(&mut self) -> Result<(Option<Name>, Option<Expr>), ParseError> {
        let from = if self.keyword("FROM") { Some(self.measurement_name()?) } else { None };
        let condition = if self.keyword("WHERE") { Some(self.expr()?) } else { None };
        if from.is_none() && condition.is_none() {
            return Err(self.error("FROM, WHERE"));
        }
        Ok((from, condition))
    }

    /// The deleting statements that start with `kw` (already read), or None.
    pub fn delete_statement(&mut self, kw: &str) -> Result<Option<Statement>, ParseError> {
        let stmt = match kw {
            "DROP" if self.keyword("MEASUREMENT") => DeleteStatement::DropMeasurement(self.ident()?),
            "DROP" if self.keyword("SERIES") => {
                let (from, condition) = self.from_where()?;
                DeleteStatement::DropSeries { from, condition }
            }
            "DELETE" => {
                let (from, condition) = self.from_where()?;
                DeleteStatement::Delete { from, condition }
            }
            _ => return Ok(None),
        };
        Ok(Some(Statement::Delete(stmt)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::influxql::parse;
    use super::*;

    #[test]
    fn parses_deleting_statements() {
        let one = |q: &str| parse(q).unwrap().pop().unwrap();
        assert_eq!(one("DROP MEASUREMENT cpu"), Statement::Delete(DeleteStatement::DropMeasurement("cpu".into())));
        assert_eq!(
            one("drop series from /c.*/ where host = 'a'"),
            Statement::Delete(DeleteStatement::DropSeries {
                from: Some(Name::Regex("c.*".into())),
                condition: Some(Expr::binary("=", Expr::var("host"), Expr::Str("a".into())))
            })
        );
        assert_eq!(one("DELETE FROM cpu"), Statement::Delete(DeleteStatement::Delete { from: Some(Name::Exact("cpu".into())), condition: None }));
        assert_eq!(parse("DROP SERIES").unwrap_err().to_string(), "found EOF, expected FROM, WHERE at line 1, char 12");
        assert_eq!(parse("DELETE").unwrap_err().to_string(), "found EOF, expected FROM, WHERE at line 1, char 7");
    }
}
