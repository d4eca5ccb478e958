//! The file `gemini import influx` reads: what `influx_inspect export` (InfluxDB 1.x) writes, and
//! `influx -import` reads. A `# DDL` section of `CREATE DATABASE <db> WITH NAME <rp>` lines, a
//! `# DML` section whose `# CONTEXT-DATABASE:<db>` and `# CONTEXT-RETENTION-POLICY:<rp>` lines
//! say where the line protocol after them belongs; other `#` lines are comments. A file
//! without sections is plain line protocol. `-compress` makes it gzip, recognised by its magic
//! bytes whatever the file is called. Pure reading: what to send is `influx`'s business.

use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

/// One line of the file, as far as the import cares.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// `CREATE DATABASE <db> WITH NAME <rp>` in the DDL section: a policy the data uses.
    Policy { database: String, policy: String },
    /// `# CONTEXT-DATABASE:<db>`: the points after it belong to `<db>`.
    Database(String),
    /// `# CONTEXT-RETENTION-POLICY:<rp>`: the points after it belong to `<rp>`.
    RetentionPolicy(String),
    /// A line of line protocol (trimmed).
    Point(String),
    /// A comment, a blank line or another DDL statement: nothing to do.
    Other,
}

/// Which section a line is in.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Section {
    None,
    Ddl,
    Dml,
}

/// What a line says, in `section`; the section a header line starts comes back beside it.
fn classify(text: &str, section: Section) -> (Line, Section) {
    let text = text.trim();
    match text {
        "# DDL" => return (Line::Other, Section::Ddl),
        "# DML" => return (Line::Other, Section::Dml),
        "" => return (Line::Other, section),
        _ => {}
    }
    if let Some(comment) = text.strip_prefix('#') {
        let comment = comment.trim_start();
        if let Some(db) = comment.strip_prefix("CONTEXT-DATABASE:") {
            return (Line::Database(db.trim().to_string()), section);
        }
        if let Some(rp) = comment.strip_prefix("CONTEXT-RETENTION-POLICY:") {
            return (Line::RetentionPolicy(rp.trim().to_string()), section);
        }
        return (Line::Other, section);
    }
    if section == Section::Ddl {
        let words: Vec<&str> = text.split_whitespace().collect();
        return match words.as_slice() {
            [create, database, db, with, name, rp] if [create, database, with, name].iter().zip(["CREATE", "DATABASE", "WITH", "NAME"]).all(|(w, k)| w.eq_ignore_ascii_case(k)) => {
                (Line::Policy { database: db.trim_matches('"').to_string(), policy: rp.trim_matches('"').to_string() }, section)
            }
            _ => (Line::Other, section),
        };
    }
    (Line::Point(text.to_string()), section)
}

/// Counts the bytes read through it (of the file itself, before any gzip decoding).
struct Counted<R> {
    inner: R,
    read: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.set(self.read.get() + n as u64);
        Ok(n)
    }
}

/// The file, line by line, with line numbers (from 1) and the bytes of it read so far.
pub struct ExportReader {
    lines: Box<dyn BufRead>,
    section: Section,
    number: u64,
    read: Rc<Cell<u64>>,
    pub gzip: bool,
}

impl ExportReader {
    /// Reads `file`, gzip when it starts with gzip's magic bytes (1f 8b).
    pub fn new(file: impl Read + 'static) -> std::io::Result<ExportReader> {
        let read = Rc::new(Cell::new(0));
        let mut raw = BufReader::with_capacity(1 << 16, Counted { inner: file, read: read.clone() });
        let gzip = raw.fill_buf()?.starts_with(&[0x1f, 0x8b]);
        let lines: Box<dyn BufRead> = match gzip {
            true => Box::new(BufReader::with_capacity(1 << 16, flate2::read::MultiGzDecoder::new(raw))),
            false => Box::new(raw),
        };
        Ok(ExportReader { lines, section: Section::None, number: 0, read, gzip })
    }

    /// Bytes of the file read so far.
    pub fn bytes_read(&self) -> u64 {
        self.read.get()
    }

    /// The next line and its number; `None` at the end of the file.
    pub fn next_line(&mut self) -> std::io::Result<Option<(u64, Line)>> {
        let mut buf = Vec::new();
        if self.lines.read_until(b'\n', &mut buf)? == 0 {
            return Ok(None);
        }
        self.number += 1;
        let text = std::str::from_utf8(&buf).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("line {} is not UTF-8: {e}", self.number)))?;
        let (line, section) = classify(text, self.section);
        self.section = section;
        Ok(Some((self.number, line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// What `influx_inspect export` of InfluxDB 1.6 wrote for a database `src` (copied from its
    /// output), followed by a second policy.
    const EXPORT: &str = "# INFLUXDB EXPORT: 1677-09-21T00:12:43Z - 2262-04-11T23:47:16Z\n\
# DDL\n\
CREATE DATABASE src WITH NAME autogen\n\
CREATE DATABASE src WITH NAME week\n\
# DML\n\
# CONTEXT-DATABASE:src\n\
# CONTEXT-RETENTION-POLICY:autogen\n\
# writing wal data\n\
cpu,host=b value=2 1700000010000000000\n\
\n\
mem,host=a free=5i 1699990000000000000\n\
# CONTEXT-RETENTION-POLICY:week\n\
cpu,host=a up=true 1700000000000000000";

    fn all(reader: &mut ExportReader) -> Vec<(u64, Line)> {
        std::iter::from_fn(|| reader.next_line().unwrap()).collect()
    }

    fn expected() -> Vec<(u64, Line)> {
        let policy = |p: &str| Line::Policy { database: "src".into(), policy: p.into() };
        vec![
            (1, Line::Other),
            (2, Line::Other),
            (3, policy("autogen")),
            (4, policy("week")),
            (5, Line::Other),
            (6, Line::Database("src".into())),
            (7, Line::RetentionPolicy("autogen".into())),
            (8, Line::Other),
            (9, Line::Point("cpu,host=b value=2 1700000010000000000".into())),
            (10, Line::Other),
            (11, Line::Point("mem,host=a free=5i 1699990000000000000".into())),
            (12, Line::RetentionPolicy("week".into())),
            (13, Line::Point("cpu,host=a up=true 1700000000000000000".into())),
        ]
    }

    #[test]
    fn ddl_dml_and_context_lines_are_told_apart() {
        let mut reader = ExportReader::new(std::io::Cursor::new(EXPORT.as_bytes().to_vec())).unwrap();
        assert!(!reader.gzip);
        assert_eq!(all(&mut reader), expected());
        assert_eq!(reader.bytes_read(), EXPORT.len() as u64);
    }

    #[test]
    fn gzip_is_recognised_by_its_magic_bytes_and_bytes_read_are_the_files() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(EXPORT.as_bytes()).unwrap();
        let compressed = gz.finish().unwrap();
        let mut reader = ExportReader::new(std::io::Cursor::new(compressed.clone())).unwrap();
        assert!(reader.gzip);
        assert_eq!(all(&mut reader), expected());
        assert_eq!(reader.bytes_read(), compressed.len() as u64, "progress counts the compressed file");
    }

    #[test]
    fn plain_line_protocol_and_odd_lines() {
        let text = "cpu value=1 10\n  # CONTEXT-DATABASE: other \nCREATE DATABASE x WITH NAME y\n# DDL\nCREATE DATABASE x\ncreate database \"x\" with name \"y\"\n";
        let mut reader = ExportReader::new(std::io::Cursor::new(text.as_bytes().to_vec())).unwrap();
        let lines: Vec<Line> = all(&mut reader).into_iter().map(|(_, l)| l).collect();
        assert_eq!(
            lines,
            vec![
                Line::Point("cpu value=1 10".into()),
                Line::Database("other".into()),
                Line::Point("CREATE DATABASE x WITH NAME y".into()),
                Line::Other,
                Line::Other,
                Line::Policy { database: "x".into(), policy: "y".into() },
            ],
            "outside DDL a statement is a (bad) point; in DDL only CREATE DATABASE … WITH NAME names a policy"
        );
        let mut bad = ExportReader::new(std::io::Cursor::new(b"ok 1\n\xff\n".to_vec())).unwrap();
        bad.next_line().unwrap();
        assert!(bad.next_line().unwrap_err().to_string().contains("line 2 is not UTF-8"));
    }
}
