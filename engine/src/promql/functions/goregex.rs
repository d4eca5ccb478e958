//! Go's regexp syntax (RE2, Perl flags, Go 1.19) rewritten for the `regex` crate, where the
//! two differ, so that label_replace accepts, refuses and matches what Prometheus does:
//! `\d \w \s \b` are ASCII-only in Go; Go has `\Q...\E`, octal escapes and `\C`; a `{` that
//! does not start a valid repetition is a literal; repetition counts are at most 1000;
//! stacked repetitions (`a**`), `(?<name>`, flags other than `imsU` and unknown letter
//! escapes are errors; `&&`, `~~`, `--` in classes and `\<`, `\>` are plain characters.
//! The pattern is read one character (or escape) at a time, not parsed; what the `regex`
//! crate then refuses that Go accepts (or the reverse) is not covered beyond these cases.

/// Go's `parseRepeat` on `{...}` at the start of `cs`: (chars used, min, max; max -1 for
/// none). `None` when it is not a repetition (then `{` is a literal).
fn parse_repeat(cs: &[char]) -> Option<(usize, i64, i64)> {
    fn parse_int(cs: &[char], i: &mut usize) -> Option<i64> {
        let start = *i;
        while *i < cs.len() && cs[*i].is_ascii_digit() {
            *i += 1;
        }
        if *i == start || (*i - start >= 2 && cs[start] == '0') {
            return None; // no digits, or a leading zero
        }
        let digits: String = cs[start..*i].iter().collect();
        // Go gives up past 1e8 (and then refuses the repetition): any huge count is too big.
        Some(if *i - start >= 9 { i64::MAX } else { digits.parse().ok()? })
    }
    let mut i = 1;
    let min = parse_int(cs, &mut i)?;
    let max;
    if cs.get(i)? != &',' {
        max = min;
    } else {
        i += 1;
        if cs.get(i)? == &'}' {
            max = -1;
        } else {
            max = parse_int(cs, &mut i)?;
        }
    }
    if cs.get(i)? != &'}' {
        return None;
    }
    Some((i + 1, min, max))
}

/// The rewritten pattern, or `Err` where Go's parser refuses it.
pub(crate) fn go_regex_to_rust(pattern: &str) -> Result<String, ()> {
    let cs: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut i = 0;
    let mut in_class = false;
    let mut class_first = false;
    let mut last_repeat = false;
    while i < cs.len() {
        let c = cs[i];
        if in_class {
            let first = class_first;
            class_first = false;
            match c {
                ']' if !first => {
                    in_class = false;
                    out.push(']');
                }
                '[' if cs.get(i + 1) == Some(&':') => {
                    let rest: String = cs[i..].iter().collect();
                    match rest.find(":]") {
                        Some(end) if end >= 2 => {
                            out.push_str(&rest[..end + 2]);
                            i += rest[..end + 2].chars().count();
                            continue;
                        }
                        _ => out.push_str("\\["),
                    }
                }
                '[' | '&' | '~' => {
                    out.push('\\');
                    out.push(c);
                }
                '-' if !first && cs[i - 1] == '-' => out.push_str("\\-"),
                '\\' => {
                    i = escape(&cs, i, true, &mut out)?;
                    continue;
                }
                _ => out.push(c),
            }
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                class_first = true;
                last_repeat = false;
                out.push('[');
                if cs.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                i += 1;
                continue;
            }
            '*' | '+' | '?' => {
                if last_repeat {
                    return Err(()); // invalid nested repetition operator
                }
                out.push(c);
                i += 1;
            }
            '{' => match parse_repeat(&cs[i..]) {
                Some((used, min, max)) => {
                    if min > 1000 || max > 1000 || (max >= 0 && min > max) || last_repeat {
                        return Err(());
                    }
                    out.extend(&cs[i..i + used]);
                    i += used;
                }
                None => {
                    out.push_str("\\{");
                    last_repeat = false;
                    i += 1;
                    continue;
                }
            },
            '(' if cs.get(i + 1) == Some(&'?') => {
                last_repeat = false;
                if cs.get(i + 2) == Some(&'P') && cs.get(i + 3) == Some(&'<') {
                    out.push_str("(?P<");
                    i += 4;
                    continue;
                }
                let mut j = i + 2;
                while j < cs.len() && cs[j] != ')' && cs[j] != ':' {
                    if !matches!(cs[j], 'i' | 'm' | 's' | 'U' | '-') {
                        return Err(()); // invalid or unsupported Perl syntax
                    }
                    j += 1;
                }
                out.extend(&cs[i..j]);
                i = j;
                continue;
            }
            '\\' => {
                last_repeat = false;
                i = escape(&cs, i, false, &mut out)?;
                continue;
            }
            _ => {
                last_repeat = false;
                out.push(c);
                i += 1;
                continue;
            }
        }
        // After a repetition operator: an optional `?` (non-greedy), then nothing stacked.
        if cs.get(i) == Some(&'?') {
            out.push('?');
            i += 1;
        }
        last_repeat = true;
    }
    Ok(out)
}

/// The escape at `cs[i]` (a backslash): appends its rewrite, returns the index after it.
fn escape(cs: &[char], i: usize, in_class: bool, out: &mut String) -> Result<usize, ()> {
    let Some(&n) = cs.get(i + 1) else { return Err(()) }; // trailing backslash
    let mut next = i + 2;
    match n {
        'd' => out.push_str("[0-9]"),
        'D' => out.push_str("[^0-9]"),
        'w' => out.push_str("[0-9A-Za-z_]"),
        'W' => out.push_str("[^0-9A-Za-z_]"),
        's' => out.push_str("[\\t\\n\\f\\r ]"),
        'S' => out.push_str("[^\\t\\n\\f\\r ]"),
        'b' if !in_class => out.push_str("(?-u:\\b)"),
        'B' if !in_class => out.push_str("(?-u:\\B)"),
        'A' | 'z' if !in_class => {
            out.push('\\');
            out.push(n);
        }
        'C' if !in_class => out.push_str("(?s:.)"),
        'Q' if !in_class => {
            let mut lit = String::new();
            while next < cs.len() {
                if cs[next] == '\\' && cs.get(next + 1) == Some(&'E') {
                    next += 2;
                    break;
                }
                lit.push(cs[next]);
                next += 1;
            }
            out.push_str("(?:");
            out.push_str(&regex::escape(&lit));
            out.push(')');
        }
        'a' | 'f' | 'n' | 'r' | 't' | 'v' => {
            out.push('\\');
            out.push(n);
        }
        'x' | 'p' | 'P' => {
            // \x{10FFFF} or \xFF; \p{Greek} or \pL: copied whole, braces included.
            out.push('\\');
            out.push(n);
            let len = if cs.get(next) == Some(&'{') {
                cs[next..].iter().position(|&c| c == '}').map_or(cs.len() - next, |e| e + 1)
            } else if n == 'x' {
                2
            } else {
                1
            };
            let end = (next + len).min(cs.len());
            out.extend(&cs[next..end]);
            next = end;
        }
        '0'..='7' => {
            // Octal: \0 and up to two more digits, or a non-zero digit with at least one
            // more (a lone \1..\7 would be a backreference).
            if n != '0' && !matches!(cs.get(next), Some('0'..='7')) {
                return Err(());
            }
            let mut v = n as u32 - '0' as u32;
            let mut k = 1;
            while k < 3 && matches!(cs.get(next), Some('0'..='7')) {
                v = v * 8 + (cs[next] as u32 - '0' as u32);
                next += 1;
                k += 1;
            }
            out.push_str(&format!("\\x{{{v:X}}}"));
        }
        c if c.is_ascii() && !c.is_ascii_alphanumeric() => out.push_str(&regex::escape(&c.to_string())),
        _ => return Err(()), // invalid escape sequence
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::go_regex_to_rust;

    fn matches(pattern: &str, s: &str) -> bool {
        let p = go_regex_to_rust(pattern).unwrap();
        regex::Regex::new(&format!("^(?:{p})$")).unwrap().is_match(s)
    }

    #[test]
    fn go_syntax_accepted() {
        assert!(matches(r"\d+", "123"));
        assert!(!matches(r"\d+", "١٢٣")); // Arabic-Indic digits: not \d in Go
        assert!(matches(r"\w+", "a_1"));
        assert!(!matches(r"\w", "é"));
        assert!(matches(r"[\d.]+", "1.5"));
        assert!(matches(r"\Qa.b\E", "a.b"));
        assert!(!matches(r"\Qa.b\E", "axb"));
        assert!(matches(r"a{,5}", "a{,5}"));
        assert!(matches(r"a{01}", "a{01}"));
        assert!(matches(r"a{2}", "aa"));
        assert!(matches(r"a*?b", "aab"));
        assert!(matches(r"\101", "A"));
        assert!(matches(r"[a&&b]", "&"));
        assert!(matches(r"\<x\>", "<x>"));
        assert!(matches(r"[[:alpha:]]+", "abc"));
        assert!(matches(r"[]a]+", "]a"));
        assert!(matches(r"(?i)abc", "ABC"));
        assert!(matches(r"(?P<x>a)", "a"));
        assert!(matches(r"\_", "_"));
        assert!(matches(r"\x{41}\x42\pL\p{Greek}+", "ABcαβ"));
        assert!(matches(r"[\x{41}-\x{43}\p{Greek}]+", "ABCα"));
        assert!(matches(r"([^:]+)(?::\d+)?", "host:80"));
        assert!(matches(r"a\.b\-c\/d", "a.b-c/d"));
    }

    #[test]
    fn go_syntax_refused() {
        for p in [r"a**", r"a+*", r"a{2}*", r"a{1001}", r"(?<x>a)", r"(?x)a", r"\1", r"\e", r"\u0041", "a\\"] {
            assert!(go_regex_to_rust(p).is_err(), "{p}");
        }
    }
}
