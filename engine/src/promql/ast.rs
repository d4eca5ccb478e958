//! PromQL syntax tree, mirroring Prometheus 2.42 `promql/parser/ast.go`.
//!
//! Durations and offsets are in milliseconds; `@` timestamps are milliseconds
//! since the epoch. Canonical printing (`String()` in Go) is the `Display`
//! implementation in `printer.rs`.

use super::functions::Function;

/// Type of the value an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

impl ValueType {
    /// Internal name (`ValueType` string in Go): `scalar`, `vector`, `matrix`, `string`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }

    /// User-facing name (`DocumentedType` in Go): `instant vector`, `range vector`, …
    pub fn documented(self) -> &'static str {
        match self {
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            t => t.as_str(),
        }
    }
}

/// Kind of a label matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchKind {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

impl MatchKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MatchKind::Equal => "=",
            MatchKind::NotEqual => "!=",
            MatchKind::Regex => "=~",
            MatchKind::NotRegex => "!~",
        }
    }
}

/// A label matcher such as `job=~"api.*"`. Regex values are stored unanchored,
/// as written; their validity is not checked by the parser.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LabelMatcher {
    pub kind: MatchKind,
    pub name: String,
    pub value: String,
}

impl LabelMatcher {
    pub fn new(kind: MatchKind, name: impl Into<String>, value: impl Into<String>) -> Self {
        LabelMatcher { kind, name: name.into(), value: value.into() }
    }

    /// Whether the matcher matches the empty label value (Go `Matches("")`);
    /// regexes are fully anchored as in Prometheus.
    pub fn matches_empty(&self) -> bool {
        match self.kind {
            MatchKind::Equal => self.value.is_empty(),
            MatchKind::NotEqual => !self.value.is_empty(),
            MatchKind::Regex => regex_matches_empty(&self.value),
            MatchKind::NotRegex => !regex_matches_empty(&self.value),
        }
    }
}

/// The `@` modifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum At {
    /// `@ <seconds>`, stored in milliseconds (`timestamp.FromFloatSeconds`).
    Timestamp(i64),
    /// `@ start()`
    Start,
    /// `@ end()`
    End,
}

/// An instant vector selector such as `foo{bar="baz"} offset 5m @ 100`.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// Metric name given outside the braces.
    pub name: Option<String>,
    /// All matchers; when `name` is set the last one is `__name__="<name>"`, as in Prometheus.
    pub matchers: Vec<LabelMatcher>,
    /// Offset in milliseconds (negative for `offset -5m`), 0 if none.
    pub offset_ms: i64,
    pub at: Option<At>,
}

/// Cardinality of a vector-matching binary operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VectorMatchCardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on(...)`/`ignoring(...)` and `group_left(...)`/`group_right(...)` of a binary
/// operation between two instant vectors.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorMatching {
    pub card: VectorMatchCardinality,
    /// `true` for `on(...)`, `false` for `ignoring(...)` (or no clause).
    pub on: bool,
    /// Labels listed in `on`/`ignoring`.
    pub labels: Vec<String>,
    /// Labels listed in `group_left`/`group_right`.
    pub include: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Plus,
    Minus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eql,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    And,
    Or,
    Unless,
}

impl BinaryOp {
    pub fn as_str(self) -> &'static str {
        use BinaryOp::*;
        match self {
            Add => "+", Sub => "-", Mul => "*", Div => "/", Mod => "%", Pow => "^",
            Atan2 => "atan2", Eql => "==", Neq => "!=", Lte => "<=", Lss => "<",
            Gte => ">=", Gtr => ">", And => "and", Or => "or", Unless => "unless",
        }
    }

    /// `== != <= < >= >`
    pub fn is_comparison(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eql | Neq | Lte | Lss | Gte | Gtr)
    }

    /// `and or unless`
    pub fn is_set_operator(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Binding strength, higher binds tighter (`or` = 1 … `^` = 6).
    pub fn precedence(self) -> u8 {
        use BinaryOp::*;
        match self {
            Or => 1,
            And | Unless => 2,
            Eql | Neq | Lte | Lss | Gte | Gtr => 3,
            Add | Sub => 4,
            Mul | Div | Mod | Atan2 => 5,
            Pow => 6,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    CountValues,
    Quantile,
}

impl AggregateOp {
    pub const ALL: [AggregateOp; 12] = {
        use AggregateOp::*;
        [Sum, Avg, Count, Min, Max, Group, Stddev, Stdvar, Topk, Bottomk, CountValues, Quantile]
    };

    pub fn as_str(self) -> &'static str {
        use AggregateOp::*;
        match self {
            Sum => "sum", Avg => "avg", Count => "count", Min => "min", Max => "max",
            Group => "group", Stddev => "stddev", Stdvar => "stdvar", Topk => "topk",
            Bottomk => "bottomk", CountValues => "count_values", Quantile => "quantile",
        }
    }

    /// Case-insensitive lookup, as the lexer treats keywords.
    pub fn from_name(name: &str) -> Option<AggregateOp> {
        Self::ALL.iter().copied().find(|op| op.as_str().eq_ignore_ascii_case(name))
    }

    /// `topk bottomk quantile count_values` take a parameter before the expression.
    pub fn takes_param(self) -> bool {
        use AggregateOp::*;
        matches!(self, Topk | Bottomk | CountValues | Quantile)
    }
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    NumberLiteral(f64),
    StringLiteral(String),
    VectorSelector(VectorSelector),
    MatrixSelector {
        vector: VectorSelector,
        range_ms: i64,
    },
    Subquery {
        expr: Box<Expr>,
        range_ms: i64,
        /// `None` for `[5m:]` (default resolution).
        step_ms: Option<i64>,
        offset_ms: i64,
        at: Option<At>,
    },
    Unary {
        op: UnaryOp,
        expr: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
        return_bool: bool,
        /// Set only when both operands are instant vectors (as Prometheus does after type checking).
        matching: Option<VectorMatching>,
    },
    Aggregate {
        op: AggregateOp,
        expr: Box<Expr>,
        param: Option<Box<Expr>>,
        grouping: Vec<String>,
        without: bool,
    },
    Call {
        func: &'static Function,
        args: Vec<Expr>,
    },
    Paren(Box<Expr>),
}

impl Expr {
    /// The type the expression evaluates to (Go `Expr.Type()`).
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::NumberLiteral(_) => ValueType::Scalar,
            Expr::StringLiteral(_) => ValueType::String,
            Expr::VectorSelector(_) | Expr::Aggregate { .. } => ValueType::Vector,
            Expr::MatrixSelector { .. } | Expr::Subquery { .. } => ValueType::Matrix,
            Expr::Unary { expr, .. } | Expr::Paren(expr) => expr.value_type(),
            Expr::Call { func, .. } => func.return_type,
            Expr::Binary { lhs, rhs, .. } => {
                if lhs.value_type() == ValueType::Scalar && rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
        }
    }
}

/// Whether the (RE2 syntax) regex, anchored at both ends, matches "".
/// Structural analysis; an invalid regex gives an unspecified answer.
pub fn regex_matches_empty(re: &str) -> bool {
    let chars: Vec<char> = re.chars().collect();
    let mut i = 0;
    nullable_alt(&chars, &mut i)
}

fn nullable_alt(c: &[char], i: &mut usize) -> bool {
    let mut any = nullable_concat(c, i);
    while *i < c.len() && c[*i] == '|' {
        *i += 1;
        any |= nullable_concat(c, i);
    }
    any
}

fn nullable_concat(c: &[char], i: &mut usize) -> bool {
    let mut all = true;
    while *i < c.len() && c[*i] != '|' && c[*i] != ')' {
        let mut n = nullable_atom(c, i);
        loop {
            match c.get(*i) {
                Some('*') | Some('?') => {
                    n = true;
                    *i += 1;
                }
                Some('+') => *i += 1,
                Some('{') => match repeat_min(c, *i) {
                    Some((min, end)) => {
                        n |= min == 0;
                        *i = end;
                    }
                    None => break,
                },
                _ => break,
            }
            if c.get(*i) == Some(&'?') {
                *i += 1; // non-greedy marker
            }
        }
        all &= n;
    }
    all
}

/// Parses `{n}`, `{n,}` or `{n,m}` at `i`, returning the minimum and the end index.
fn repeat_min(c: &[char], i: usize) -> Option<(u32, usize)> {
    let close = (i..c.len()).find(|&k| c[k] == '}')?;
    let body: String = c[i + 1..close].iter().collect();
    let min = body.split(',').next()?;
    let ok = body.split(',').count() <= 2 && body.chars().all(|ch| ch.is_ascii_digit() || ch == ',');
    if !ok || min.is_empty() {
        return None;
    }
    Some((min.parse().ok()?, close + 1))
}

fn nullable_atom(c: &[char], i: &mut usize) -> bool {
    let ch = c[*i];
    *i += 1;
    match ch {
        '^' | '$' => true,
        '(' => {
            let mut inner_follows = true;
            if c.get(*i) == Some(&'?') {
                // (?flags) (?flags:re) (?P<name>re)
                let mut k = *i + 1;
                if c.get(k) == Some(&'P') {
                    while k < c.len() && c[k] != '>' {
                        k += 1;
                    }
                    k += 1;
                } else {
                    while k < c.len() && c[k] != ':' && c[k] != ')' {
                        k += 1;
                    }
                    inner_follows = c.get(k) == Some(&':');
                    k += 1;
                }
                *i = k;
                if !inner_follows {
                    return true;
                }
            }
            let n = nullable_alt(c, i);
            if *i < c.len() && c[*i] == ')' {
                *i += 1;
            }
            n
        }
        '[' => {
            let mut k = *i;
            if c.get(k) == Some(&'^') {
                k += 1;
            }
            if c.get(k) == Some(&']') {
                k += 1;
            }
            while k < c.len() && c[k] != ']' {
                if c[k] == '\\' {
                    k += 1;
                } else if c[k] == '[' && c.get(k + 1) == Some(&':') {
                    while k + 1 < c.len() && !(c[k] == ':' && c[k + 1] == ']') {
                        k += 1;
                    }
                    k += 1;
                }
                k += 1;
            }
            *i = k + 1;
            false
        }
        '\\' => {
            let e = c.get(*i).copied().unwrap_or('\\');
            *i += 1;
            match e {
                'A' | 'z' | 'B' => true,
                'Q' => {
                    let start = *i;
                    while *i < c.len() && !(c[*i] == '\\' && c.get(*i + 1) == Some(&'E')) {
                        *i += 1;
                    }
                    let empty = *i == start;
                    *i = (*i + 2).min(c.len());
                    empty
                }
                'p' | 'P' | 'x' if c.get(*i) == Some(&'{') => {
                    while *i < c.len() && c[*i] != '}' {
                        *i += 1;
                    }
                    *i += 1;
                    false
                }
                'p' | 'P' => {
                    *i += 1;
                    false
                }
                _ => false,
            }
        }
        _ => false,
    }
}
