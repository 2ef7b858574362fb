//! What the ingest journal costs: `tvod ingest` of many small files through the mock (bench mode: bodies are
//! checksummed and discarded), in files per second, with and without the journal.
//!
//! ```sh
//! cargo bench -p tencent-vod-cli --bench ingest                          # 10,000 × 100 KiB, 16 jobs, 3 reps
//! cargo bench -p tencent-vod-cli --bench ingest -- --files 2000 --size 100K --jobs 16 --reps 3
//! ```
//!
//! Modes, each on a fresh journal and checkpoint directory:
//! - `bare`: `--no-journal --no-checkpoint` (the upload pipeline alone, not resumable);
//! - `journal-only`: `--no-checkpoint` (the SQLite journal, no SDK checkpoints);
//! - `sqlite`: the default: the SQLite journal (`--journal-sync normal`) holding the SDK checkpoints too;
//! - `sqlite-full`: the same with `--journal-sync full` (every transaction fsynced);
//! - `files`: the journal, checkpoints as JSON files (`--checkpoint-dir`: a file, an fsync and a rename per
//!   save);
//! - `memory`: `--no-journal` (journal in memory, checkpoints as JSON files).
//!
//! The journal's cost is `journal-only` against `bare`; what a resumable, exactly-once run costs is `sqlite`
//! against `bare`. The files are sparse (a unique 32-byte head, the rest a
//! hole), so the tree takes almost no disk space; reading a hole costs what reading a cached page does. The
//! tree is removed at the end. The API rate limit is lifted (`--api-rate 1000000`) so it does not cap the
//! figures.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;
use tencent_vod_mock::MockServer;

struct Opts {
    files: usize,
    size: u64,
    jobs: u32,
    reps: usize,
}

fn parse_size(s: &str) -> u64 {
    tencent_vod::cos::parse_size(s).unwrap_or_else(|e| panic!("--size {s}: {e}"))
}

fn opts() -> Opts {
    let mut o = Opts {
        files: 10_000,
        size: 100 * 1024,
        jobs: 16,
        reps: 3,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--files" => o.files = val().parse().expect("--files N"),
            "--size" => o.size = parse_size(&val()),
            "--jobs" => o.jobs = val().parse().expect("--jobs N"),
            "--reps" => o.reps = val().parse().expect("--reps N"),
            // `cargo bench` passes `--bench`; anything else is ignored.
            _ => {}
        }
    }
    o
}

fn make_tree(dir: &Path, files: usize, size: u64) {
    use std::io::Write;
    for i in 0..files {
        let sub = dir.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&sub).unwrap();
        }
        let mut f = std::fs::File::create(sub.join(format!("f{i:05}.mp4"))).unwrap();
        f.write_all(format!("{i:032}").as_bytes()).unwrap();
        f.set_len(size).unwrap();
    }
}

fn run_mode(server: &MockServer, tree: &Path, state: &Path, mode: &str, o: &Opts) -> Run {
    let _ = std::fs::remove_dir_all(state);
    std::fs::create_dir_all(state).unwrap();
    let cred = server.credential();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tvod"));
    cmd.arg("ingest")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("TENCENTCLOUD_SECRET_ID", cred.secret_id())
        .env("TENCENTCLOUD_SECRET_KEY", cred.secret_key())
        .env("TENCENTCLOUD_REGION", "ap-guangzhou")
        .env("TENCENTCLOUD_VOD_ENDPOINT", server.vod_endpoint())
        .env("TENCENTCLOUD_COS_ENDPOINT", server.cos_endpoint())
        .arg("--journal")
        .arg(state.join("journal.db"))
        .args(["--quiet", "--api-rate", "1000000", "--jobs"])
        .arg(o.jobs.to_string())
        .arg("--concurrency")
        .arg(o.jobs.to_string());
    match mode {
        "bare" => {
            cmd.args(["--no-journal", "--no-checkpoint"]);
        }
        "memory" => {
            cmd.arg("--no-journal");
        }
        "files" => {
            cmd.arg("--checkpoint-dir").arg(state.join("checkpoints"));
        }
        "journal-only" => {
            cmd.arg("--no-checkpoint");
        }
        "sqlite" => {}
        "sqlite-full" => {
            cmd.args(["--journal-sync", "full"]);
        }
        other => panic!("mode {other}"),
    }
    cmd.arg(tree).stdout(Stdio::null()).stderr(Stdio::piped());
    // CPU time through `time -f` (less disturbed by other load on the machine than wall time).
    let mut timed = Command::new("/usr/bin/time");
    timed
        .args(["-f", "cpu %U %S"])
        .arg(cmd.get_program())
        .args(cmd.get_args());
    timed
        .env_clear()
        .envs(cmd.get_envs().filter_map(|(k, v)| v.map(|v| (k, v))));
    timed.stdout(Stdio::null()).stderr(Stdio::piped());
    let started = Instant::now();
    let out = timed.output().unwrap();
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{mode}: {stderr}");
    let cpu: f64 = stderr
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("cpu "))
        .map(|t| t.split(' ').filter_map(|x| x.parse::<f64>().ok()).sum())
        .unwrap_or(f64::NAN);
    Run {
        files_per_sec: o.files as f64 / secs,
        cpu_us_per_file: cpu * 1e6 / o.files as f64,
    }
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Run {
    files_per_sec: f64,
    cpu_us_per_file: f64,
}

fn main() {
    let o = opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = rt
        .block_on(MockServer::builder().with_bench_mode(true).start())
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    let state = work.path().join("state");
    let t0 = Instant::now();
    make_tree(&tree, o.files, o.size);
    println!(
        "ingest bench: {} files x {} bytes (sparse), --jobs/--concurrency {}, {} rep(s) per mode; tree made in {:.1} s",
        o.files,
        o.size,
        o.jobs,
        o.reps,
        t0.elapsed().as_secs_f64()
    );
    let modes = [
        "bare",
        "journal-only",
        "sqlite",
        "sqlite-full",
        "files",
        "memory",
    ];
    // Modes interleaved, so a change in the machine's load hits them alike; best and median reported.
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); modes.len()];
    for _ in 0..o.reps {
        for (m, mode) in modes.iter().enumerate() {
            runs[m].push(run_mode(&server, &tree, &state, mode, &o));
        }
    }
    let mut best = Vec::new();
    let mut median = Vec::new();
    for (mode, r) in modes.iter().zip(runs) {
        let mut rate: Vec<f64> = r.iter().map(|x| x.files_per_sec).collect();
        let mut cpu: Vec<f64> = r.iter().map(|x| x.cpu_us_per_file).collect();
        rate.sort_by(f64::total_cmp);
        cpu.sort_by(f64::total_cmp);
        println!(
            "{mode:>12}: best {:.0} files/s, median {:.0} (runs: {}); CPU of tvod per file: best {:.0} µs, median {:.0} µs",
            rate[rate.len() - 1],
            rate[rate.len() / 2],
            rate.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(", "),
            cpu[0],
            cpu[cpu.len() / 2],
        );
        best.push((*mode, rate[rate.len() - 1], cpu[0]));
        median.push((*mode, rate[rate.len() / 2], cpu[cpu.len() / 2]));
    }
    for (what, figures) in [
        ("best against best", &best),
        ("median against median", &median),
    ] {
        let rate = |m: &str| {
            figures
                .iter()
                .find(|(x, ..)| *x == m)
                .map_or(0.0, |(_, r, _)| *r)
        };
        let cpu = |m: &str| {
            figures
                .iter()
                .find(|(x, ..)| *x == m)
                .map_or(0.0, |(.., c)| *c)
        };
        let cost = |with: &str| (1.0 - rate(with) / rate("bare")) * 100.0;
        let cpu_cost = |with: &str| (cpu(with) / cpu("bare") - 1.0) * 100.0;
        println!(
            "cost against bare ({what}), files/s and CPU per file: journal-only {:.1} % / {:.1} %; sqlite (the \
             default: journal + checkpoints) {:.1} % / {:.1} %; sqlite-full {:.1} % / {:.1} %; files {:.1} % / {:.1} %",
            cost("journal-only"),
            cpu_cost("journal-only"),
            cost("sqlite"),
            cpu_cost("sqlite"),
            cost("sqlite-full"),
            cpu_cost("sqlite-full"),
            cost("files"),
            cpu_cost("files"),
        );
    }
    drop(server);
}
