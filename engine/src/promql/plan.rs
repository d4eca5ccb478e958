//! The plan: a parsed PromQL expression (the `promql-parser` crate's AST) turned into the tree
//! the evaluator walks, with what Prometheus 2.42 resolves before evaluation already resolved:
//! `@ start()`/`@ end()` as times, offsets in milliseconds (and the offset an `@` implies, as
//! `@` pins), functions looked up, parentheses gone, and every selector numbered so that the
//! storage reads happen before evaluation, one per distinct selector, over the time range
//! Prometheus' `getTimeRangesForSelector` gives it.
//!
//! Prometheus evaluates `@` subtrees once ("step invariant") and repeats the answer; pinning
//! the selector's reference time to `@ - offset` gives the same answers at every step, so the
//! plan has no step-invariant node.

use super::functions::FnImpl;

/// A label matcher of a selector.
#[derive(Clone, Debug)]
pub struct LabelMatcher {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Regex,
    NotRegex,
}

/// A vector selector: which series (`id` indexes the series read for it), where in time.
#[derive(Clone, Debug)]
pub struct Selector {
    pub id: usize,
    pub matchers: Vec<LabelMatcher>,
    /// The offset as written (ms, negative for `offset -5m`).
    pub offset: i64,
    /// The `@` time (ms), resolved.
    pub at: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add, Sub, Mul, Div, Mod, Pow, Atan2,
    Eq, Ne, Gt, Lt, Ge, Le,
    And, Or, Unless,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    Sum, Avg, Count, Min, Max, Group, Stddev, Stdvar, Topk, Bottomk, CountValues, Quantile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cardinality {
    OneToOne,
    ManyToOne,
    OneToMany,
    ManyToMany,
}

/// `on`/`ignoring` and `group_left`/`group_right` of a binary operation between vectors.
#[derive(Clone, Debug)]
pub struct VectorMatching {
    pub card: Cardinality,
    /// The labels of `on(...)` (when `on`) or `ignoring(...)`.
    pub labels: Vec<String>,
    pub on: bool,
    /// The labels of `group_left(...)`/`group_right(...)` taken from the "one" side.
    pub include: Vec<String>,
}

/// What an expression evaluates to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    String,
    Vector,
    Matrix,
}

#[derive(Clone, Debug)]
pub enum Node {
    Number(f64),
    String(String),
    Vector(Selector),
    Matrix { selector: Selector, range: i64 },
    /// `expr[range:step]`; `step` is the default evaluation interval when not written.
    Subquery { expr: Box<Node>, range: i64, step: i64, offset: i64, at: Option<i64> },
    /// `-expr`.
    Negate(Box<Node>),
    Binary { op: BinOp, lhs: Box<Node>, rhs: Box<Node>, return_bool: bool, matching: Option<VectorMatching> },
    Aggregate { op: AggOp, expr: Box<Node>, param: Option<Box<Node>>, grouping: Vec<String>, without: bool },
    Call { name: String, func: FnImpl, args: Vec<Node>, kind: Kind },
}

impl Node {
    /// What the expression evaluates to.
    pub fn kind(&self) -> Kind {
        match self {
            Node::Number(_) => Kind::Scalar,
            Node::String(_) => Kind::String,
            Node::Vector(_) | Node::Aggregate { .. } => Kind::Vector,
            Node::Matrix { .. } | Node::Subquery { .. } => Kind::Matrix,
            Node::Negate(e) => e.kind(),
            Node::Binary { lhs, rhs, .. } if lhs.kind() == Kind::Scalar && rhs.kind() == Kind::Scalar => Kind::Scalar,
            Node::Binary { .. } => Kind::Vector,
            Node::Call { kind, .. } => *kind,
        }
    }

    /// Whether every step reads only data at or before its own time: no `@` (whose answer
    /// depends on the query's start or end, or on one fixed time for every step) and no
    /// negative offset, in any selector or subquery.
    pub fn reads_only_the_past(&self) -> bool {
        match self {
            Node::Number(_) | Node::String(_) => true,
            Node::Vector(s) | Node::Matrix { selector: s, .. } => s.at.is_none() && s.offset >= 0,
            Node::Subquery { expr, offset, at, .. } => at.is_none() && *offset >= 0 && expr.reads_only_the_past(),
            Node::Negate(e) => e.reads_only_the_past(),
            Node::Binary { lhs, rhs, .. } => lhs.reads_only_the_past() && rhs.reads_only_the_past(),
            Node::Aggregate { expr, param, .. } => expr.reads_only_the_past() && param.as_deref().is_none_or(Node::reads_only_the_past),
            Node::Call { args, .. } => args.iter().all(Node::reads_only_the_past),
        }
    }

    /// The matchers of a vector or matrix selector (what `absent` builds its labels from).
    pub fn selector_matchers(&self) -> Option<&[LabelMatcher]> {
        match self {
            Node::Vector(s) | Node::Matrix { selector: s, .. } => Some(&s.matchers),
            _ => None,
        }
    }
}
