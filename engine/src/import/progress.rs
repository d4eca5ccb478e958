//! What `gemini import` shows while it runs: on a terminal one line redrawn in place (units —
//! slices or blocks — done of all, series, samples, samples/s, ETA), otherwise a plain line per
//! finished unit; at the end the summary. All on standard error. `FileProgress` is the same for
//! an import that reads one file (`gemini import influx`): bytes of the file read of its size
//! instead of units, and a plain line per group of batches.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// Counts of a run so far.
pub struct Progress {
    started: Instant,
    /// What is counted: "slice", "block".
    unit: &'static str,
    total_slices: usize,
    pub slices: usize,
    pub series: u64,
    pub samples: u64,
    failed: usize,
    terminal: bool,
    drawn: Option<Instant>,
}

impl Progress {
    pub fn new(total_slices: usize) -> Progress {
        Progress::counting("slice", total_slices)
    }

    /// Progress over `total` units named `unit`.
    pub fn counting(unit: &'static str, total_slices: usize) -> Progress {
        let mut progress = Progress { started: Instant::now(), unit, total_slices, slices: 0, series: 0, samples: 0, failed: 0, terminal: std::io::stderr().is_terminal(), drawn: None };
        if progress.terminal {
            progress.draw();
        }
        progress
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Samples per second so far.
    pub fn rate(&self) -> f64 {
        self.samples as f64 / self.elapsed().as_secs_f64().max(1e-3)
    }

    /// Counts samples sent; redraws the line on a terminal, at most 5 times a second.
    pub fn add(&mut self, samples: u64) {
        self.samples += samples;
        if self.terminal && self.drawn.is_none_or(|d| d.elapsed() >= Duration::from_millis(200)) {
            self.draw();
        }
    }

    /// A slice arrived (its series counted; a series in several slices counts in each): the
    /// line redrawn, or a line of its own.
    pub fn slice_done(&mut self, name: &str, series: u64, samples: u64) {
        self.slices += 1;
        self.series += series;
        match self.terminal {
            true => self.draw(),
            false => eprintln!("{} {name}: {series} series, {samples} samples ({} of {} {}s)", self.unit, self.slices, self.total_slices, self.unit),
        }
    }

    /// A slice failed: counted, named in the end.
    pub fn slice_failed(&mut self) {
        self.failed += 1;
        if self.terminal {
            self.draw();
        }
    }

    fn draw(&mut self) {
        self.drawn = Some(Instant::now());
        let eta = match self.slices {
            0 => "?".to_string(),
            done => format!("{:.0}s", self.elapsed().as_secs_f64() / done as f64 * (self.total_slices - done) as f64),
        };
        let failed = if self.failed > 0 { format!(" ({} failed)", self.failed) } else { String::new() };
        let line = format!("{}s {}/{}{failed}  series {}  samples {}  {:.0} samples/s  ETA {eta}", self.unit, self.slices, self.total_slices, self.series, self.samples, self.rate());
        redraw(&line);
    }

    /// The closing summary.
    pub fn summary(&self, skipped: usize) -> String {
        let mut skipped = if skipped > 0 { format!(" ({skipped} skipped as done before)") } else { String::new() };
        if self.failed > 0 {
            skipped.push_str(&format!(", {} failed", self.failed));
        }
        format!(
            "{}imported {} {}s{skipped}: {} series, {} samples in {:.1}s, {:.0} samples/s",
            if self.terminal { "\n" } else { "" },
            self.slices,
            self.unit,
            self.series,
            self.samples,
            self.elapsed().as_secs_f64(),
            self.rate()
        )
    }
}

/// Draws `line` over the one before on the terminal.
fn redraw(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "\r{line}\x1b[K");
    let _ = err.flush();
}

/// Progress through a file of `total_bytes`.
pub struct FileProgress {
    started: Instant,
    total_bytes: u64,
    bytes: u64,
    pub lines: u64,
    pub samples: u64,
    terminal: bool,
    drawn: Option<Instant>,
    /// When the last plain line was written (not on a terminal).
    logged: Instant,
}

impl FileProgress {
    pub fn new(total_bytes: u64) -> FileProgress {
        let now = Instant::now();
        FileProgress { started: now, total_bytes, bytes: 0, lines: 0, samples: 0, terminal: std::io::stderr().is_terminal(), drawn: None, logged: now }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.elapsed().as_secs_f64().max(1e-3)
    }

    /// A batch arrived: its lines and samples, and the file read up to `bytes`. Redraws the
    /// line on a terminal (at most 5 times a second), otherwise logs a line every 10 seconds.
    pub fn batch_done(&mut self, lines: u64, samples: u64, bytes: u64) {
        self.lines += lines;
        self.samples += samples;
        self.bytes = bytes;
        let percent = self.bytes as f64 * 100.0 / self.total_bytes.max(1) as f64;
        let eta = match self.bytes {
            0 => "?".to_string(),
            done => format!("{:.0}s", self.elapsed().as_secs_f64() / done as f64 * self.total_bytes.saturating_sub(done) as f64),
        };
        let mib = |b: u64| b as f64 / (1 << 20) as f64;
        let line = format!(
            "{:.1}/{:.1} MiB ({percent:.0}%)  lines {}  samples {}  {:.0} samples/s  ETA {eta}",
            mib(self.bytes),
            mib(self.total_bytes),
            self.lines,
            self.samples,
            self.per_second(self.samples)
        );
        if self.terminal {
            if self.drawn.is_none_or(|d| d.elapsed() >= Duration::from_millis(200)) {
                self.drawn = Some(Instant::now());
                redraw(&line);
            }
        } else if self.logged.elapsed() >= Duration::from_secs(10) {
            self.logged = Instant::now();
            eprintln!("{line}");
        }
    }

    /// The closing summary.
    pub fn summary(&self, skipped_lines: u64) -> String {
        let skipped = if skipped_lines > 0 { format!(" ({skipped_lines} lines skipped as done before)") } else { String::new() };
        format!(
            "{}imported {} lines{skipped}: {} samples in {:.1}s, {:.0} lines/s, {:.0} samples/s",
            if self.terminal { "\n" } else { "" },
            self.lines,
            self.samples,
            self.elapsed().as_secs_f64(),
            self.per_second(self.lines),
            self.per_second(self.samples)
        )
    }
}
