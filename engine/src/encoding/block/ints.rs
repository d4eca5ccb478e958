//! One integer sequence (`ints` in the block layout): the encoder's choice of transform and
//! packing by encoded size, the writer, and the reader that checks and decodes it.

use super::*;

/// How `ints(xs)` is written: transform, packing (for `PATCHED`, the range the base items
/// are clamped to) and the length in bytes.
#[derive(Clone, Copy)]
pub(super) struct Plan {
    transform: u8,
    packing: u8,
    range: (i64, i64),
    pub(super) len: usize,
}

/// The average step of `xs`, rounded to nearest (truncating would let line residuals drift).
pub(super) fn slope(xs: &[i64]) -> i64 {
    let (rise, run) = (xs[xs.len() - 1] as i128 - xs[0] as i128, xs.len() as i128 - 1);
    (2 * rise + run).div_euclid(2 * run).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The parameter (if any) and the items of `xs` (at least 2 values) under `transform`.
pub(super) fn transform(xs: &[i64], transform: u8, items: &mut Vec<i64>) -> Option<i64> {
    items.clear();
    let d = |i: usize| xs[i].wrapping_sub(xs[i - 1]);
    match transform {
        NONE => items.extend_from_slice(&xs[1..]),
        DELTA => items.extend((1..xs.len()).map(d)),
        DOD => {
            items.extend((2..xs.len()).map(|i| d(i).wrapping_sub(d(i - 1))));
            return Some(d(1));
        }
        _ => {
            let s = slope(xs);
            items.extend((1..xs.len()).map(|i| xs[i].wrapping_sub(xs[0]).wrapping_sub((i as i64).wrapping_mul(s))));
            return Some(s);
        }
    }
    None
}

/// Finds the smallest transform and packing for `xs` (`items`: scratch space).
pub(super) fn plan(xs: &[i64], items: &mut Vec<i64>) -> Plan {
    let mut best = Plan { transform: NONE, packing: ZERO, range: (0, 0), len: usize::MAX };
    if xs.len() == 1 {
        return Plan { len: uvarint_len(zigzag(xs[0])), ..best };
    }
    for t in [NONE, DELTA, DOD, LINE] {
        let param = transform(xs, t, items);
        let head = uvarint_len(zigzag(xs[0])) + 1 + param.map_or(0, |p| uvarint_len(zigzag(p)));
        let (mut all, mut nz, mut gaps, mut run) = (Stats::default(), Stats::default(), Stats::default(), 0);
        for &y in items.iter() {
            all.add(y);
            if y == 0 {
                run += 1;
            } else {
                nz.add(y);
                gaps.add(run);
                run = 0;
            }
        }
        let mut sizes = vec![
            (ZERO, (0, 0), if nz.count == 0 { 0 } else { usize::MAX }),
            (FIXED, (0, 0), all.len()),
            (BITMAP, (0, 0), items.len().div_ceil(8) + nz.len()),
            // Patched around zero: the non-zero items are the patches.
            (PATCHED, (0, 0), 2 + uvarint_len(nz.count as u64) + gaps.len() + nz.len()),
        ];
        // Patched around the median when outliers widen the fixed packing.
        if let Some(range) = typical(items, &all) {
            sizes.push((PATCHED, range, patched_len(items, range)));
        }
        for (packing, range, len) in sizes {
            if head.saturating_add(len) < best.len {
                best = Plan { transform: t, packing, range, len: head + len };
            }
        }
    }
    best
}

/// The range of the items worth packing at a fixed width when a few outliers are patched:
/// the width around the median that roughly minimizes the bits of both. None when a sample
/// of the items spans about as many bits as all of them (so no outliers to patch).
pub(super) fn typical(items: &[i64], all: &Stats) -> Option<(i64, i64)> {
    if items.len() < 2 {
        return None;
    }
    let mut sample = [0i64; 16];
    let mut n = 0;
    for &y in items.iter().step_by(items.len().div_ceil(15)) {
        (sample[n], n) = (y, n + 1);
    }
    let sample = &mut sample[..n];
    sample.sort_unstable();
    let (lo, hi) = if n >= 5 { (sample[1], sample[n - 2]) } else { (sample[0], sample[n - 1]) };
    let bits = |span: i64| 64 - (span as u64).leading_zeros();
    if bits(all.max.wrapping_sub(all.min)) < bits(hi.wrapping_sub(lo)) + 2 {
        return None;
    }
    let median = sample[n / 2];
    let width = |y: i64| 64 - zigzag(y.wrapping_sub(median)).leading_zeros() as usize;
    let mut hist = [0usize; 65];
    items.iter().for_each(|&y| hist[width(y)] += 1);
    let top = (0..=64).rev().find(|&w| hist[w] > 0).unwrap_or(0);
    let per_patch = top + 64 - items.len().leading_zeros() as usize;
    let (mut best, mut best_w, mut patches) = (items.len() * top, top, 0);
    for w in (0..top).rev() {
        patches += hist[w + 1];
        if items.len() * w + patches * per_patch < best {
            (best, best_w) = (items.len() * w + patches * per_patch, w);
        }
    }
    let inside = items.iter().copied().filter(|&y| width(y) <= best_w);
    (best_w < top).then(|| inside.fold((median, median), |(lo, hi), y| (lo.min(y), hi.max(y))))
}

/// Bytes of a patched packing of `items` with base items clamped to `range`.
pub(super) fn patched_len(items: &[i64], range: (i64, i64)) -> usize {
    let (mut base, mut patches, mut gaps, mut run) = (Stats::default(), Stats::default(), Stats::default(), 0);
    for &y in items {
        let c = y.clamp(range.0, range.1);
        base.add(c);
        if y == c {
            run += 1;
        } else {
            patches.add(y.wrapping_sub(c));
            gaps.add(run);
            run = 0;
        }
    }
    base.len() + uvarint_len(patches.count as u64) + gaps.len() + patches.len()
}

/// Writes `ints(xs)` as planned.
pub(super) fn put_ints(out: &mut Vec<u8>, xs: &[i64], plan: Plan) {
    put_ivarint(out, xs[0]);
    if xs.len() == 1 {
        return;
    }
    let mut items = Vec::with_capacity(xs.len());
    let param = transform(xs, plan.transform, &mut items);
    out.push(plan.transform | plan.packing << 2);
    if let Some(p) = param {
        put_ivarint(out, p);
    }
    let nz: Vec<i64> = items.iter().copied().filter(|&y| y != 0).collect();
    match plan.packing {
        FIXED => put_packed(out, &items),
        PATCHED => {
            let base: Vec<i64> = items.iter().map(|&y| y.clamp(plan.range.0, plan.range.1)).collect();
            put_packed(out, &base);
            let (mut patches, mut gaps, mut run) = (Vec::new(), Vec::new(), 0);
            for (&y, &c) in items.iter().zip(&base) {
                if y == c {
                    run += 1;
                } else {
                    patches.push(y.wrapping_sub(c));
                    gaps.push(run);
                    run = 0;
                }
            }
            put_uvarint(out, patches.len() as u64);
            put_packed(out, &gaps);
            put_packed(out, &patches);
        }
        BITMAP => {
            let start = out.len();
            out.resize(start + items.len().div_ceil(8), 0);
            for (i, _) in items.iter().enumerate().filter(|(_, y)| **y != 0) {
                out[start + i / 8] |= 1 << (i % 8);
            }
            put_packed(out, &nz);
        }
        _ => {}
    }
}

/// What `packed` needs to know of some integers: their count, least and greatest, and the
/// gcd of their differences (from the first; 0 when all are equal).
#[derive(Default)]
pub(super) struct Stats {
    count: usize,
    first: i64,
    pub(super) min: i64,
    max: i64,
    gcd: u64,
}

impl Stats {
    pub(super) fn of(vals: &[i64]) -> Stats {
        let mut s = Stats::default();
        vals.iter().for_each(|&v| s.add(v));
        s
    }

    pub(super) fn add(&mut self, v: i64) {
        if self.count == 0 {
            (self.first, self.min, self.max) = (v, v, v);
        } else {
            (self.min, self.max) = (self.min.min(v), self.max.max(v));
            let d = v.abs_diff(self.first);
            // A power of two (the common case: float bits, 4096-byte pages) needs no gcd.
            if self.gcd.is_power_of_two() && d != 0 {
                self.gcd = self.gcd.min(1 << d.trailing_zeros());
            } else if self.gcd != 1 {
                self.gcd = gcd(self.gcd, d);
            }
        }
        self.count += 1;
    }

    /// The multiplier and bit width `packed` uses.
    pub(super) fn frame(&self) -> (u64, u32) {
        let g = self.gcd.max(1);
        (g, 64 - (self.max.wrapping_sub(self.min) as u64 / g).leading_zeros())
    }

    /// Bytes of `packed` for these values.
    pub(super) fn len(&self) -> usize {
        let (g, w) = self.frame();
        let g = if g > 1 { uvarint_len(g) } else { 0 };
        1 + uvarint_len(zigzag(self.min)) + g + (self.count * w as usize).div_ceil(8)
    }
}

/// Binary gcd (no divisions: the encoder takes many).
pub(super) fn gcd(a: u64, b: u64) -> u64 {
    if a == 0 || b == 0 {
        return a | b;
    }
    let shift = (a | b).trailing_zeros();
    let (mut a, mut b) = (a >> a.trailing_zeros(), b);
    loop {
        b >>= b.trailing_zeros();
        if a > b {
            (a, b) = (b, a);
        }
        b -= a;
        if b == 0 {
            return a << shift;
        }
    }
}


/// Reads the items of one `ints` sequence, whatever their packing.
pub(super) enum Items<'a> {
    Zero,
    Fixed(Packed<'a>),
    Patched(Packed<'a>, Patches<'a>),
    /// The bitmap and the non-zero values.
    Bitmap(&'a [u8], Packed<'a>),
}

impl<'a> Items<'a> {
    pub(super) fn parse(r: &mut Reader<'a>, packing: u8, m: usize, what: &'static str) -> Result<Self, BlockError> {
        Ok(match packing {
            ZERO => Items::Zero,
            FIXED => Items::Fixed(Packed::parse(r, m, what)?),
            PATCHED => Items::Patched(Packed::parse(r, m, what)?, Patches::parse(r, m, what)?),
            _ => {
                let map = r.take(m.div_ceil(8), what)?;
                if !m.is_multiple_of(8) && map[m / 8] >> (m % 8) != 0 {
                    return Err(Invalid("bitmap"));
                }
                let count = map.iter().map(|b| b.count_ones() as usize).sum();
                Items::Bitmap(map, Packed::parse(r, count, what)?)
            }
        })
    }

    /// Decodes every item into `out` (as many as were parsed).
    pub(super) fn fill(self, out: &mut [i64]) {
        match self {
            Items::Zero => out.fill(0),
            Items::Fixed(mut p) => p.fill(out),
            Items::Patched(mut p, patches) => {
                p.fill(out);
                patches.apply(out);
            }
            Items::Bitmap(map, mut vals) => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = if map[i / 8] >> (i % 8) & 1 != 0 { vals.next() } else { 0 };
                }
            }
        }
    }
}

/// One `ints` sequence, checked, ready to be decoded whole.
pub(super) struct Seq<'a> {
    transform: u8,
    x0: i64,
    /// The first delta (dod) or the slope (line).
    d: i64,
    items: Items<'a>,
}

impl<'a> Seq<'a> {
    pub(super) const EMPTY: Seq<'static> = Seq { transform: NONE, x0: 0, d: 0, items: Items::Zero };

    pub(super) fn parse(r: &mut Reader<'a>, n: usize, what: &'static str) -> Result<Self, BlockError> {
        let x0 = r.ivarint(what)?;
        if n == 1 {
            return Ok(Seq { transform: NONE, x0, d: 0, items: Items::Zero });
        }
        let tag = r.u8(what)?;
        if tag >> 4 != 0 {
            return Err(Invalid("sequence tag"));
        }
        let transform = tag & 3;
        let d = if transform >= DOD { r.ivarint(what)? } else { 0 };
        let m = if transform == DOD { n - 2 } else { n - 1 };
        let items = Items::parse(r, tag >> 2, m, what)?;
        Ok(Seq { transform, x0, d, items })
    }

    /// Decodes the whole sequence into `out` (n values).
    pub(super) fn fill(self, out: &mut [i64]) {
        out[0] = self.x0;
        if out.len() == 1 {
            return;
        }
        let first_item = if self.transform == DOD { 2 } else { 1 };
        self.items.fill(&mut out[first_item..]);
        let (x0, d) = (self.x0, self.d);
        match self.transform {
            NONE => {}
            // Running sums kept in registers: reading back `out[i - 1]` would make every item
            // wait for the previous store.
            DELTA => {
                let mut x = x0;
                for o in &mut out[1..] {
                    x = x.wrapping_add(*o);
                    *o = x;
                }
            }
            DOD => {
                out[1] = x0.wrapping_add(d);
                let (mut x, mut d) = (out[1], d);
                for o in &mut out[2..] {
                    d = d.wrapping_add(*o);
                    x = x.wrapping_add(d);
                    *o = x;
                }
            }
            _ => (1..out.len()).for_each(|i| out[i] = x0.wrapping_add((i as i64).wrapping_mul(d)).wrapping_add(out[i])),
        }
    }
}
