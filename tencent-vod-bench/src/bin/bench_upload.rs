//! Upload throughput and memory benchmark: `VodClient::upload` against the mock in bench mode (or a real/other
//! endpoint), with a `curl -T` baseline and a raw `reqwest` PUT for comparison.
//!
//! ```text
//! cargo build --release -p tencent-vod-bench
//! target/release/bench_upload --size 1G --runs 5 --curl --raw-put --mock-process
//! target/release/bench_upload --size 256M --runs 5 --mock-process         # RSS at 256 MiB
//! target/release/bench_upload --size 2G --runs 5 --mock-process           # RSS at 2 GiB
//! target/release/bench_upload --size 1G --source reader --mock-process    # AsyncRead, known length
//! target/release/bench_upload --size 1G --source reader-unknown           # AsyncRead, unknown length
//! ```
//!
//! One line per run (`bytes`, `seconds`, `MB/s` with MB = 10^6 bytes, peak RSS from `/proc/self/status`
//! `VmHWM` reset before each run through `/proc/self/clear_refs`, parts, retries), then a median line per mode.
//! VmHWM is process-wide: use `--mock-process` so the mock's buffers are not counted, and run one size per
//! process when comparing sizes.
//!
//! The file is sparse by default (reading it costs no disk I/O, which isolates the client from the disk); use
//! `--generated` to write real pseudo-random bytes (then it is read from the page cache).

use clap::{Parser, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tencent_vod::__private::PartPlan;
use tencent_vod::__private::cos_sign;
use tencent_vod::TransferConfig;
use tencent_vod::vod::ApplyUploadRequest;
use tencent_vod::{Credential, RetryConfig, UploadRequest, VodClient};
use tokio::io::AsyncBufReadExt;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum SourceKind {
    /// `UploadRequest::from_path` (positional reads, part by part).
    File,
    /// `tokio::fs::File` as an `AsyncRead` of known length.
    Reader,
    /// `tokio::fs::File` as an `AsyncRead` of unknown length.
    ReaderUnknown,
}

/// The first argument that turns this process into the out-of-process mock (`--mock-process`).
const SERVE_MOCK: &str = "--serve-mock";

/// Arguments of the out-of-process mock: `bench_upload --serve-mock [MOCK OPTIONS]`.
#[derive(Parser, Debug)]
struct MockProcess {
    #[arg(long = "serve-mock", required = true)]
    serve_mock: bool,
    #[command(flatten)]
    args: tencent_vod_mock::standalone::MockArgs,
}

#[derive(Parser, Debug)]
#[command(about = "Upload throughput / peak-RSS benchmark for tencent-vod")]
struct Args {
    /// Object size: bytes, or with a K/M/G suffix (binary: 1G = 1 GiB).
    #[arg(long, default_value = "1G", value_parser = parse_size)]
    size: u64,
    /// Write real bytes instead of a sparse file.
    #[arg(long)]
    generated: bool,
    /// Where to create the temporary file (default: the system temp dir).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Upload an existing file instead of creating one (`--size` is then ignored).
    #[arg(long)]
    file: Option<PathBuf>,
    /// Parts in flight (default: the library default).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Part size, e.g. 8M (default: the library default).
    #[arg(long, value_parser = parse_size)]
    part_size: Option<u64>,
    /// Streaming chunk size, e.g. 1M (default: the library default).
    #[arg(long, value_parser = parse_size)]
    chunk_size: Option<u64>,
    /// Multipart threshold, e.g. 8M (default: the library default).
    #[arg(long, value_parser = parse_size)]
    threshold: Option<u64>,
    /// Timed runs of each mode.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// What the upload reads from.
    #[arg(long, value_enum, default_value_t = SourceKind::File)]
    source: SourceKind,
    /// Also time `curl -T FILE` (one signed PUT Object of the same file to the same COS endpoint).
    #[arg(long)]
    curl: bool,
    /// Also time one raw `reqwest` PUT of the same file (1 MiB reads, no CRC): the mock's PUT path alone.
    #[arg(long)]
    raw_put: bool,
    /// Skip the `VodClient::upload` runs (e.g. only `--curl`).
    #[arg(long)]
    no_upload: bool,
    /// Run the mock as a separate process (this binary again, serving the mock in bench mode) so its memory is
    /// not counted in this process's peak RSS.
    #[arg(long)]
    mock_process: bool,
    /// VOD endpoint of an already running server (no mock is started).
    #[arg(long, requires = "cos_endpoint")]
    vod_endpoint: Option<String>,
    /// COS endpoint of an already running server.
    #[arg(long, requires = "vod_endpoint")]
    cos_endpoint: Option<String>,
    /// SecretId for `--vod-endpoint`.
    #[arg(long, env = "TENCENTCLOUD_SECRET_ID", hide_env_values = true)]
    secret_id: Option<String>,
    /// SecretKey for `--vod-endpoint`.
    #[arg(long, env = "TENCENTCLOUD_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Region for `--vod-endpoint`.
    #[arg(long, default_value = "ap-guangzhou")]
    region: String,
}

/// Sizes as `8M`, `512K`, `1.5G`: the SDK's checked parser (an overflowing value is an error, never wrapped).
fn parse_size(s: &str) -> Result<u64, String> {
    tencent_vod::cos::parse_size(s).map_err(|e| e.to_string())
}

fn human(bytes: u64) -> String {
    if bytes >= 1 << 30 && bytes.is_multiple_of(1 << 30) {
        format!("{}GiB", bytes >> 30)
    } else if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{}MiB", bytes >> 20)
    } else {
        format!("{bytes}B")
    }
}

/// `VmHWM` (peak RSS) of this process, bytes.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Current RSS (`VmRSS`), bytes.
fn rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// CPU seconds (user + system) used by this process so far, from `/proc/self/stat`.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15 (1-based).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0). Returns whether it worked.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(b: Option<u64>) -> String {
    b.map(|b| format!("{:.1}", b as f64 / (1 << 20) as f64))
        .unwrap_or_else(|| "?".into())
}

struct Run {
    bytes: u64,
    secs: f64,
    peak: Option<u64>,
    parts: u64,
    retries: u64,
    /// CPU seconds this process spent (client side only; not the mock's, not curl's).
    cpu: Option<f64>,
}

impl Run {
    fn mbps(&self) -> f64 {
        self.bytes as f64 / 1e6 / self.secs
    }
}

fn print_run(mode: &str, i: usize, r: &Run) {
    println!(
        "{mode} run={i} bytes={} seconds={:.3} MB/s={:.1} peak_rss_MiB={} parts={} retries={} client_cpu_s={}",
        r.bytes,
        r.secs,
        r.mbps(),
        mib(r.peak),
        r.parts,
        r.retries,
        r.cpu
            .map(|c| format!("{c:.2}"))
            .unwrap_or_else(|| "-".into())
    );
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_median(mode: &str, runs: &[Run]) -> f64 {
    let secs = median(runs.iter().map(|r| r.secs).collect());
    let mbps = median(runs.iter().map(Run::mbps).collect());
    let peak = runs.iter().filter_map(|r| r.peak).max();
    let peak_med = median(
        runs.iter()
            .filter_map(|r| r.peak)
            .map(|p| p as f64)
            .collect(),
    );
    let cpu = median(runs.iter().filter_map(|r| r.cpu).collect());
    println!(
        "{mode} median runs={} bytes={} seconds={secs:.3} MB/s={mbps:.1} peak_rss_MiB(median)={} peak_rss_MiB(max)={} client_cpu_s={}",
        runs.len(),
        runs.first().map(|r| r.bytes).unwrap_or(0),
        if peak_med.is_nan() {
            "?".into()
        } else {
            format!("{:.1}", peak_med / (1 << 20) as f64)
        },
        mib(peak),
        if cpu.is_nan() {
            "-".into()
        } else {
            format!("{cpu:.2}")
        },
    );
    mbps
}

/// Where the COS/VOD server is, and how to reach it.
struct Target {
    vod_endpoint: String,
    cos_endpoint: String,
    credential: Credential,
    region: String,
    in_process: Option<tencent_vod_mock::MockServer>,
    child: Option<tokio::process::Child>,
    label: String,
}

async fn start_target(args: &Args) -> Result<Target, Box<dyn std::error::Error>> {
    if let (Some(vod), Some(cos)) = (&args.vod_endpoint, &args.cos_endpoint) {
        let (Some(id), Some(key)) = (&args.secret_id, &args.secret_key) else {
            return Err(
                "--vod-endpoint needs --secret-id and --secret-key (or TENCENTCLOUD_SECRET_ID/KEY)"
                    .into(),
            );
        };
        return Ok(Target {
            vod_endpoint: vod.clone(),
            cos_endpoint: cos.clone(),
            credential: Credential::new(id, key),
            region: args.region.clone(),
            in_process: None,
            child: None,
            label: format!("external vod={vod} cos={cos}"),
        });
    }
    if args.mock_process {
        let exe = std::env::current_exe()?;
        let mut child = tokio::process::Command::new(&exe)
            .args([SERVE_MOCK, "--bench", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or("no stdout from the mock process")?;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .map_err(|_| "the mock process did not print its endpoints within 30 s")??
            .ok_or("the mock process exited before printing its endpoints")?;
        let v: serde_json::Value = serde_json::from_str(&line)?;
        let pid = child.id().map(|p| p.to_string()).unwrap_or_default();
        let s = |k: &str| {
            v[k].as_str()
                .map(str::to_string)
                .ok_or(format!("the mock's JSON lacks {k}"))
        };
        return Ok(Target {
            vod_endpoint: s("vod_endpoint")?,
            cos_endpoint: s("cos_endpoint")?,
            credential: Credential::new(s("secret_id")?, s("secret_key")?),
            region: s("region")?,
            in_process: None,
            child: Some(child),
            label: format!("mock out of process (pid {pid})"),
        });
    }
    let server = tencent_vod_mock::MockServer::builder()
        .with_bench_mode(true)
        .start()
        .await?;
    Ok(Target {
        vod_endpoint: server.vod_endpoint(),
        cos_endpoint: server.cos_endpoint(),
        credential: server.credential(),
        region: server.region(),
        in_process: Some(server),
        child: None,
        label: "mock in process (its memory counts in this process's RSS)".into(),
    })
}

async fn make_file(
    args: &Args,
) -> Result<(PathBuf, Option<tempfile::TempDir>), Box<dyn std::error::Error>> {
    if let Some(f) = &args.file {
        return Ok((f.clone(), None));
    }
    let dir = match &args.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("bench-upload")
            .tempdir_in(d)?,
        None => tempfile::Builder::new().prefix("bench-upload").tempdir()?,
    };
    let path = dir.path().join("bench.mp4");
    let size = args.size;
    let generated = args.generated;
    let p = path.clone();
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let f = std::fs::File::create(&p)?;
        if generated {
            let mut w = std::io::BufWriter::with_capacity(4 << 20, f);
            let mut rng = fastrand::Rng::with_seed(42);
            let mut block = vec![0u8; 1 << 20];
            rng.fill(&mut block);
            let mut left = size;
            let mut i = 0u64;
            while left > 0 {
                // Vary every MiB so no two blocks are identical.
                block[..8].copy_from_slice(&i.to_le_bytes());
                let n = left.min(block.len() as u64) as usize;
                w.write_all(&block[..n])?;
                left -= n as u64;
                i += 1;
            }
            w.flush()?;
        } else {
            f.set_len(size)?;
        }
        Ok(())
    })
    .await??;
    Ok((path, Some(dir)))
}

fn transfer_config(args: &Args) -> TransferConfig {
    let mut t = TransferConfig::default();
    if let Some(c) = args.concurrency {
        t = t.with_concurrency(c);
    }
    if let Some(p) = args.part_size {
        t = t.with_part_size(p);
    }
    if let Some(c) = args.chunk_size {
        t = t.with_chunk_size(c as usize);
    }
    if let Some(th) = args.threshold {
        t = t.with_multipart_threshold(th);
    }
    t
}

/// Temporary COS credentials, bucket and key to PUT to (for curl and the raw PUT).
struct PutTarget {
    url: String,
    host: String,
    path: String,
    cred: tencent_vod::vod::TempCertificate,
}

async fn put_target(
    t: &Target,
    client: &VodClient,
) -> Result<PutTarget, Box<dyn std::error::Error>> {
    let (bucket, key, cred) = match &t.in_process {
        Some(server) => {
            let s = server.create_cos_session(None);
            (s.bucket, "bench/curl.mp4".to_string(), s.credential)
        }
        None => {
            let applied = client
                .api()
                .apply_upload(&ApplyUploadRequest::new("mp4"))
                .await?;
            let cred = applied
                .temp_certificate
                .ok_or("ApplyUpload returned no TempCertificate")?;
            let key = applied
                .media_storage_path
                .trim_start_matches('/')
                .to_string();
            (applied.storage_bucket, key, cred)
        }
    };
    let base = t.cos_endpoint.trim_end_matches('/');
    let url = url::Url::parse(&format!(
        "{base}/{bucket}{}",
        cos_sign::object_path_on_wire(&key)
    ))?;
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    Ok(PutTarget {
        url: url.to_string(),
        host,
        path: format!("/{key}"),
        cred,
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn authorization(p: &PutTarget, size: u64) -> String {
    let len = size.to_string();
    let t = now();
    cos_sign::authorization(
        &p.cred.secret_id,
        &p.cred.secret_key,
        &cos_sign::CosRequest {
            method: "PUT",
            path: &p.path,
            query: &[],
            headers: &[
                ("host", &p.host),
                ("content-length", &len),
                ("x-cos-security-token", &p.cred.token),
            ],
            key_time: (t - 60, t + 3600),
        },
    )
}

async fn curl_put(
    p: &PutTarget,
    file: &Path,
    size: u64,
) -> Result<Run, Box<dyn std::error::Error>> {
    let auth = authorization(p, size);
    let started = Instant::now();
    let out = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{time_total}",
            "-T",
        ])
        .arg(file)
        .args(["-H", "Expect:"])
        .arg("-H")
        .arg(format!("Authorization: {auth}"))
        .arg("-H")
        .arg(format!("x-cos-security-token: {}", p.cred.token))
        .arg(&p.url)
        .output()
        .await?;
    let wall = started.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut it = text.split_whitespace();
    let code = it.next().unwrap_or("");
    if !out.status.success() || code != "200" {
        return Err(format!(
            "curl failed: status {code:?}, {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let secs = it.next().and_then(|s| s.parse().ok()).unwrap_or(wall);
    Ok(Run {
        bytes: size,
        secs,
        peak: None,
        parts: 1,
        retries: 0,
        cpu: None,
    })
}

async fn raw_put(
    http: &reqwest::Client,
    p: &PutTarget,
    file: &Path,
    size: u64,
) -> Result<Run, Box<dyn std::error::Error>> {
    let auth = authorization(p, size);
    let cpu0 = cpu_seconds();
    let started = Instant::now();
    let f = tokio::fs::File::open(file).await?;
    let stream = tokio_util::io::ReaderStream::with_capacity(f, 1 << 20);
    let resp = http
        .put(&p.url)
        .header("content-length", size)
        .header("authorization", auth)
        .header("x-cos-security-token", &p.cred.token)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await?;
    let status = resp.status();
    let _ = resp.bytes().await?;
    if !status.is_success() {
        return Err(format!("raw PUT failed: {status}").into());
    }
    Ok(Run {
        bytes: size,
        secs: started.elapsed().as_secs_f64(),
        peak: None,
        parts: 1,
        retries: 0,
        cpu: cpu_seconds().zip(cpu0).map(|(b, a)| b - a),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    if std::env::args().nth(1).as_deref() == Some(SERVE_MOCK) {
        // The out-of-process mock of `--mock-process`: this binary again, serving until killed.
        let mock = MockProcess::parse_from(std::env::args());
        return tencent_vod_mock::standalone::run(&mock.args)
            .await
            .map_err(|e| e.to_string().into());
    }
    let args = Args::parse();
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; measure with --release");
    }
    let target = start_target(&args).await?;
    let (file, _dir) = make_file(&args).await?;
    let size = tokio::fs::metadata(&file).await?.len();
    let cfg = transfer_config(&args);
    cfg.validate()?;
    let retry = RetryConfig::default();
    let client = VodClient::builder()
        .with_credential(target.credential.clone())
        .with_region(&target.region)
        .with_vod_endpoint(&target.vod_endpoint)
        .with_cos_endpoint(&target.cos_endpoint)
        .with_retry(retry.clone())
        .with_transfer_config(cfg.clone())
        .build()?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let parts = match (args.source, PartPlan::new(size, &cfg)?) {
        (SourceKind::ReaderUnknown, _) if size >= cfg.multipart_threshold() => {
            size.div_ceil(cfg.part_size()).max(1)
        }
        (_, p) => u64::from(p.parts()),
    };
    println!(
        "# target: {} | file: {} {} ({}) | source: {:?} | threshold {} part {} concurrency {} chunk {} | loadavg {}",
        target.label,
        human(size),
        if args.file.is_some() {
            "existing"
        } else if args.generated {
            "generated"
        } else {
            "sparse"
        },
        file.display(),
        args.source,
        human(cfg.multipart_threshold()),
        human(cfg.part_size()),
        cfg.concurrency(),
        human(cfg.chunk_size() as u64),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    println!("# rss before runs: {} MiB", mib(rss()));
    let can_reset = reset_peak_rss();
    if !can_reset {
        println!("# note: cannot reset VmHWM (/proc/self/clear_refs); peaks are cumulative");
    }

    let mut summary: Vec<(String, f64)> = Vec::new();
    if args.curl {
        if std::process::Command::new("curl")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
        {
            let p = put_target(&target, &client).await?;
            let mut runs = Vec::new();
            for i in 1..=args.runs {
                let r = curl_put(&p, &file, size).await?;
                print_run("curl", i, &r);
                runs.push(r);
            }
            summary.push(("curl".into(), print_median("curl", &runs)));
        } else {
            println!("# curl not found: skipping the curl baseline");
        }
    }
    if args.raw_put {
        let p = put_target(&target, &client).await?;
        let mut runs = Vec::new();
        for i in 1..=args.runs {
            reset_peak_rss();
            let mut r = raw_put(client.http_client(), &p, &file, size).await?;
            r.peak = peak_rss();
            print_run("raw_put", i, &r);
            runs.push(r);
        }
        summary.push(("raw_put".into(), print_median("raw_put", &runs)));
    }
    if !args.no_upload {
        let mut runs = Vec::new();
        for i in 1..=args.runs {
            let req = match args.source {
                SourceKind::File => UploadRequest::from_path(&file),
                SourceKind::Reader => UploadRequest::from_reader(
                    tokio::fs::File::open(&file).await?,
                    Some(size),
                    "mp4",
                ),
                SourceKind::ReaderUnknown => {
                    UploadRequest::from_reader(tokio::fs::File::open(&file).await?, None, "mp4")
                }
            };
            let before = retry.counter().get();
            reset_peak_rss();
            let cpu0 = cpu_seconds();
            let started = Instant::now();
            let out = client.upload(req).await?;
            let secs = started.elapsed().as_secs_f64();
            let r = Run {
                bytes: out.bytes_sent,
                secs,
                peak: peak_rss(),
                parts,
                retries: retry.counter().get() - before,
                cpu: cpu_seconds().zip(cpu0).map(|(b, a)| b - a),
            };
            print_run("upload", i, &r);
            runs.push(r);
        }
        summary.push(("upload".into(), print_median("upload", &runs)));
    }
    if let Some((_, base)) = summary.iter().find(|(m, _)| m == "curl") {
        for (m, v) in &summary {
            if m != "curl" {
                println!("ratio {m}/curl = {:.2}", v / base);
            }
        }
    }
    if let Some(mut c) = target.child {
        let _ = c.kill().await;
    }
    if let Some(s) = target.in_process {
        s.shutdown().await;
    }
    Ok(())
}
