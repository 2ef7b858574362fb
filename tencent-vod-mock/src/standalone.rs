//! Running the mock as a process of its own (cargo feature `standalone`): the command-line arguments, the lines it
//! prints, and the serve-until-signal loop. Used by the `tencent-vod-mock` binary and by `tvod mock`.
//!
//! By default the mock prints shell `export` lines, ready for `eval`, pointing the SDK's environment variables
//! at itself; with `--json` it prints one JSON object instead
//! (`{"vod_endpoint":…,"cos_endpoint":…,"secret_id":…,"secret_key":…,"credentials":[…],"region":…,"app_id":…,
//! "data_dir":…,"bench":…,"tls":…,"ca_file":…}`). With `--tls` the endpoints are `https://` and the CA the
//! clients must trust is written to `ca.pem` in the data directory: `ca_file` in the JSON, and
//! `TENCENTCLOUD_CA_FILE` in the export lines (which `VodClient::from_env` reads). Then it serves until Ctrl-C or SIGTERM. The credentials printed are the mock's own
//! throw-away ones, printed on purpose so scripts can use them.

use crate::{FaultRule, MockServer};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;
use tencent_vod::Credential;
use tencent_vod::client::{ENV_CA_FILE, ENV_COS_ENDPOINT, ENV_REGION, ENV_VOD_ENDPOINT};
use tencent_vod::credential::{ENV_SECRET_ID, ENV_SECRET_KEY, ENV_SESSION_TOKEN};

/// The standalone mock's command-line arguments (a `clap` argument group, flattened into a command).
#[derive(clap::Args, Debug, Clone)]
pub struct MockArgs {
    /// VOD API port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// COS port (0 = any free port).
    #[arg(long, default_value_t = 0)]
    pub cos_port: u16,
    /// IP to bind.
    #[arg(long, default_value = "127.0.0.1")]
    pub bind: std::net::IpAddr,
    /// Accepted SecretId (repeatable; pairs with --secret-key in order).
    #[arg(long)]
    pub secret_id: Vec<String>,
    /// SecretKey for each --secret-id.
    #[arg(long)]
    pub secret_key: Vec<String>,
    /// Store objects here (kept) instead of a temp dir.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Bench mode: bodies are CRC-64'd and discarded.
    #[arg(long)]
    pub bench: bool,
    /// Default region.
    #[arg(long, default_value = "ap-guangzhou")]
    pub region: String,
    /// APPID (bucket suffix).
    #[arg(long, default_value_t = 1250000000)]
    pub app_id: u64,
    /// Seed for fault probabilities and ids.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Minimum non-last part size at CompleteMultipartUpload, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub min_part_size: u64,
    /// Lifetime of temporary credentials, seconds.
    #[arg(long, default_value_t = 3600)]
    pub temp_ttl: u64,
    /// A fault rule (repeatable), e.g. 'UploadPart:nth=2:status=503' (see `FaultRule` for the language).
    #[arg(long)]
    pub fault: Vec<String>,
    /// Print one JSON line with the endpoints and credentials instead of `export` lines.
    #[arg(long)]
    pub json: bool,
    /// Serve HTTPS with a CA generated at start (its path is printed: TENCENTCLOUD_CA_FILE / "ca_file").
    #[arg(long)]
    pub tls: bool,
    /// With --tls, offer HTTP/1.1 only (no HTTP/2) in ALPN.
    #[arg(long, requires = "tls")]
    pub no_http2: bool,
}

/// What can go wrong starting the standalone mock.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl MockArgs {
    /// Starts a server configured by these arguments.
    pub async fn start(&self) -> Result<MockServer, BoxError> {
        if self.secret_id.len() != self.secret_key.len() {
            return Err(format!(
                "give one --secret-key per --secret-id ({} ids, {} keys)",
                self.secret_id.len(),
                self.secret_key.len()
            )
            .into());
        }
        let mut b = MockServer::builder()
            .with_ip(self.bind)
            .with_vod_port(self.port)
            .with_cos_port(self.cos_port)
            .with_region(&self.region)
            .with_app_id(self.app_id)
            .with_bench_mode(self.bench)
            .with_tls(self.tls)
            .with_tls_http2(!self.no_http2)
            .with_min_part_size(self.min_part_size)
            .with_temp_credential_ttl(Duration::from_secs(self.temp_ttl));
        for (id, key) in self.secret_id.iter().zip(&self.secret_key) {
            b = b.with_credential(Credential::new(id, key));
        }
        if let Some(d) = &self.data_dir {
            b = b.with_data_dir(d);
        }
        if let Some(s) = self.seed {
            b = b.with_seed(s);
        }
        for f in &self.fault {
            b = b.with_fault(f.parse::<FaultRule>()?);
        }
        Ok(b.start().await?)
    }
}

/// The one JSON line `--json` prints.
pub fn json_line(server: &MockServer, bench: bool) -> serde_json::Value {
    let creds: Vec<_> = server
        .credentials()
        .iter()
        .map(|c| serde_json::json!({"secret_id": c.secret_id(), "secret_key": c.secret_key()}))
        .collect();
    serde_json::json!({
        "vod_endpoint": server.vod_endpoint(),
        "cos_endpoint": server.cos_endpoint(),
        "secret_id": server.credential().secret_id(),
        "secret_key": server.credential().secret_key(),
        "credentials": creds,
        "region": server.region(),
        "app_id": server.app_id(),
        "data_dir": server.data_dir(),
        "bench": bench,
        "tls": server.ca_file().is_some(),
        "ca_file": server.ca_file(),
    })
}

/// `export NAME='value'` lines (POSIX shell, single-quoted) that point the SDK's environment variables at the
/// server, plus an `unset` of a session token the mock would not know.
pub fn export_lines(server: &MockServer) -> String {
    let cred = server.credential();
    let mut out = String::new();
    for (name, value) in [
        (ENV_SECRET_ID, cred.secret_id().to_string()),
        (ENV_SECRET_KEY, cred.secret_key().to_string()),
        (ENV_REGION, server.region()),
        (ENV_VOD_ENDPOINT, server.vod_endpoint()),
        (ENV_COS_ENDPOINT, server.cos_endpoint()),
    ] {
        let _ = writeln!(out, "export {name}={}", shell_quote(&value));
    }
    match server.ca_file() {
        Some(ca) => {
            let _ = writeln!(
                out,
                "export {ENV_CA_FILE}={}",
                shell_quote(&ca.display().to_string())
            );
        }
        None => {
            let _ = writeln!(out, "unset {ENV_CA_FILE}");
        }
    }
    let _ = writeln!(out, "unset {ENV_SESSION_TOKEN}");
    out
}

/// `value` in single quotes, each `'` written as `'\''`.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Starts the server, prints its endpoints (export lines, or JSON with `--json`) on stdout, serves until Ctrl-C
/// or SIGTERM, then prints its request counters on stderr and shuts down.
pub async fn run(args: &MockArgs) -> Result<(), BoxError> {
    let server = args.start().await?;
    if args.json {
        println!("{}", json_line(&server, args.bench));
    } else {
        print!("{}", export_lines(&server));
        eprintln!(
            "# mock VOD at {}, COS at {}, objects in {}{}; Ctrl-C stops it",
            server.vod_endpoint(),
            server.cos_endpoint(),
            server.data_dir().display(),
            server
                .ca_file()
                .map(|p| format!(", CA certificate {}", p.display()))
                .unwrap_or_default()
        );
    }
    wait_for_signal().await?;
    eprintln!("shutting down; stats: {:?}", server.stats());
    server.shutdown().await;
    Ok(())
}

/// Ctrl-C (or SIGTERM on Unix).
async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[test]
    fn shell_quote_survives_quotes_and_spaces() {
        assert_eq!(shell_quote("plain"), "'plain'");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[tokio::test]
    async fn export_lines_point_the_sdk_at_the_server() {
        let server = MockServer::start().await.unwrap();
        let lines = export_lines(&server);
        let cred = server.credential();
        for expect in [
            format!("export TENCENTCLOUD_SECRET_ID='{}'", cred.secret_id()),
            format!("export TENCENTCLOUD_SECRET_KEY='{}'", cred.secret_key()),
            format!("export TENCENTCLOUD_REGION='{}'", server.region()),
            format!(
                "export TENCENTCLOUD_VOD_ENDPOINT='{}'",
                server.vod_endpoint()
            ),
            format!(
                "export TENCENTCLOUD_COS_ENDPOINT='{}'",
                server.cos_endpoint()
            ),
            "unset TENCENTCLOUD_SESSION_TOKEN".to_string(),
        ] {
            assert!(
                lines.lines().any(|l| l == expect),
                "{expect:?} not in {lines}"
            );
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn tls_prints_the_ca_file() {
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: MockArgs,
        }
        let args = Cli::parse_from(["mock", "--tls"]).args;
        let server = args.start().await.unwrap();
        let ca = server.ca_file().expect("a CA file").to_path_buf();
        let pem = std::fs::read_to_string(&ca).unwrap();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"), "{pem}");
        assert_eq!(server.ca_certificate_pem(), Some(pem.as_str()));
        assert!(server.vod_endpoint().starts_with("https://127.0.0.1:"));
        assert!(server.cos_endpoint().starts_with("https://127.0.0.1:"));
        let lines = export_lines(&server);
        let expect = format!("export TENCENTCLOUD_CA_FILE='{}'", ca.display());
        assert!(lines.lines().any(|l| l == expect), "{lines}");
        let json = json_line(&server, false);
        assert_eq!(json["tls"], true);
        assert_eq!(json["ca_file"], ca.display().to_string());
        server.shutdown().await;
        // Without TLS a stale variable from an earlier TLS mock is unset.
        let plain = MockServer::start().await.unwrap();
        assert!(
            export_lines(&plain)
                .lines()
                .any(|l| l == "unset TENCENTCLOUD_CA_FILE")
        );
        assert_eq!(json_line(&plain, false)["ca_file"], serde_json::Value::Null);
        plain.shutdown().await;
    }

    #[tokio::test]
    async fn unpaired_secret_ids_are_refused() {
        let args = MockArgs {
            port: 0,
            cos_port: 0,
            bind: std::net::Ipv4Addr::LOCALHOST.into(),
            secret_id: vec!["AKIDa".into(), "AKIDb".into()],
            secret_key: vec!["k".into()],
            data_dir: None,
            bench: false,
            region: "ap-guangzhou".into(),
            app_id: 1250000000,
            seed: None,
            min_part_size: 1 << 20,
            temp_ttl: 3600,
            fault: Vec::new(),
            json: false,
            tls: false,
            no_http2: false,
        };
        let e = args.start().await.expect_err("refused");
        assert!(e.to_string().contains("2 ids, 1 keys"), "{e}");
    }
}
