//! PromQL lexer, a faithful port of Prometheus 2.42 `promql/parser/lex.go`
//! (expression mode only; the series-description mode of the test language is
//! left out). Tokens carry their byte position and raw text; lexing errors
//! carry the position and the exact message Prometheus produces.

use super::ast::AggregateOp;
use super::gofmt::{quote, quote_rune, quote_trunc, sharp_u};

/// Token types (Go `ItemType`), in Prometheus' groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Eof, Comment, Identifier, MetricIdentifier, Number, Duration, String,
    LeftParen, RightParen, LeftBrace, RightBrace, LeftBracket, RightBracket, Comma,
    /// `=`
    Eql,
    /// `:` inside brackets (any letter there is lexed as a colon too, as in Go).
    Colon,
    // Operators; `Eqlc` is `==`.
    Add, Sub, Mul, Div, Mod, Pow, Eqlc, Neq, Lte, Lss, Gte, Gtr, EqlRegex, NeqRegex,
    Land, Lor, Lunless, Atan2, At,
    Aggregator(AggregateOp),
    // Keywords.
    Bool, By, GroupLeft, GroupRight, Ignoring, Offset, On, Without,
    // `@` preprocessors.
    Start, End,
}

/// A lexed token: kind, byte offset of its first character, raw text.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub kind: TokenKind,
    pub pos: usize,
    pub val: String,
}

/// A lexing error at byte offset `pos`.
#[derive(Debug, Clone, PartialEq)]
pub struct LexError {
    pub pos: usize,
    pub msg: String,
}

impl Token {
    pub fn end(&self) -> usize {
        self.pos + self.val.len()
    }

    /// Go `Item.String()`.
    pub fn item_string(&self) -> String {
        use TokenKind::*;
        match self.kind {
            Eof => "EOF".into(),
            Identifier | MetricIdentifier => quote(&self.val),
            Bool | By | GroupLeft | GroupRight | Ignoring | Offset | On | Without => format!("<{}>", self.val),
            Add | Sub | Mul | Div | Mod | Pow | Eqlc | Neq | Lte | Lss | Gte | Gtr | EqlRegex | NeqRegex
            | Land | Lor | Lunless | Atan2 | At => format!("<op:{}>", self.val),
            Aggregator(_) => format!("<aggr:{}>", self.val),
            _ if self.val.len() > 10 => format!("{}...", quote_trunc(&self.val, 10)),
            _ => quote(&self.val),
        }
    }

    /// Go `Item.desc()`, used in "unexpected …" messages.
    pub fn desc(&self) -> String {
        use TokenKind::*;
        let kind = match self.kind {
            Eof => return "end of input".into(),
            Comment => "comment",
            Identifier => "identifier",
            MetricIdentifier => "metric identifier",
            String => "string",
            Number => "number",
            Duration => "duration",
            // AT has no entry in Go's ItemTypeStr, so its type prints as "<Item N>".
            At => "\"<Item 57385>\"",
            _ => return self.item_string(),
        };
        format!("{} {}", kind, self.item_string())
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}
fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}
fn is_alnum(c: Option<char>) -> bool {
    matches!(c, Some(c) if is_alpha(c) || c.is_ascii_digit())
}

/// Go `isLabel`: a valid label name.
pub fn is_label(s: &str) -> bool {
    let mut cs = s.chars();
    matches!(cs.next(), Some(c) if is_alpha(c)) && cs.all(|c| is_alpha(c) || c.is_ascii_digit())
}

fn keyword(word: &str) -> Option<TokenKind> {
    use TokenKind::*;
    let w = word.to_ascii_lowercase();
    Some(match w.as_str() {
        "and" => Land, "or" => Lor, "unless" => Lunless, "atan2" => Atan2,
        "offset" => Offset, "by" => By, "without" => Without, "on" => On, "ignoring" => Ignoring,
        "group_left" => GroupLeft, "group_right" => GroupRight, "bool" => Bool,
        "start" => Start, "end" => End, "inf" | "nan" => Number,
        _ => return AggregateOp::from_name(&w).map(Aggregator),
    })
}

type LexResult = Result<Option<Token>, LexError>;

/// The lexer; call [`Lexer::next_token`] repeatedly (comments are returned as tokens).
pub struct Lexer<'a> {
    input: &'a str,
    /// Current position, start of the pending token, width of the last char read.
    pos: usize,
    start: usize,
    width: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    /// Set right after `[`: the next token is lexed as a duration (Go `lexDuration`).
    expect_duration: bool,
    string_open: char,
    /// After EOF or an error only `Eof` tokens follow.
    done: bool,
}

impl<'a> Lexer<'a> {
    pub fn new(input: &'a str) -> Self {
        Lexer {
            input, pos: 0, start: 0, width: 0, paren_depth: 0, brace_open: false, bracket_open: false,
            got_colon: false, expect_duration: false, string_open: '"', done: false,
        }
    }

    fn next(&mut self) -> Option<char> {
        let c = self.input[self.pos..].chars().next();
        self.width = c.map_or(0, char::len_utf8);
        self.pos += self.width;
        c
    }
    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }
    fn backup(&mut self) {
        self.pos -= self.width;
    }
    fn accept(&mut self, valid: &str) -> bool {
        let ok = matches!(self.next(), Some(c) if valid.contains(c));
        if !ok {
            self.backup();
        }
        ok
    }
    fn accept_run(&mut self, valid: &str) {
        while self.accept(valid) {}
    }
    fn emit(&mut self, kind: TokenKind) -> LexResult {
        let tok = Token { kind, pos: self.start, val: self.input[self.start..self.pos].to_string() };
        self.start = self.pos;
        Ok(Some(tok))
    }
    fn error(&mut self, msg: String) -> LexError {
        self.done = true;
        LexError { pos: self.start, msg }
    }
    fn errorf(&mut self, msg: String) -> LexResult {
        Err(self.error(msg))
    }
    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(c) if is_space(c)) {
            self.next();
        }
        self.start = self.pos;
    }

    /// Returns the next token, `Eof` at the end (repeatedly), or the first lexing error.
    pub fn next_token(&mut self) -> Result<Token, LexError> {
        loop {
            let res = if self.done {
                self.emit(TokenKind::Eof)
            } else if self.expect_duration {
                self.expect_duration = false;
                self.lex_duration()
            } else if self.brace_open {
                self.lex_inside_braces()
            } else {
                self.lex_statements()
            };
            if let Some(tok) = res? {
                return Ok(tok);
            }
        }
    }

    fn lex_statements(&mut self) -> LexResult {
        use TokenKind::*;
        if self.input[self.pos..].starts_with('#') {
            return self.lex_line_comment();
        }
        let r = match self.next() {
            None => {
                if self.paren_depth != 0 {
                    return self.errorf("unclosed left parenthesis".into());
                } else if self.bracket_open {
                    return self.errorf("unclosed left bracket".into());
                }
                self.done = true;
                return self.emit(Eof);
            }
            Some(r) => r,
        };
        match r {
            ',' => self.emit(Comma),
            c if is_space(c) => {
                self.skip_spaces();
                Ok(None)
            }
            '*' => self.emit(Mul),
            '/' => self.emit(Div),
            '%' => self.emit(Mod),
            '+' => self.emit(Add),
            '-' => self.emit(Sub),
            '^' => self.emit(Pow),
            '=' => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Eqlc)
                }
                Some('~') => self.errorf(format!("unexpected character after '=': {}", quote_rune(Some('~')))),
                _ => self.emit(Eql),
            },
            '!' => match self.next() {
                Some('=') => self.emit(Neq),
                t => self.errorf(format!("unexpected character after '!': {}", quote_rune(t))),
            },
            '<' | '>' => {
                let eq = self.peek() == Some('=') && self.next().is_some();
                self.emit(match (r, eq) {
                    ('<', true) => Lte,
                    ('<', false) => Lss,
                    (_, true) => Gte,
                    _ => Gtr,
                })
            }
            c if c.is_ascii_digit() || (c == '.' && matches!(self.peek(), Some(d) if d.is_ascii_digit())) => {
                self.backup();
                self.lex_number_or_duration()
            }
            '"' | '\'' => {
                self.string_open = r;
                self.lex_string()
            }
            '`' => self.lex_raw_string(),
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    self.backup();
                    return self.lex_keyword_or_identifier();
                }
                if self.got_colon {
                    return self.errorf(format!("unexpected colon {}", quote_rune(Some(r))));
                }
                self.got_colon = true;
                self.emit(Colon)
            }
            '(' => {
                self.paren_depth += 1;
                self.emit(LeftParen)
            }
            ')' => {
                let tok = self.emit(RightParen);
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.errorf(format!("unexpected right parenthesis {}", quote_rune(Some(r))));
                }
                tok
            }
            '{' => {
                self.brace_open = true;
                self.emit(LeftBrace)
            }
            '[' => {
                if self.bracket_open {
                    return self.errorf(format!("unexpected left bracket {}", quote_rune(Some(r))));
                }
                self.got_colon = false;
                let tok = self.emit(LeftBracket);
                self.skip_spaces();
                self.bracket_open = true;
                self.expect_duration = true;
                tok
            }
            ']' => {
                if !self.bracket_open {
                    return self.errorf(format!("unexpected right bracket {}", quote_rune(Some(r))));
                }
                self.bracket_open = false;
                self.emit(RightBracket)
            }
            '@' => self.emit(At),
            _ => self.errorf(format!("unexpected character: {}", quote_rune(Some(r)))),
        }
    }

    fn lex_inside_braces(&mut self) -> LexResult {
        use TokenKind::*;
        if self.input[self.pos..].starts_with('#') {
            return self.lex_line_comment();
        }
        match self.next() {
            None => self.errorf("unexpected end of input inside braces".into()),
            Some(c) if is_space(c) => {
                self.skip_spaces();
                Ok(None)
            }
            Some(c) if is_alpha(c) => {
                while is_alnum(self.peek()) {
                    self.next();
                }
                self.emit(Identifier)
            }
            Some(',') => self.emit(Comma),
            Some(r @ ('"' | '\'')) => {
                self.string_open = r;
                self.lex_string()
            }
            Some('`') => self.lex_raw_string(),
            Some('=') => {
                if self.next() == Some('~') {
                    return self.emit(EqlRegex);
                }
                self.backup();
                self.emit(Eql)
            }
            Some('!') => match self.next() {
                Some('~') => self.emit(NeqRegex),
                Some('=') => self.emit(Neq),
                nr => self.errorf(format!("unexpected character after '!' inside braces: {}", quote_rune(nr))),
            },
            Some('{') => self.errorf(format!("unexpected left brace {}", quote_rune(Some('{')))),
            Some('}') => {
                self.brace_open = false;
                self.emit(RightBrace)
            }
            r => self.errorf(format!("unexpected character inside braces: {}", quote_rune(r))),
        }
    }

    fn lex_line_comment(&mut self) -> LexResult {
        self.pos += 1;
        loop {
            match self.next() {
                None | Some('\r') | Some('\n') => break,
                _ => {}
            }
        }
        self.backup();
        self.emit(TokenKind::Comment)
    }

    fn lex_string(&mut self) -> LexResult {
        loop {
            match self.next() {
                Some('\\') => self.lex_escape()?,
                Some('\u{fffd}') => return self.errorf("invalid UTF-8 rune".into()),
                None | Some('\n') => return self.errorf("unterminated quoted string".into()),
                Some(c) if c == self.string_open => break,
                _ => {}
            }
        }
        self.emit(TokenKind::String)
    }

    fn lex_escape(&mut self) -> Result<(), LexError> {
        let mut ch = self.next();
        let (mut n, base, max) = match ch {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
            Some(c) if c == self.string_open => return Ok(()),
            Some('0'..='7') => (3, 8, 255),
            Some('x') => (2, 16, 255),
            Some('u') => (4, 16, 0x10ffff),
            Some('U') => (8, 16, 0x10ffff),
            None => return Err(self.error("escape sequence not terminated".into())),
            Some(c) => return Err(self.error(format!("unknown escape sequence {}", sharp_u(c)))),
        };
        if base == 16 {
            ch = self.next();
        }
        let mut x: u32 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                let msg = match ch {
                    None => "escape sequence not terminated".to_string(),
                    Some(c) => format!("illegal character {} in escape sequence", sharp_u(c)),
                };
                return Err(self.error(msg));
            }
            x = x * base + d;
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xd800..0xe000).contains(&x) {
            return Err(self.error("escape sequence is an invalid Unicode code point".into()));
        }
        Ok(())
    }

    fn lex_raw_string(&mut self) -> LexResult {
        loop {
            match self.next() {
                Some('\u{fffd}') => return self.errorf("invalid UTF-8 rune".into()),
                None => return self.errorf("unterminated raw string".into()),
                Some('`') => break,
                _ => {}
            }
        }
        self.emit(TokenKind::String)
    }

    fn lex_duration(&mut self) -> LexResult {
        if self.scan_number() {
            return self.errorf("missing unit character in duration".into());
        }
        if !self.accept_remaining_duration() {
            let msg = format!("bad duration syntax: {}", quote(&self.input[self.start..self.pos]));
            return self.errorf(msg);
        }
        self.backup();
        self.emit(TokenKind::Duration)
    }

    fn lex_number_or_duration(&mut self) -> LexResult {
        if self.scan_number() {
            return self.emit(TokenKind::Number);
        }
        if self.accept_remaining_duration() {
            self.backup();
            return self.emit(TokenKind::Duration);
        }
        let msg = format!("bad number or duration syntax: {}", quote(&self.input[self.start..self.pos]));
        self.errorf(msg)
    }

    fn accept_remaining_duration(&mut self) -> bool {
        const DIGITS: &str = "0123456789";
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept(DIGITS) {
            self.accept_run(DIGITS);
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        let r = self.next();
        !is_alnum(r)
    }

    fn scan_number(&mut self) -> bool {
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            digits = "0123456789abcdefABCDEF";
        }
        self.accept_run(digits);
        if self.accept(".") {
            self.accept_run(digits);
        }
        if self.accept("eE") {
            self.accept("+-");
            self.accept_run("0123456789");
        }
        !is_alnum(self.peek())
    }

    fn lex_keyword_or_identifier(&mut self) -> LexResult {
        while matches!(self.peek(), Some(c) if is_alpha(c) || c.is_ascii_digit() || c == ':') {
            self.next();
        }
        let word = &self.input[self.start..self.pos];
        let kind = match keyword(word) {
            Some(k) => k,
            None if word.contains(':') => TokenKind::MetricIdentifier,
            None => TokenKind::Identifier,
        };
        self.emit(kind)
    }
}

#[cfg(test)]
#[path = "lexer_tests.rs"]
mod tests;
