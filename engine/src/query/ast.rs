//! The syntax tree of an InfluxQL `SELECT` and of the conditions `WHERE` clauses hold.

#[derive(Debug, PartialEq, Clone)]
pub enum Expr {
    /// A field or tag name, with the `::field` / `::tag` hint when one was written.
    Var { name: String, hint: Option<String> },
    Str(String),
    Number(f64),
    Integer(i64),
    /// Nanoseconds.
    Duration(i64),
    Regex(String),
    Now,
    Wildcard,
    Call { name: String, args: Vec<Expr> },
    /// `op` is one of `AND OR = != < <= > >= =~ !~ + -`.
    Binary { op: &'static str, lhs: Box<Expr>, rhs: Box<Expr> },
}

impl Expr {
    pub fn var(name: &str) -> Expr {
        Expr::Var { name: name.to_string(), hint: None }
    }

    pub fn binary(op: &'static str, lhs: Expr, rhs: Expr) -> Expr {
        Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
    }
}

#[derive(Debug, PartialEq, Clone)]
pub struct SelectField {
    pub expr: Expr,
    pub alias: Option<String>,
}

/// A measurement name or a regular expression over names.
#[derive(Debug, PartialEq, Clone)]
pub enum Name {
    Exact(String),
    Regex(String),
}

/// `[db.[rp].]measurement` in `FROM`.
#[derive(Debug, PartialEq, Clone)]
pub struct Source {
    pub db: Option<String>,
    pub rp: Option<String>,
    pub name: Name,
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Fill {
    Null,
    None,
    Previous,
    Linear,
    Value(f64),
}

/// `GROUP BY time(every, offset)`, in nanoseconds.
#[derive(Debug, PartialEq, Clone, Copy)]
pub struct Interval {
    pub every: i64,
    pub offset: i64,
}

/// A `LIMIT`/`SLIMIT` as a count to take: 0 (none written) is everything.
pub fn limit_or_all(limit: usize) -> usize {
    if limit == 0 { usize::MAX } else { limit }
}

#[derive(Debug, PartialEq, Clone)]
pub struct Select {
    pub fields: Vec<SelectField>,
    pub sources: Vec<Source>,
    pub condition: Option<Expr>,
    pub interval: Option<Interval>,
    /// `GROUP BY` tag names; `group_by_all` for `GROUP BY *`.
    pub group_by: Vec<String>,
    pub group_by_all: bool,
    pub fill: Fill,
    pub descending: bool,
    /// 0 = no limit.
    pub limit: usize,
    pub offset: usize,
    pub slimit: usize,
    pub soffset: usize,
}
