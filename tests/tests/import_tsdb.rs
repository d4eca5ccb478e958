//! `gemini import tsdb` end to end (issue 31): a real Prometheus 2.42 holds three hours of a few
//! series (written through its remote-write receiver, cut into 30-minute blocks), one series
//! loses half an hour to `delete_series` (a tombstone), then a snapshot is taken and Prometheus
//! is stopped. A Gemini already holds the newer hour of the same series; after importing the
//! snapshot from disk, a remote read of everything from Gemini holds exactly what Prometheus'
//! own remote read answered (bit for bit, NaN included, the deleted half hour absent) plus the
//! newer hour. Run twice: the same. Interrupted after the first block (`--state`) and resumed:
//! nothing lost. The data directory's WAL is named as left out; a damaged chunk and a directory
//! without blocks fail saying where.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use tests::import::*;
use tests::*;

/// Runs `gemini import tsdb --dir <dir> --to <g>` with `extra` flags: success, stdout, stderr.
fn import(dir: &Path, g: &Gemini, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("gemini")).args(["import", "tsdb", "--dir", dir.to_str().unwrap(), "--to", &g.url("")]).args(extra).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The block directories under `dir` (named by a ULID, holding meta.json), oldest first, with
/// their meta.json.
fn blocks(dir: &Path) -> Vec<(PathBuf, serde_json::Value)> {
    let mut out: Vec<(PathBuf, serde_json::Value)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("meta.json").is_file() && !p.file_name().unwrap().to_string_lossy().contains('.'))
        .map(|p| {
            let meta = serde_json::from_slice(&std::fs::read(p.join("meta.json")).unwrap()).unwrap();
            (p, meta)
        })
        .collect();
    out.sort_by_key(|(_, m)| m["minTime"].as_i64().unwrap());
    out
}

/// A POST to Prometheus' admin API (asking for no gzip: its empty 204 answer would not unzip).
fn post_json(p: &Prometheus, path: &str) -> (u16, String) {
    let a = post_url(&p.url(path), &[("Accept-Encoding", "identity")], b"");
    (a.status, a.text())
}

#[test]
fn a_snapshot_of_a_stopped_prometheus_lands_beside_the_newer_hour_once_and_resumes() {
    let now = now_s() * 1000 / STEP * STEP;
    let (old_from, old_to) = (now - 4 * HOUR, now - HOUR - STEP);
    let (new_from, new_to) = (now - HOUR, now);
    let mut p = prometheus_holding(old_from, old_to, &["--web.enable-admin-api", "--storage.tsdb.min-block-duration=30m"]);
    // The head holds at most 1.5 blocks: the older hours are written out as blocks.
    wait_until("Prometheus writes blocks", Duration::from_secs(60), || blocks(&p.data_dir()).len() >= 2);

    // A tombstone: imp_up loses 20..50 minutes after the start (121 samples).
    let (cut_from, cut_to) = (old_from + 20 * 60_000, old_from + 50 * 60_000);
    let path = format!("/api/v1/admin/tsdb/delete_series?match[]=imp_up&start={}&end={}", cut_from / 1000, cut_to / 1000);
    let (status, text) = post_json(&p, &path);
    assert_eq!(status, 204, "{text}");
    let old = prometheus_samples(&p);
    let up = labels_key(&[label("__name__", "imp_up"), label("job", "api")]);
    assert_eq!(old.len(), 4);
    assert_eq!(old[&up].len(), 720 - 121, "Prometheus hides the deleted half hour");
    assert!(old.iter().filter(|(k, _)| **k != up).all(|(_, s)| s.len() == 720));
    assert!(old.values().flatten().any(|(_, v)| f64::from_bits(*v).is_nan()), "the NaN is there");

    let (status, text) = post_json(&p, "/api/v1/admin/tsdb/snapshot");
    assert_eq!(status, 200, "{text}");
    let name = serde_json::from_str::<serde_json::Value>(&text).unwrap()["data"]["name"].as_str().unwrap().to_string();
    let snapshot = p.data_dir().join("snapshots").join(name);
    p.stop();
    let snapshot_blocks = blocks(&snapshot);
    assert!(snapshot_blocks.len() >= 3, "persisted blocks and the head: {}", snapshot_blocks.len());
    let tombstones = snapshot_blocks.iter().filter(|(b, _)| std::fs::metadata(b.join("tombstones")).is_ok_and(|m| m.len() > 9)).count();
    assert!(tombstones > 0, "a block of the snapshot carries the deletion as a tombstone");
    let n = snapshot_blocks.len();

    let dir = tempfile::tempdir().unwrap();
    let g = gemini_with_newer_hour(dir.path(), new_from, new_to);
    let newer = g.read_samples("prometheus", everything());
    let want = merged(&old, &newer);

    // A dry run lists the blocks and what they hold, and writes nothing.
    let (ok, out, err) = import(&snapshot, &g, &["--dry-run"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("block ")).count(), n, "{out}");
    assert!(out.contains(&format!("would import {n} blocks: ")) && out.contains(", 2759 samples (0 skipped as done before)"), "{out}");
    assert_eq!(g.read_samples("prometheus", everything()), newer, "a dry run writes nothing");
    let (ok, out, err) = import(&snapshot, &g, &["--dry-run", "--match", r#"{__name__="imp_up"}"#, "--start", &(cut_to / 1000).to_string()]);
    assert!(ok, "{err}");
    let later = old[&up].iter().filter(|(t, _)| *t >= cut_to).count();
    assert_eq!(later, 519, "steps 201..=719 of imp_up in Prometheus' answer");
    assert!(out.contains(&format!(", {later} samples (0 skipped")), "imp_up from the end of the deletion on: {out}");

    // Imported twice: the second run duplicates nothing.
    for run in ["first", "second"] {
        let started = Instant::now();
        let (ok, _, err) = import(&snapshot, &g, &["--parallel", "3"]);
        eprintln!("{run} import of the snapshot ({n} blocks, 2759 samples): {:?}", started.elapsed());
        assert!(ok, "{err}");
        assert!(err.contains(&format!("imported {n} blocks: ")) && err.contains(", 2759 samples in "), "{err}");
        assert!(!err.contains("WAL"), "a snapshot has no WAL: {err}");
        assert_eq!(g.read_samples("prometheus", everything()), want, "{run} import: Prometheus' samples and the newer hour");
    }
    assert_eq!(g.read_streamed("prometheus", everything()), want, "streamed too");

    // Interrupted after the first block (read up to its end only), resumed with the state file.
    let dir2 = tempfile::tempdir().unwrap();
    let g2 = gemini_with_newer_hour(dir2.path(), new_from, new_to);
    let state = dir2.path().join("import.state");
    let state_arg = state.to_str().unwrap();
    let (first, first_meta) = &snapshot_blocks[0];
    let first_end = format!("{:.3}", (first_meta["maxTime"].as_i64().unwrap() - 1) as f64 / 1000.0);
    let (ok, _, err) = import(&snapshot, &g2, &["--state", state_arg, "--end", &first_end]);
    assert!(ok, "{err}");
    assert!(err.contains("imported 1 blocks: "), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap(), format!("{}\n", first.file_name().unwrap().to_string_lossy()));
    assert_ne!(g2.read_samples("prometheus", everything()), want, "only the first block so far");
    let (ok, _, err) = import(&snapshot, &g2, &["--state", state_arg]);
    assert!(ok, "{err}");
    assert!(err.contains(&format!("imported {} blocks (1 skipped as done before): ", n - 1)), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap().lines().count(), n);
    assert_eq!(g2.read_samples("prometheus", everything()), want, "resumed: nothing lost");
    let (ok, _, err) = import(&snapshot, &g2, &["--state", state_arg]);
    assert!(ok && err.contains(&format!("imported 0 blocks ({n} skipped as done before)")), "{err}");

    // The data directory: its blocks are read, its WAL is named as left out.
    let (ok, out, err) = import(&p.data_dir(), &g2, &["--dry-run"]);
    assert!(ok, "{err}");
    assert!(out.contains("the head's WAL is not read: take a snapshot, which writes the head as a block"), "{out}");

    // A damaged chunk fails naming the block, the file and the offset.
    let damaged = tempfile::tempdir().unwrap();
    let copy = damaged.path().join(first.file_name().unwrap());
    std::fs::create_dir_all(copy.join("chunks")).unwrap();
    for file in ["meta.json", "index", "tombstones", "chunks/000001"] {
        std::fs::copy(first.join(file), copy.join(file)).unwrap();
    }
    let mut bytes = std::fs::read(copy.join("chunks/000001")).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x10;
    std::fs::write(copy.join("chunks/000001"), bytes).unwrap();
    let (ok, _, err) = import(damaged.path(), &g2, &["--dry-run"]);
    assert!(!ok);
    let ulid = first.file_name().unwrap().to_string_lossy().into_owned();
    assert!(err.contains("1 of 1 blocks failed") && err.contains(&ulid) && err.contains("chunks/000001 at offset "), "{err}");

    // Not a TSDB directory.
    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("notes.txt"), "no blocks here").unwrap();
    let (ok, _, err) = import(plain.path(), &g2, &[]);
    assert!(!ok && err.contains("not a Prometheus TSDB directory"), "{err}");
}
