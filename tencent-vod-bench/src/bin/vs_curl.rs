//! `VodClient::upload` against `curl -T`, side by side, in one run: the same files to the same mock (out of
//! process, bench mode), over plain HTTP and over HTTPS, each tool run as a child process and measured the same
//! way — wall time from spawn to exit, CPU (user + system) and peak RSS from `wait4`'s `rusage` of the child.
//!
//! ```text
//! cargo build --release -p tencent-vod-bench --bin vs_curl
//! target/release/vs_curl                                  # 256 MiB + 1 GiB + 1,000 × 100 KiB, HTTP + HTTPS, 5 runs
//! target/release/vs_curl --runs 7 --sizes 1G --protocols https
//! target/release/vs_curl --http-version 2                  # ours over HTTP/2 (HTTPS only), for the ALPN choice
//! ```
//!
//! - **ours**: a child process (this binary, `--child`) that builds a client with `VodClient::from_env()` —
//!   the defaults, with the mock's endpoints, credentials and (HTTPS) CA file in the environment — and uploads:
//!   ApplyUpload, the COS transfer (multipart above 8 MiB, 4 parts in flight, CRC-64 checked), CommitUpload.
//!   For many files, 4 uploads in flight.
//! - **curl**: `curl -T FILE` of the same file as one signed PUT Object to the same COS endpoint (`--cacert`
//!   with the mock's CA over HTTPS); for many files one curl process with `--parallel --parallel-max 4`.
//!   curl reads 64 KiB at a time and computes no checksum.
//!
//! After one untimed warm-up run of each (page cache, mock), runs alternate (curl, ours, curl, ours, …) so a
//! change in machine load hits both. Per case the medians and the
//! ratios ours/curl are printed; then the peak RSS of ours for a 2 GiB file. Files are sparse (large) or small
//! real files in a temporary directory, deleted at the end.
//!
//! Output (stable, one record per line, `key=value` fields):
//!
//! ```text
//! # vs_curl v1 machine: cores=2 cpu="…" | load before: 1.02 0.98 0.91 | mock: out of process, bench mode
//! run case=1GiB proto=http tool=curl i=1 wall_s=0.912 cpu_s=0.402 cpu_s_per_gib=0.402 maxrss_mib=5.9
//! median case=1GiB proto=http tool=ours runs=5 wall_s=0.801 cpu_s=0.377 cpu_s_per_gib=0.377 maxrss_mib=17.2
//! ratio case=1GiB proto=http wall=0.878 cpu_per_gib=0.938 maxrss=2.915
//! rss case=2GiB proto=http tool=ours maxrss_mib=12.2 limit_mib=32 within_limit=yes
//! # load after: …
//! ```

use clap::Parser;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// The first argument that turns this process into the out-of-process mock.
const SERVE_MOCK: &str = "--serve-mock";
/// The first argument that turns this process into the "ours" upload child.
const CHILD: &str = "--child";

const GIB: f64 = (1u64 << 30) as f64;

#[derive(Parser, Debug)]
#[command(about = "tencent-vod upload vs curl -T: wall time, CPU-s/GiB and peak RSS in one run")]
struct Args {
    /// Single-file sizes (K/M/G suffixes, binary).
    #[arg(long, value_delimiter = ',', default_value = "256M,1G", value_parser = parse_size)]
    sizes: Vec<u64>,
    /// Many small files: COUNTxSIZE (`none` to skip).
    #[arg(long, default_value = "1000x100K")]
    files: String,
    /// Protocols to run: http, https.
    #[arg(long, value_delimiter = ',', default_value = "http,https")]
    protocols: Vec<String>,
    /// Timed runs of each tool per case (alternating).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Size of the peak-RSS check of ours (`0` to skip).
    #[arg(long, default_value = "2G", value_parser = parse_size)]
    rss_size: u64,
    /// Peak RSS limit for that check, MiB.
    #[arg(long, default_value_t = 32.0)]
    rss_limit_mib: f64,
    /// HTTP version of ours: `default` (the SDK's choice), `1` (HTTP/1.1 only) or `2` (HTTP/2 when the server
    /// offers it by ALPN, i.e. over HTTPS).
    #[arg(long, default_value = "default")]
    http_version: String,
    /// Streaming chunk size of ours, e.g. 64K (default: the SDK's).
    #[arg(long, value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// Where to create the temporary files (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The curl executable.
    #[arg(long, default_value = "curl")]
    curl: String,
}

/// Arguments of the child that runs ours.
#[derive(Parser, Debug)]
struct ChildArgs {
    #[arg(long = "child", required = true)]
    child: bool,
    /// `default`, `1` or `2` (see the parent's `--http-version`).
    #[arg(long, default_value = "default")]
    http_version: String,
    /// Streaming chunk size (default: the SDK's).
    #[arg(long, value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// Parts in flight (default: the SDK's).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Files to upload (4 in flight when several).
    files: Vec<PathBuf>,
}

/// Arguments of the out-of-process mock.
#[derive(Parser, Debug)]
struct MockProcess {
    #[arg(long = "serve-mock", required = true)]
    serve_mock: bool,
    #[command(flatten)]
    args: tencent_vod_mock::standalone::MockArgs,
}

fn parse_size(s: &str) -> Result<u64, String> {
    tencent_vod::cos::parse_size(s).map_err(|e| e.to_string())
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{}GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{}KiB", bytes >> 10)
    } else {
        format!("{bytes}B")
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|r| r.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// What one child process cost.
#[derive(Debug, Clone, Copy)]
struct Measured {
    wall: f64,
    cpu: f64,
    maxrss_mib: f64,
}

/// Runs `cmd` to completion; wall time from spawn to exit, CPU and peak RSS from `wait4`.
fn run_measured(cmd: &mut Command) -> Result<(Measured, String), String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    let pid = child.id() as libc::pid_t;
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data (all-zero is a valid value) and `wait4` only writes into the two
    // out-pointers, which point at live locals; `pid` is our own child, not yet reaped (the `Child` handle is
    // never waited on).
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    let wall = started.elapsed().as_secs_f64();
    drop(child);
    let stdout = t_out.join().unwrap_or_default();
    let stderr = t_err.join().unwrap_or_default();
    if r != pid {
        return Err(format!("wait4 failed: {}", std::io::Error::last_os_error()));
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let tail = |s: &str| {
            let s = s.trim();
            s[s.len().saturating_sub(600)..].to_string()
        };
        return Err(format!(
            "{:?} failed (status {status:#x}): {} {}",
            cmd.get_program(),
            tail(&stdout),
            tail(&stderr)
        ));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Ok((
        Measured {
            wall,
            cpu: secs(ru.ru_utime) + secs(ru.ru_stime),
            maxrss_mib: ru.ru_maxrss as f64 / 1024.0,
        },
        stdout,
    ))
}

/// The mock, out of process.
struct Mock {
    child: std::process::Child,
    info: serde_json::Value,
}

impl Drop for Mock {
    fn drop(&mut self) {
        // SIGTERM: the mock shuts down and removes its temporary data directory (SIGKILL would leave it).
        // SAFETY: `kill` only sends a signal to our own child's pid, which is not reaped yet.
        let termed = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) } == 0;
        if !termed {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

impl Mock {
    fn start(tls: bool) -> Result<Mock, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.args([SERVE_MOCK, "--bench", "--json"]);
        if tls {
            cmd.arg("--tls");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the mock: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout from the mock")?;
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
            .map_err(|e| format!("reading the mock's endpoints: {e}"))?;
        let info: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("the mock printed {line:?}: {e}"))?;
        Ok(Mock { child, info })
    }

    fn s(&self, k: &str) -> String {
        self.info[k].as_str().unwrap_or_default().to_string()
    }

    fn ca_file(&self) -> Option<String> {
        self.info["ca_file"].as_str().map(str::to_string)
    }

    /// The environment `VodClient::from_env` reads.
    fn env(&self, cmd: &mut Command) {
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("TENCENTCLOUD_SECRET_ID", self.s("secret_id"))
            .env("TENCENTCLOUD_SECRET_KEY", self.s("secret_key"))
            .env("TENCENTCLOUD_REGION", self.s("region"))
            .env("TENCENTCLOUD_VOD_ENDPOINT", self.s("vod_endpoint"))
            .env("TENCENTCLOUD_COS_ENDPOINT", self.s("cos_endpoint"));
        if let Some(ca) = self.ca_file() {
            cmd.env("TENCENTCLOUD_CA_FILE", ca);
        }
    }

    /// A signed PUT Object of `key` (`size` bytes) as curl sends it: URL and headers. Signed with the mock's
    /// permanent credential (valid for any key of the bucket).
    fn put(&self, key: &str, size: u64) -> (String, String) {
        use tencent_vod::__private::cos_sign;
        let region = self.s("region");
        let bucket = format!(
            "vod{}-{}",
            region.replace('-', ""),
            self.info["app_id"].as_u64().unwrap_or(0)
        );
        let base = self.s("cos_endpoint");
        let url = format!("{base}/{bucket}{}", cos_sign::object_path_on_wire(key));
        let host = base.split("://").nth(1).unwrap_or_default().to_string();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let len = size.to_string();
        let auth = cos_sign::authorization(
            &self.s("secret_id"),
            &self.s("secret_key"),
            &cos_sign::CosRequest {
                method: "PUT",
                path: &format!("/{key}"),
                query: &[],
                headers: &[("host", &host), ("content-length", &len)],
                key_time: (now - 60, now + 3600),
            },
        );
        (url, auth)
    }
}

/// One case: what is uploaded.
struct Case {
    label: String,
    files: Vec<PathBuf>,
    bytes: u64,
}

fn curl_command(args: &Args, mock: &Mock, case: &Case, dir: &Path) -> Result<Command, String> {
    let mut cmd = Command::new(&args.curl);
    if case.files.len() == 1 {
        cmd.args(["-sS", "--fail"]);
        if let Some(ca) = mock.ca_file() {
            cmd.arg("--cacert").arg(ca);
        }
        let f = &case.files[0];
        let (url, auth) = mock.put("bench/curl/single.mp4", case.bytes);
        cmd.args(["-o", "/dev/null", "-H", "Expect:", "-H"])
            .arg(format!("Authorization: {auth}"))
            .arg("-T")
            .arg(f)
            .arg(url);
    } else {
        // One process, 4 transfers at a time, each with its own signed URL (a config file: no argv limit).
        // Options after `next` start afresh, so each transfer repeats them.
        let common = match mock.ca_file() {
            Some(ca) => format!("silent\nshow-error\nfail\ncacert = \"{ca}\"\n"),
            None => "silent\nshow-error\nfail\n".to_string(),
        };
        let mut conf = String::new();
        for (i, f) in case.files.iter().enumerate() {
            let size = std::fs::metadata(f).map_err(|e| e.to_string())?.len();
            let (url, auth) = mock.put(&format!("bench/curl/many/{i:05}.mp4"), size);
            if i > 0 {
                conf.push_str("next\n");
            }
            conf.push_str(&common);
            conf.push_str(&format!(
                "url = \"{url}\"\nupload-file = \"{}\"\noutput = \"/dev/null\"\nheader = \"Expect:\"\nheader = \"Authorization: {auth}\"\n",
                f.display()
            ));
        }
        let path = dir.join("curl-many.conf");
        std::fs::write(&path, conf).map_err(|e| e.to_string())?;
        cmd.args(["--parallel", "--parallel-max", "4", "-K"])
            .arg(path);
    }
    Ok(cmd)
}

fn ours_command(args: &Args, mock: &Mock, case: &Case) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    mock.env(&mut cmd);
    cmd.arg(CHILD).args(["--http-version", &args.http_version]);
    if let Some(c) = args.chunk_size {
        cmd.arg("--chunk-size").arg(c.to_string());
    }
    cmd.args(&case.files);
    Ok(cmd)
}

struct Stats {
    wall: f64,
    cpu: f64,
    rss: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn summarize(case: &Case, proto: &str, tool: &str, runs: &[Measured]) -> Stats {
    let s = Stats {
        wall: median(runs.iter().map(|r| r.wall).collect()),
        cpu: median(runs.iter().map(|r| r.cpu).collect()),
        rss: median(runs.iter().map(|r| r.maxrss_mib).collect()),
    };
    println!(
        "median case={} proto={proto} tool={tool} runs={} wall_s={:.3} cpu_s={:.3} cpu_s_per_gib={:.3} maxrss_mib={:.1}",
        case.label,
        runs.len(),
        s.wall,
        s.cpu,
        s.cpu / (case.bytes as f64 / GIB),
        s.rss
    );
    s
}

fn print_run(case: &Case, proto: &str, tool: &str, i: usize, m: &Measured) {
    println!(
        "run case={} proto={proto} tool={tool} i={i} wall_s={:.3} cpu_s={:.3} cpu_s_per_gib={:.3} maxrss_mib={:.1}",
        case.label,
        m.wall,
        m.cpu,
        m.cpu / (case.bytes as f64 / GIB),
        m.maxrss_mib
    );
}

fn sparse(path: &Path, size: u64) -> Result<(), String> {
    std::fs::File::create(path)
        .and_then(|f| f.set_len(size))
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn parent(args: Args) -> Result<(), String> {
    let dir = match &args.dir {
        Some(d) => tempfile::Builder::new().prefix("vs-curl").tempdir_in(d),
        None => tempfile::Builder::new().prefix("vs-curl").tempdir(),
    }
    .map_err(|e| e.to_string())?;
    let mut cases = Vec::new();
    for &size in &args.sizes {
        let f = dir.path().join(format!("single-{}.mp4", human(size)));
        sparse(&f, size)?;
        cases.push(Case {
            label: human(size),
            files: vec![f],
            bytes: size,
        });
    }
    if args.files != "none" {
        let (count, size) = args
            .files
            .split_once('x')
            .ok_or("--files: expected COUNTxSIZE, e.g. 1000x100K")?;
        let count: usize = count.parse().map_err(|_| "--files: bad count")?;
        let size = parse_size(size)?;
        let many = dir.path().join("many");
        std::fs::create_dir_all(&many).map_err(|e| e.to_string())?;
        let mut rng = fastrand::Rng::with_seed(7);
        let mut buf = vec![0u8; size as usize];
        let mut files = Vec::with_capacity(count);
        for i in 0..count {
            rng.fill(&mut buf);
            let f = many.join(format!("f{i:05}.mp4"));
            std::fs::write(&f, &buf).map_err(|e| e.to_string())?;
            files.push(f);
        }
        cases.push(Case {
            label: format!("{count}x{}", human(size)),
            files,
            bytes: count as u64 * size,
        });
    }
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    println!(
        "# vs_curl v1 machine: cores={cores} cpu={:?} | load before: {} | mock: out of process, bench mode | ours: \
         VodClient::from_env defaults, http_version={} chunk_size={} | runs={} alternating",
        cpu_model(),
        loadavg(),
        args.http_version,
        args.chunk_size
            .map(human)
            .unwrap_or_else(|| "default".into()),
        args.runs
    );
    for proto in &args.protocols {
        let tls = match proto.as_str() {
            "http" => false,
            "https" => true,
            other => return Err(format!("--protocols: unknown {other:?}")),
        };
        let mock = Mock::start(tls)?;
        for case in &cases {
            // One untimed run of each first: the files' pages are in the page cache (a sparse file's holes
            // are zero-filled on first read) and the mock is warm, for both tools alike.
            run_measured(&mut curl_command(&args, &mock, case, dir.path())?)?;
            run_measured(&mut ours_command(&args, &mock, case)?)?;
            let mut curl = Vec::new();
            let mut ours = Vec::new();
            for i in 1..=args.runs {
                let (m, _) = run_measured(&mut curl_command(&args, &mock, case, dir.path())?)?;
                print_run(case, proto, "curl", i, &m);
                curl.push(m);
                let (m, _) = run_measured(&mut ours_command(&args, &mock, case)?)?;
                print_run(case, proto, "ours", i, &m);
                ours.push(m);
            }
            let c = summarize(case, proto, "curl", &curl);
            let o = summarize(case, proto, "ours", &ours);
            println!(
                "ratio case={} proto={proto} wall={:.3} cpu_per_gib={:.3} maxrss={:.3}",
                case.label,
                o.wall / c.wall,
                o.cpu / c.cpu,
                o.rss / c.rss
            );
        }
        if args.rss_size > 0 {
            let f = dir.path().join("rss-check.mp4");
            sparse(&f, args.rss_size)?;
            let case = Case {
                label: human(args.rss_size),
                files: vec![f.clone()],
                bytes: args.rss_size,
            };
            let (m, _) = run_measured(&mut ours_command(&args, &mock, &case)?)?;
            // One cold run of a fresh sparse file: only its peak RSS is reported (its wall and CPU figures would
            // include the kernel zero-filling the file's pages on first read).
            println!(
                "rss case={} proto={proto} tool=ours maxrss_mib={:.1} limit_mib={} within_limit={}",
                case.label,
                m.maxrss_mib,
                args.rss_limit_mib,
                if m.maxrss_mib <= args.rss_limit_mib {
                    "yes"
                } else {
                    "no"
                },
            );
            let _ = std::fs::remove_file(&f);
        }
    }
    println!("# load after: {}", loadavg());
    Ok(())
}

/// The "ours" child: uploads the files with the SDK's defaults, 4 uploads in flight.
async fn child(args: ChildArgs) -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;
    use tencent_vod::{UploadRequest, VodClient, VodClientBuilder};
    let mut b = VodClientBuilder::from_env()?;
    match args.http_version.as_str() {
        "default" => {}
        v @ ("1" | "2") => {
            // The same settings as the SDK's own client, but the HTTP version forced one way or the other.
            let mut h = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .tcp_nodelay(true)
                .no_proxy();
            if let Ok(ca) = std::env::var("TENCENTCLOUD_CA_FILE") {
                h = h.tls_certs_merge(reqwest::Certificate::from_pem_bundle(&std::fs::read(ca)?)?);
            }
            if v == "1" {
                h = h.http1_only();
            }
            b = VodClient::builder()
                .with_credential(tencent_vod::Credential::new(
                    std::env::var("TENCENTCLOUD_SECRET_ID")?,
                    std::env::var("TENCENTCLOUD_SECRET_KEY")?,
                ))
                .with_region(std::env::var("TENCENTCLOUD_REGION")?)
                .with_vod_endpoint(std::env::var("TENCENTCLOUD_VOD_ENDPOINT")?)
                .with_cos_endpoint(std::env::var("TENCENTCLOUD_COS_ENDPOINT")?)
                .with_http_client(h.build()?);
        }
        other => return Err(format!("--http-version: {other:?}: expected default, 1 or 2").into()),
    }
    let mut transfer = tencent_vod::cos::TransferConfig::default();
    if let Some(c) = args.chunk_size {
        transfer = transfer.with_chunk_size(c as usize);
    }
    if let Some(n) = args.concurrency {
        transfer = transfer.with_concurrency(n);
    }
    b = b.with_transfer_config(transfer);
    let client = b.build()?;
    let mut total = 0u64;
    let mut uploads = futures::stream::iter(args.files)
        .map(|f| {
            let client = client.clone();
            async move { client.upload(UploadRequest::from_path(f)).await }
        })
        .buffer_unordered(4);
    while let Some(r) = uploads.next().await {
        total += r?.bytes_sent;
    }
    println!("uploaded {total} bytes");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let first = std::env::args().nth(1);
    if first.as_deref() == Some(SERVE_MOCK) {
        let mock = MockProcess::parse_from(std::env::args());
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        return match rt.block_on(tencent_vod_mock::standalone::run(&mock.args)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("mock: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if first.as_deref() == Some(CHILD) {
        let args = ChildArgs::parse_from(std::env::args());
        let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
        return match rt.block_on(child(args)) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("upload failed: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; measure with --release");
    }
    match parent(Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vs_curl: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
