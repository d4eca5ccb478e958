//! Lexer tests; cases follow Prometheus 2.42 `promql/parser/lex_test.go`.

use super::TokenKind::{self, *};
use std::string::String as Str;
use super::*;
use super::super::ast::AggregateOp;

/// Lexes everything (comments included) up to EOF, which must sit at `input.len()`.
fn lex(input: &str) -> Result<Vec<(TokenKind, usize, Str)>, (usize, Str)> {
    let mut l = Lexer::new(input);
    let mut out = Vec::new();
    loop {
        match l.next_token() {
            Ok(t) if t.kind == Eof => {
                assert_eq!(t.pos, input.len(), "EOF position for {input:?}");
                return Ok(out);
            }
            Ok(t) => out.push((t.kind, t.pos, t.val)),
            Err(e) => return Err((e.pos, e.msg)),
        }
    }
}

fn ok(input: &str, expected: &[(TokenKind, usize, &str)]) {
    let got = lex(input).unwrap_or_else(|e| panic!("{input:?}: unexpected error {e:?}"));
    let exp: Vec<_> = expected.iter().map(|(k, p, v)| (*k, *p, v.to_string())).collect();
    assert_eq!(got, exp, "input {input:?}");
}

fn fails(input: &str) {
    assert!(lex(input).is_err(), "expected a lexing error for {input:?}");
}

fn err(input: &str, pos: usize, msg: &str) {
    assert_eq!(lex(input), Err((pos, msg.to_string())), "input {input:?}");
}

#[test]
fn common() {
    ok(",", &[(Comma, 0, ",")]);
    ok("()", &[(LeftParen, 0, "("), (RightParen, 1, ")")]);
    ok("{}", &[(LeftBrace, 0, "{"), (RightBrace, 1, "}")]);
    ok("[5m]", &[(LeftBracket, 0, "["), (Duration, 1, "5m"), (RightBracket, 3, "]")]);
    ok("[ 5m]", &[(LeftBracket, 0, "["), (Duration, 2, "5m"), (RightBracket, 4, "]")]);
    ok("[  5m ]", &[(LeftBracket, 0, "["), (Duration, 3, "5m"), (RightBracket, 6, "]")]);
    ok("\r\n\r", &[]);
}

#[test]
fn numbers() {
    for n in ["1", "4.23", ".3", "5.", "NaN", "nAN", "iNf", "Inf", "0x123", "1e-7", "1E+5", "0X1f", "1e"] {
        ok(n, &[(Number, 0, n)]);
    }
    ok("NaN 123", &[(Number, 0, "NaN"), (Number, 4, "123")]);
    ok("NaN123", &[(Identifier, 0, "NaN123")]);
    ok("+Inf", &[(Add, 0, "+"), (Number, 1, "Inf")]);
    ok("+Inf 123", &[(Add, 0, "+"), (Number, 1, "Inf"), (Number, 5, "123")]);
    ok("-Inf", &[(Sub, 0, "-"), (Number, 1, "Inf")]);
    ok("Infoo", &[(Identifier, 0, "Infoo")]);
    ok("-Infoo", &[(Sub, 0, "-"), (Identifier, 1, "Infoo")]);
    ok("100..4", &[(Number, 0, "100."), (Number, 4, ".4")]);
    err("2.5.", 3, "unexpected character: '.'");
    err("0deadbeef", 0, "bad number or duration syntax: \"0de\"");
    err("1a", 0, "bad number or duration syntax: \"1\"");
    err(".٩", 0, "unexpected character: '.'");
}

#[test]
fn strings() {
    ok("\"test\\tsequence\"", &[(String, 0, "\"test\\tsequence\"")]);
    ok("\"test\\\\.expression\"", &[(String, 0, "\"test\\\\.expression\"")]);
    err("\"test\\.expression\"", 0, "unknown escape sequence U+002E '.'");
    ok("`test\\.expression`", &[(String, 0, "`test\\.expression`")]);
    ok(r#"'a\'b' "\x41\101\u00e9\U0001F600""#, &[(String, 0, r"'a\'b'"), (String, 7, r#""\x41\101\u00e9\U0001F600""#)]);
    err(r#""\'""#, 0, "unknown escape sequence U+0027 '''");
    err(r#""\x.""#, 0, "illegal character U+002E '.' in escape sequence");
    err(r#""\"#, 0, "escape sequence not terminated");
    err(r#""\400""#, 0, "escape sequence is an invalid Unicode code point");
    err(r#""\ud800""#, 0, "escape sequence is an invalid Unicode code point");
    err(r#""\U00110000""#, 0, "escape sequence is an invalid Unicode code point");
    err("x \"abc\ndef\"", 2, "unterminated quoted string");
    err("'abc", 0, "unterminated quoted string");
    err("`\\``", 3, "unterminated raw string");
    err("\"\u{fffd}\"", 0, "invalid UTF-8 rune");
    err("`\u{fffd}`", 0, "invalid UTF-8 rune");
}

#[test]
fn durations() {
    for d in ["5s", "123m", "1h", "3w", "1y", "1h30m", "250ms", "1y2w3d4h5m6s7ms"] {
        ok(d, &[(Duration, 0, d)]);
    }
    ok("[5m:1m]", &[(LeftBracket, 0, "["), (Duration, 1, "5m"), (Colon, 3, ":"), (Duration, 4, "1m"), (RightBracket, 6, "]")]);
    err("foo[5mm]", 4, "bad duration syntax: \"5mm\"");
    err("foo[5m1]", 4, "bad duration syntax: \"5m1\"");
    err("foo[5m:1m1]", 7, "bad number or duration syntax: \"1m1\"");
    err("foo[]", 4, "missing unit character in duration");
    err("foo[1]", 4, "missing unit character in duration");
    err("foo[5m:m]", 7, "unexpected colon 'm'");
    // A letter inside brackets is lexed as a colon, as in Go.
    ok("[5m x]", &[(LeftBracket, 0, "["), (Duration, 1, "5m"), (Colon, 4, "x"), (RightBracket, 5, "]")]);
}

#[test]
fn identifiers_and_keywords() {
    ok("abc", &[(Identifier, 0, "abc")]);
    ok("a:bc", &[(MetricIdentifier, 0, "a:bc")]);
    ok("abc d", &[(Identifier, 0, "abc"), (Identifier, 4, "d")]);
    ok(":bc", &[(MetricIdentifier, 0, ":bc")]);
    fails("0a:bc");
    for (w, k) in [
        ("offset", Offset), ("by", By), ("without", Without), ("on", On), ("ignoring", Ignoring),
        ("group_left", GroupLeft), ("group_right", GroupRight), ("bool", Bool), ("atan2", Atan2),
        ("start", Start), ("end", End), ("AND", Land), ("or", Lor), ("unless", Lunless),
    ] {
        ok(w, &[(k, 0, w)]);
    }
    for (w, op) in [
        ("sum", AggregateOp::Sum), ("AVG", AggregateOp::Avg), ("GROUP", AggregateOp::Group),
        ("MAX", AggregateOp::Max), ("min", AggregateOp::Min), ("count", AggregateOp::Count),
        ("stdvar", AggregateOp::Stdvar), ("stddev", AggregateOp::Stddev),
        ("count_values", AggregateOp::CountValues), ("Quantile", AggregateOp::Quantile),
    ] {
        ok(w, &[(Aggregator(op), 0, w)]);
    }
    ok("sum:x", &[(MetricIdentifier, 0, "sum:x")]);
}

#[test]
fn comments() {
    ok("# some comment", &[(Comment, 0, "# some comment")]);
    ok("5 # 1+1\n5", &[(Number, 0, "5"), (Comment, 2, "# 1+1"), (Number, 8, "5")]);
    ok("{a=\"b\" # c\n}", &[
        (LeftBrace, 0, "{"), (Identifier, 1, "a"), (Eql, 2, "="), (String, 3, "\"b\""),
        (Comment, 7, "# c"), (RightBrace, 11, "}"),
    ]);
}

#[test]
fn operators() {
    for (s, k) in [
        ("=", Eql), ("==", Eqlc), ("!=", Neq), ("<", Lss), (">", Gtr), (">=", Gte), ("<=", Lte),
        ("+", Add), ("-", Sub), ("*", Mul), ("/", Div), ("^", Pow), ("%", Mod), ("@", At),
    ] {
        ok(s, &[(k, 0, s)]);
    }
    ok("{=}", &[(LeftBrace, 0, "{"), (Eql, 1, "="), (RightBrace, 2, "}")]);
    err("=~", 0, "unexpected character after '=': '~'");
    err("!~", 0, "unexpected character after '!': '~'");
    err("!(", 0, "unexpected character after '!': '('");
    err("1 !", 2, "unexpected character after '!': '\u{fffd}'");
}

#[test]
fn selectors() {
    fails("台北");
    fails("{台北='a'}");
    fails("{0a='a'}");
    ok("{foo='bar'}", &[(LeftBrace, 0, "{"), (Identifier, 1, "foo"), (Eql, 4, "="), (String, 5, "'bar'"), (RightBrace, 10, "}")]);
    ok(r#"{foo="bar\"bar"}"#, &[(LeftBrace, 0, "{"), (Identifier, 1, "foo"), (Eql, 4, "="), (String, 5, r#""bar\"bar""#), (RightBrace, 15, "}")]);
    ok("{NaN\t!= \"bar\" }", &[(LeftBrace, 0, "{"), (Identifier, 1, "NaN"), (Neq, 5, "!="), (String, 8, "\"bar\""), (RightBrace, 14, "}")]);
    ok(r#"{alert=~"bar" }"#, &[(LeftBrace, 0, "{"), (Identifier, 1, "alert"), (EqlRegex, 6, "=~"), (String, 8, "\"bar\""), (RightBrace, 14, "}")]);
    ok(r#"{on!~"bar"}"#, &[(LeftBrace, 0, "{"), (Identifier, 1, "on"), (NeqRegex, 3, "!~"), (String, 5, "\"bar\""), (RightBrace, 10, "}")]);
    err(r#"{alert!#"bar"}"#, 6, "unexpected character after '!' inside braces: '#'");
    err(r#"{foo:a="bar"}"#, 4, "unexpected character inside braces: ':'");
    err("{1}", 1, "unexpected character inside braces: '1'");
}

#[test]
fn mismatched_parentheses() {
    err("(", 1, "unclosed left parenthesis");
    err("())", 3, "unexpected right parenthesis ')'");
    err("(()", 3, "unclosed left parenthesis");
    err("{", 1, "unexpected end of input inside braces");
    err("}", 0, "unexpected character: '}'");
    err("{{", 1, "unexpected left brace '{'");
    fails("{{}}");
    err("[", 1, "missing unit character in duration");
    fails("[[");
    fails("[]]");
    fails("[[]]");
    err("]", 0, "unexpected right bracket ']'");
    err("foo[5m", 6, "unclosed left bracket");
    err("foo[5m][", 8, "missing unit character in duration");
}

#[test]
fn subqueries() {
    ok("test_name{on!~\"bar\"}[4m:4s]", &[
        (Identifier, 0, "test_name"), (LeftBrace, 9, "{"), (Identifier, 10, "on"), (NeqRegex, 12, "!~"),
        (String, 14, "\"bar\""), (RightBrace, 19, "}"), (LeftBracket, 20, "["), (Duration, 21, "4m"),
        (Colon, 23, ":"), (Duration, 24, "4s"), (RightBracket, 26, "]"),
    ]);
    ok("test:name{on!~\"b:ar\"}[4m:]", &[
        (MetricIdentifier, 0, "test:name"), (LeftBrace, 9, "{"), (Identifier, 10, "on"), (NeqRegex, 12, "!~"),
        (String, 14, "\"b:ar\""), (RightBrace, 20, "}"), (LeftBracket, 21, "["), (Duration, 22, "4m"),
        (Colon, 24, ":"), (RightBracket, 25, "]"),
    ]);
    ok("min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 6m)[4m:3s]", &[
        (Identifier, 0, "min_over_time"), (LeftParen, 13, "("), (Identifier, 14, "rate"), (LeftParen, 18, "("),
        (Identifier, 19, "foo"), (LeftBrace, 22, "{"), (Identifier, 23, "bar"), (Eql, 26, "="),
        (String, 27, "\"baz\""), (RightBrace, 32, "}"), (LeftBracket, 33, "["), (Duration, 34, "2s"),
        (RightBracket, 36, "]"), (RightParen, 37, ")"), (LeftBracket, 38, "["), (Duration, 39, "5m"),
        (Colon, 41, ":"), (RightBracket, 42, "]"), (Offset, 44, "offset"), (Duration, 51, "6m"),
        (RightParen, 53, ")"), (LeftBracket, 54, "["), (Duration, 55, "4m"), (Colon, 57, ":"),
        (Duration, 58, "3s"), (RightBracket, 60, "]"),
    ]);
    ok("test:name[ 5m]", &[(MetricIdentifier, 0, "test:name"), (LeftBracket, 9, "["), (Duration, 11, "5m"), (RightBracket, 13, "]")]);
    fails("test:name{o:n!~\"bar\"}[4m:4s]");
    err("test:name{on!~\"bar\"}[4m:4s:4h]", 26, "unexpected colon ':'");
    fails("test:name{on!~\"bar\"}[4m:4s:]");
    fails("test:name{on!~\"bar\"}[4m::]");
    err("test:name{on!~\"bar\"}[:4s]", 21, "missing unit character in duration");
}

#[test]
fn token_descriptions() {
    let t = |kind, val: &str| Token { kind, pos: 0, val: val.into() };
    assert_eq!(t(Eof, "").desc(), "end of input");
    assert_eq!(t(Identifier, "foo").desc(), "identifier \"foo\"");
    assert_eq!(t(MetricIdentifier, "a:b").desc(), "metric identifier \"a:b\"");
    assert_eq!(t(Number, "1").desc(), "number \"1\"");
    assert_eq!(t(Duration, "5m").desc(), "duration \"5m\"");
    assert_eq!(t(String, "\"abcdefghijklmnop\"").desc(), r#"string "\"abcdefghi"..."#);
    assert_eq!(t(By, "BY").desc(), "<BY>");
    assert_eq!(t(Mul, "*").desc(), "<op:*>");
    assert_eq!(t(Land, "and").desc(), "<op:and>");
    assert_eq!(t(At, "@").desc(), "\"<Item 57385>\" <op:@>");
    assert_eq!(t(Aggregator(AggregateOp::Sum), "Sum").desc(), "<aggr:Sum>");
    assert_eq!(t(LeftParen, "(").desc(), "\"(\"");
    assert_eq!(t(Start, "start").desc(), "\"start\"");
    assert_eq!(t(Colon, "x").desc(), "\"x\"");
}
