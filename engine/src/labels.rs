//! A series' identity: its sorted label set, encoded compactly as
//! `name 0xff value 0xff name 0xff value 0xff …`. Valid UTF-8 never contains the byte 0xff,
//! so the encoding is unambiguous and sorts like the label list. The stable 64-bit hash of
//! these bytes picks a series' shard. A label set is shared, not copied: clones are cheap, and
//! two clones compare equal without reading their bytes.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Ends every name and every value in the encoding.
pub const SEP: u8 = 0xff;

/// An encoded, sorted label set.
#[derive(Clone)]
pub struct Labels(Arc<[u8]>);

impl PartialEq for Labels {
    fn eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Labels {}

impl Hash for Labels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Labels) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Labels {
    fn cmp(&self, other: &Labels) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl Labels {
    /// Encodes labels that are already sorted by name with no duplicates.
    pub fn from_sorted<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Labels {
        let mut out = Vec::with_capacity(64);
        for (name, value) in pairs {
            out.extend_from_slice(name.as_bytes());
            out.push(SEP);
            out.extend_from_slice(value.as_bytes());
            out.push(SEP);
        }
        Labels(out.into())
    }

    /// Takes bytes read back from storage. `None` when they are not an encoded label set.
    pub fn from_encoded(bytes: &[u8]) -> Option<Labels> {
        let l = Labels(bytes.into());
        let mut n = 0usize;
        for part in l.0.split(|b| *b == SEP) {
            std::str::from_utf8(part).ok()?;
            n += 1;
        }
        // k separators split into k+1 parts; the last is empty; pairs need an even k.
        (l.0.is_empty() || (l.0.last() == Some(&SEP) && (n - 1) % 2 == 0)).then_some(l)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The (name, value) pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut parts = self.0.split(|b| *b == SEP);
        std::iter::from_fn(move || {
            // The part after the last separator is empty: that ends the list.
            let name = parts.next().filter(|p| !p.is_empty())?;
            let value = parts.next()?;
            // SAFETY: every part is valid UTF-8: a `Labels` is only made by `from_sorted`, from
            // `&str`s, or by `from_encoded`, which checks each part (and a separator byte,
            // 0xff, never occurs inside UTF-8, so the parts are exactly those strings).
            // Checking again here showed in profiles of queries over many series.
            Some(unsafe { (std::str::from_utf8_unchecked(name), std::str::from_utf8_unchecked(value)) })
        })
    }

    /// The pairs other than `__name__`: InfluxQL's tags.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().filter(|(n, _)| *n != "__name__")
    }

    /// The value of label `name`, or "" when the series lacks it (Prometheus semantics).
    pub fn get(&self, name: &str) -> &str {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v).unwrap_or("")
    }

    /// Stable across versions and machines: it decides on which shard a series lives.
    pub fn stable_hash(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.0)
    }
}

impl fmt::Display for Labels {
    /// Prometheus style: `metric{a="b", c="d"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.get("__name__");
        write!(f, "{name}{{")?;
        let mut first = true;
        for (n, v) in self.tags() {
            if !first {
                write!(f, ", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        write!(f, "}}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_iterates() {
        let l = Labels::from_sorted([("__name__", "up"), ("job", "node"), ("x", "")]);
        let got: Vec<_> = l.iter().collect();
        assert_eq!(got, vec![("__name__", "up"), ("job", "node"), ("x", "")]);
        assert_eq!(l.get("job"), "node");
        assert_eq!(l.get("missing"), "");
        assert_eq!(l.to_string(), r#"up{job="node", x=""}"#);
        assert_eq!(Labels::from_encoded(l.as_bytes()), Some(l.clone()));
        assert_eq!(Labels::from_encoded(b"a\xffb"), None);
    }

    #[test]
    fn hash_is_stable() {
        // Changing this value moves every series to another shard: never do it.
        let l = Labels::from_sorted([("__name__", "up"), ("job", "node")]);
        assert_eq!(l.stable_hash(), xxhash_rust::xxh3::xxh3_64(b"__name__\xffup\xffjob\xffnode\xff"));
        // The same, pinned to literals computed outside this code: with Python's `xxhash`
        // package (PyPI), `xxhash.xxh3_64_intdigest(b"__name__\xffup\xffjob\xffnode\xff")`
        // and so on for each encoding below. The cases cover each of xxh3's input-length paths
        // (0, 1-3, 4-8, 9-16, 17-128, 129-240, over 240 bytes) and non-ASCII UTF-8.
        let long150 = "v".repeat(150);
        let long300 = "v".repeat(300);
        let pinned: [(&[(&str, &str)], usize, u64); 9] = [
            (&[], 0, 0x2d06_8005_38d3_94c2),
            (&[("a", "")], 3, 0xabc4_28f6_ee4d_53cd),
            (&[("a", "b")], 4, 0x59c2_8587_06f3_c527),
            (&[("job", "node")], 9, 0x538b_d194_e98c_7816),
            (&[("__name__", "up"), ("job", "node")], 21, 0x85d6_66c2_8b44_5bb9),
            (&[("__name__", "température"), ("ville", "Zürich")], 36, 0xb52e_493b_1a55_c256),
            (
                &[("__name__", "http_requests_total"), ("code", "200"), ("handler", "/api/v1/query"), ("instance", "10.0.0.1:9090"), ("job", "prometheus")],
                98,
                0x38f8_e9d1_1a82_2f2d,
            ),
            (&[("__name__", "x"), ("long", long150.as_str())], 167, 0x4bc3_d257_5ece_4135),
            (&[("__name__", "x"), ("long", long300.as_str())], 317, 0x4db5_6fb6_43b8_283b),
        ];
        for (pairs, len, hash) in pinned {
            let l = Labels::from_sorted(pairs.iter().copied());
            assert_eq!(l.as_bytes().len(), len, "{pairs:?}: encoded length");
            assert_eq!(l.stable_hash(), hash, "{pairs:?}: the series hash moved; never change it");
        }
        // The encoding itself, byte for byte, as the module doc gives it.
        assert_eq!(l.as_bytes(), b"__name__\xffup\xffjob\xffnode\xff");
    }
}
