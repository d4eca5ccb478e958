//! The wall clock, in the units the engine keeps time in. A leaf: it imports nothing of the
//! engine.

/// The current time in nanoseconds since the Unix epoch (0 on a clock before 1970).
pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

/// The current time in milliseconds since the Unix epoch (0 on a clock before 1970).
pub fn now_ms() -> i64 {
    now_ns() / 1_000_000
}
