//! PromQL parser: recursive descent reproducing Prometheus 2.42's yacc grammar
//! (`promql/parser/generated_parser.y`, `parse.go`), including its precedence
//! (`^` right-associative and tighter than unary minus; then `* / % atan2`;
//! `+ -`; comparisons; `and unless`; `or`), its modifiers and its error
//! messages. Syntax errors name the context the yacc error rules would
//! (e.g. `in aggregation`, `in grouping opts, expected "("`); as in Prometheus
//! only the first error is reported, then the type checks (`check.rs`) run.

use std::fmt;

use super::ast::*;
use super::gofmt::{parse_duration, parse_number, quote, unquote};
use super::lexer::{Lexer, Token, TokenKind as K};

/// Deepest expression tree accepted (Prometheus has no limit; this keeps the
/// recursive checker, printer, `Drop` and evaluator within a thread stack).
pub const MAX_DEPTH: usize = 500;

/// Deepest recursion of the parser itself (nested parentheses, calls,
/// aggregations, unary operators, `^` chains); each level costs a few KiB of stack.
pub const MAX_NESTING: usize = 64;

/// A parse error, displayed as Prometheus does: `1:9: parse error: unexpected end of input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset the error refers to.
    pub pos: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in bytes, as Prometheus counts.
    pub col: usize,
    /// The message without position, e.g. `unexpected end of input`.
    pub msg: String,
}

impl ParseError {
    pub(crate) fn new(input: &str, pos: usize, msg: String) -> Self {
        let pos = pos.min(input.len());
        let before = &input.as_bytes()[..pos];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let col = match before.iter().rposition(|&b| b == b'\n') {
            Some(nl) => pos - nl,
            None => pos + 1,
        };
        ParseError { pos, line, col, msg }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: parse error: {}", self.line, self.col, self.msg)
    }
}

impl std::error::Error for ParseError {}

/// Parses a PromQL expression exactly as Prometheus 2.42's `parser.ParseExpr`.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser { lex: Lexer::new(input), peeked: None, last_end: 0, agg_depth: 0, depth: 0 };
    let mut node = p.parse_top().map_err(|(pos, msg)| ParseError::new(input, pos, msg))?;
    check::check_ast(input, &mut node.e, &node.sp).map_err(|(pos, msg)| ParseError::new(input, pos, msg))?;
    Ok(*node.e)
}

/// A failure: byte position and message.
pub(crate) type Fail = (usize, String);
type PResult<T> = Result<T, Fail>;

/// Source positions of a node (Go `PositionRange`) and of its children, in the
/// order `check.rs` visits them.
#[derive(Debug, Clone)]
pub(crate) struct Sp {
    pub start: usize,
    pub end: usize,
    pub depth: usize,
    pub kids: Vec<Sp>,
}

impl Sp {
    fn leaf(start: usize, end: usize) -> Sp {
        Sp { start, end, depth: 1, kids: Vec::new() }
    }
    fn node(start: usize, end: usize, kids: Vec<Sp>) -> Sp {
        let depth = 1 + kids.iter().map(|k| k.depth).max().unwrap_or(0);
        Sp { start, end, depth, kids }
    }
}

/// An expression with its spans, boxed to keep the recursive parser's frames small.
pub(crate) struct Node {
    pub e: Box<Expr>,
    pub sp: Box<Sp>,
}

impl Node {
    fn new(e: Expr, sp: Sp) -> Node {
        Node { e: Box::new(e), sp: Box::new(sp) }
    }
}

struct Modifiers {
    return_bool: bool,
    matching: VectorMatching,
}

struct Parser<'a> {
    lex: Lexer<'a>,
    peeked: Option<Token>,
    /// End of the last consumed token (Go's `lastClosing` for the cases that matter).
    last_end: usize,
    /// Number of aggregations whose yacc error rule (`aggregate_op error`) is on the stack.
    agg_depth: usize,
    depth: usize,
}

/// Tokens that can start an expression (FIRST(expr) of the grammar).
fn starts_expr(k: K) -> bool {
    matches!(
        k,
        K::Number | K::String | K::LeftParen | K::LeftBrace | K::Identifier | K::MetricIdentifier
            | K::Add | K::Sub | K::Aggregator(_) | K::By | K::Without | K::Land | K::Lor
            | K::Lunless | K::Offset | K::Start | K::End
    )
}

/// Tokens accepted as a label name in grouping lists (`maybe_label`).
fn is_maybe_label(k: K) -> bool {
    matches!(
        k,
        K::Aggregator(_) | K::Bool | K::By | K::GroupLeft | K::GroupRight | K::Identifier | K::Ignoring
            | K::Land | K::Lor | K::Lunless | K::MetricIdentifier | K::Offset | K::On | K::Start
            | K::End | K::Atan2
    )
}

fn binary_op(k: K) -> Option<BinaryOp> {
    use BinaryOp::*;
    Some(match k {
        K::Add => Add, K::Sub => Sub, K::Mul => Mul, K::Div => Div, K::Mod => Mod, K::Pow => Pow,
        K::Atan2 => Atan2, K::Eqlc => Eql, K::Neq => Neq, K::Lte => Lte, K::Lss => Lss,
        K::Gte => Gte, K::Gtr => Gtr, K::Land => And, K::Lor => Or, K::Lunless => Unless,
        _ => return None,
    })
}

fn too_deep(what: &str, limit: usize) -> String {
    format!("expression too {} (more than {} levels)", what, limit)
}

const GROUPING: &str = "grouping opts";
const MATCHING: &str = "label matching";

impl<'a> Parser<'a> {
    fn peek(&mut self) -> PResult<&Token> {
        if self.peeked.is_none() {
            loop {
                let t = self.lex.next_token().map_err(|e| (e.pos, e.msg))?;
                if t.kind != K::Comment {
                    self.peeked = Some(t);
                    break;
                }
            }
        }
        Ok(self.peeked.as_ref().unwrap())
    }

    fn peek_kind(&mut self) -> PResult<K> {
        Ok(self.peek()?.kind)
    }

    fn bump(&mut self) -> Token {
        let t = self.peeked.take().expect("bump without peek");
        self.last_end = t.end();
        t
    }

    /// "unexpected <token>[ in <context>][, expected <expected>]" at the next token.
    fn unexpected<T>(&mut self, ctx: &str, expected: &str) -> PResult<T> {
        let t = self.peek()?;
        let mut msg = format!("unexpected {}", t.desc());
        if !ctx.is_empty() {
            msg.push_str(" in ");
            msg.push_str(ctx);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        Err((t.pos, msg))
    }

    /// Syntax error where an expression or an operator was expected: the innermost
    /// yacc state with an error action is an aggregation's, or the start state.
    fn unexpected_in_expr<T>(&mut self) -> PResult<T> {
        let ctx = if self.agg_depth > 0 { "aggregation" } else { "" };
        self.unexpected(ctx, "")
    }

    fn expect(&mut self, k: K, ctx: &str, expected: &str) -> PResult<Token> {
        if self.peek_kind()? == k {
            Ok(self.bump())
        } else {
            self.unexpected(ctx, expected)
        }
    }

    fn parse_top(&mut self) -> PResult<Node> {
        if self.peek_kind()? == K::Eof {
            return Err((0, "no expression found in input".into()));
        }
        let node = self.parse_expr(0)?;
        if self.peek_kind()? != K::Eof {
            return self.unexpected("", "");
        }
        Ok(node)
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            let pos = self.peek()?.pos;
            return Err((pos, too_deep("nested", MAX_NESTING)));
        }
        Ok(())
    }

    /// Span of a new inner node; refuses trees deeper than [`MAX_DEPTH`].
    fn sp(&self, start: usize, end: usize, kids: Vec<Sp>) -> PResult<Sp> {
        let sp = Sp::node(start, end, kids);
        if sp.depth > MAX_DEPTH {
            return Err((start, too_deep("deep", MAX_DEPTH)));
        }
        Ok(sp)
    }

    /// Expression whose binary operators all bind at least as tightly as `min_prec`.
    fn parse_expr(&mut self, min_prec: u8) -> PResult<Node> {
        self.enter()?;
        let mut lhs = self.parse_unary()?;
        loop {
            let Some(op) = binary_op(self.peek_kind()?) else { break };
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.bump();
            let mods = self.parse_bin_modifiers()?;
            let rhs = self.parse_expr(if op == BinaryOp::Pow { prec } else { prec + 1 })?;
            let sp = self.sp(lhs.sp.start, rhs.sp.end, vec![*lhs.sp, *rhs.sp])?;
            let e = Expr::Binary {
                op,
                lhs: lhs.e,
                rhs: rhs.e,
                return_bool: mods.return_bool,
                matching: Some(mods.matching),
            };
            lhs = Node::new(e, sp);
        }
        self.depth -= 1;
        Ok(lhs)
    }

    /// `unary_op expr %prec MUL`: the operand takes only `^` and postfix modifiers.
    fn parse_unary(&mut self) -> PResult<Node> {
        let k = self.peek_kind()?;
        if k != K::Add && k != K::Sub {
            return self.parse_postfix();
        }
        let op = self.bump();
        let operand = self.parse_expr(BinaryOp::Pow.precedence())?;
        let sp = self.sp(op.pos, operand.sp.end, vec![*operand.sp])?;
        let e = match *operand.e {
            Expr::NumberLiteral(v) => {
                let v = if k == K::Sub { -v } else { v };
                return Ok(Node::new(Expr::NumberLiteral(v), Sp::leaf(op.pos, sp.end)));
            }
            inner => {
                let op = if k == K::Sub { UnaryOp::Minus } else { UnaryOp::Plus };
                Expr::Unary { op, expr: Box::new(inner) }
            }
        };
        Ok(Node::new(e, sp))
    }

    /// A primary expression followed by any `[…]`, `offset` and `@` modifiers.
    fn parse_postfix(&mut self) -> PResult<Node> {
        let mut node = self.parse_primary()?;
        loop {
            node = match self.peek_kind()? {
                K::LeftBracket => self.parse_range(node)?,
                K::Offset => self.parse_offset(node)?,
                K::At => self.parse_at(node)?,
                _ => return Ok(node),
            };
        }
    }

    fn parse_primary(&mut self) -> PResult<Node> {
        let k = self.peek_kind()?;
        match k {
            K::Number => {
                let t = self.bump();
                let v = self.number(&t)?;
                Ok(Node::new(Expr::NumberLiteral(v), Sp::leaf(t.pos, t.end())))
            }
            K::String => {
                let t = self.bump();
                let s = self.unquote(&t)?;
                Ok(Node::new(Expr::StringLiteral(s), Sp::leaf(t.pos, t.end())))
            }
            K::LeftParen => {
                let open = self.bump();
                let inner = self.parse_expr(0)?;
                if self.peek_kind()? != K::RightParen {
                    return self.unexpected_in_expr();
                }
                let close = self.bump();
                let sp = self.sp(open.pos, close.end(), vec![*inner.sp])?;
                Ok(Node::new(Expr::Paren(inner.e), sp))
            }
            K::LeftBrace => self.parse_vector_selector(None),
            K::Identifier => {
                let name = self.bump();
                if self.peek_kind()? == K::LeftParen {
                    self.parse_call(name)
                } else {
                    self.parse_vector_selector(Some(name))
                }
            }
            K::Aggregator(op) => {
                let tok = self.bump();
                match self.peek_kind()? {
                    K::LeftParen | K::By | K::Without => self.parse_aggregate(tok, op),
                    _ => self.parse_vector_selector(Some(tok)),
                }
            }
            K::MetricIdentifier | K::By | K::Without | K::Land | K::Lor | K::Lunless | K::Offset
            | K::Start | K::End => {
                let name = self.bump();
                self.parse_vector_selector(Some(name))
            }
            _ => self.unexpected_in_expr(),
        }
    }

    fn number(&mut self, t: &Token) -> PResult<f64> {
        match parse_number(&t.val) {
            (v, None) => Ok(v),
            (_, Some(err)) => Err((t.pos, format!("error parsing number: {}", err))),
        }
    }

    fn unquote(&mut self, t: &Token) -> PResult<String> {
        unquote(&t.val).map_err(|e| (t.pos, format!("error unquoting string {}: {}", quote(&t.val), e)))
    }

    fn duration(&mut self, t: &Token) -> PResult<i64> {
        parse_duration(&t.val).map_err(|e| (t.pos, e))
    }
}

#[path = "parser_parts.rs"]
mod parts;

#[path = "check.rs"]
mod check;

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "parser_cases.rs"]
mod cases;
