//! Go's `strconv.ParseFloat(s, 64)` as histogram_quantile uses it on `le` label values: which
//! strings it accepts (Go float-literal syntax with underscores, hex floats with a `p`
//! exponent, `inf`/`infinity`/`nan` in any case, signed infinities but not signed NaN) and
//! which it refuses (syntax errors, and overflow, which Go reports as a range error).

/// `strconv.ParseFloat(s, 64)`, `None` where Go returns an error.
pub(crate) fn parse_float(s: &str) -> Option<f64> {
    if let Some((v, n)) = special(s) {
        return if n == s.len() { Some(v) } else { None };
    }
    let r = read_float(s.as_bytes())?;
    if r.len != s.len() {
        return None;
    }
    let v = if r.hex {
        atof_hex(r.mantissa, r.exp, r.neg, r.trunc)?
    } else {
        let cleaned: String = s.chars().filter(|&c| c != '_').collect();
        cleaned.parse::<f64>().ok()?
    };
    if v.is_infinite() {
        return None; // ErrRange
    }
    Some(v)
}

fn lower(c: u8) -> u8 {
    c | (b'x' - b'X')
}

fn common_prefix_len_ignore_case(s: &[u8], prefix: &[u8]) -> usize {
    let n = prefix.len().min(s.len());
    for i in 0..n {
        let mut c = s[i];
        if c.is_ascii_uppercase() {
            c += b'a' - b'A';
        }
        if c != prefix[i] {
            return i;
        }
    }
    n
}

/// Go's `special`: infinities and NaN, with how many bytes they took.
fn special(s: &str) -> Option<(f64, usize)> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (sign, nsign, rest) = match b[0] {
        b'+' => (1.0, 1, &b[1..]),
        b'-' => (-1.0, 1, &b[1..]),
        b'n' | b'N' => {
            return (common_prefix_len_ignore_case(b, b"nan") == 3).then_some((f64::NAN, 3));
        }
        b'i' | b'I' => (1.0, 0, b),
        _ => return None,
    };
    let mut n = common_prefix_len_ignore_case(rest, b"infinity");
    if 3 < n && n < 8 {
        n = 3;
    }
    (n == 3 || n == 8).then_some((sign * f64::INFINITY, nsign + n))
}

struct Read {
    mantissa: u64,
    exp: i64,
    neg: bool,
    trunc: bool,
    hex: bool,
    len: usize,
}

/// Go's `readFloat`: the syntax check, and the mantissa/exponent for hex floats.
fn read_float(s: &[u8]) -> Option<Read> {
    let mut i = 0;
    let mut neg = false;
    if i >= s.len() {
        return None;
    }
    if s[i] == b'+' {
        i += 1;
    } else if s[i] == b'-' {
        neg = true;
        i += 1;
    }
    let mut base: u64 = 10;
    let mut max_mant_digits = 19;
    let mut exp_char = b'e';
    let mut hex = false;
    if i + 2 < s.len() && s[i] == b'0' && lower(s[i + 1]) == b'x' {
        base = 16;
        max_mant_digits = 16;
        i += 2;
        exp_char = b'p';
        hex = true;
    }
    let (mut underscores, mut sawdot, mut sawdigits) = (false, false, false);
    let (mut nd, mut nd_mant, mut dp) = (0i64, 0i64, 0i64);
    let (mut mantissa, mut trunc) = (0u64, false);
    while i < s.len() {
        let c = s[i];
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if sawdot {
                break;
            }
            sawdot = true;
            dp = nd;
        } else if c.is_ascii_digit() {
            sawdigits = true;
            if c == b'0' && nd == 0 {
                dp -= 1;
                i += 1;
                continue;
            }
            nd += 1;
            if nd_mant < max_mant_digits {
                mantissa = mantissa.wrapping_mul(base).wrapping_add((c - b'0') as u64);
                nd_mant += 1;
            } else if c != b'0' {
                trunc = true;
            }
        } else if base == 16 && (b'a'..=b'f').contains(&lower(c)) {
            sawdigits = true;
            nd += 1;
            if nd_mant < max_mant_digits {
                mantissa = mantissa.wrapping_mul(16).wrapping_add((lower(c) - b'a' + 10) as u64);
                nd_mant += 1;
            } else {
                trunc = true;
            }
        } else {
            break;
        }
        i += 1;
    }
    if !sawdigits {
        return None;
    }
    if !sawdot {
        dp = nd;
    }
    if base == 16 {
        dp *= 4;
        nd_mant *= 4;
    }
    if i < s.len() && lower(s[i]) == exp_char {
        i += 1;
        if i >= s.len() {
            return None;
        }
        let mut esign = 1;
        if s[i] == b'+' {
            i += 1;
        } else if s[i] == b'-' {
            i += 1;
            esign = -1;
        }
        if i >= s.len() || !s[i].is_ascii_digit() {
            return None;
        }
        let mut e = 0i64;
        while i < s.len() && (s[i].is_ascii_digit() || s[i] == b'_') {
            if s[i] == b'_' {
                underscores = true;
            } else if e < 10000 {
                e = e * 10 + (s[i] - b'0') as i64;
            }
            i += 1;
        }
        dp += e * esign;
    } else if base == 16 {
        return None; // a hex mantissa needs a 'p' exponent
    }
    let exp = if mantissa != 0 { dp - nd_mant } else { 0 };
    if underscores && !underscore_ok(&s[..i]) {
        return None;
    }
    Some(Read { mantissa, exp, neg, trunc, hex, len: i })
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscore_ok(mut s: &[u8]) -> bool {
    let mut saw = b'^';
    let mut i = 0;
    if !s.is_empty() && (s[0] == b'-' || s[0] == b'+') {
        s = &s[1..];
    }
    let mut hex = false;
    if s.len() >= 2 && s[0] == b'0' && matches!(lower(s[1]), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = lower(s[1]) == b'x';
    }
    while i < s.len() {
        if s[i].is_ascii_digit() || hex && (b'a'..=b'f').contains(&lower(s[i])) {
            saw = b'0';
        } else if s[i] == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `atofHex` for float64: round the mantissa·2^exp to nearest even; `None` on overflow.
fn atof_hex(mut mantissa: u64, mut exp: i64, neg: bool, trunc: bool) -> Option<f64> {
    const MANTBITS: u32 = 52;
    const BIAS: i64 = -1023;
    let max_exp = (1i64 << 11) + BIAS - 2;
    let min_exp = BIAS + 1;
    exp += MANTBITS as i64;
    while mantissa != 0 && mantissa >> (MANTBITS + 2) == 0 {
        mantissa <<= 1;
        exp -= 1;
    }
    if trunc {
        mantissa |= 1;
    }
    while mantissa >> (1 + MANTBITS + 2) != 0 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    while mantissa > 1 && exp < min_exp - 2 {
        mantissa = (mantissa >> 1) | (mantissa & 1);
        exp += 1;
    }
    let mut round = mantissa & 3;
    mantissa >>= 2;
    round |= mantissa & 1;
    exp += 2;
    if round == 3 {
        mantissa += 1;
        if mantissa == 1 << (1 + MANTBITS) {
            mantissa >>= 1;
            exp += 1;
        }
    }
    if mantissa >> MANTBITS == 0 {
        exp = BIAS;
    }
    if exp > max_exp {
        return None;
    }
    let mut bits = mantissa & ((1 << MANTBITS) - 1);
    bits |= (((exp - BIAS) & ((1 << 11) - 1)) as u64) << MANTBITS;
    if neg {
        bits |= 1 << 63;
    }
    Some(f64::from_bits(bits))
}

#[cfg(test)]
mod tests {
    use super::parse_float;

    #[test]
    fn accepts_what_go_accepts() {
        // The `le` spellings of histograms.test ("mixed_bucket") and Go's atof_test cases.
        assert_eq!(parse_float("0.1"), Some(0.1));
        assert_eq!(parse_float(".2"), Some(0.2));
        assert_eq!(parse_float("1e0"), Some(1.0));
        assert_eq!(parse_float("2e-1"), Some(0.2));
        assert_eq!(parse_float("2.0e-1"), Some(0.2));
        assert_eq!(parse_float("-.2"), Some(-0.2));
        assert_eq!(parse_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("+inf"), Some(f64::INFINITY));
        assert_eq!(parse_float("-Infinity"), Some(f64::NEG_INFINITY));
        assert!(parse_float("NaN").unwrap().is_nan());
        assert_eq!(parse_float("1_000.5"), Some(1000.5));
        assert_eq!(parse_float("0x1p-2"), Some(0.25));
        assert_eq!(parse_float("0x1.8p1"), Some(3.0));
        assert_eq!(parse_float("1e-400"), Some(0.0));
    }

    #[test]
    fn refuses_what_go_refuses() {
        for s in ["", "-nan", "+NaN", "infin", "1e400", "-1e400", "0x1", "1_", "_1", "1__0", "1e", "abc", "1.2.3", " 1", "1 "] {
            assert_eq!(parse_float(s).map(|v| v.to_bits()), None, "{s:?}");
        }
    }
}
