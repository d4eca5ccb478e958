//! Fuzzes the InfluxQL parser: any input must parse or fail with a message, never panic, and
//! every statement it accepts must parse back from its canonical text to the same statement.
#![no_main]

#[path = "../../src/query/mod.rs"]
mod query;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(statements) = query::influxql::parse(text) {
        for statement in statements {
            let canonical = statement.to_string();
            let again = query::influxql::parse(&canonical).unwrap_or_else(|e| panic!("{canonical}: {e}"));
            assert_eq!(again, vec![statement], "{canonical}");
        }
    }
});
