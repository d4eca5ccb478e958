//! Go's `math` functions where Rust's differ beyond the last bit: `Max`/`Min` (NaN wins over
//! numbers, signed zeros ordered), `Log2` (exact powers of two, `Log(frac)/Ln2 + exp`
//! otherwise), `Log10` (`Log(x) * (1/Ln10)`, so log10(1e15) is 14.999999999999998), and the
//! hyperbolic functions (Go's `Sinh`/`Cosh` overflow to ±Inf from |x| ≈ 709.8 as they halve
//! `Exp(x)`; Rust's `acosh` overflows near f64::MAX where Go's does not). Their building
//! blocks `Exp`, `Log`, `Log1p`, `Sqrt` are Rust's (equal to Go's or within an ulp).

#![allow(clippy::excessive_precision)] // Go's constants, verbatim

/// Go's `math.Max`: +Inf wins, then NaN, and +0 over -0.
pub(crate) fn go_max(x: f64, y: f64) -> f64 {
    if x == f64::INFINITY || y == f64::INFINITY {
        return f64::INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { y } else { x };
    }
    if x > y {
        x
    } else {
        y
    }
}

/// Go's `math.Min`: -Inf wins, then NaN, and -0 over +0.
pub(crate) fn go_min(x: f64, y: f64) -> f64 {
    if x == f64::NEG_INFINITY || y == f64::NEG_INFINITY {
        return f64::NEG_INFINITY;
    }
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == 0.0 && x == y {
        return if x.is_sign_negative() { x } else { y };
    }
    if x < y {
        x
    } else {
        y
    }
}

/// Go's `math.Frexp`: `f = frac · 2^exp` with `frac` in [0.5, 1).
fn frexp(f: f64) -> (f64, i64) {
    if f == 0.0 || f.is_infinite() || f.is_nan() {
        return (f, 0);
    }
    let (f, mut exp) = if f.abs() < f64::MIN_POSITIVE { (f * (1u64 << 52) as f64, -52) } else { (f, 0) };
    let mut x = f.to_bits();
    exp += ((x >> 52) & 0x7ff) as i64 - 1023 + 1;
    x &= !(0x7ffu64 << 52);
    x |= 1022u64 << 52;
    (f64::from_bits(x), exp)
}

/// Go's `math.Log2`: exact for powers of two, `Log(frac)/Ln2 + exp` otherwise.
pub(crate) fn go_log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return (exp - 1) as f64;
    }
    frac.ln() * std::f64::consts::LOG2_E + exp as f64
}

/// Go's `math.Log10`: `Log(x) * (1/Ln10)` (so log10(1000) is 2.9999999999999996, as in Go).
pub(crate) fn go_log10(x: f64) -> f64 {
    x.ln() * std::f64::consts::LOG10_E
}

/// Go's `math.Sinh`.
pub(crate) fn go_sinh(x: f64) -> f64 {
    // The coefficients are #2029 from Hart & Cheney (20.36D).
    const P0: f64 = -0.6307673640497716991184787251e+6;
    const P1: f64 = -0.8991272022039509355398013511e+5;
    const P2: f64 = -0.2894211355989563807284660366e+4;
    const P3: f64 = -0.2630563213397497062819489e+2;
    const Q0: f64 = -0.6307673640497716991212077277e+6;
    const Q1: f64 = 0.1521517378790019070696485176e+5;
    const Q2: f64 = -0.173678953558233699533450911e+3;
    let (x, sign) = if x < 0.0 { (-x, true) } else { (x, false) };
    let temp = if x > 21.0 {
        x.exp() * 0.5
    } else if x > 0.5 {
        let ex = x.exp();
        (ex - 1.0 / ex) * 0.5
    } else {
        let sq = x * x;
        let t = (((P3 * sq + P2) * sq + P1) * sq + P0) * x;
        t / (((sq + Q2) * sq + Q1) * sq + Q0)
    };
    if sign {
        -temp
    } else {
        temp
    }
}

/// Go's `math.Cosh`.
pub(crate) fn go_cosh(x: f64) -> f64 {
    let x = x.abs();
    if x > 21.0 {
        return x.exp() * 0.5;
    }
    let ex = x.exp();
    (ex + 1.0 / ex) * 0.5
}

/// Go's `math.Tanh` (Cephes).
pub(crate) fn go_tanh(x: f64) -> f64 {
    const P: [f64; 3] = [-9.64399179425052238628e-1, -9.92877231001918586564e1, -1.61468768441708447952e3];
    const Q: [f64; 3] = [1.12811678491632931402e2, 2.23548839060100448583e3, 4.84406305325125486048e3];
    const MAXLOG: f64 = 8.8029691931113054295988e+01; // log(2**127)
    let z = x.abs();
    if z > 0.5 * MAXLOG {
        return if x < 0.0 { -1.0 } else { 1.0 };
    }
    if z >= 0.625 {
        let s = (2.0 * z).exp();
        let z = 1.0 - 2.0 / (s + 1.0);
        return if x < 0.0 { -z } else { z };
    }
    if x == 0.0 {
        return x;
    }
    let s = x * x;
    x + x * s * ((P[0] * s + P[1]) * s + P[2]) / (((s + Q[0]) * s + Q[1]) * s + Q[2])
}

const NEAR_ZERO: f64 = 1.0 / (1u64 << 28) as f64;
const LARGE: f64 = (1u64 << 28) as f64;

/// Go's `math.Asinh`.
pub(crate) fn go_asinh(x: f64) -> f64 {
    if x.is_nan() || x.is_infinite() {
        return x;
    }
    let (x, sign) = if x < 0.0 { (-x, true) } else { (x, false) };
    let temp = if x > LARGE {
        x.ln() + std::f64::consts::LN_2
    } else if x > 2.0 {
        (2.0 * x + 1.0 / ((x * x + 1.0).sqrt() + x)).ln()
    } else if x < NEAR_ZERO {
        x
    } else {
        (x + x * x / (1.0 + (1.0 + x * x).sqrt())).ln_1p()
    };
    if sign {
        -temp
    } else {
        temp
    }
}

/// Go's `math.Acosh`.
pub(crate) fn go_acosh(x: f64) -> f64 {
    if x < 1.0 || x.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return 0.0;
    }
    if x >= LARGE {
        return x.ln() + std::f64::consts::LN_2;
    }
    if x > 2.0 {
        return (2.0 * x - 1.0 / (x + (x * x - 1.0).sqrt())).ln();
    }
    let t = x - 1.0;
    (t + (2.0 * t + t * t).sqrt()).ln_1p()
}

/// Go's `math.Atanh`.
pub(crate) fn go_atanh(x: f64) -> f64 {
    if x < -1.0 || x > 1.0 || x.is_nan() {
        return f64::NAN;
    }
    if x == 1.0 {
        return f64::INFINITY;
    }
    if x == -1.0 {
        return f64::NEG_INFINITY;
    }
    let (x, sign) = if x < 0.0 { (-x, true) } else { (x, false) };
    let temp = if x < NEAR_ZERO {
        x
    } else if x < 0.5 {
        let t = x + x;
        0.5 * (t + t * x / (1.0 - x)).ln_1p()
    } else {
        0.5 * ((x + x) / (1.0 - x)).ln_1p()
    };
    if sign {
        -temp
    } else {
        temp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_edge_cases() {
        // By hand from Go's formulas: Exp(710) overflows, so Go's Cosh/Sinh(710) are +Inf/-Inf
        // (the true values are finite); Acosh(1e308) = Log(1e308) + Ln2, finite.
        assert_eq!(go_cosh(710.), f64::INFINITY);
        assert_eq!(go_sinh(-710.), f64::NEG_INFINITY);
        assert_eq!(go_acosh(1e308), 1e308f64.ln() + std::f64::consts::LN_2);
        assert_eq!(go_tanh(50.), 1.);
        assert_eq!(go_asinh(-0.0).to_bits(), (-0.0f64).to_bits());
        assert!(go_max(f64::NAN, 1.).is_nan() && go_min(1., f64::NAN).is_nan());
        assert_eq!(go_max(f64::NAN, f64::INFINITY), f64::INFINITY);
        assert_eq!(go_min(0.0, -0.0).to_bits(), (-0.0f64).to_bits());
        // Within rounding of the exact values elsewhere.
        for x in [0.1, 0.7, 1.5, 3., 30.] {
            assert!((go_sinh(x) - x.sinh()).abs() <= 4. * f64::EPSILON * x.sinh());
            assert!((go_cosh(x) - x.cosh()).abs() <= 4. * f64::EPSILON * x.cosh());
            assert!((go_tanh(x / 10.) - (x / 10.).tanh()).abs() <= 4. * f64::EPSILON);
            assert!((go_asinh(x) - x.asinh()).abs() <= 4. * f64::EPSILON * x.asinh());
            assert!((go_acosh(x + 1.) - (x + 1.).acosh()).abs() <= 4. * f64::EPSILON * (x + 1.).acosh());
        }
        assert!((go_atanh(0.3) - 0.3f64.atanh()).abs() <= 4. * f64::EPSILON);
        assert!((go_atanh(0.9) - 0.9f64.atanh()).abs() <= 4. * f64::EPSILON * 2.);
    }
}
