//! The InfluxQL scanner: bare and double-quoted identifiers, single-quoted strings, numbers,
//! duration literals (`90s`, `1h30m`, in nanoseconds), regular expressions (`/re/`, only
//! where InfluxQL allows one: after `=~`, `!~`, `FROM`, a comma or `db..`) and operators. Every
//! token carries its byte offset for error messages.

#[derive(Debug, PartialEq, Clone)]
pub enum Token {
    Word(String),
    QuotedIdent(String),
    Str(String),
    Number(f64),
    Integer(i64),
    /// Nanoseconds.
    Duration(i64),
    Regex(String),
    Op(&'static str),
}

impl Token {
    /// The token as the user wrote it, for "found …" in errors.
    pub fn describe(&self) -> String {
        match self {
            Token::Word(w) => w.clone(),
            Token::QuotedIdent(w) => format!("\"{w}\""),
            Token::Str(s) => format!("'{s}'"),
            Token::Number(n) => n.to_string(),
            Token::Integer(n) => n.to_string(),
            Token::Duration(ns) => format!("{ns}ns"),
            Token::Regex(r) => format!("/{r}/"),
            Token::Op(op) => op.to_string(),
        }
    }
}

const OPERATORS: [&str; 17] = ["!=", "<>", "<=", ">=", "=~", "!~", "::", "=", "<", ">", "+", "-", "*", "/", ",", "(", ")"];

use super::error::ParseError;
use crate::model::unit_nanos;

fn error(msg: &str, at: usize) -> ParseError {
    ParseError::at(msg, at + 1)
}

/// Reads a quoted run after the opening `quote`: returns the unescaped text and the byte
/// length consumed including both quotes. `\quote` and `\\` are escapes; other backslashes
/// are kept (regular expressions need them).
fn quoted(src: &str, quote: char) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = src.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Some((out, i + 1));
        }
        if c == '\\' {
            match chars.next() {
                Some((_, n)) if n == quote || (n == '\\' && quote != '/') => out.push(n),
                Some((_, n)) => {
                    out.push('\\');
                    out.push(n);
                }
                None => return None,
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn regex_allowed(prev: Option<&Token>) -> bool {
    match prev {
        Some(Token::Op(op)) => matches!(*op, "=~" | "!~" | "," | "."),
        Some(Token::Word(w)) => w.eq_ignore_ascii_case("FROM"),
        _ => false,
    }
}

fn float(text: &str, at: usize) -> Result<f64, ParseError> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(error("number out of range", at)),
    }
}

/// A number, or a duration when a unit follows the integer (`1h30m` adds up).
fn number(src: &str, at: usize) -> Result<(Token, usize), ParseError> {
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut len = digits(src);
    let unit_len = |s: &str| s.find(|c: char| !(c.is_alphabetic())).unwrap_or(s.len());
    if src[len..].starts_with('.') && digits(&src[len + 1..]) > 0 {
        len += 1 + digits(&src[len + 1..]);
        return Ok((Token::Number(float(&src[..len], at)?), len));
    }
    if unit_len(&src[len..]) == 0 {
        return match src[..len].parse::<i64>() {
            Ok(n) => Ok((Token::Integer(n), len)),
            Err(_) => Ok((Token::Number(float(&src[..len], at)?), len)),
        };
    }
    let (mut total, mut pos) = (0i64, 0);
    while pos < src.len() && digits(&src[pos..]) > 0 {
        let n_len = digits(&src[pos..]);
        let u_len = unit_len(&src[pos + n_len..]);
        let unit = &src[pos + n_len..pos + n_len + u_len];
        let nanos = unit_nanos(unit).ok_or_else(|| error(&format!("invalid duration unit {unit:?}"), at + pos + n_len))?;
        let n: i64 = src[pos..pos + n_len].parse().map_err(|_| error("duration out of range", at))?;
        total = n.checked_mul(nanos).and_then(|d| total.checked_add(d)).ok_or_else(|| error("duration out of range", at))?;
        pos += n_len + u_len;
        if u_len == 0 {
            return Err(error("duration needs a unit after every number", at + pos));
        }
    }
    Ok((Token::Duration(total), pos))
}

/// Splits `src` into tokens with their byte offsets.
pub fn tokenize(src: &str) -> Result<Vec<(usize, Token)>, ParseError> {
    let mut out: Vec<(usize, Token)> = Vec::new();
    let mut pos = 0;
    loop {
        let rest = &src[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        let Some(c) = trimmed.chars().next() else { return Ok(out) };
        if trimmed.starts_with("--") {
            pos += trimmed.find('\n').unwrap_or(trimmed.len());
            continue;
        }
        let (token, len) = if c.is_alphabetic() || c == '_' {
            let len = trimmed.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(trimmed.len());
            (Token::Word(trimmed[..len].to_string()), len)
        } else if c.is_ascii_digit() || (c == '.' && trimmed[1..].starts_with(|c: char| c.is_ascii_digit())) {
            number(trimmed, pos)?
        } else if c == '"' {
            let (text, len) = quoted(trimmed, '"').ok_or_else(|| error("found unterminated quoted identifier", pos))?;
            (Token::QuotedIdent(text), len)
        } else if c == '\'' {
            let (text, len) = quoted(trimmed, '\'').ok_or_else(|| error("found unterminated string", pos))?;
            (Token::Str(text), len)
        } else if c == '/' && regex_allowed(out.last().map(|(_, t)| t)) {
            let (text, len) = quoted(trimmed, '/').ok_or_else(|| error("found unterminated regex", pos))?;
            (Token::Regex(text), len)
        } else if c == ';' {
            (Token::Op(";"), 1)
        } else if c == '.' {
            (Token::Op("."), 1)
        } else {
            let op = OPERATORS.iter().find(|op| trimmed.starts_with(*op)).ok_or_else(|| error(&format!("unexpected character {c:?}"), pos))?;
            (Token::Op(op), op.len())
        };
        out.push((pos, token));
        pos += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Token> {
        tokenize(src).unwrap().into_iter().map(|(_, t)| t).collect()
    }

    #[test]
    fn scans_every_kind() {
        assert_eq!(
            kinds("SELECT \"a b\" FROM /cp\\/u/ WHERE host =~ /^a$/ AND t = 'it\\'s' -- comment"),
            vec![
                Token::Word("SELECT".into()),
                Token::QuotedIdent("a b".into()),
                Token::Word("FROM".into()),
                Token::Regex("cp/u".into()),
                Token::Word("WHERE".into()),
                Token::Word("host".into()),
                Token::Op("=~"),
                Token::Regex("^a$".into()),
                Token::Word("AND".into()),
                Token::Word("t".into()),
                Token::Op("="),
                Token::Str("it's".into()),
            ]
        );
        assert_eq!(kinds("1h30m 5 2.5 10ms 3u"), vec![Token::Duration(5_400_000_000_000), Token::Integer(5), Token::Number(2.5), Token::Duration(10_000_000), Token::Duration(3_000)]);
        assert_eq!(kinds("a<=b!=c<>d::field"), vec![
            Token::Word("a".into()), Token::Op("<="), Token::Word("b".into()), Token::Op("!="),
            Token::Word("c".into()), Token::Op("<>"), Token::Word("d".into()), Token::Op("::"), Token::Word("field".into()),
        ]);
        assert_eq!(kinds("x =~ /a\\d+/"), vec![Token::Word("x".into()), Token::Op("=~"), Token::Regex("a\\d+".into())]);
    }

    #[test]
    fn errors_name_the_position() {
        assert_eq!(tokenize("SELECT 'abc").unwrap_err().to_string(), "found unterminated string at line 1, char 8");
        assert_eq!(tokenize("time > 5x").unwrap_err().to_string(), "invalid duration unit \"x\" at line 1, char 9");
        assert_eq!(tokenize("a =~ /x").unwrap_err().to_string(), "found unterminated regex at line 1, char 6");
        assert!(tokenize("a # b").unwrap_err().to_string().contains("char 3"));
    }
}
