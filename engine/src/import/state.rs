//! `--state`: the units an import finished, one a line — a slice as `start,end` (ms), a TSDB
//! block as its ULID — appended once Gemini acknowledged every request of the unit; a rerun
//! with the same file skips them. A line cut short by a crash is ignored (its unit is copied
//! again, which is harmless).

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The state file, and the units it lists.
pub struct State {
    path: PathBuf,
    done: HashSet<String>,
}

impl State {
    /// Reads the file (none yet: nothing done).
    pub fn load(path: &Path) -> std::io::Result<State> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(e),
        };
        if !text.is_empty() && !text.ends_with('\n') {
            // The next record starts on a line of its own.
            std::fs::OpenOptions::new().append(true).open(path)?.write_all(b"\n")?;
        }
        let done = text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty());
        Ok(State { path: path.to_path_buf(), done: done.collect() })
    }

    pub fn is_done(&self, slice: (i64, i64)) -> bool {
        self.has(&slice_line(slice))
    }

    /// The end of the unbroken run of recorded ranges that starts at `first` (`first - 1` when
    /// none does): how far an import of consecutive ranges (lines of a file) got.
    pub fn done_through(&self, first: i64) -> i64 {
        let mut ends: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
        let ranges = self.done.iter().filter_map(|line| {
            let (start, end) = line.split_once(',')?;
            Some((start.parse::<i64>().ok()?, end.parse::<i64>().ok()?))
        });
        for (start, end) in ranges {
            let longest = ends.entry(start).or_insert(end);
            *longest = end.max(*longest);
        }
        let mut end = first - 1;
        while let Some(&next) = ends.get(&(end + 1)).filter(|&&e| e > end) {
            end = next;
        }
        end
    }

    /// Records a finished slice (on disk before it answers).
    pub fn record(&mut self, slice: (i64, i64)) -> std::io::Result<()> {
        self.add(&slice_line(slice))
    }

    /// Whether the unit named `line` is done.
    pub fn has(&self, line: &str) -> bool {
        self.done.contains(line)
    }

    /// Records the finished unit named `line` (on disk before it answers).
    pub fn add(&mut self, line: &str) -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_data()?;
        self.done.insert(line.to_string());
        Ok(())
    }
}

/// A slice's line: `start,end` in ms.
fn slice_line((start, end): (i64, i64)) -> String {
    format!("{start},{end}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_slices_are_remembered_across_runs_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("import.state");
        let mut state = State::load(&path).unwrap();
        assert!(!state.is_done((0, 9)));
        state.record((0, 9)).unwrap();
        state.record((10, 19)).unwrap();
        assert!(state.is_done((0, 9)));
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"20,2").unwrap();
        let again = State::load(&path).unwrap();
        assert!(again.is_done((0, 9)) && again.is_done((10, 19)));
        assert!(!again.is_done((20, 29)), "the torn line names another slice");
        let mut again = again;
        again.record((20, 29)).unwrap();
        assert!(State::load(&path).unwrap().is_done((20, 29)));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0,9\n10,19\n20,2\n20,29\n");
    }

    #[test]
    fn done_through_follows_consecutive_ranges_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut state = State::load(&dir.path().join("lines.state")).unwrap();
        assert_eq!(state.done_through(1), 0, "nothing done");
        for range in [(1, 100), (1, 50), (101, 250), (400, 500)] {
            state.record(range).unwrap();
        }
        assert_eq!(state.done_through(1), 250, "the gap at 251 stops it");
        state.record((251, 399)).unwrap();
        assert_eq!(State::load(&dir.path().join("lines.state")).unwrap().done_through(1), 500);
    }
}
