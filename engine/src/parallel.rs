//! Work spread over the machine's cores (a leaf, used by `promql` and `exec`): `map` runs a
//! function on every index of `0..n` on a few scoped threads (blocks of indexes taken from a
//! shared counter, so a slow series does not hold a whole share back) and returns the answers
//! in index order, as a plain loop would.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Indexes a thread takes at a time.
const BLOCK: usize = 8;
/// Below this many items one thread does it all: starting threads costs more than it saves.
const MIN_PARALLEL: usize = 32;

/// `f(0), f(1), ..., f(n - 1)`, computed on up to as many threads as the machine has cores.
pub fn map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get()).min(n.div_ceil(BLOCK));
    if n < MIN_PARALLEL || threads <= 1 {
        return (0..n).map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let from = next.fetch_add(BLOCK, Ordering::Relaxed);
            if from >= n {
                return done;
            }
            for i in from..(from + BLOCK).min(n) {
                done.push((i, f(i)));
            }
        }
    };
    let mut all: Vec<(usize, T)> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for handle in others {
            all.extend(handle.join().expect("a query worker thread panicked"));
        }
        all
    });
    all.sort_unstable_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn answers_come_back_in_index_order() {
        for n in [0, 1, 31, 32, 33, 1000] {
            let squares = super::map(n, |i| i * i);
            assert_eq!(squares, (0..n).map(|i| i * i).collect::<Vec<_>>(), "n = {n}");
        }
    }
}
