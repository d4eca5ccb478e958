//! From the `promql-parser` crate's AST to the plan (`plan.rs`): what Prometheus 2.42 accepts,
//! with `@ start()`/`@ end()` resolved for this query, and the storage reads the query needs,
//! one per distinct selector, each over the union of the time ranges its uses need.

use super::error::EvalError;
use super::functions;
use super::plan::{AggOp, BinOp, Cardinality, Kind, LabelMatcher, MatchOp, Node, Selector, VectorMatching};
use promql_parser::label::{MatchOp as ParsedOp, Matcher as ParsedMatcher};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{self as ast, Expr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Prometheus' default evaluation interval: the step of a subquery that does not give one.
pub const DEFAULT_SUBQUERY_STEP: i64 = 60_000;

/// Functions of Prometheus 2.42 that only work on native histograms, which Gemini does not keep.
const NATIVE_HISTOGRAM_FUNCTIONS: [&str; 3] = ["histogram_count", "histogram_sum", "histogram_fraction"];

/// One storage read: the series matching `matchers`, samples in [min_t, max_t] (ms).
#[derive(Clone, Debug)]
pub struct Read {
    pub matchers: Vec<LabelMatcher>,
    pub min_t: i64,
    pub max_t: i64,
}

/// A query ready to evaluate: its tree and the reads its selectors' `id`s point into.
pub struct Plan {
    pub root: Node,
    pub reads: Vec<Read>,
}

/// What a query is evaluated over (ms).
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub start: i64,
    pub end: i64,
    pub lookback: i64,
}

/// Teaches the parser `holt_winters`, Prometheus 2.42's name for what the crate (following
/// Prometheus 3) knows as `double_exponential_smoothing`.
fn register_2_42_functions() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let holt_winters = ast::Function {
            name: "holt_winters",
            arg_types: vec![ValueType::Matrix, ValueType::Scalar, ValueType::Scalar],
            variadic: 0,
            return_type: ValueType::Vector,
            experimental: false,
        };
        ast::register_extra_functions(vec![holt_winters]).expect("holt_winters is not a function of the parser");
    });
}

/// A query parsed once, to be planned for each span it is evaluated over.
pub struct Parsed(Expr);

/// Parses `text`.
pub fn parse(text: &str) -> Result<Parsed, EvalError> {
    register_2_42_functions();
    ast::parse(text).map(Parsed).map_err(|e| EvalError::BadData(format!("parse error: {e}")))
}

impl Parsed {
    /// The query as Prometheus' `parser.Prettify` prints it (`pretty`).
    pub fn pretty(&self) -> String {
        super::pretty::pretty(&self.0)
    }

    /// The plan for `span`.
    pub fn plan(&self, span: Span) -> Result<Plan, EvalError> {
        let mut builder = Builder { span, reads: Vec::new() };
        let root = builder.node(&self.0, &Path::default())?;
        Ok(Plan { root, reads: builder.reads })
    }

    /// Whether every step of the query reads only data at or before its own time (see
    /// `Node::reads_only_the_past`); false for a query that does not plan.
    pub fn reads_only_the_past(&self) -> bool {
        self.plan(Span { start: 0, end: 0, lookback: 0 }).is_ok_and(|p| p.root.reads_only_the_past())
    }
}

/// Parses `text` and plans it for `span`.
pub fn plan(text: &str, span: Span) -> Result<Plan, EvalError> {
    parse(text)?.plan(span)
}

/// The subqueries above a node: their offsets and ranges summed since the last `@` among
/// them, and that `@` (Prometheus' `subqueryTimes`).
#[derive(Clone, Copy, Default)]
struct Path {
    offset: i64,
    range: i64,
    at: Option<i64>,
}

struct Builder {
    span: Span,
    reads: Vec<Read>,
}

fn millis(d: &Duration) -> i64 {
    d.as_millis() as i64
}

fn offset_ms(offset: &Option<ast::Offset>) -> i64 {
    match offset {
        None => 0,
        Some(ast::Offset::Pos(d)) => millis(d),
        Some(ast::Offset::Neg(d)) => -millis(d),
    }
}

fn system_time_ms(t: &SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => millis(&d),
        Err(e) => -millis(&e.duration()),
    }
}

fn names(labels: &promql_parser::label::Labels) -> Vec<String> {
    labels.labels.clone()
}

impl Builder {
    fn at(&self, at: &Option<ast::AtModifier>) -> Option<i64> {
        at.as_ref().map(|a| match a {
            ast::AtModifier::Start => self.span.start,
            ast::AtModifier::End => self.span.end,
            ast::AtModifier::At(t) => system_time_ms(t),
        })
    }

    fn node(&mut self, expr: &Expr, path: &Path) -> Result<Node, EvalError> {
        Ok(match expr {
            Expr::NumberLiteral(n) => Node::Number(n.val),
            Expr::StringLiteral(s) => Node::String(s.val.clone()),
            Expr::Paren(p) => self.node(&p.expr, path)?,
            Expr::Unary(u) => Node::Negate(Box::new(self.node(&u.expr, path)?)),
            Expr::VectorSelector(vs) => Node::Vector(self.selector(vs, path, 0)?),
            Expr::MatrixSelector(ms) => {
                let range = millis(&ms.range);
                Node::Matrix { selector: self.selector(&ms.vs, path, range)?, range }
            }
            Expr::Subquery(sq) => {
                let (range, offset, at) = (millis(&sq.range), offset_ms(&sq.offset), self.at(&sq.at));
                let inner = match at {
                    Some(t) => Path { offset, range, at: Some(t) },
                    None => Path { offset: path.offset + offset, range: path.range + range, at: path.at },
                };
                let step = sq.step.as_ref().map(millis).unwrap_or(DEFAULT_SUBQUERY_STEP);
                Node::Subquery { expr: Box::new(self.node(&sq.expr, &inner)?), range, step, offset, at }
            }
            Expr::Binary(b) => self.binary(b, path)?,
            Expr::Aggregate(a) => self.aggregate(a, path)?,
            Expr::Call(c) => self.call(c, path)?,
            Expr::Extension(_) => return Err(EvalError::BadData("extension expressions are not PromQL".into())),
        })
    }

    /// Numbers the selector's read (one per distinct matcher set) and widens its time range
    /// by what this use needs (`getTimeRangesForSelector`; `range` 0 for an instant selector).
    fn selector(&mut self, vs: &ast::VectorSelector, path: &Path, range: i64) -> Result<Selector, EvalError> {
        if !vs.matchers.or_matchers.is_empty() {
            return Err(EvalError::BadData("\"or\" between label matchers is not PromQL of Prometheus 2.42".into()));
        }
        let mut matchers: Vec<LabelMatcher> = Vec::new();
        if let Some(name) = &vs.name {
            matchers.push(LabelMatcher { name: "__name__".into(), op: MatchOp::Equal, value: name.clone() });
        }
        matchers.extend(vs.matchers.matchers.iter().map(matcher));
        let offset = offset_ms(&vs.offset);
        let at = self.at(&vs.at);
        let (mut start, mut end) = match path.at {
            Some(t) => (t, t),
            None => (self.span.start, self.span.end),
        };
        match at {
            Some(t) => (start, end) = (t, t),
            None => (start, end) = (start - path.offset - path.range, end - path.offset),
        }
        start -= if range == 0 { self.span.lookback } else { range };
        let (min_t, max_t) = (start - offset, end - offset);
        let id = match self.reads.iter().position(|r| same_matchers(&r.matchers, &matchers)) {
            Some(i) => {
                let r = &mut self.reads[i];
                r.min_t = r.min_t.min(min_t);
                r.max_t = r.max_t.max(max_t);
                i
            }
            None => {
                self.reads.push(Read { matchers: matchers.clone(), min_t, max_t });
                self.reads.len() - 1
            }
        };
        Ok(Selector { id, matchers, offset, at })
    }

    fn binary(&mut self, b: &ast::BinaryExpr, path: &Path) -> Result<Node, EvalError> {
        let op = match b.op.to_string().as_str() {
            "+" => BinOp::Add,
            "-" => BinOp::Sub,
            "*" => BinOp::Mul,
            "/" => BinOp::Div,
            "%" => BinOp::Mod,
            "^" => BinOp::Pow,
            "atan2" => BinOp::Atan2,
            "==" => BinOp::Eq,
            "!=" => BinOp::Ne,
            ">" => BinOp::Gt,
            "<" => BinOp::Lt,
            ">=" => BinOp::Ge,
            "<=" => BinOp::Le,
            "and" => BinOp::And,
            "or" => BinOp::Or,
            "unless" => BinOp::Unless,
            other => return Err(EvalError::BadData(format!("unknown binary operator {other:?}"))),
        };
        let lhs = self.node(&b.lhs, path)?;
        let rhs = self.node(&b.rhs, path)?;
        let both_vectors = lhs.kind() == Kind::Vector && rhs.kind() == Kind::Vector;
        let modifier = b.modifier.as_ref();
        if let Some(m) = modifier {
            if m.fill_values.lhs.is_some() || m.fill_values.rhs.is_some() {
                return Err(EvalError::BadData("fill modifiers are not PromQL of Prometheus 2.42".into()));
            }
        }
        let matching = both_vectors.then(|| {
            let (labels, on) = match modifier.and_then(|m| m.matching.as_ref()) {
                Some(ast::LabelModifier::Include(l)) => (names(l), true),
                Some(ast::LabelModifier::Exclude(l)) => (names(l), false),
                None => (Vec::new(), false),
            };
            let (card, include) = match modifier.map(|m| &m.card) {
                _ if matches!(op, BinOp::And | BinOp::Or | BinOp::Unless) => (Cardinality::ManyToMany, Vec::new()),
                Some(ast::VectorMatchCardinality::ManyToOne(l)) => (Cardinality::ManyToOne, names(l)),
                Some(ast::VectorMatchCardinality::OneToMany(l)) => (Cardinality::OneToMany, names(l)),
                Some(ast::VectorMatchCardinality::ManyToMany) => (Cardinality::ManyToMany, Vec::new()),
                _ => (Cardinality::OneToOne, Vec::new()),
            };
            VectorMatching { card, labels, on, include }
        });
        let return_bool = modifier.map(|m| m.return_bool).unwrap_or(false);
        Ok(Node::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), return_bool, matching })
    }

    fn aggregate(&mut self, a: &ast::AggregateExpr, path: &Path) -> Result<Node, EvalError> {
        let op = match a.op.to_string().as_str() {
            "sum" => AggOp::Sum,
            "avg" => AggOp::Avg,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "group" => AggOp::Group,
            "stddev" => AggOp::Stddev,
            "stdvar" => AggOp::Stdvar,
            "topk" => AggOp::Topk,
            "bottomk" => AggOp::Bottomk,
            "count_values" => AggOp::CountValues,
            "quantile" => AggOp::Quantile,
            other => return Err(EvalError::BadData(format!("unknown aggregation {other:?} (not in Prometheus 2.42)"))),
        };
        let (mut grouping, without) = match &a.modifier {
            Some(ast::LabelModifier::Include(l)) => (names(l), false),
            Some(ast::LabelModifier::Exclude(l)) => (names(l), true),
            None => (Vec::new(), false),
        };
        grouping.sort();
        let param = match &a.param {
            Some(p) => Some(Box::new(self.node(p, path)?)),
            None => None,
        };
        Ok(Node::Aggregate { op, expr: Box::new(self.node(&a.expr, path)?), param, grouping, without })
    }

    fn call(&mut self, c: &ast::Call, path: &Path) -> Result<Node, EvalError> {
        let name = c.func.name;
        let Some(func) = functions::lookup(name) else {
            if NATIVE_HISTOGRAM_FUNCTIONS.contains(&name) {
                return Err(EvalError::Execution(format!("function {name}() works on native histograms, which Gemini does not store")));
            }
            return Err(EvalError::BadData(format!("unknown function with name {name:?}")));
        };
        let args = c.args.args.iter().map(|a| self.node(a, path)).collect::<Result<Vec<_>, _>>()?;
        let kind = match c.func.return_type {
            ValueType::Scalar => Kind::Scalar,
            ValueType::String => Kind::String,
            ValueType::Matrix => Kind::Matrix,
            ValueType::Vector => Kind::Vector,
        };
        Ok(Node::Call { name: name.to_string(), func, args, kind })
    }
}

fn matcher(m: &ParsedMatcher) -> LabelMatcher {
    let op = match m.op {
        ParsedOp::Equal => MatchOp::Equal,
        ParsedOp::NotEqual => MatchOp::NotEqual,
        ParsedOp::Re(_) => MatchOp::Regex,
        ParsedOp::NotRe(_) => MatchOp::NotRegex,
    };
    LabelMatcher { name: m.name.clone(), op, value: m.value.clone() }
}

fn same_matchers(a: &[LabelMatcher], b: &[LabelMatcher]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.name == y.name && x.op == y.op && x.value == y.value)
}
