//! Series selectors, as `match[]` gives them to the series endpoints and the admin API's
//! `delete_series`: `up`, `{job="x"}`, `up{job=~"a|b"}`, parsed with the `promql-parser` crate
//! into the index's matchers, which must all hold.

use crate::index::matcher::{MatchKind, Matcher};
use promql_parser::label::MatchOp;
use promql_parser::parser::Expr;

/// A text that is not a series selector; the words are Gemini's, or the parser's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SelectorError {
    #[error("{0:?} is not a series selector: expected a metric name and/or label matchers, like up{{job=\"node\"}}")]
    NotSelector(String),
    #[error("{0:?}: a series selector takes no offset or @ modifier")]
    SelectorModifier(String),
    #[error("{0:?}: `or` between label matchers is not supported in match[]")]
    SelectorOr(String),
    /// The PromQL parser's or the matcher's own words (a selector that does not parse, a bad
    /// regular expression, one that matches every series).
    #[error("{0}")]
    Selector(String),
}

/// One `match[]`: a series selector (`up`, `{job="x"}`, `up{job=~"a|b"}`) as matchers that
/// must all hold. Anything else (an expression, a range, `offset`, `@`, `or` between label
/// sets) is refused with a message; so is a selector that would match every series, as the
/// parser says.
pub fn parse(text: &str) -> Result<Vec<Matcher>, SelectorError> {
    let Expr::VectorSelector(vs) = promql_parser::parser::parse(text).map_err(SelectorError::Selector)? else {
        return Err(SelectorError::NotSelector(text.to_string()));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(SelectorError::SelectorModifier(text.to_string()));
    }
    if !vs.matchers.or_matchers.is_empty() {
        return Err(SelectorError::SelectorOr(text.to_string()));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::new(MatchKind::Equal, "__name__", name).map_err(|e| SelectorError::Selector(e.to_string()))?);
    }
    for m in &vs.matchers.matchers {
        let kind = match m.op {
            MatchOp::Equal => MatchKind::Equal,
            MatchOp::NotEqual => MatchKind::NotEqual,
            MatchOp::Re(_) => MatchKind::Regex,
            MatchOp::NotRe(_) => MatchKind::NotRegex,
        };
        out.push(Matcher::new(kind, &m.name, &m.value).map_err(|e| SelectorError::Selector(e.to_string()))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(ms: &[Matcher]) -> Vec<(i32, String, String)> {
        ms.iter().map(|m| m.to_wire()).collect()
    }

    #[test]
    fn selectors_become_matchers() {
        let up = parse(r#"up{job="node",mode!="idle",cpu=~"1|2",dev!~"lo.*"}"#).unwrap();
        let want = [(0, "__name__", "up"), (0, "job", "node"), (1, "mode", "idle"), (2, "cpu", "1|2"), (3, "dev", "lo.*")];
        assert_eq!(show(&up), want.map(|(k, n, v)| (k, n.to_string(), v.to_string())));
        assert_eq!(show(&parse(r#"{__name__!=""}"#).unwrap()), vec![(1, "__name__".to_string(), String::new())]);
        assert_eq!(show(&parse("node_cpu_seconds_total").unwrap()), vec![(0, "__name__".to_string(), "node_cpu_seconds_total".to_string())]);
        for bad in ["up + 1", "up[5m]", "rate(up[5m])", "up offset 5m", "up @ 100", r#"{job=~".*"}"#, "up{", "", r#"{a="1" or b="2"}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let e = parse(r#"{job=~".*"}"#).unwrap_err().to_string();
        assert!(e.contains("at least one non-empty matcher"), "{e}");
    }
}
