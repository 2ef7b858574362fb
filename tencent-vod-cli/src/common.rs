//! What several subcommands share: endpoint and credential flags, transfer flags, ApplyUpload fields, exit codes,
//! the API rate limiter and error rendering.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Duration;
use tencent_vod::{Error, SignMethod, UploadRequest, VodClientBuilder};

/// Every item succeeded (or there was nothing to do).
pub const EXIT_OK: u8 = 0;
/// Some items failed; each failure was reported.
pub const EXIT_FAILED: u8 = 1;
/// Bad arguments or configuration; nothing was sent.
pub const EXIT_USAGE: u8 = 2;
/// Interrupted (Ctrl-C / SIGINT / SIGTERM); the journal is consistent.
pub const EXIT_INTERRUPTED: u8 = 130;

/// The exit codes, for `--help`.
pub const EXIT_HELP: &str = "\
Exit status:
  0    every item succeeded (or there was nothing to do)
  1    some items failed (each one is reported)
  2    usage or configuration error (bad flags, unreadable or foreign journal, journal locked)
  130  interrupted by Ctrl-C or SIGTERM; the journal is consistent: run the same command again to resume";

/// A usage / configuration error: `error: …` on stderr and exit code 2.
pub fn usage_error(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_USAGE)
}

/// Where VOD is and how to sign: the flags of every subcommand that talks to VOD. Credentials come from the
/// environment or the profile file (see `--help`), never from flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// API region (X-TC-Region); required: ApplyUpload and CommitUpload need it.
    #[arg(long, env = "TENCENTCLOUD_REGION", help_heading = "Connection")]
    pub region: Option<String>,
    /// VOD endpoint override (default from TENCENTCLOUD_VOD_ENDPOINT, else vod.tencentcloudapi.com over HTTPS).
    #[arg(long, help_heading = "Connection")]
    pub vod_endpoint: Option<String>,
    /// COS endpoint override (base URL: path-style; with {bucket}: virtual-host template).
    #[arg(long, help_heading = "Connection")]
    pub cos_endpoint: Option<String>,
    /// Signature method for VOD API calls.
    #[arg(long, default_value = "tc3", value_parser = ["tc3", "hmac-sha1", "hmac-sha256"], help_heading = "Connection")]
    pub sign_method: String,
    /// SubAppId (sent on every VOD call).
    #[arg(long, env = "TENCENTCLOUD_VOD_SUB_APP_ID", help_heading = "Connection")]
    pub sub_app_id: Option<u64>,
}

impl ConnArgs {
    /// A client builder: credentials, region, endpoints and SubAppId from the environment, overridden by flags.
    pub fn builder(&self) -> tencent_vod::Result<VodClientBuilder> {
        let mut b =
            VodClientBuilder::from_env()?.with_sign_method(self.sign_method.parse::<SignMethod>()?);
        if let Some(r) = &self.region {
            b = b.with_region(r);
        }
        if let Some(e) = &self.vod_endpoint {
            b = b.with_vod_endpoint(e);
        }
        if let Some(e) = &self.cos_endpoint {
            b = b.with_cos_endpoint(e);
        }
        if let Some(id) = self.sub_app_id {
            b = b.with_sub_app_id(id);
        }
        Ok(b)
    }
}

/// Uploads need the API region (ApplyUpload and CommitUpload require it): a clear configuration error before
/// any file is read, rather than one failure per file.
pub fn require_region(client: &tencent_vod::VodClient) -> Result<(), String> {
    match client.api().region() {
        Some(_) => Ok(()),
        None => Err(
            "no region: set --region or TENCENTCLOUD_REGION (e.g. ap-guangzhou); ApplyUpload and \
                     CommitUpload require it"
                .into(),
        ),
    }
}

/// Sizes as `8M`, `512K`, `1.5G`: the SDK's checked parser (an overflowing value is an error, never wrapped).
pub fn parse_size(s: &str) -> Result<u64, String> {
    tencent_vod::cos::parse_size(s).map_err(|e| e.to_string())
}

/// A positive rate (requests per second).
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

/// How many files and parts move at once, and how fast.
#[derive(clap::Args, Debug, Clone)]
pub struct TransferArgs {
    /// Parts (or single PUTs) in flight, one budget shared by every file.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Transfer")]
    pub concurrency: u32,
    /// Files uploaded at once.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000), help_heading = "Transfer")]
    pub jobs: u32,
    /// Multipart part size (suffixes K, M, G; 1M..5G; default 8M).
    #[arg(long, value_parser = parse_size, help_heading = "Transfer")]
    pub part_size: Option<u64>,
    /// Files at least this large are uploaded in parts (default 8M).
    #[arg(long, value_parser = parse_size, help_heading = "Transfer")]
    pub multipart_threshold: Option<u64>,
    /// Uploads started per second, each one ApplyUpload and one CommitUpload (VOD allows 100 of each per second
    /// per account; throttling answers are retried with backoff anyway).
    #[arg(long, default_value = "50", value_parser = parse_rate, help_heading = "Transfer")]
    pub api_rate: f64,
    /// Cap on the bytes sent per second over all files (suffixes K, M, G).
    #[arg(long, value_parser = parse_size, help_heading = "Transfer")]
    pub max_bytes_per_sec: Option<u64>,
}

impl TransferArgs {
    /// Applies part size, threshold and concurrency to a client builder.
    pub fn apply(&self, b: VodClientBuilder) -> VodClientBuilder {
        let mut t =
            tencent_vod::TransferConfig::default().with_concurrency(self.concurrency as usize);
        if let Some(p) = self.part_size {
            t = t.with_part_size(p);
        }
        if let Some(m) = self.multipart_threshold {
            t = t.with_multipart_threshold(m);
        }
        b.with_transfer_config(t)
    }
}

/// ApplyUpload fields that may apply to every file of a batch.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ApplyArgs {
    /// Procedure (task flow) to run after upload.
    #[arg(long, help_heading = "Media")]
    pub procedure: Option<String>,
    /// ExpireTime, ISO 8601 (e.g. 2030-01-01T00:00:00Z).
    #[arg(long, help_heading = "Media")]
    pub expire_time: Option<String>,
    /// StorageRegion.
    #[arg(long, help_heading = "Media")]
    pub storage_region: Option<String>,
    /// ClassId.
    #[arg(long, help_heading = "Media")]
    pub class_id: Option<i64>,
    /// SourceContext (≤ 250 chars).
    #[arg(long, help_heading = "Media")]
    pub source_context: Option<String>,
    /// SessionContext (≤ 1000 chars).
    #[arg(long, help_heading = "Media")]
    pub session_context: Option<String>,
    /// ExtInfo.
    #[arg(long, help_heading = "Media")]
    pub ext_info: Option<String>,
}

/// One upload's ApplyUpload fields (batch defaults overridden per item, e.g. by a CSV row).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MediaParams {
    /// MediaName.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_name: Option<String>,
    /// MediaType.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_type: Option<String>,
    /// Cover file.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cover: Option<PathBuf>,
    /// CoverType.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cover_type: Option<String>,
    /// Procedure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub procedure: Option<String>,
    /// ExpireTime.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub expire_time: Option<String>,
    /// StorageRegion.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub storage_region: Option<String>,
    /// ClassId.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class_id: Option<i64>,
    /// SourceContext.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub source_context: Option<String>,
    /// SessionContext.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub session_context: Option<String>,
    /// ExtInfo.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ext_info: Option<String>,
    /// SubAppId.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sub_app_id: Option<u64>,
    /// MediaStoragePath.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub media_storage_path: Option<String>,
}

impl MediaParams {
    /// The batch defaults from flags.
    pub fn from_args(a: &ApplyArgs) -> Self {
        MediaParams {
            procedure: a.procedure.clone(),
            expire_time: a.expire_time.clone(),
            storage_region: a.storage_region.clone(),
            class_id: a.class_id,
            source_context: a.source_context.clone(),
            session_context: a.session_context.clone(),
            ext_info: a.ext_info.clone(),
            ..Default::default()
        }
    }

    /// An upload request for `path` with these fields.
    pub fn request(&self, path: &Path) -> UploadRequest {
        let mut r = UploadRequest::from_path(path);
        if let Some(c) = &self.cover {
            r = r.with_cover_path(c);
        }
        if let Some(v) = &self.media_name {
            r = r.with_media_name(v);
        }
        if let Some(v) = &self.media_type {
            r = r.with_media_type(v);
        }
        if let Some(v) = &self.cover_type {
            r = r.with_cover_type(v);
        }
        if let Some(v) = &self.procedure {
            r = r.with_procedure(v);
        }
        if let Some(v) = &self.expire_time {
            r = r.with_expire_time(v);
        }
        if let Some(v) = &self.storage_region {
            r = r.with_storage_region(v);
        }
        if let Some(v) = self.class_id {
            r = r.with_class_id(v);
        }
        if let Some(v) = &self.source_context {
            r = r.with_source_context(v);
        }
        if let Some(v) = &self.session_context {
            r = r.with_session_context(v);
        }
        if let Some(v) = &self.ext_info {
            r = r.with_ext_info(v);
        }
        if let Some(v) = self.sub_app_id {
            r = r.with_sub_app_id(v);
        }
        if let Some(v) = &self.media_storage_path {
            r = r.with_media_storage_path(v);
        }
        r
    }
}

/// Lower-cased extension of a path.
pub fn ext(p: &Path) -> Option<String> {
    p.extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
}

/// Whether the path names an HLS or DASH manifest.
pub fn is_manifest(p: &Path) -> bool {
    matches!(ext(p).as_deref(), Some("m3u8" | "mpd"))
}

/// A stable name for an error: the service code when there is one, else the kind of failure.
pub fn error_code(e: &Error) -> String {
    if let Some(c) = e.code() {
        return c.to_string();
    }
    match e {
        Error::InvalidInput { .. } => "InvalidInput",
        Error::Io { .. } => "IoError",
        Error::Manifest { .. } => "ManifestError",
        Error::SourceChanged { .. } => "SourceChanged",
        Error::Redirect { .. } => "Redirect",
        Error::Credentials(_) => "CredentialsError",
        Error::Transport(_) => "TransportError",
        Error::InvalidResponse(_) => "InvalidResponse",
        Error::CredentialsExpired { .. } => "CredentialsExpired",
        Error::Integrity { .. } => "IntegrityMismatch",
        Error::Cancelled => "Cancelled",
        Error::DeadlineExceeded(_) => "DeadlineExceeded",
        Error::CommitOutcomeUnknown(_) => "CommitOutcomeUnknown",
        _ => "Error",
    }
    .to_string()
}

/// One failure as a JSON object (the `--json` line of a failed item).
pub fn failure_json(
    path: &Path,
    code: &str,
    message: &str,
    request_id: Option<&str>,
    retryable: bool,
    attempts: u32,
) -> Value {
    json!({
        "Status": "failed",
        "Path": path.display().to_string(),
        "ErrorCode": code,
        "Message": message,
        "RequestId": request_id,
        "Retryable": retryable,
        "Attempts": attempts,
    })
}

/// Spaces out API calls: at most `rate` per second on average, with bursts of up to one second's worth.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    burst: Duration,
    /// The theoretical arrival time of the next call (GCRA).
    next: Mutex<Option<tokio::time::Instant>>,
}

impl RateLimiter {
    /// `rate` calls per second (> 0).
    pub fn new(rate: f64) -> Self {
        let interval = Duration::from_secs_f64(1.0 / rate.max(1e-6));
        RateLimiter {
            interval,
            burst: Duration::from_secs(1).saturating_sub(interval),
            next: Mutex::new(None),
        }
    }

    /// Waits for a slot.
    pub async fn acquire(&self) {
        let allowed_at = {
            let mut g = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = tokio::time::Instant::now();
            let tat = g.map_or(now, |t| t.max(now));
            *g = Some(tat + self.interval);
            tat.checked_sub(self.burst).filter(|t| *t > now)
        };
        if let Some(t) = allowed_at {
            tokio::time::sleep_until(t).await;
        }
    }
}

/// Human-readable bytes (binary units).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
pub async fn interrupted() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn rate_limiter_allows_a_second_of_burst_then_spaces_calls() {
        let l = RateLimiter::new(10.0);
        let start = tokio::time::Instant::now();
        for _ in 0..10 {
            l.acquire().await;
        }
        // The first second's worth goes at once.
        assert!(
            start.elapsed() < Duration::from_millis(1),
            "{:?}",
            start.elapsed()
        );
        for _ in 0..10 {
            l.acquire().await;
        }
        let e = start.elapsed();
        assert!(
            e >= Duration::from_millis(999) && e <= Duration::from_millis(1001),
            "{e:?}"
        );
    }

    #[test]
    fn human_bytes_units() {
        for (n, s) in [
            (0, "0 B"),
            (1023, "1023 B"),
            (1024, "1.0 KiB"),
            (5 << 20, "5.0 MiB"),
        ] {
            assert_eq!(human_bytes(n), s);
        }
    }

    #[test]
    fn rates_must_be_positive() {
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1").is_err());
        assert!(parse_rate("nan").is_err());
        assert_eq!(parse_rate("2.5"), Ok(2.5));
    }
}
