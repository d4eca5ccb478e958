//! The functions that work on labels: label_replace (Go's regex syntax via `goregex`, and
//! `Regexp.Expand`'s template rules), label_join, and absent /
//! absent_over_time (labels from the selector's equality matchers, as
//! `createLabelsForAbsentFunction`). Errors carry Prometheus' panic texts.

use std::cell::RefCell;
use std::collections::HashMap;

use regex::Regex;

use super::goregex::go_regex_to_rust;
use super::Call;
use crate::promql::error::EvalError;
use crate::promql::plan::{MatchOp, Node};
use crate::promql::value::{is_valid_label_name, Labels, Value, Vector};


/// Go's `extract`: a `$name` / `${name}` reference at the start of `s`: (name, number if
/// numeric, bytes used).
fn extract(s: &str) -> Option<(&str, Option<usize>, usize)> {
    let brace = s.starts_with('{');
    let body = if brace { &s[1..] } else { s };
    let end = body.find(|c: char| !(c.is_alphabetic() || c.is_numeric() || c == '_')).unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let mut used = end + brace as usize;
    if brace {
        if !body[end..].starts_with('}') {
            return None;
        }
        used += 1;
    }
    let mut num: Option<usize> = Some(0);
    for b in name.bytes() {
        match num {
            Some(n) if b.is_ascii_digit() && n < 100_000_000 => num = Some(n * 10 + (b - b'0') as usize),
            _ => {
                num = None;
                break;
            }
        }
    }
    if name.len() > 1 && name.starts_with('0') {
        num = None;
    }
    Some((name, num, used))
}

/// Go's `Regexp.ExpandString` of `template` with the groups of `caps`.
fn expand(re: &Regex, template: &str, caps: &regex::Captures) -> String {
    let mut out = String::new();
    let mut t = template;
    while let Some(pos) = t.find('$') {
        out.push_str(&t[..pos]);
        t = &t[pos + 1..];
        if t.starts_with('$') {
            out.push('$');
            t = &t[1..];
            continue;
        }
        let Some((name, num, used)) = extract(t) else {
            out.push('$');
            continue;
        };
        t = &t[used..];
        let group = match num {
            Some(n) => caps.get(n),
            None => re
                .capture_names()
                .enumerate()
                .find(|(i, n)| *n == Some(name) && caps.get(*i).is_some())
                .and_then(|(i, _)| caps.get(i)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(t);
    out
}

thread_local! {
    /// Compiled label_replace regexes (a call compiles its regex at every step).
    static REGEXES: RefCell<HashMap<String, Option<Regex>>> = RefCell::new(HashMap::new());
}

/// `regexp.Compile("^(?:" + pattern + ")$")` with Go's syntax; `None` when Go refuses it.
fn compile_anchored(pattern: &str) -> Option<Regex> {
    REGEXES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(re) = cache.get(pattern) {
            return re.clone();
        }
        let re = go_regex_to_rust(pattern).ok().and_then(|p| Regex::new(&format!("^(?:{p})$")).ok());
        if cache.len() >= 256 {
            cache.clear();
        }
        cache.insert(pattern.to_string(), re.clone());
        re
    })
}

pub(crate) fn label_replace(call: &Call) -> Result<Vector, EvalError> {
    let dst = call.string_arg(1);
    let repl = call.string_arg(2);
    let src = call.string_arg(3);
    let regex_str = call.string_arg(4);
    let re = compile_anchored(regex_str)
        .ok_or_else(|| EvalError::Execution(format!("invalid regular expression in label_replace(): {regex_str}")))?;
    if !is_valid_label_name(dst) {
        return Err(EvalError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
    }
    Ok(call
        .vector_arg(0)
        .iter()
        .map(|el| {
            let src_val = el.labels.get(src);
            let labels = match re.captures(src_val) {
                None => el.labels.clone(),
                Some(caps) => {
                    let res = expand(&re, repl, &caps);
                    let mut l = el.labels.clone();
                    l.remove(dst);
                    l.set(dst, &res);
                    l
                }
            };
            call.sample(labels, el.point.v)
        })
        .collect())
}

pub(crate) fn label_join(call: &Call) -> Result<Vector, EvalError> {
    let dst = call.string_arg(1);
    let sep = call.string_arg(2);
    let mut src_labels = Vec::new();
    for i in 3..call.nodes.len().max(call.args.len()) {
        let src = call.string_arg(i);
        if !is_valid_label_name(src) {
            return Err(EvalError::Execution(format!("invalid source label name in label_join(): {src}")));
        }
        src_labels.push(src);
    }
    if !is_valid_label_name(dst) {
        return Err(EvalError::Execution(format!("invalid destination label name in label_join(): {dst}")));
    }
    Ok(call
        .vector_arg(0)
        .iter()
        .map(|el| {
            let vals: Vec<&str> = src_labels.iter().map(|s| el.labels.get(s)).collect();
            let joined = vals.join(sep);
            let mut l = el.labels.clone();
            l.set(dst, &joined); // an empty value removes the label
            call.sample(l, el.point.v)
        })
        .collect())
}

/// `createLabelsForAbsentFunction`: the labels of the selector's equality matchers, except
/// `__name__`; a name matched more than once, or by a non-equality matcher after its
/// equality, is dropped.
pub(crate) fn labels_for_absent(node: Option<&Node>) -> Labels {
    let mut l = Labels::default();
    let Some(matchers) = node.and_then(Node::selector_matchers) else { return l };
    let mut has: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == "__name__" {
            continue;
        }
        if m.op == MatchOp::Equal && !has.contains(&m.name.as_str()) {
            l.set(&m.name, &m.value);
            has.push(&m.name);
        } else {
            l.remove(&m.name);
        }
    }
    l
}

/// absent(v): 1 labelled from the selector when `v` is empty, nothing otherwise.
pub(crate) fn absent(call: &Call) -> Result<Vector, EvalError> {
    if !call.vector_arg(0).is_empty() {
        return Ok(vec![]);
    }
    Ok(vec![call.sample(labels_for_absent(call.nodes.first()), 1.0)])
}

/// absent_over_time(m): 1 labelled from the selector when no series has a point in the
/// window, nothing otherwise.
pub(crate) fn absent_over_time(call: &Call) -> Result<Vector, EvalError> {
    let present = match call.args.first() {
        Some(Value::Matrix(m)) => m.iter().any(|s| !s.points.is_empty()),
        _ => false,
    };
    if present {
        return Ok(vec![]);
    }
    Ok(vec![call.sample(labels_for_absent(call.nodes.first()), 1.0)])
}
