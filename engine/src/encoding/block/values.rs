//! Values as integers: a float's bits as an i64 that orders like the float, and exact decimal
//! mantissas at a scale 10^k (or ×10^-k) with corrections for values no scale gives back.

use super::*;

/// Maps float bits to an i64 that orders like the float (and back: it is an involution).
pub(super) fn order(bits: u64) -> i64 {
    let b = bits as i64;
    if b < 0 { b ^ i64::MAX } else { b }
}

/// The value a decimal mantissa stands for.
pub(super) fn recon(kind: u8, k: usize, m: i64) -> f64 {
    if kind == KIND_DIV { m as f64 / POW10[k] } else { m as f64 * INV10[k] }
}

/// The mantissa of `v` at scale k (None when v is not finite or too large) and whether it
/// gives v back exactly; for ×10^-k the neighbours of the rounded guess are tried too.
pub(super) fn fit(kind: u8, k: usize, v: f64) -> Option<(i64, bool)> {
    let m = if kind == KIND_DIV { v * POW10[k] } else { v / INV10[k] }.round();
    // Not finite, or too large for an i64 (NaN fails the comparison).
    if m.abs().partial_cmp(&TWO63) != Some(std::cmp::Ordering::Less) {
        return None;
    }
    let exact = |m: i64| recon(kind, k, m).to_bits() == v.to_bits();
    let guess = m as i64;
    if exact(guess) || kind == KIND_DIV {
        return Some((guess, exact(guess)));
    }
    let near = [guess.wrapping_add(1), guess.wrapping_sub(1), m.next_up() as i64, m.next_down() as i64];
    Some(near.into_iter().find(|&m| exact(m)).map_or((guess, false), |m| (m, true)))
}

/// Candidate scales k for a decimal kind: the smallest k at which a value comes back exactly
/// is found for each value; the candidates are the k that covers half of those values and the
/// one that covers all but 2% (outliers then cost corrections).
pub(super) fn scales(kind: u8, vals: &[f64]) -> Vec<usize> {
    let mut counts = [0usize; MAX_K + 1];
    // ÷10^k is only trusted while the mantissa is an exact double.
    let limit = if kind == KIND_DIV { 9_007_199_254_740_992.0 } else { TWO63 };
    for (i, &v) in vals.iter().enumerate() {
        let mut ks = (0..=MAX_K).take_while(|&k| (v * POW10[k]).abs() < limit);
        if let Some(k) = ks.find(|&k| fit(kind, k, v).is_some_and(|f| f.1)) {
            counts[k] += 1;
        }
        // Not decimals at all (random bits, say): save the search.
        if i == 63 && counts.iter().all(|&c| c == 0) {
            break;
        }
    }
    let exact: usize = counts.iter().sum();
    if exact == 0 {
        return Vec::new();
    }
    let covering = |share: usize| {
        let (mut k, mut seen) = (0, counts[0]);
        while k < MAX_K && seen < share {
            k += 1;
            seen += counts[k];
        }
        k
    };
    let (half, most) = (covering(exact.div_ceil(2)), covering(exact - exact / 50));
    vec![most, half]
}

/// The mantissas and corrections of the values at scale k.
pub(super) fn decimal(kind: u8, k: usize, vals: &[f64]) -> (Vec<i64>, Vec<i64>) {
    let (mut ms, mut cs, mut prev) = (Vec::with_capacity(vals.len()), Vec::with_capacity(vals.len()), 0);
    for &v in vals {
        let m = fit(kind, k, v).map_or(prev, |f| f.0);
        ms.push(m);
        cs.push((v.to_bits() as i64).wrapping_sub(recon(kind, k, m).to_bits() as i64));
        prev = m;
    }
    (ms, cs)
}
