//! The InfluxQL parser against a table of statements (`influxql_statements.txt`): each
//! input line is followed by `=> ` and the canonical text of what it parses to (statements
//! joined by `; `), or `!! ` and the exact error. Every accepted statement must also parse
//! back from its canonical text to the same statement. `GEMINI_BLESS=1` rewrites the
//! expectations from the current parser, for review in the diff.

use engine::query::influxql::parse;

fn outcome(input: &str) -> String {
    match parse(input) {
        Ok(statements) => {
            for s in &statements {
                let again = parse(&s.to_string()).unwrap_or_else(|e| panic!("{input:?}: canonical text {s} does not parse: {e}"));
                assert_eq!(again.len(), 1, "{input:?}: canonical text {s} is one statement");
                assert_eq!(&again[0], s, "{input:?}: canonical text {s} parses to something else");
            }
            format!("=> {}", statements.iter().map(|s| s.to_string()).collect::<Vec<_>>().join("; "))
        }
        Err(e) => format!("!! {e}"),
    }
}

#[test]
fn statements_parse_as_the_table_says() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/influxql_statements.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(lines.len() % 2 == 0, "every input needs its expectation line");
    let bless = std::env::var("GEMINI_BLESS").is_ok();
    let mut out = String::from("# InfluxQL parser table: input, then `=> canonical text` or `!! error`.\n");
    let (mut accepted, mut refused) = (0, 0);
    for pair in lines.chunks(2) {
        let (input, expected) = (pair[0], pair[1]);
        let got = outcome(input);
        if got.starts_with("=>") { accepted += 1 } else { refused += 1 }
        if !bless {
            assert_eq!(got, expected, "input: {input:?}");
        }
        out.push_str(&format!("{input}\n{got}\n"));
    }
    if bless {
        std::fs::write(&path, out).unwrap();
    }
    assert!(accepted >= 60 && refused >= 30, "{accepted} accepted and {refused} refused statements: the table must cover both");
}
