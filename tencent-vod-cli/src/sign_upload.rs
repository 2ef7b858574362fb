//! `tvod sign-upload`: print a client-upload signature (客户端上传签名) for Tencent's web and mobile upload SDKs.
//!
//! ```sh
//! tvod sign-upload --expire-in 10m --procedure LongVideoPreset --one-time-valid
//! tvod sign-upload --json --current-time 1700000000 --expire-time 1700086400 --random 1234567890
//! ```
//! Credentials come from the environment or the profile file, as for every subcommand (the SDK's
//! `DefaultCredentialChain`). The signature is printed alone on stdout (with `--json`: one object with the signed
//! fields, the plaintext and the signature). Nothing is sent anywhere.
//!
//! Exit status: 0, or 2 when a flag or the credentials are invalid (one `error: …` line on stderr naming the
//! flag).

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tencent_vod::appserver::{TaskNotifyMode, UploadSignature, UploadSignatureBuilder};
use tencent_vod::{DefaultCredentialChain, Error};

/// Print a client-upload signature (客户端上传签名) for Tencent's web/mobile upload SDKs (`ApplyUploadUGC`).
///
/// Signed with the SecretId/SecretKey from the environment or the profile file; nothing is sent. The signature is
/// printed alone on the last line of stdout (with --json: one JSON object with the fields and the signature).
/// Use a permanent key limited to VOD upload: the signature carries no session token.
#[derive(clap::Args, Debug)]
#[command(after_help = crate::ENV_HELP)]
pub struct Args {
    /// expireTime as a unix time in seconds (at most 90 days after the current time).
    #[arg(long, value_name = "UNIX", allow_hyphen_values = true)]
    expire_time: Option<i64>,
    /// Validity after the current time: seconds, or with a unit (600, 10m, 2h, 90d; default 1h, at most 90d).
    #[arg(long, value_name = "SECS", value_parser = parse_whole_secs)]
    expire_in: Option<Duration>,
    /// currentTimeStamp as a unix time in seconds (default: now). For reproducible output.
    #[arg(long, value_name = "UNIX", allow_hyphen_values = true)]
    current_time: Option<i64>,
    /// random: an unsigned 32-bit number (default: a fresh random one). For reproducible output.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    random: Option<u32>,
    /// procedure: task-flow template to run after the upload.
    #[arg(long)]
    procedure: Option<String>,
    /// classId: category of the uploaded media.
    #[arg(long, value_name = "ID")]
    class_id: Option<u64>,
    /// oneTimeValid: the signature can be used for one upload only (`--one-time-valid=0` writes oneTimeValid=0).
    #[arg(
        long,
        value_name = "0|1",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "1",
        value_parser = parse_flag01
    )]
    one_time_valid: Option<bool>,
    /// vodSubAppId: the VOD application the media goes to (0 or absent: the primary application).
    #[arg(long, value_name = "ID", env = "TENCENTCLOUD_VOD_SUB_APP_ID")]
    sub_app_id: Option<u64>,
    /// sourceContext (≤ 250 characters), echoed in the upload-complete event.
    #[arg(long, value_name = "TEXT")]
    source_context: Option<String>,
    /// sessionContext (≤ 1000 characters), echoed in the task-flow state-change event.
    #[arg(long, value_name = "TEXT")]
    session_context: Option<String>,
    /// taskPriority of the procedure, -10..=10 (needs --procedure).
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    task_priority: Option<i32>,
    /// taskNotifyMode of the procedure (needs --procedure).
    #[arg(long, value_name = "MODE", value_parser = ["Finish", "Change", "None"])]
    task_notify_mode: Option<String>,
    /// storageRegion, e.g. ap-chongqing.
    #[arg(long, value_name = "REGION")]
    storage_region: Option<String>,
    /// Print one JSON object (the fields, the plaintext `original`, the `signature`).
    #[arg(long)]
    json: bool,
}

/// `0`/`1`/`true`/`false` for `--one-time-valid`.
fn parse_flag01(s: &str) -> Result<bool, String> {
    match s {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        other => Err(format!("{other:?} is not 0, 1, true or false")),
    }
}

/// A duration written as whole seconds or a whole number of `s`, `m`, `h`, `d`.
pub(crate) fn parse_whole_secs(s: &str) -> Result<Duration, String> {
    parse_duration(s, false)
}

/// A duration: a number of seconds, or a number with a unit `s`, `m`, `h`, `d` (and `ms` when `allow_ms`).
/// Whole numbers only; overflow is an error.
pub(crate) fn parse_duration(s: &str, allow_ms: bool) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(format!(
            "{s:?} is not a duration; expected e.g. 600, 10m, 2h{}",
            if allow_ms { ", 500ms" } else { "" }
        ));
    }
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{num:?} is too large a number"))?;
    let (mul_ms, unit_ok) = match unit {
        "" | "s" => (1000u64, true),
        "m" => (60_000, true),
        "h" => (3_600_000, true),
        "d" => (86_400_000, true),
        "ms" => (1, allow_ms),
        _ => (0, false),
    };
    if !unit_ok {
        return Err(format!(
            "unknown unit {unit:?} in {s:?}; expected s, m, h or d{}",
            if allow_ms { " (or ms)" } else { "" }
        ));
    }
    n.checked_mul(mul_ms)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("{s:?} is too long"))
}

/// The flag a signature parameter comes from (for error messages).
fn flag_of(field: &str, args: &Args) -> String {
    let flag = match field {
        "secretId" => return "TENCENTCLOUD_SECRET_ID (secretId)".into(),
        "secret_key" => return "TENCENTCLOUD_SECRET_KEY".into(),
        "currentTimeStamp" => "--current-time",
        "expireTime" if args.expire_time.is_some() => "--expire-time",
        "expireTime" => "--expire-in",
        "random" => "--random",
        "classId" => "--class-id",
        "procedure" => "--procedure",
        "taskPriority" => "--task-priority",
        "taskNotifyMode" => "--task-notify-mode",
        "sourceContext" => "--source-context",
        "oneTimeValid" => "--one-time-valid",
        "vodSubAppId" => "--sub-app-id",
        "sessionContext" => "--session-context",
        "storageRegion" => "--storage-region",
        other => return other.to_string(),
    };
    format!("{flag} ({field})")
}

fn builder(args: &Args) -> Result<UploadSignatureBuilder, Error> {
    let mut b = UploadSignature::builder();
    if let Some(t) = args.current_time {
        b = b.with_current_time(t);
    }
    if let Some(t) = args.expire_time {
        b = b.with_expire_time(t);
    }
    if let Some(d) = args.expire_in {
        b = b.with_expire_in(d);
    }
    if let Some(r) = args.random {
        b = b.with_random(r);
    }
    if let Some(v) = &args.procedure {
        b = b.with_procedure(v);
    }
    if let Some(v) = args.class_id {
        b = b.with_class_id(v);
    }
    if let Some(v) = args.one_time_valid {
        b = b.with_one_time_valid(v);
    }
    if let Some(v) = args.sub_app_id {
        b = b.with_vod_sub_app_id(v);
    }
    if let Some(v) = &args.source_context {
        b = b.with_source_context(v);
    }
    if let Some(v) = &args.session_context {
        b = b.with_session_context(v);
    }
    if let Some(v) = args.task_priority {
        b = b.with_task_priority(v);
    }
    if let Some(v) = &args.task_notify_mode {
        b = b.with_task_notify_mode(v.parse::<TaskNotifyMode>()?);
    }
    if let Some(v) = &args.storage_region {
        b = b.with_storage_region(v);
    }
    Ok(b)
}

/// The `--json` object: every parameter under its wire name, the plaintext, the expiry and the signature.
fn json(sig: &UploadSignature) -> serde_json::Value {
    let p = sig.params();
    let mut o = serde_json::Map::new();
    o.insert("secretId".into(), p.secret_id.clone().into());
    o.insert("currentTimeStamp".into(), p.current_time.into());
    o.insert("expireTime".into(), p.expire_time.into());
    o.insert("random".into(), p.random.into());
    let mut opt = |k: &str, v: Option<serde_json::Value>| {
        if let Some(v) = v {
            o.insert(k.into(), v);
        }
    };
    opt("classId", p.class_id.map(Into::into));
    opt("oneTimeValid", p.one_time_valid.map(|v| u8::from(v).into()));
    opt("vodSubAppId", p.vod_sub_app_id.map(Into::into));
    opt("sourceContext", p.source_context.clone().map(Into::into));
    opt("procedure", p.procedure.clone().map(Into::into));
    opt("taskPriority", p.task_priority.map(Into::into));
    opt(
        "taskNotifyMode",
        p.task_notify_mode.map(|m| m.as_str().into()),
    );
    opt("sessionContext", p.session_context.clone().map(Into::into));
    opt("storageRegion", p.storage_region.clone().map(Into::into));
    o.insert(
        "validitySeconds".into(),
        (p.expire_time - p.current_time).into(),
    );
    o.insert("original".into(), sig.original().into());
    o.insert("signature".into(), sig.signature().into());
    serde_json::Value::Object(o)
}

/// One `error: …` line, exit status 2.
fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Signs and prints; see the [module docs](self).
pub async fn run(args: Args) -> ExitCode {
    let credential = match DefaultCredentialChain::new().load() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if args.expire_time.is_some() && args.expire_in.is_some() {
        return fail(
            "--expire-time and --expire-in both set; give one (the expiry as a unix time, or a validity)",
        );
    }
    if credential.token().is_some() {
        eprintln!(
            "warning: the credentials carry a session token, which a client-upload signature cannot carry; VOD \
             accepts only signatures made with a permanent key"
        );
    }
    let b = match builder(&args) {
        Ok(b) => b,
        Err(Error::InvalidInput { field, reason }) => {
            return fail(format_args!("{}: {reason}", flag_of(&field, &args)));
        }
        Err(e) => return fail(e),
    };
    let now = SystemTime::now();
    let sig = match b.sign(&credential, now) {
        Ok(s) => s,
        Err(Error::InvalidInput { field, reason }) => {
            return fail(format_args!("{}: {reason}", flag_of(&field, &args)));
        }
        Err(e) => return fail(e),
    };
    let now_unix = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if sig.params().expire_time <= now_unix {
        eprintln!(
            "warning: expireTime {} is already in the past (now {now_unix}); VOD will refuse this signature",
            sig.params().expire_time
        );
    }
    tracing::debug!(
        secret_id = %sig.params().secret_id,
        expire_time = sig.params().expire_time,
        "client-upload signature made"
    );
    if args.json {
        println!("{}", json(&sig));
    } else {
        println!("{}", sig.signature());
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_whole_units_and_refuse_the_rest() {
        let cases: &[(&str, bool, Result<u64, &str>)] = &[
            ("600", false, Ok(600_000)),
            ("10m", false, Ok(600_000)),
            ("2h", false, Ok(7_200_000)),
            ("90d", false, Ok(7_776_000_000)),
            ("15s", false, Ok(15_000)),
            ("250ms", true, Ok(250)),
            ("250ms", false, Err("unknown unit")),
            ("1.5h", false, Err("unknown unit")),
            ("h", false, Err("not a duration")),
            ("", false, Err("not a duration")),
            ("-5", false, Err("not a duration")),
            ("99999999999999999999", false, Err("too large")),
            ("9999999999999999d", false, Err("too long")),
        ];
        for (input, ms, want) in cases {
            let got = parse_duration(input, *ms);
            match want {
                Ok(millis) => assert_eq!(got, Ok(Duration::from_millis(*millis)), "{input}"),
                Err(says) => {
                    let e = got.expect_err(input);
                    assert!(e.contains(says), "{input}: {e}");
                }
            }
        }
    }

    #[test]
    fn one_time_valid_values() {
        for (s, v) in [("1", true), ("true", true), ("0", false), ("false", false)] {
            assert_eq!(parse_flag01(s), Ok(v));
        }
        assert!(parse_flag01("yes").is_err());
    }
}
