//! One series' rows for `SELECT`: a time and a value (or none) per field, sorted by time, kept
//! flat (one vector of times, one of values, `fields` values per row) so that reading a series
//! of thousands of samples costs a few allocations, not one per sample.

/// The rows of one tag set, by time.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    fields: usize,
    times: Vec<i64>,
    /// Row `r`'s value of field `f` is `values[r * fields + f]`.
    values: Vec<Option<f64>>,
}

impl Rows {
    pub fn new(fields: usize) -> Rows {
        Rows { fields, times: Vec::new(), values: Vec::new() }
    }

    /// Sets field `f` from `samples` (time, value), sorted by time: rows at new times are added
    /// in order with the other fields empty.
    pub fn put_field(&mut self, f: usize, samples: impl ExactSizeIterator<Item = (i64, f64)>) {
        if self.times.is_empty() {
            self.times.reserve(samples.len());
            self.values.reserve(samples.len() * self.fields);
            for (t, v) in samples {
                self.times.push(t);
                let at = self.values.len();
                self.values.resize(at + self.fields, None);
                self.values[at + f] = Some(v);
            }
            return;
        }
        let mut merged = Rows::new(self.fields);
        let mut old = 0;
        let mut samples = samples.peekable();
        loop {
            let next_old = self.times.get(old).copied();
            let next_new = samples.peek().map(|s| s.0);
            match (next_old, next_new) {
                (None, None) => break,
                (Some(t), n) if n.is_none_or(|n| t <= n) => {
                    merged.times.push(t);
                    merged.values.extend_from_slice(self.row(old));
                    old += 1;
                    if n == Some(t) {
                        let (_, v) = samples.next().expect("peeked");
                        let at = merged.values.len() - self.fields;
                        merged.values[at + f] = Some(v);
                    }
                }
                _ => {
                    let (t, v) = samples.next().expect("peeked");
                    merged.times.push(t);
                    let at = merged.values.len();
                    merged.values.resize(at + self.fields, None);
                    merged.values[at + f] = Some(v);
                }
            }
        }
        *self = merged;
    }

    fn row(&self, r: usize) -> &[Option<f64>] {
        &self.values[r * self.fields..(r + 1) * self.fields]
    }

    /// The rows as (time, values of each field).
    pub fn iter(&self) -> impl Iterator<Item = (i64, &[Option<f64>])> {
        self.times.iter().enumerate().map(|(r, t)| (*t, self.row(r)))
    }

    /// Keeps the rows whose values satisfy `keep`.
    pub fn retain(&mut self, keep: impl Fn(&[Option<f64>]) -> bool) {
        let mut kept = Rows::new(self.fields);
        for (t, values) in self.iter() {
            if keep(values) {
                kept.times.push(t);
                kept.values.extend_from_slice(values);
            }
        }
        *self = kept;
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    pub fn first_time(&self) -> Option<i64> {
        self.times.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::Rows;

    #[test]
    fn fields_join_by_time() {
        let mut rows = Rows::new(2);
        rows.put_field(0, [(10, 1.0), (30, 3.0)].into_iter());
        rows.put_field(1, [(5, 0.5), (10, 10.0), (40, 40.0)].into_iter());
        let got: Vec<(i64, Vec<Option<f64>>)> = rows.iter().map(|(t, v)| (t, v.to_vec())).collect();
        let want = vec![(5, vec![None, Some(0.5)]), (10, vec![Some(1.0), Some(10.0)]), (30, vec![Some(3.0), None]), (40, vec![None, Some(40.0)])];
        assert_eq!(got, want);
        rows.retain(|v| v[0].is_some());
        assert_eq!(rows.iter().map(|(t, _)| t).collect::<Vec<_>>(), vec![10, 30]);
        assert_eq!(rows.first_time(), Some(10));
        rows.retain(|_| false);
        assert!(rows.is_empty());
    }
}
