//! A decoder of remote write 1.0 (`prometheus.WriteRequest`) that reads labels in place
//! instead of allocating a `String` for every name and value, as prost does: on the ingest
//! path that allocation was a third of the server's time. It produces the validated series
//! directly; metadata (rare) goes through prost. A unit test checks it against prost on the
//! captured Prometheus traffic.

use prost::Message;
use proto::prometheus as pb;

struct Reader<'a> {
    buf: &'a [u8],
}

type Result<T> = std::result::Result<T, String>;

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
        Err("invalid varint".into())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err("buffer underflow".into());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next field: (number, wire type).
    fn key(&mut self) -> Result<(u32, u8)> {
        let k = self.varint()?;
        if k >> 3 == 0 || k >> 3 > u32::MAX as u64 {
            return Err(format!("invalid field key {k}"));
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
            w => Err(format!("unsupported wire type {w}")),
        }
    }

    fn done(&self) -> bool {
        self.buf.is_empty()
    }
}

fn expect(wire: u8, want: u8, what: &str) -> Result<()> {
    if wire == want {
        Ok(())
    } else {
        Err(format!("{what}: wire type {wire}, expected {want}"))
    }
}

/// One series as read off the wire, borrowing its label strings from the body.
pub struct RawSeries<'a> {
    pub labels: Vec<(&'a str, &'a str)>,
    pub samples: Vec<(i64, f64)>,
    pub histograms: usize,
}

pub struct RawRequest<'a> {
    pub series: Vec<RawSeries<'a>>,
    pub metadata: Vec<pb::MetricMetadata>,
}

fn utf8<'a>(b: &'a [u8], what: &str) -> Result<&'a str> {
    std::str::from_utf8(b).map_err(|_| format!("{what} is not valid UTF-8"))
}

fn label(buf: &[u8]) -> Result<(&str, &str)> {
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
    Ok((utf8(name, "label name")?, utf8(value, "label value")?))
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
    let mut s = RawSeries { labels: Vec::with_capacity(12), samples: Vec::with_capacity(1), histograms: 0 };
    while !r.done() {
        match r.key()? {
            (1, w) => {
                expect(w, 2, "TimeSeries.labels")?;
                s.labels.push(label(r.bytes()?)?);
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
    }
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
                out.metadata.push(pb::MetricMetadata::decode(r.bytes()?).map_err(|e| e.to_string())?);
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
            let raw = snap::raw::Decoder::new().decompress_vec(&std::fs::read(&path).unwrap()).unwrap();
            let want = pb::WriteRequest::decode(raw.as_slice()).unwrap();
            let got = write_request(&raw).unwrap();
            assert_eq!(got.series.len(), want.timeseries.len(), "{name}");
            assert_eq!(got.metadata, want.metadata, "{name}");
            for (g, w) in got.series.iter().zip(&want.timeseries) {
                let wl: Vec<(&str, &str)> = w.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
                assert_eq!(g.labels, wl);
                let ws: Vec<(i64, u64)> = w.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect();
                let gs: Vec<(i64, u64)> = g.samples.iter().map(|s| (s.0, s.1.to_bits())).collect();
                assert_eq!(gs, ws);
            }
            checked += 1;
        }
        assert!(checked > 50, "only {checked} fixture writes");
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
            let _ = write_request(&good[..cut]);
        }
        assert!(write_request(&good[..good.len() - 1]).is_err());
        assert!(write_request(&[0xff, 0xff, 0xff]).is_err());
        assert!(write_request(&[0x0a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 0xff]).is_err(), "label name not UTF-8");
    }
}
