//! Test support shared by the CLI's integration tests (each test file declares `mod support;`): the built
//! `tvod` binary, the mock (as a child `tvod mock --json`, or in-process), deterministic files, commit counting
//! and polling with a deadline.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tencent_vod_mock::MockServer;

pub const TVOD: &str = env!("CARGO_BIN_EXE_tvod");
pub const MIB: usize = 1 << 20;

/// `tvod mock --json` as a child process (killed on drop), with its JSON line.
pub struct ChildMock {
    pub child: Child,
    pub info: serde_json::Value,
}

impl Drop for ChildMock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tvod mock --json` with the credential `AKIDcli` / `cli-secret-key`.
pub fn start_child_mock(data_dir: &Path) -> ChildMock {
    let mut child = Command::new(TVOD)
        .args([
            "mock",
            "--json",
            "--secret-id",
            "AKIDcli",
            "--secret-key",
            "cli-secret-key",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("tvod mock printed {line:?}: {e}"));
    ChildMock { child, info }
}

impl ChildMock {
    /// An endpoint from the JSON line.
    pub fn endpoint(&self, name: &str) -> String {
        self.info[name]
            .as_str()
            .unwrap_or_else(|| panic!("no {name} in {}", self.info))
            .to_string()
    }

    /// `tvod SUBCOMMAND` with a clean environment pointing at this mock.
    pub fn tvod(&self, subcommand: &str) -> Command {
        tvod_env(
            subcommand,
            "AKIDcli",
            "cli-secret-key",
            &self.endpoint("vod_endpoint"),
            &self.endpoint("cos_endpoint"),
        )
    }
}

/// `tvod SUBCOMMAND` with only PATH, a HOME without a profile, and the given credential and endpoints.
pub fn tvod_env(subcommand: &str, id: &str, key: &str, vod: &str, cos: &str) -> Command {
    let mut cmd = Command::new(TVOD);
    cmd.arg(subcommand)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("TENCENTCLOUD_SECRET_ID", id)
        .env("TENCENTCLOUD_SECRET_KEY", key)
        .env("TENCENTCLOUD_REGION", "ap-guangzhou")
        .env("TENCENTCLOUD_VOD_ENDPOINT", vod)
        .env("TENCENTCLOUD_COS_ENDPOINT", cos);
    cmd
}

/// `tvod SUBCOMMAND` pointed at an in-process mock.
pub fn tvod(server: &MockServer, subcommand: &str) -> Command {
    let c = server.credential();
    tvod_env(
        subcommand,
        c.secret_id(),
        c.secret_key(),
        &server.vod_endpoint(),
        &server.cos_endpoint(),
    )
}

/// Runs a command to completion off the async runtime (the in-process mock keeps serving meanwhile).
pub async fn run(mut cmd: Command) -> Output {
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// stdout and stderr, for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The JSON lines of stdout (every line must parse).
pub fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}\n{}", show(o)))
        })
        .collect()
}

/// `len` deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut v = vec![0u8; len];
    rng.fill(&mut v);
    v
}

/// Writes `bytes` to `dir/rel` (creating directories).
pub fn write(dir: &Path, rel: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Lower-hex SHA-256.
pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

/// How many commits stored an object with each content (SHA-256 of the committed media object), so a source's
/// count is its number of commits.
pub fn commits_by_content(server: &MockServer) -> HashMap<String, usize> {
    let objects: HashMap<String, String> = server
        .objects()
        .into_iter()
        .map(|o| (o.key, o.sha256))
        .collect();
    let mut out = HashMap::new();
    for c in server.commits() {
        let key = url::Url::parse(&c.media_url).unwrap().path()[1..].to_string();
        let sha = objects
            .get(&key)
            .cloned()
            .unwrap_or_else(|| panic!("no object for commit {c:?}"));
        *out.entry(sha).or_insert(0) += 1;
    }
    out
}

/// Polls `f` every 10 ms until it returns `Some` or `deadline` passes (then panics with `what`).
pub async fn poll_until<T>(what: &str, deadline: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends a signal (`INT`, `KILL`, `TERM`) to a process.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(ok.success(), "kill -{sig} {pid}");
}

/// The rows of a journal as (path, state, file_id) — read with SQLite directly, after the run ended.
pub fn journal_rows(journal: &Path) -> Vec<(String, String, Option<String>)> {
    let c =
        rusqlite::Connection::open_with_flags(journal, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .unwrap();
    let mut st = c
        .prepare("SELECT path, state, file_id FROM items ORDER BY id")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}
