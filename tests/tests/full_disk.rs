//! A full disk end to end (issue 34, in part): Gemini's data directory on a small tmpfs filled
//! by new series. A refused write answers 507 naming the problem in the user's terms, without a
//! file path or RocksDB's status text, and the server keeps answering reads. Needs root (to
//! mount the tmpfs), as `.ci/run` has.

use proto::prometheus as pb;
use std::process::Command;
use tests::*;

/// A tmpfs of `mib` MiB mounted on a fresh directory, unmounted when dropped.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(mib: u32) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"]).arg(dir.path()).status().expect("mount runs");
        assert!(status.success(), "mounting a tmpfs needs root");
        SmallDisk(dir)
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// A request of 2000 new series with long labels (about 400 bytes each).
fn filler(batch: usize, t: i64) -> pb::WriteRequest {
    let pad = "x".repeat(300);
    let timeseries = (0..2000)
        .map(|i| series(&[("__name__", "filler"), ("id", &format!("{batch}-{i}")), ("pad", &pad)], &[(t, i as f64)]))
        .collect();
    pb::WriteRequest { timeseries, metadata: vec![] }
}

#[test]
fn a_write_to_a_full_disk_is_507_without_internals_and_reads_go_on() {
    let disk = SmallDisk::mount(24);
    let data = disk.0.path().join("data");
    let g = Gemini::start(&data, &[]);
    let t = now_s() * 1000;
    let kept = [("__name__", "kept"), ("job", "a")];
    let a = g.write("prometheus", &pb::WriteRequest { timeseries: vec![series(&kept, &[(t, 1.0)])], metadata: vec![] });
    assert_eq!(a.status, 204, "{}", a.text());
    let mut refused = None;
    for batch in 0..400 {
        let a = g.write("prometheus", &filler(batch, t));
        if a.status != 204 {
            refused = Some(a);
            break;
        }
    }
    let a = refused.expect("the disk filled up");
    assert_eq!(a.status, 507, "{}", a.text());
    let text = a.text();
    assert!(text.contains("the disk of the data directory is full"), "{text}");
    assert!(!text.contains('/') && !text.contains("IO error") && !text.contains(".sst"), "no internals: {text}");
    // Reads go on.
    let got = g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", "kept")]));
    assert_eq!(got.into_values().next(), Some(vec![(t, 1.0f64.to_bits())]));
    assert_eq!(g.get("/ping").status, 204);
}
