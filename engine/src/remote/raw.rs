//! A decoder of remote write 1.0 (`prometheus.WriteRequest`) that reads labels in place
//! instead of allocating a `String` for every name and value, as prost does: on the ingest
//! path that allocation was a third of the server's time. A series' label fields are kept as
//! the bytes they are on the wire, read only when asked (`RawSeries::labels`), so that a
//! label set seen before can be recognised by those bytes (`label_cache`). Metadata (rare)
//! goes through prost. A unit test checks it against prost on the captured Prometheus
//! traffic.

use prost::Message;
use proto::prometheus as pb;

/// What does not decode, named by the field where it happened.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RawError {
    #[error("invalid varint")]
    Varint,
    #[error("buffer underflow")]
    Underflow,
    #[error("invalid field key {0}")]
    Key(u64),
    #[error("unsupported wire type {0}")]
    WireType(u8),
    #[error("{what}: wire type {wire}, expected {want}")]
    Wire { what: &'static str, wire: u8, want: u8 },
    #[error("{0} is not valid UTF-8")]
    Utf8(&'static str),
    #[error("{0}")]
    Metadata(prost::DecodeError),
}

struct Reader<'a> {
    buf: &'a [u8],
}

type Result<T> = std::result::Result<T, RawError>;

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut out = 0u64;
        for (i, &b) in self.buf.iter().enumerate().take(10) {
            out |= ((b & 0x7f) as u64) << (7 * i);
            if b < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(out);
            }
        }
        Err(RawError::Varint)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(RawError::Underflow);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field: (number, wire type).
    fn key(&mut self) -> Result<(u32, u8)> {
        let k = self.varint()?;
        if k >> 3 == 0 || k >> 3 > u32::MAX as u64 {
            return Err(RawError::Key(k));
        }
        Ok(((k >> 3) as u32, (k & 7) as u8))
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.varint()? as usize;
        self.take(n)
    }

    fn skip(&mut self, wire: u8) -> Result<()> {
        match wire {
            0 => self.varint().map(|_| ()),
            1 => self.take(8).map(|_| ()),
            2 => self.bytes().map(|_| ()),
            5 => self.take(4).map(|_| ()),
            w => Err(RawError::WireType(w)),
        }
    }

    fn done(&self) -> bool {
        self.buf.is_empty()
    }
}

fn expect(wire: u8, want: u8, what: &'static str) -> Result<()> {
    if wire == want {
        Ok(())
    } else {
        Err(RawError::Wire { what, wire, want })
    }
}

/// One series as read off the wire, borrowing from the body.
pub struct RawSeries<'a> {
    /// From the first `labels` field to the end of the last, keys included.
    label_fields: &'a [u8],
    /// No other field lies among the `labels` fields (Prometheus writes them so).
    labels_contiguous: bool,
    pub samples: Vec<(i64, f64)>,
    pub histograms: usize,
}

impl<'a> RawSeries<'a> {
    /// The bytes that stand for the series' label set, when its label fields are contiguous:
    /// equal bytes are the same label set.
    pub fn label_bytes(&self) -> Option<&'a [u8]> {
        self.labels_contiguous.then_some(self.label_fields)
    }

    /// Whether these label fields hold exactly the label set encoded in `labels`
    /// (`Labels::as_bytes`), without checking or copying them.
    pub fn labels_equal(&self, labels: &[u8]) -> bool {
        let mut r = Reader { buf: self.label_fields };
        let mut rest = labels;
        while !r.done() {
            let Ok((field, wire)) = r.key() else { return false };
            if (field, wire) != (1, 2) {
                return false;
            }
            let Ok(Ok((name, value))) = r.bytes().map(name_and_value) else { return false };
            for part in [name, value] {
                match rest.split_at_checked(part.len()) {
                    Some((head, [crate::labels::SEP, tail @ ..])) if head == part => rest = tail,
                    _ => return false,
                }
            }
        }
        rest.is_empty()
    }

    /// The (name, value) pairs, in the order sent.
    pub fn labels(&self) -> Result<Vec<(&'a str, &'a str)>> {
        let mut r = Reader { buf: self.label_fields };
        let mut out = Vec::with_capacity(12);
        while !r.done() {
            match r.key()? {
                (1, w) => {
                    expect(w, 2, "TimeSeries.labels")?;
                    out.push(label(r.bytes()?)?);
                }
                (_, w) => r.skip(w)?,
            }
        }
        Ok(out)
    }
}

pub struct RawRequest<'a> {
    pub series: Vec<RawSeries<'a>>,
    pub metadata: Vec<pb::MetricMetadata>,
}

fn utf8<'a>(b: &'a [u8], what: &'static str) -> Result<&'a str> {
    std::str::from_utf8(b).map_err(|_| RawError::Utf8(what))
}

fn label(buf: &[u8]) -> Result<(&str, &str)> {
    let (name, value) = name_and_value(buf)?;
    Ok((utf8(name, "label name")?, utf8(value, "label value")?))
}

/// A `Label` message's name and value bytes.
fn name_and_value(buf: &[u8]) -> Result<(&[u8], &[u8])> {
    let mut r = Reader { buf };
    let (mut name, mut value): (&[u8], &[u8]) = (b"", b"");
    while !r.done() {
        match r.key()? {
            (1, w) => {
                expect(w, 2, "Label.name")?;
                name = r.bytes()?;
            }
            (2, w) => {
                expect(w, 2, "Label.value")?;
                value = r.bytes()?;
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok((name, value))
}

fn sample(buf: &[u8]) -> Result<(i64, f64)> {
    let mut r = Reader { buf };
    let (mut t, mut v) = (0i64, 0f64);
    while !r.done() {
        match r.key()? {
            (1, w) => {
                expect(w, 1, "Sample.value")?;
                v = f64::from_le_bytes(r.take(8)?.try_into().unwrap());
            }
            (2, w) => {
                expect(w, 0, "Sample.timestamp")?;
                t = r.varint()? as i64;
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok((t, v))
}

fn series(buf: &[u8]) -> Result<RawSeries<'_>> {
    let mut r = Reader { buf };
    let mut s = RawSeries { label_fields: &[], labels_contiguous: true, samples: Vec::with_capacity(1), histograms: 0 };
    // Offsets of the label fields' span, and whether another field came after the first.
    let (mut first, mut end, mut other_since_first) = (None, 0, false);
    while !r.done() {
        let at = buf.len() - r.buf.len();
        match r.key()? {
            (1, w) => {
                expect(w, 2, "TimeSeries.labels")?;
                r.bytes()?;
                first.get_or_insert(at);
                s.labels_contiguous &= !other_since_first;
                end = buf.len() - r.buf.len();
            }
            (2, w) => {
                expect(w, 2, "TimeSeries.samples")?;
                s.samples.push(sample(r.bytes()?)?);
            }
            (4, w) => {
                expect(w, 2, "TimeSeries.histograms")?;
                r.bytes()?;
                s.histograms += 1;
            }
            (_, w) => r.skip(w)?,
        }
        other_since_first |= first.is_some() && end != buf.len() - r.buf.len();
    }
    s.label_fields = &buf[first.unwrap_or(0)..end];
    Ok(s)
}

/// Decodes a `prometheus.WriteRequest`; an error names the field that did not decode.
pub fn write_request(body: &[u8]) -> Result<RawRequest<'_>> {
    let mut r = Reader { buf: body };
    let mut out = RawRequest { series: Vec::new(), metadata: Vec::new() };
    while !r.done() {
        match r.key()? {
            (1, w) => {
                expect(w, 2, "WriteRequest.timeseries")?;
                out.series.push(series(r.bytes()?)?);
            }
            (3, w) => {
                expect(w, 2, "WriteRequest.metadata")?;
                out.metadata.push(pb::MetricMetadata::decode(r.bytes()?).map_err(RawError::Metadata)?);
            }
            (_, w) => r.skip(w)?,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Same answer as prost on every write Prometheus 2.42 sent in the captured traffic.
    #[test]
    fn agrees_with_prost_on_captured_traffic() {
        let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../../shared/fixtures/prometheus-2.42");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).expect("shared fixtures beside the project") {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            if !(name.starts_with("write-") && name.ends_with(".bin")) {
                continue;
            }
            let raw = proto::remote::unsnappy(&std::fs::read(&path).unwrap()).unwrap();
            let want = pb::WriteRequest::decode(raw.as_slice()).unwrap();
            let got = write_request(&raw).unwrap();
            assert_eq!(got.series.len(), want.timeseries.len(), "{name}");
            assert_eq!(got.metadata, want.metadata, "{name}");
            for (g, w) in got.series.iter().zip(&want.timeseries) {
                let wl: Vec<(&str, &str)> = w.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
                assert_eq!(g.labels().unwrap(), wl);
                assert!(g.label_bytes().is_some(), "Prometheus writes a series' labels together");
                let ws: Vec<(i64, u64)> = w.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect();
                let gs: Vec<(i64, u64)> = g.samples.iter().map(|s| (s.0, s.1.to_bits())).collect();
                assert_eq!(gs, ws);
            }
            checked += 1;
        }
        assert!(checked > 50, "only {checked} fixture writes");
    }

    #[test]
    fn labels_among_other_fields_are_read_but_have_no_label_bytes() {
        // TimeSeries { labels: a=1, samples: {value 2, timestamp 3}, labels: b=4 }, by hand.
        let label = |n: &[u8], v: &[u8]| [&[0x0a, (n.len() + v.len() + 4) as u8, 0x0a, n.len() as u8][..], n, &[0x12, v.len() as u8], v].concat();
        let sample = [0x12, 11, 0x09, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x10, 3];
        let series = [label(b"a", b"1"), sample.to_vec(), label(b"b", b"4")].concat();
        let body = [&[0x0a, series.len() as u8][..], &series].concat();
        let req = write_request(&body).unwrap();
        assert_eq!(req.series[0].labels().unwrap(), vec![("a", "1"), ("b", "4")]);
        assert_eq!(req.series[0].samples, vec![(3, 2.0)]);
        assert_eq!(req.series[0].label_bytes(), None);
        let together = [label(b"a", b"1"), label(b"b", b"4"), sample.to_vec()].concat();
        let body = [&[0x0a, together.len() as u8][..], &together].concat();
        let req = write_request(&body).unwrap();
        assert_eq!(req.series[0].label_bytes(), Some(&together[..together.len() - sample.len()]));
    }

    #[test]
    fn label_fields_equal_only_the_same_label_set() {
        let wire = pb::WriteRequest {
            timeseries: vec![pb::TimeSeries {
                labels: vec![pb::Label { name: "__name__".into(), value: "up".into() }, pb::Label { name: "job".into(), value: "a".into() }],
                ..Default::default()
            }],
            metadata: vec![],
        }
        .encode_to_vec();
        let req = write_request(&wire).unwrap();
        let s = &req.series[0];
        assert!(s.labels_equal(b"__name__\xffup\xffjob\xffa\xff"));
        for other in [&b"__name__\xffup\xffjob\xffb\xff"[..], b"__name__\xffup\xff", b"__name__\xffup\xffjob\xffa\xffx\xffy\xff", b"__name__\xffupjob\xffa\xff", b""] {
            assert!(!s.labels_equal(other), "{}", String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = pb::WriteRequest {
            timeseries: vec![pb::TimeSeries {
                labels: vec![pb::Label { name: "__name__".into(), value: "up".into() }],
                samples: vec![pb::Sample { value: 1.0, timestamp: 5 }],
                ..Default::default()
            }],
            metadata: vec![],
        }
        .encode_to_vec();
        for cut in 0..good.len() {
            if let Ok(req) = write_request(&good[..cut]) {
                req.series.iter().for_each(|s| drop(s.labels()));
            }
        }
        assert!(write_request(&good[..good.len() - 1]).is_err());
        assert!(write_request(&[0xff, 0xff, 0xff]).is_err());
        let bad_name = write_request(&[0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff]).unwrap();
        assert_eq!(bad_name.series[0].labels().unwrap_err().to_string(), "label name is not valid UTF-8");
    }
}
