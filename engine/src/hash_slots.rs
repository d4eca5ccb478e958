//! A hash table keyed by 64-bit hashes, for the lookups every written sample makes (the label
//! cache of `http`, a shard's hash → series id). Between two writes of one series a busy server
//! touches megabytes, so the slot a lookup needs is usually out of the CPU's caches; unlike the
//! standard map, this table tells where a key's slot is, so that a writer can prefetch the
//! slots of the series a few steps ahead and their misses overlap.
//!
//! Open addressing with linear probing, at most 3/4 full; removal shifts the entries behind
//! back, so there are no tombstones.

/// Entries by key; the number of slots is a power of two.
pub struct HashSlots<V> {
    slots: Vec<Option<(u64, V)>>,
    len: usize,
}

/// Slots of a new table.
const FIRST_SLOTS: usize = 64;

impl<V> Default for HashSlots<V> {
    fn default() -> Self {
        HashSlots { slots: empty_slots(FIRST_SLOTS), len: 0 }
    }
}

fn empty_slots<V>(n: usize) -> Vec<Option<(u64, V)>> {
    std::iter::repeat_with(|| None).take(n).collect()
}

impl<V> HashSlots<V> {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The slot where probing for `key` starts.
    fn home(&self, key: u64) -> usize {
        let bits = self.slots.len().trailing_zeros();
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn slot(&self, key: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key);
        while let Some((k, _)) = &self.slots[i] {
            if *k == key {
                break;
            }
            i = (i + 1) & mask;
        }
        i
    }

    pub fn get(&self, key: u64) -> Option<&V> {
        self.slots[self.slot(key)].as_ref().map(|(_, v)| v)
    }

    /// Puts `value` under `key`, giving back the value it replaces.
    pub fn insert(&mut self, key: u64, value: V) -> Option<V> {
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let more = empty_slots(self.slots.len() * 2);
            for (k, v) in std::mem::replace(&mut self.slots, more).into_iter().flatten() {
                let i = self.slot(k);
                self.slots[i] = Some((k, v));
            }
        }
        let i = self.slot(key);
        let old = self.slots[i].replace((key, value)).map(|(_, v)| v);
        self.len += old.is_none() as usize;
        old
    }

    pub fn remove(&mut self, key: u64) -> Option<V> {
        let mut hole = self.slot(key);
        let (_, out) = self.slots[hole].take()?;
        self.len -= 1;
        // Every entry up to the next empty slot that would not be found past the hole moves
        // into it.
        let mask = self.slots.len() - 1;
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let Some((k, _)) = &self.slots[j] else { break };
            let home = self.home(*k);
            let reachable_past_hole = if hole <= j { hole < home && home <= j } else { hole < home || home <= j };
            if !reachable_past_hole {
                self.slots[hole] = self.slots[j].take();
                hole = j;
            }
        }
        Some(out)
    }

    /// Asks the CPU to bring `key`'s slot into cache.
    pub fn prefetch(&self, key: u64) {
        prefetch(&self.slots[self.home(key)]);
    }

    /// The value under `key` if it sits in its home slot (nearly always), without probing: for
    /// prefetching what the value points to once the slot is in cache.
    pub fn get_at_home(&self, key: u64) -> Option<&V> {
        match &self.slots[self.home(key)] {
            Some((k, v)) if *k == key => Some(v),
            _ => None,
        }
    }
}

/// A hint to the CPU that the cache line at `p` will be read soon; it never faults.
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only hints; any address is allowed, and SSE is part of x86_64.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any sequence of inserts and removes leaves the table agreeing with the standard map.
        /// Keys come from a small range so that they crowd the same slots.
        #[test]
        fn agrees_with_a_standard_map(ops in prop::collection::vec((any::<bool>(), 0u64..300, any::<u32>()), 0..2000)) {
            let mut table = HashSlots::default();
            let mut reference = std::collections::HashMap::new();
            for (insert, key, value) in ops {
                // Spread some keys over the whole range, where `home` takes the high bits.
                let key = if key % 2 == 0 { key } else { key.wrapping_mul(0x0123_4567_89AB_CDEF) };
                if insert {
                    prop_assert_eq!(table.insert(key, value), reference.insert(key, value));
                } else {
                    prop_assert_eq!(table.remove(key), reference.remove(&key));
                }
                prop_assert_eq!(table.len(), reference.len());
            }
            for (key, value) in &reference {
                prop_assert_eq!(table.get(*key), Some(value));
            }
            for key in 0..300u64 {
                prop_assert_eq!(table.get(key), reference.get(&key));
            }
        }
    }

    #[test]
    fn a_key_is_at_home_unless_another_took_the_slot() {
        let mut t = HashSlots::default();
        t.insert(5, "five");
        assert_eq!(t.get_at_home(5), Some(&"five"));
        assert_eq!(t.get_at_home(6), None);
        // A key with the same home slot probes to the next one.
        let home = t.home(5);
        let twin = (0..u64::MAX).find(|k| *k != 5 && t.home(*k) == home).unwrap();
        t.insert(twin, "twin");
        assert_eq!(t.get(twin), Some(&"twin"));
        assert_eq!(t.get_at_home(twin), None);
        t.remove(5);
        assert_eq!(t.get_at_home(twin), Some(&"twin"), "moved back into its home slot");
    }
}
