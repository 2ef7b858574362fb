//! The client-upload signature (客户端上传签名) an app server hands to its web and mobile uploaders, which send it
//! with `ApplyUploadUGC`.
//!
//! Documentation: <https://cloud.tencent.com/document/product/266/9221> (intl:
//! <https://www.tencentcloud.com/document/product/266/33922>), sample code
//! <https://cloud.tencent.com/document/product/266/10276>.
//!
//! 1. `original` is a URL query string: `secretId=…&currentTimeStamp=…&expireTime=…&random=…` followed by any of
//!    the optional parameters, every value URL-encoded;
//! 2. `signature = Base64(HMAC-SHA1(SecretKey, original) ‖ original)` (the 20 raw HMAC bytes, then the UTF-8 bytes
//!    of `original`, standard Base64 with padding).
//!
//! Encoding: values are encoded like Python's `urllib.parse.urlencode` (the encoding of Tencent's signing service
//! demo `vod-server-demo/web_upload_scf/ugc_upload_sign`, whose output the documentation prints): letters, digits
//! and `_.-~` are kept, a space becomes `+`, every other byte `%XX` (upper-case hex). The parameters are emitted in
//! a fixed order: the four required ones, then `classId`, `oneTimeValid`, `vodSubAppId`, `sourceContext` (the
//! demo's order), then `procedure`, `taskPriority`, `taskNotifyMode`, `sessionContext`, `storageRegion`. VOD parses
//! the query string, so other valid encodings (`%20` for a space, `'()*!` left as they are — Node's
//! `querystring`, Java's `URLEncoder`) are equally accepted by [`UploadSignature::decode`].
//!
//! ```
//! use std::time::{Duration, SystemTime, UNIX_EPOCH};
//! use tencent_vod::Credential;
//! use tencent_vod::appserver::{UploadSignature, TaskNotifyMode};
//! let cred = Credential::new("AKIDexample", "example-secret-key");
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let sig = UploadSignature::builder()
//!     .with_expire_in(Duration::from_secs(3600))
//!     .with_random(42)
//!     .with_procedure("LongVideoPreset")
//!     .with_task_notify_mode(TaskNotifyMode::Finish)
//!     .with_vod_sub_app_id(1500000001)
//!     .sign(&cred, now)?;
//! assert_eq!(sig.original(), "secretId=AKIDexample&currentTimeStamp=1700000000&expireTime=1700003600\
//!     &random=42&vodSubAppId=1500000001&procedure=LongVideoPreset&taskNotifyMode=Finish");
//! let back = UploadSignature::verify(sig.signature(), "example-secret-key", now)?;
//! assert_eq!(back.params(), sig.params());
//! # Ok::<(), tencent_vod::Error>(())
//! ```

use crate::credential::Credential;
use crate::error::{Error, Result, UploadSignatureRejection};
use base64::Engine as _;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest validity the documentation allows: `expireTime - currentTimeStamp` ≤ 7,776,000 s (90 days).
pub const MAX_VALIDITY: Duration = Duration::from_secs(7_776_000);
/// The validity used when none is given: one hour.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(3600);
/// Longest `sourceContext`, characters.
pub const MAX_SOURCE_CONTEXT: usize = 250;
/// Longest `sessionContext`, characters.
pub const MAX_SESSION_CONTEXT: usize = 1000;
/// `taskPriority` range.
pub const TASK_PRIORITY_RANGE: std::ops::RangeInclusive<i32> = -10..=10;
/// Length of the HMAC-SHA1 prefix of a decoded signature.
const HMAC_LEN: usize = 20;
/// Longest signature [`UploadSignature::decode`] reads (a real one is well under 4 KiB).
pub const MAX_SIGNATURE_LEN: usize = 16 * 1024;

/// `taskNotifyMode`: when the task flow started by `procedure` sends state-change notifications.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskNotifyMode {
    /// `Finish`: once, when the whole task flow has finished (VOD's default).
    Finish,
    /// `Change`: whenever a sub-task changes state.
    Change,
    /// `None`: no task-flow callback.
    None,
}

impl TaskNotifyMode {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskNotifyMode::Finish => "Finish",
            TaskNotifyMode::Change => "Change",
            TaskNotifyMode::None => "None",
        }
    }
}

impl std::str::FromStr for TaskNotifyMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "Finish" => Ok(TaskNotifyMode::Finish),
            "Change" => Ok(TaskNotifyMode::Change),
            "None" => Ok(TaskNotifyMode::None),
            other => Err(Error::invalid(
                "taskNotifyMode",
                format!("{other:?} is not Finish, Change or None"),
            )),
        }
    }
}

impl fmt::Display for TaskNotifyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The parameters of a client-upload signature (the documented ones typed; anything else found when decoding is
/// kept in `extra`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UploadSignatureParams {
    /// `secretId`: the SecretId of the key that signs.
    pub secret_id: String,
    /// `currentTimeStamp`: when the signature was made, unix seconds.
    pub current_time: i64,
    /// `expireTime`: when it stops being valid, unix seconds (at most [`MAX_VALIDITY`] after `current_time`).
    pub expire_time: i64,
    /// `random`: an unsigned 32-bit random number (must differ between signatures issued together when
    /// `oneTimeValid` is on).
    pub random: u32,
    /// `classId`: category of the uploaded media (VOD's default 0).
    pub class_id: Option<u64>,
    /// `procedure`: task-flow template to run after the upload.
    pub procedure: Option<String>,
    /// `taskPriority`: −10…10, only with `procedure`.
    pub task_priority: Option<i32>,
    /// `taskNotifyMode`: only with `procedure`.
    pub task_notify_mode: Option<TaskNotifyMode>,
    /// `sourceContext`: ≤ 250 characters, echoed in the upload-complete event.
    pub source_context: Option<String>,
    /// `oneTimeValid`: the signature can be used once (`1`) or until it expires (`0`, VOD's default).
    pub one_time_valid: Option<bool>,
    /// `vodSubAppId`: target application (empty, 0 or the account's AppId mean the primary application).
    pub vod_sub_app_id: Option<u64>,
    /// `sessionContext`: ≤ 1000 characters, echoed in the task-flow state-change event.
    pub session_context: Option<String>,
    /// `storageRegion`: storage region abbreviation, e.g. `ap-chongqing`.
    pub storage_region: Option<String>,
    /// Parameters this crate does not know, in the order found (decoding only; the builder never adds any).
    pub extra: Vec<(String, String)>,
}

impl UploadSignatureParams {
    /// Checks every field against the documentation. Errors name the parameter (`expireTime`, `taskPriority`…).
    pub fn validate(&self) -> Result<()> {
        if self.secret_id.is_empty() {
            return Err(Error::invalid("secretId", "must not be empty"));
        }
        if self
            .secret_id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(Error::invalid(
                "secretId",
                "contains whitespace or control characters",
            ));
        }
        if self.current_time <= 0 {
            return Err(Error::invalid(
                "currentTimeStamp",
                format!("{} is not a unix time in seconds", self.current_time),
            ));
        }
        if self.expire_time <= self.current_time {
            return Err(Error::invalid(
                "expireTime",
                format!(
                    "{} is not after currentTimeStamp {}",
                    self.expire_time, self.current_time
                ),
            ));
        }
        let validity = (self.expire_time - self.current_time) as u64;
        if validity > MAX_VALIDITY.as_secs() {
            return Err(Error::invalid(
                "expireTime",
                format!(
                    "{validity} s after currentTimeStamp; the signature may be valid at most {} s (90 days)",
                    MAX_VALIDITY.as_secs()
                ),
            ));
        }
        if let Some(p) = &self.procedure
            && (p.is_empty() || p.chars().any(char::is_control))
        {
            return Err(Error::invalid(
                "procedure",
                "must be a non-empty task-flow template name without control characters",
            ));
        }
        if let Some(p) = self.task_priority {
            if !TASK_PRIORITY_RANGE.contains(&p) {
                return Err(Error::invalid(
                    "taskPriority",
                    format!("{p} is outside -10..=10"),
                ));
            }
            if self.procedure.is_none() {
                return Err(Error::invalid(
                    "taskPriority",
                    "only takes effect with a procedure; set procedure or drop taskPriority",
                ));
            }
        }
        if self.task_notify_mode.is_some() && self.procedure.is_none() {
            return Err(Error::invalid(
                "taskNotifyMode",
                "only takes effect with a procedure; set procedure or drop taskNotifyMode",
            ));
        }
        check_len(
            "sourceContext",
            self.source_context.as_deref(),
            MAX_SOURCE_CONTEXT,
        )?;
        check_len(
            "sessionContext",
            self.session_context.as_deref(),
            MAX_SESSION_CONTEXT,
        )?;
        if let Some(r) = &self.storage_region {
            crate::transport::endpoint::validate_region("storageRegion", r)?;
        }
        Ok(())
    }

    /// The plaintext `original`: the URL-encoded query string (see the [module docs](self) for the encoding and
    /// order).
    pub fn original(&self) -> String {
        let mut q = Query::default();
        q.push("secretId", &self.secret_id);
        q.push("currentTimeStamp", &self.current_time.to_string());
        q.push("expireTime", &self.expire_time.to_string());
        q.push("random", &self.random.to_string());
        if let Some(v) = self.class_id {
            q.push("classId", &v.to_string());
        }
        if let Some(v) = self.one_time_valid {
            q.push("oneTimeValid", if v { "1" } else { "0" });
        }
        if let Some(v) = self.vod_sub_app_id {
            q.push("vodSubAppId", &v.to_string());
        }
        if let Some(v) = &self.source_context {
            q.push("sourceContext", v);
        }
        if let Some(v) = &self.procedure {
            q.push("procedure", v);
        }
        if let Some(v) = self.task_priority {
            q.push("taskPriority", &v.to_string());
        }
        if let Some(v) = self.task_notify_mode {
            q.push("taskNotifyMode", v.as_str());
        }
        if let Some(v) = &self.session_context {
            q.push("sessionContext", v);
        }
        if let Some(v) = &self.storage_region {
            q.push("storageRegion", v);
        }
        for (k, v) in &self.extra {
            q.push(k, v);
        }
        q.0
    }
}

fn check_len(field: &str, v: Option<&str>, max: usize) -> Result<()> {
    let n = v.map_or(0, |s| s.chars().count());
    if n > max {
        return Err(Error::invalid(
            field,
            format!("{n} characters; at most {max} allowed"),
        ));
    }
    Ok(())
}

/// A query string being built.
#[derive(Default)]
struct Query(String);

impl Query {
    fn push(&mut self, k: &str, v: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        encode_into(&mut self.0, k);
        self.0.push('=');
        encode_into(&mut self.0, v);
    }
}

/// `application/x-www-form-urlencoded` as Python's `quote_plus`: `A-Za-z0-9_.-~` kept, space → `+`, other bytes
/// `%XX`.
fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 0xf) as usize] as char);
            }
        }
    }
}

/// Decodes one form-encoded component strictly: `+` → space, `%XX` (either case) → byte; a bad escape or a
/// result that is not UTF-8 is an error.
fn decode_component(field: &str, s: &str) -> Result<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Error::invalid(
                            field,
                            format!("bad percent-escape at byte {i} of the encoded value"),
                        )
                    })?;
                out.push(hex);
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| Error::invalid(field, "the decoded value is not UTF-8"))
}

/// Parses a decoded `original` into parameters (validated).
fn parse_original(original: &str) -> Result<UploadSignatureParams> {
    let mut seen: Vec<String> = Vec::new();
    let mut secret_id = None;
    let mut current_time = None;
    let mut expire_time = None;
    let mut random = None;
    let mut p = UploadSignatureParams {
        secret_id: String::new(),
        current_time: 0,
        expire_time: 0,
        random: 0,
        class_id: None,
        procedure: None,
        task_priority: None,
        task_notify_mode: None,
        source_context: None,
        one_time_valid: None,
        vod_sub_app_id: None,
        session_context: None,
        storage_region: None,
        extra: Vec::new(),
    };
    for pair in original.split('&').filter(|s| !s.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = decode_component("upload signature parameter name", k)?;
        let value = decode_component(&key, v)?;
        if seen.contains(&key) {
            return Err(Error::invalid(
                key,
                "appears more than once in the signature",
            ));
        }
        seen.push(key.clone());
        match key.as_str() {
            "secretId" => secret_id = Some(value),
            "currentTimeStamp" => current_time = Some(int::<i64>(&key, &value)?),
            "expireTime" => expire_time = Some(int::<i64>(&key, &value)?),
            "random" => random = Some(int::<u32>(&key, &value)?),
            "classId" => p.class_id = Some(int::<u64>(&key, &value)?),
            "procedure" => p.procedure = Some(value),
            "taskPriority" => p.task_priority = Some(int::<i32>(&key, &value)?),
            "taskNotifyMode" => p.task_notify_mode = Some(value.parse()?),
            "sourceContext" => p.source_context = Some(value),
            "oneTimeValid" => {
                p.one_time_valid = Some(match value.as_str() {
                    "0" => false,
                    "1" => true,
                    other => {
                        return Err(Error::invalid(key, format!("{other:?} is not 0 or 1")));
                    }
                })
            }
            "vodSubAppId" => p.vod_sub_app_id = Some(int::<u64>(&key, &value)?),
            "sessionContext" => p.session_context = Some(value),
            "storageRegion" => p.storage_region = Some(value),
            _ => p.extra.push((key, value)),
        }
    }
    let missing = |f: &str| Error::invalid(f, "missing from the signature (required)");
    p.secret_id = secret_id.ok_or_else(|| missing("secretId"))?;
    p.current_time = current_time.ok_or_else(|| missing("currentTimeStamp"))?;
    p.expire_time = expire_time.ok_or_else(|| missing("expireTime"))?;
    p.random = random.ok_or_else(|| missing("random"))?;
    p.validate()?;
    Ok(p)
}

fn int<T: std::str::FromStr>(field: &str, v: &str) -> Result<T> {
    v.parse::<T>().map_err(|_| {
        Error::invalid(
            field,
            format!(
                "{v:?} is not a valid {}",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("integer")
            ),
        )
    })
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A client-upload signature: the Base64 string for the uploader, its plaintext and parameters.
///
/// `Debug` shows the parameters but not the signature string (it authorizes uploads until it expires).
#[derive(Clone, PartialEq, Eq)]
pub struct UploadSignature {
    signature: String,
    original: String,
    hmac: [u8; HMAC_LEN],
    params: UploadSignatureParams,
}

impl fmt::Debug for UploadSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadSignature")
            .field("params", &self.params)
            .field(
                "signature",
                &format_args!("<{} chars, redacted>", self.signature.len()),
            )
            .finish()
    }
}

impl UploadSignature {
    /// A builder (every optional parameter unset, validity [`DEFAULT_VALIDITY`]).
    pub fn builder() -> UploadSignatureBuilder {
        UploadSignatureBuilder::default()
    }

    /// Signs `params` with `secret_key` (validated first).
    pub fn sign_params(params: UploadSignatureParams, secret_key: &str) -> Result<Self> {
        if secret_key.is_empty() {
            return Err(Error::invalid("secret_key", "must not be empty"));
        }
        params.validate()?;
        let original = params.original();
        let hmac = crate::sign::hmac_sha1(secret_key.as_bytes(), original.as_bytes());
        let mut raw = Vec::with_capacity(HMAC_LEN + original.len());
        raw.extend_from_slice(&hmac);
        raw.extend_from_slice(original.as_bytes());
        let signature = base64::engine::general_purpose::STANDARD.encode(raw);
        Ok(UploadSignature {
            signature,
            original,
            hmac,
            params,
        })
    }

    /// Decodes a signature **without checking its HMAC** (no key needed): for inspecting what a signature grants.
    /// Use [`verify`](Self::verify) to trust it. Every parameter is validated like the builder does; unknown
    /// parameters are kept in [`UploadSignatureParams::extra`].
    pub fn decode(signature: &str) -> Result<Self> {
        let signature = signature.trim();
        if signature.len() > MAX_SIGNATURE_LEN {
            return Err(Error::invalid(
                "upload signature",
                format!(
                    "{} characters; at most {MAX_SIGNATURE_LEN} accepted",
                    signature.len()
                ),
            ));
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(signature)
            .map_err(|_| Error::UploadSignatureRejected(UploadSignatureRejection::NotBase64))?;
        if raw.len() <= HMAC_LEN {
            return Err(Error::UploadSignatureRejected(
                UploadSignatureRejection::TooShort { len: raw.len() },
            ));
        }
        let mut hmac = [0u8; HMAC_LEN];
        hmac.copy_from_slice(&raw[..HMAC_LEN]);
        let original = String::from_utf8(raw[HMAC_LEN..].to_vec())
            .map_err(|_| Error::UploadSignatureRejected(UploadSignatureRejection::NotUtf8))?;
        let params = parse_original(&original)?;
        Ok(UploadSignature {
            signature: signature.to_string(),
            original,
            hmac,
            params,
        })
    }

    /// Decodes a signature and checks it: the HMAC-SHA1 under `secret_key` (constant-time) and that
    /// `expireTime` has not passed at `now`.
    pub fn verify(signature: &str, secret_key: &str, now: SystemTime) -> Result<Self> {
        let decoded = Self::decode(signature)?;
        let expected = crate::sign::hmac_sha1(secret_key.as_bytes(), decoded.original.as_bytes());
        if !crate::sign::constant_time_eq(&expected, &decoded.hmac) {
            return Err(Error::UploadSignatureRejected(
                UploadSignatureRejection::HmacMismatch,
            ));
        }
        let now = unix(now);
        if now >= decoded.params.expire_time {
            return Err(Error::UploadSignatureRejected(
                UploadSignatureRejection::Expired {
                    expire_time: decoded.params.expire_time,
                    now,
                },
            ));
        }
        Ok(decoded)
    }

    /// The signature to hand to the uploader.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The signature, owned.
    pub fn into_signature(self) -> String {
        self.signature
    }

    /// The plaintext query string that was signed.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The parameters.
    pub fn params(&self) -> &UploadSignatureParams {
        &self.params
    }

    /// `expireTime` as a time.
    pub fn expires_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.params.expire_time.max(0) as u64)
    }
}

/// Builds and signs an [`UploadSignature`]; see the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct UploadSignatureBuilder {
    current_time: Option<i64>,
    expiry: Option<Expiry>,
    random: Option<u32>,
    class_id: Option<u64>,
    procedure: Option<String>,
    task_priority: Option<i32>,
    task_notify_mode: Option<TaskNotifyMode>,
    source_context: Option<String>,
    one_time_valid: Option<bool>,
    vod_sub_app_id: Option<u64>,
    session_context: Option<String>,
    storage_region: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Expiry {
    At(i64),
    In(Duration),
}

impl UploadSignatureBuilder {
    /// `currentTimeStamp` (default: the `now` given to [`sign`](Self::sign)).
    pub fn with_current_time(mut self, unix_secs: i64) -> Self {
        self.current_time = Some(unix_secs);
        self
    }
    /// `expireTime` as a unix time (at most [`MAX_VALIDITY`] after `currentTimeStamp`).
    pub fn with_expire_time(mut self, unix_secs: i64) -> Self {
        self.expiry = Some(Expiry::At(unix_secs));
        self
    }
    /// `expireTime` as a validity after `currentTimeStamp` (default [`DEFAULT_VALIDITY`]; at most
    /// [`MAX_VALIDITY`]).
    pub fn with_expire_in(mut self, validity: Duration) -> Self {
        self.expiry = Some(Expiry::In(validity));
        self
    }
    /// `random` (default: a fresh random `u32`; pin it only for reproducible output).
    pub fn with_random(mut self, random: u32) -> Self {
        self.random = Some(random);
        self
    }
    /// `classId`.
    pub fn with_class_id(mut self, v: u64) -> Self {
        self.class_id = Some(v);
        self
    }
    /// `procedure`: task-flow template to run after the upload.
    pub fn with_procedure(mut self, v: impl Into<String>) -> Self {
        self.procedure = Some(v.into());
        self
    }
    /// `taskPriority` (−10…10; needs `procedure`).
    pub fn with_task_priority(mut self, v: i32) -> Self {
        self.task_priority = Some(v);
        self
    }
    /// `taskNotifyMode` (needs `procedure`).
    pub fn with_task_notify_mode(mut self, v: TaskNotifyMode) -> Self {
        self.task_notify_mode = Some(v);
        self
    }
    /// `sourceContext` (≤ 250 characters).
    pub fn with_source_context(mut self, v: impl Into<String>) -> Self {
        self.source_context = Some(v.into());
        self
    }
    /// `oneTimeValid`: the signature may be used for one upload only.
    pub fn with_one_time_valid(mut self, v: bool) -> Self {
        self.one_time_valid = Some(v);
        self
    }
    /// `vodSubAppId`.
    pub fn with_vod_sub_app_id(mut self, v: u64) -> Self {
        self.vod_sub_app_id = Some(v);
        self
    }
    /// `sessionContext` (≤ 1000 characters).
    pub fn with_session_context(mut self, v: impl Into<String>) -> Self {
        self.session_context = Some(v.into());
        self
    }
    /// `storageRegion`, e.g. `ap-chongqing`.
    pub fn with_storage_region(mut self, v: impl Into<String>) -> Self {
        self.storage_region = Some(v.into());
        self
    }

    /// The parameters this builder describes at `now` (validated).
    pub fn params(&self, secret_id: &str, now: SystemTime) -> Result<UploadSignatureParams> {
        let current_time = self.current_time.unwrap_or_else(|| unix(now));
        let expire_time = match self.expiry.unwrap_or(Expiry::In(DEFAULT_VALIDITY)) {
            Expiry::At(t) => t,
            Expiry::In(d) => {
                if d.is_zero() || d > MAX_VALIDITY {
                    return Err(Error::invalid(
                        "expireTime",
                        format!(
                            "a validity of {} s; expected 1..={} s (90 days)",
                            d.as_secs(),
                            MAX_VALIDITY.as_secs()
                        ),
                    ));
                }
                current_time.saturating_add(d.as_secs() as i64)
            }
        };
        let params = UploadSignatureParams {
            secret_id: secret_id.to_string(),
            current_time,
            expire_time,
            random: self.random.unwrap_or_else(|| fastrand::u32(..)),
            class_id: self.class_id,
            procedure: self.procedure.clone(),
            task_priority: self.task_priority,
            task_notify_mode: self.task_notify_mode,
            source_context: self.source_context.clone(),
            one_time_valid: self.one_time_valid,
            vod_sub_app_id: self.vod_sub_app_id,
            session_context: self.session_context.clone(),
            storage_region: self.storage_region.clone(),
            extra: Vec::new(),
        };
        params.validate()?;
        Ok(params)
    }

    /// Validates every field and signs with `credential` at `now` (the clock is passed in).
    ///
    /// The signature carries no security token, so sign with a permanent key (or a sub-account key limited to
    /// VOD upload), not temporary credentials.
    pub fn sign(&self, credential: &Credential, now: SystemTime) -> Result<UploadSignature> {
        let params = self.params(credential.secret_id(), now)?;
        UploadSignature::sign_params(params, credential.secret_key())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_matches_python_quote_plus() {
        let mut s = String::new();
        encode_into(&mut s, "a b+c&d=e/~_.-*'()!课");
        assert_eq!(s, "a+b%2Bc%26d%3De%2F~_.-%2A%27%28%29%21%E8%AF%BE");
        assert_eq!(
            decode_component("f", "a+b%2bc%E8%AF%BE%20x").unwrap(),
            "a+b+c课 x".replacen('+', " ", 1)
        );
        assert!(decode_component("f", "%4").is_err());
        assert!(decode_component("f", "%zz").is_err());
        assert!(decode_component("f", "%FF").is_err(), "not UTF-8");
    }

    #[test]
    fn debug_hides_the_signature() {
        let sig = UploadSignature::builder()
            .with_random(1)
            .sign(
                &Credential::new("AKID1", "k"),
                UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            )
            .unwrap();
        let d = format!("{sig:?}");
        assert!(!d.contains(sig.signature()), "{d}");
        assert!(d.contains("AKID1"), "{d}");
    }
}
