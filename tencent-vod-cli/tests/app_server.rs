//! `tvod sign-upload` and `tvod pull`, run as the built binary: the signature vectors of the SDK's
//! `tests/data/doc-vectors.json` reproduced byte for byte and decoded back, every validation error, and pulls
//! against an in-process mock VOD fetching from a loopback media source.

mod support;

use serde_json::Value;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::app::{Source, gen_crc64};
use support::closed_port::ClosedPort;
use support::{assert_one_line_error, output, texts, tvod};
use tencent_vod::appserver::{TaskNotifyMode, UploadSignature, UploadSignatureParams};
use tencent_vod::error::UploadSignatureRejection;
use tencent_vod::events::TaskStatus;
use tencent_vod::{Credential, Error};
use tencent_vod_mock::MockServer;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/doc-vectors.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("read doc-vectors.json"))
        .expect("doc-vectors.json is JSON")
}

fn at(secs: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs as u64)
}

/// `tvod sign-upload` with the flags that set the `[[name, value]…]` parameters of a vector; the secretId comes
/// from the environment like the key.
fn sign_cmd(params: &[Value], secret_key: &str) -> Command {
    let secret_id = params
        .iter()
        .find(|p| p[0] == "secretId")
        .and_then(|p| p[1].as_str())
        .expect("secretId");
    let mut cmd = tvod("sign-upload", Some((secret_id, secret_key)));
    for p in params {
        let (k, v) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        let flag = match k {
            "secretId" => continue,
            "oneTimeValid" => {
                cmd.arg(format!("--one-time-valid={v}"));
                continue;
            }
            "currentTimeStamp" => "--current-time",
            "expireTime" => "--expire-time",
            "random" => "--random",
            "classId" => "--class-id",
            "vodSubAppId" => "--sub-app-id",
            "sourceContext" => "--source-context",
            "procedure" => "--procedure",
            "taskPriority" => "--task-priority",
            "taskNotifyMode" => "--task-notify-mode",
            "sessionContext" => "--session-context",
            "storageRegion" => "--storage-region",
            other => panic!("no flag for {other}"),
        };
        cmd.arg(flag).arg(v);
    }
    cmd
}

/// The parameters a vector lists, typed (what a decoded signature must hold).
fn expected_params(params: &[Value]) -> UploadSignatureParams {
    let get = |k: &str| {
        params
            .iter()
            .find(|p| p[0] == k)
            .map(|p| p[1].as_str().unwrap().to_string())
    };
    let num = |k: &str| get(k).map(|v| v.parse::<i64>().unwrap());
    let sig = UploadSignature::builder();
    // Built through the SDK's own builder from the same values, so the comparison covers every field.
    let mut b = sig
        .with_current_time(num("currentTimeStamp").unwrap())
        .with_expire_time(num("expireTime").unwrap())
        .with_random(get("random").unwrap().parse().unwrap());
    if let Some(v) = num("classId") {
        b = b.with_class_id(v as u64);
    }
    if let Some(v) = get("oneTimeValid") {
        b = b.with_one_time_valid(v == "1");
    }
    if let Some(v) = num("vodSubAppId") {
        b = b.with_vod_sub_app_id(v as u64);
    }
    if let Some(v) = get("sourceContext") {
        b = b.with_source_context(v);
    }
    if let Some(v) = get("procedure") {
        b = b.with_procedure(v);
    }
    if let Some(v) = num("taskPriority") {
        b = b.with_task_priority(v as i32);
    }
    if let Some(v) = get("taskNotifyMode") {
        b = b.with_task_notify_mode(v.parse::<TaskNotifyMode>().unwrap());
    }
    if let Some(v) = get("sessionContext") {
        b = b.with_session_context(v);
    }
    if let Some(v) = get("storageRegion") {
        b = b.with_storage_region(v);
    }
    b.params(&get("secretId").unwrap(), at(0)).unwrap()
}

#[test]
fn sign_upload_reproduces_every_generated_vector_and_decodes_back() {
    let all = vectors();
    let list = all["generated_vectors"]["ugc_upload_signature"]
        .as_array()
        .expect("generated_vectors.ugc_upload_signature");
    assert!(list.len() >= 3, "{}", list.len());
    for v in list {
        let id = v["id"].as_str().unwrap();
        let key = v["inputs"]["secret_key"].as_str().unwrap();
        let params = v["inputs"]["params"].as_array().unwrap();
        let want_sig = v["expected"]["signature"].as_str().unwrap();
        let want_original = v["expected"]["original"].as_str().unwrap();

        let out = sign_cmd(params, key).output().unwrap();
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "{id}: {stderr}");
        assert!(!stderr.contains(key), "{id}: the key leaked: {stderr}");
        // The signature alone on the last line, exactly the vector's.
        let last = stdout.lines().last().unwrap_or_default();
        assert_eq!(last, want_sig, "{id}");

        // It decodes back to the vector's fields and verifies under the key, valid at its currentTimeStamp.
        let want = expected_params(params);
        let back = UploadSignature::verify(last, key, at(want.current_time)).unwrap();
        assert_eq!(back.original(), want_original, "{id}");
        assert_eq!(back.params(), &want, "{id}");
        let decoded = UploadSignature::decode(last).unwrap();
        assert_eq!(decoded.params(), &want, "{id}");
        // Under another key the HMAC does not match.
        let wrong =
            UploadSignature::verify(last, "another-key", at(want.current_time)).unwrap_err();
        assert!(
            matches!(
                wrong,
                Error::UploadSignatureRejected(UploadSignatureRejection::HmacMismatch)
            ),
            "{id}: {wrong:?}"
        );

        // --json: one object with the fields under their wire names, the plaintext and the same signature.
        let out = sign_cmd(params, key).arg("--json").output().unwrap();
        assert!(out.status.success(), "{id}");
        let (stdout, _) = texts(&out);
        assert_eq!(stdout.lines().count(), 1, "{id}: {stdout}");
        let j: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(j["signature"], want_sig, "{id}");
        assert_eq!(j["original"], want_original, "{id}");
        for p in params {
            let (k, v) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
            let got = match &j[k] {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => panic!("{id}: {k} is {other}"),
            };
            assert_eq!(got, v, "{id}: {k}");
        }
        assert_eq!(
            j["validitySeconds"],
            want.expire_time - want.current_time,
            "{id}"
        );
    }
}

/// Tencent's published demo signature cannot be re-signed (its key is not published), but the same fields give
/// the same plaintext byte for byte.
#[test]
fn sign_upload_rebuilds_the_published_plaintext() {
    let all = vectors();
    let v = &all["doc_vectors"]["ugc_upload_signature"][0];
    let fields = v["expected"]["fields"].as_array().unwrap();
    let out = sign_cmd(fields, "any-key").arg("--json").output().unwrap();
    assert!(out.status.success(), "{}", texts(&out).1);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["original"], v["expected"]["original"]);
    let published = UploadSignature::decode(v["signature"].as_str().unwrap()).unwrap();
    let ours = UploadSignature::decode(j["signature"].as_str().unwrap()).unwrap();
    assert_eq!(ours.params(), published.params());
}

#[test]
fn sign_upload_defaults_to_now_a_random_number_and_one_hour() {
    let key = "default-test-key";
    let run = |extra: &[&str]| {
        let before = support_now();
        let out = tvod("sign-upload", Some(("AKIDdefaults", key)))
            .args(extra)
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&out);
        assert!(out.status.success(), "{extra:?}: {stderr}");
        assert!(stderr.is_empty(), "{extra:?}: {stderr}");
        let sig = stdout.trim_end().to_string();
        let back = UploadSignature::verify(&sig, key, SystemTime::now()).unwrap();
        let after = support_now();
        let p = back.params().clone();
        assert!(
            (before..=after).contains(&p.current_time),
            "{extra:?}: {p:?}"
        );
        p
    };
    let a = run(&[]);
    assert_eq!(a.expire_time - a.current_time, 3600);
    assert_eq!(a.secret_id, "AKIDdefaults");
    let b = run(&["--expire-in", "10m", "--one-time-valid"]);
    assert_eq!(b.expire_time - b.current_time, 600);
    assert_eq!(b.one_time_valid, Some(true));
    assert_ne!(a.random, b.random, "random is drawn afresh");
    let c = run(&["--expire-in", "90d"]);
    assert_eq!(c.expire_time - c.current_time, 7_776_000);
    // TENCENTCLOUD_VOD_SUB_APP_ID is the default vodSubAppId, as for every subcommand; the flag wins.
    let out = tvod("sign-upload", Some(("AKIDdefaults", key)))
        .env("TENCENTCLOUD_VOD_SUB_APP_ID", "1500000042")
        .output()
        .unwrap();
    let sig = String::from_utf8(out.stdout).unwrap();
    let p = UploadSignature::decode(sig.trim())
        .unwrap()
        .params()
        .clone();
    assert_eq!(p.vod_sub_app_id, Some(1500000042));
}

fn support_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The profile file is the credential source when the environment has none.
#[test]
fn sign_upload_reads_the_profile_file() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".tencentcloud")).unwrap();
    std::fs::write(
        home.path().join(".tencentcloud/credentials"),
        "[default]\nsecret_id = AKIDdefaultprofile\nsecret_key = default-profile-key\n\n\
         [ops]\nsecret_id = AKIDopsprofile\nsecret_key = ops-profile-key\n",
    )
    .unwrap();
    for (profile, id, key) in [
        (None, "AKIDdefaultprofile", "default-profile-key"),
        (Some("ops"), "AKIDopsprofile", "ops-profile-key"),
    ] {
        let mut cmd = tvod("sign-upload", None);
        cmd.env("HOME", home.path());
        if let Some(p) = profile {
            cmd.env("TENCENTCLOUD_PROFILE", p);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{profile:?}: {}", texts(&out).1);
        let sig = String::from_utf8(out.stdout).unwrap();
        let back = UploadSignature::verify(sig.trim(), key, SystemTime::now()).unwrap();
        assert_eq!(back.params().secret_id, id);
    }
}

#[test]
fn sign_upload_validation_errors_are_one_line_with_exit_status_2() {
    let long = |n: usize| "x".repeat(n);
    let (s251, s1001) = (long(251), long(1001));
    let t0 = ["--current-time", "1700000000"];
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["--procedure", "P", "--task-priority", "11"],
            vec!["--task-priority", "outside -10..=10"],
        ),
        (
            vec!["--procedure", "P", "--task-priority", "-11"],
            vec!["--task-priority", "outside -10..=10"],
        ),
        (
            vec!["--task-priority", "1"],
            vec!["--task-priority", "procedure"],
        ),
        (
            vec!["--task-notify-mode", "Change"],
            vec!["--task-notify-mode", "procedure"],
        ),
        (vec!["--procedure", ""], vec!["--procedure", "non-empty"]),
        (vec!["--expire-in", "91d"], vec!["--expire-in", "90 days"]),
        (
            vec!["--expire-in", "0"],
            vec!["--expire-in", "expected 1..="],
        ),
        (
            [&t0[..], &["--expire-time", "1700000000"]].concat(),
            vec!["--expire-time", "not after currentTimeStamp"],
        ),
        (
            [&t0[..], &["--expire-time", "1707776001"]].concat(),
            vec!["--expire-time", "90 days"],
        ),
        (
            vec!["--current-time", "0"],
            vec!["--current-time", "not a unix time"],
        ),
        (
            vec!["--current-time", "-5"],
            vec!["--current-time", "not a unix time"],
        ),
        (
            vec!["--source-context", &s251],
            vec!["--source-context", "251 characters; at most 250"],
        ),
        (
            vec!["--session-context", &s1001],
            vec!["--session-context", "1001 characters; at most 1000"],
        ),
        (
            vec!["--storage-region", "ap guangzhou"],
            vec!["--storage-region", "not a region name"],
        ),
        (
            vec!["--expire-in", "1h", "--expire-time", "1800000000"],
            vec!["--expire-time and --expire-in"],
        ),
    ];
    for (args, says) in &cases {
        let out = tvod("sign-upload", Some(("AKIDvalid", "validation-key")))
            .args(args)
            .output()
            .unwrap();
        let line = assert_one_line_error(&out, 2, says, &format!("{args:?}"));
        assert!(!line.contains("validation-key"), "{line}");
    }
    // Credentials: none at all, or half of them.
    let out = tvod("sign-upload", None).output().unwrap();
    assert_one_line_error(&out, 2, &["no credentials found"], "no credentials");
    let out = tvod("sign-upload", None)
        .env("TENCENTCLOUD_SECRET_ID", "AKIDhalf")
        .output()
        .unwrap();
    assert_one_line_error(&out, 2, &["TENCENTCLOUD_SECRET_KEY"], "half credentials");
    // Values that are not even of the right type are refused by the argument parser, also with status 2.
    for (args, flag) in [
        (&["--random", "4294967296"][..], "--random"),
        (&["--random", "-1"], "--random"),
        (&["--task-notify-mode", "Sometimes"], "--task-notify-mode"),
        (&["--one-time-valid=2"], "--one-time-valid"),
        (&["--class-id", "x"], "--class-id"),
        (&["--expire-in", "1.5h"], "--expire-in"),
        (&["--expire-time", "soon"], "--expire-time"),
    ] {
        let out = tvod("sign-upload", Some(("AKIDvalid", "validation-key")))
            .args(args)
            .output()
            .unwrap();
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}");
        assert!(
            stderr.lines().next().unwrap_or_default().contains(flag),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn sign_upload_warns_about_a_session_token_and_a_past_expiry() {
    let out = tvod("sign-upload", Some(("AKIDtmp", "tmp-key")))
        .env("TENCENTCLOUD_SESSION_TOKEN", "tmp-token-value")
        .args(["--current-time", "1700000000", "--random", "7"])
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("session token"), "{stderr}");
    assert!(stderr.contains("already in the past"), "{stderr}");
    assert!(!stderr.contains("tmp-token-value") && !stderr.contains("tmp-key"));
    assert!(UploadSignature::verify(stdout.trim(), "tmp-key", at(1_700_000_001)).is_ok());
}

// ---- tvod pull ----

/// An in-process mock VOD with quick task timings, and a loopback media source.
async fn pull_setup() -> (MockServer, Source) {
    let server = MockServer::builder()
        .with_task_durations(Duration::from_millis(20), Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    (server, Source::start().await)
}

/// `tvod pull` against the in-process mock (its credentials, region and endpoint; quick polling).
fn pull_cmd(server: &MockServer) -> Command {
    let cred: Credential = server.credential();
    let mut cmd = tvod("pull", Some((cred.secret_id(), cred.secret_key())));
    cmd.env("TENCENTCLOUD_REGION", server.region())
        .arg("--vod-endpoint")
        .arg(server.vod_endpoint())
        .args(["--poll-interval", "50ms"]);
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_wait_prints_the_task_id_then_file_id_and_urls() {
    let (server, source) = pull_setup().await;
    let size = 300_017;
    let mut cmd = pull_cmd(&server);
    cmd.arg(source.media("show.mp4", size)).args([
        "--wait",
        "--media-name",
        "Show, episode 1",
        "--media-type",
        "mp4",
        "--cover-url",
        &source.media("cover.jpg", 2048),
        "--procedure",
        "LongVideoPreset",
        "--expire-time",
        "2030-01-01T00:00:00Z",
        "--storage-region",
        "ap-chongqing",
        "--class-id",
        "7",
        "--tasks-priority",
        "-3",
        "--session-context",
        "session ctx",
        "--session-id",
        "ep1-pull",
        "--source-context",
        "source ctx",
        "--ext-info",
        "reserved",
        "--sub-app-id",
        "1500000001",
    ]);
    let out = output(cmd).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let task = &server.pull_tasks()[0];
    assert_eq!(task.status, TaskStatus::Finish);
    assert_eq!(lines[0], task.task_id, "{stdout}");
    let field = |name: &str| {
        lines[1..]
            .iter()
            .find_map(|l| l.strip_prefix(&format!("{name}\t")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_string()
    };
    assert_eq!(field("FileId"), task.file_id);
    let media_url = field("MediaUrl");
    assert!(
        media_url.starts_with("http") && media_url.ends_with(".mp4"),
        "{media_url}"
    );
    assert!(field("CoverUrl").ends_with("cover.jpg"), "{stdout}");
    assert!(
        field("ProcedureTaskId").contains("-procedurev2-"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 5, "{stdout}");
    // The mock stored exactly the source's bytes.
    let key = media_url.splitn(4, '/').nth(3).unwrap();
    let obj = server
        .object("vodapchongqing-1250000000", key)
        .expect("stored object");
    assert_eq!((obj.size, obj.crc64), (size, gen_crc64(size)));
    // Every flag went over the wire under its member name.
    let sent = &server.pull_requests()[0];
    for (name, value) in [
        ("MediaName", Value::from("Show, episode 1")),
        ("MediaType", "mp4".into()),
        ("Procedure", "LongVideoPreset".into()),
        ("ExpireTime", "2030-01-01T00:00:00Z".into()),
        ("StorageRegion", "ap-chongqing".into()),
        ("ClassId", 7.into()),
        ("TasksPriority", (-3).into()),
        ("SessionContext", "session ctx".into()),
        ("SessionId", "ep1-pull".into()),
        ("SourceContext", "source ctx".into()),
        ("ExtInfo", "reserved".into()),
        ("SubAppId", 1500000001u64.into()),
    ] {
        assert_eq!(sent[name], value, "{name} in {sent}");
    }
    assert!(sent["CoverUrl"].as_str().unwrap().contains("cover.jpg"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_json_output_parses_with_and_without_wait() {
    let (server, source) = pull_setup().await;
    // Without --wait: the task id (and request id) at once.
    let mut cmd = pull_cmd(&server);
    cmd.arg(source.media("a.mp4", 1000)).arg("--json");
    let out = output(cmd).await;
    assert!(out.status.success(), "{}", texts(&out).1);
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["TaskId"], server.pull_tasks()[0].task_id.as_str(), "{j}");
    assert!(
        j["RequestId"].as_str().is_some_and(|s| !s.is_empty()),
        "{j}"
    );
    // With --wait: one object with the outcome; MediaStoragePath decides the key.
    let mut cmd = pull_cmd(&server);
    cmd.arg(source.media("b.mp4", 54_321)).args([
        "--json",
        "--wait",
        "--media-storage-path",
        "/shows/b.mp4",
    ]);
    let out = output(cmd).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let j: Value = serde_json::from_str(&stdout).unwrap();
    let task = &server.pull_tasks()[1];
    assert_eq!(j["TaskId"], task.task_id.as_str());
    assert_eq!(j["FileId"], task.file_id.as_str());
    assert_eq!(
        (j["Status"].as_str(), j["ErrCode"].as_i64()),
        (Some("FINISH"), Some(0))
    );
    assert_eq!(j["Size"], 54_321);
    assert!(
        j["MediaUrl"].as_str().unwrap().ends_with("/shows/b.mp4"),
        "{j}"
    );
    assert!(
        j["CoverUrl"].is_null() && j["ProcedureTaskId"].is_null(),
        "{j}"
    );
    assert!(j["Seconds"].as_f64().is_some(), "{j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pulls_exit_non_zero_with_the_task_error_code() {
    let (server, source) = pull_setup().await;
    server.set_pull_timeout(Duration::from_secs(30));
    let closed = ClosedPort::new();
    let cases = [
        ("404", format!("{}/missing/a.mp4", source.base), "HTTP 404"),
        ("unreachable", closed.url("/a.mp4"), "cannot connect"),
    ];
    for (i, (what, url, says)) in cases.iter().enumerate() {
        // Text: the task id on stdout, one typed error line on stderr.
        let mut cmd = pull_cmd(&server);
        cmd.arg(url).arg("--wait");
        let out = output(cmd).await;
        let (stdout, stderr) = texts(&out);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        let task = server.pull_tasks()[2 * i].clone();
        assert_eq!(stdout.trim(), task.task_id, "{what}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{what}: {stderr}");
        for s in [
            "error: pull task",
            task.task_id.as_str(),
            "ErrCode 60000",
            says,
            "source file error",
        ] {
            assert!(lines[0].contains(s), "{what}: {s:?} not in {stderr}");
        }
        // --json: the failure as an object too.
        let mut cmd = pull_cmd(&server);
        cmd.arg(url).args(["--wait", "--json"]);
        let out = output(cmd).await;
        assert_eq!(out.status.code(), Some(1), "{what}");
        let j: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["TaskId"], server.pull_tasks()[2 * i + 1].task_id.as_str());
        assert_eq!(j["ErrCode"], 60000, "{what}: {j}");
        assert_eq!(j["ErrorKind"], "SourceFile", "{what}: {j}");
        assert!(j["Message"].as_str().unwrap().contains(says), "{what}: {j}");
        assert!(j.get("FileId").is_none(), "{j}");
    }
    // Without --wait the pull is only started: success, whatever happens later.
    let mut cmd = pull_cmd(&server);
    cmd.arg(format!("{}/missing/b.mp4", source.base));
    let out = output(cmd).await;
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_refuses_bad_flags_before_sending_and_reports_service_errors() {
    let (server, source) = pull_setup().await;
    let media = source.media("a.mp4", 10);
    let s51 = "s".repeat(51);
    let (noext, mpd) = (format!("{}/noext", source.base), source.media("a.mpd", 1));
    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["ftp://127.0.0.1/a.mp4"],
            vec!["URL (MediaUrl)", "http"],
        ),
        (vec!["not a url"], vec!["URL (MediaUrl)"]),
        (
            vec![&noext],
            vec!["--media-type (MediaType)", "cannot be inferred"],
        ),
        (vec![&mpd], vec!["--media-type", "DASH"]),
        (
            vec![&media, "--media-type", "exe"],
            vec!["--media-type", "not a media type"],
        ),
        (
            vec![&media, "--tasks-priority", "11"],
            vec!["--tasks-priority (TasksPriority)", "-10..=10"],
        ),
        (
            vec![&media, "--cover-url", "http://127.0.0.1/c.bmp"],
            vec!["--cover-url (CoverUrl)", "gif, jpeg, jpg or png"],
        ),
        (
            vec![&media, "--expire-time", "tomorrow"],
            vec!["--expire-time (ExpireTime)", "ISO 8601"],
        ),
        (
            vec![&media, "--media-storage-path", "no/slash.mp4"],
            vec!["--media-storage-path", "start with '/'"],
        ),
        (
            vec![&media, "--session-id", &s51],
            vec!["--session-id (SessionId)", "at most 50"],
        ),
        (
            vec![&media, "--sub-app-id", "0"],
            vec!["--sub-app-id (SubAppId)"],
        ),
        (
            vec![&media, "--storage-region", "ap guangzhou"],
            vec!["--storage-region"],
        ),
    ];
    for (args, says) in &cases {
        let mut cmd = pull_cmd(&server);
        cmd.args(args);
        let out = output(cmd).await;
        assert_one_line_error(&out, 2, says, &format!("{args:?}"));
    }
    assert!(server.pull_requests().is_empty(), "nothing was sent");
    // Missing credentials: status 2, nothing sent.
    let mut cmd = tvod("pull", None);
    cmd.arg(&media)
        .arg("--vod-endpoint")
        .arg(server.vod_endpoint());
    let out = output(cmd).await;
    assert_one_line_error(&out, 2, &["no credentials found"], "no credentials");
    // Refused by VOD (the mock pulls from loopback only): status 1, the service's error code.
    let mut cmd = pull_cmd(&server);
    cmd.arg("http://media.example.com/a.mp4");
    let out = output(cmd).await;
    assert_one_line_error(
        &out,
        1,
        &["PullUpload", "InvalidParameterValue.MediaUrl"],
        "non-loopback",
    );
    // A wrong key: the signature failure, and the key is never printed.
    let mut cmd = pull_cmd(&server);
    cmd.env("TENCENTCLOUD_SECRET_KEY", "wrong-pull-key")
        .arg(&media);
    let out = output(cmd).await;
    let line = assert_one_line_error(&out, 1, &["AuthFailure.SignatureFailure"], "wrong key");
    assert!(!line.contains("wrong-pull-key"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_wait_gives_up_after_the_timeout_with_status_3() {
    let (server, source) = pull_setup().await;
    server.set_pull_timeout(Duration::from_secs(30));
    let mut cmd = pull_cmd(&server);
    cmd.arg(format!("{}/hang/a.mp4", source.base))
        .args(["--wait", "--timeout", "1"]);
    let out = output(cmd).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let task = &server.pull_tasks()[0];
    assert_ne!(task.status, TaskStatus::Finish);
    assert_eq!(stdout.trim(), task.task_id);
    assert!(
        stderr.contains("--timeout") && stderr.contains("may still finish"),
        "{stderr}"
    );
}
