//! `tvod upload` end to end against `tvod mock`, both run as the built binary.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use support::{Mock, TVOD, start_mock, upload_cmd};

#[test]
fn cli_uploads_a_directory_with_json_output() {
    let data = tempfile::tempdir().unwrap();
    let mock = start_mock(data.path());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.mp4"), vec![1u8; 300_000]).unwrap();
    std::fs::write(dir.path().join("b.MOV"), vec![2u8; 1_000]).unwrap();
    std::fs::write(dir.path().join("c.mp3"), vec![3u8; 2_000]).unwrap();
    std::fs::write(dir.path().join("notes.txt"), b"not media").unwrap();
    let out = upload_cmd(&mock)
        .arg("--json")
        .arg("--procedure")
        .arg("Preset")
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let mut lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = lines.pop().unwrap();
    assert_eq!(summary["Summary"]["Ok"], 3, "{summary}");
    assert_eq!(summary["Summary"]["Failed"], 0, "{summary}");
    assert_eq!(summary["Summary"]["Bytes"], 303_000, "{summary}");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines.iter().all(|l| l["Status"] == "ok"), "{lines:?}");
    let mut bytes: Vec<u64> = lines.iter().map(|l| l["Bytes"].as_u64().unwrap()).collect();
    bytes.sort();
    assert_eq!(bytes, vec![1_000, 2_000, 300_000]);
    for l in &lines {
        assert!(l["FileId"].as_str().is_some_and(|s| !s.is_empty()), "{l}");
        assert!(l["MediaUrl"].as_str().is_some(), "{l}");
        assert!(l["ApplyRequestId"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(l["CommitRequestId"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(l["Seconds"].as_f64().is_some());
    }
}

/// Failures are one JSON line each with `--json` (one `error:` line each on stderr without), the good file still
/// goes through, and the exit code is 1.
#[test]
fn cli_failures_are_reported_per_file_and_exit_1() {
    let data = tempfile::tempdir().unwrap();
    let mock = start_mock(data.path());
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("ok.mp4");
    std::fs::write(&good, vec![1u8; 100]).unwrap();
    let bad = dir.path().join("bad.exe");
    std::fs::write(&bad, b"x").unwrap();
    let run = |json: bool| {
        let mut c = upload_cmd(&mock);
        if json {
            c.arg("--json");
        }
        c.arg(&good).arg(&bad).output().unwrap()
    };
    let out = run(true);
    assert_eq!(out.status.code(), Some(1), "{}", support::show(&out));
    let lines = support::json_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    let failure = lines.iter().find(|l| l["Status"] == "failed").unwrap();
    assert!(
        failure["Path"].as_str().unwrap().ends_with("bad.exe"),
        "{failure}"
    );
    assert_eq!(failure["ErrorCode"], "InvalidInput", "{failure}");
    assert!(
        failure["Message"].as_str().unwrap().contains("exe"),
        "{failure}"
    );
    assert_eq!(failure["Retryable"], false);
    assert!(lines.iter().any(|l| l["Status"] == "ok"));
    assert_eq!(lines[2]["Summary"]["Failed"], 1);
    let out = run(false);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("bad.exe"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    // A path that does not exist is a usage error: exit 2, nothing sent.
    let out = upload_cmd(&mock)
        .arg(dir.path().join("missing.mp4"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", support::show(&out));
}

#[test]
fn cli_wrong_secret_is_a_clean_error() {
    let data = tempfile::tempdir().unwrap();
    let mock = start_mock(data.path());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.mp4");
    std::fs::write(&f, vec![1u8; 10]).unwrap();
    let out = upload_cmd(&mock)
        .env("TENCENTCLOUD_SECRET_KEY", "wrong-key")
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("AuthFailure.SignatureFailure"), "{stderr}");
    assert!(!stderr.contains("wrong-key"), "{stderr}");
}

#[test]
fn help_names_the_credential_environment_variables() {
    for args in [
        &["--help"][..],
        &["upload", "--help"],
        &["ingest", "--help"],
        &["task", "wait", "--help"],
        &["events", "pull", "--help"],
        &["mock", "--help"],
        &["sign-upload", "--help"],
        &["pull", "--help"],
    ] {
        let out = Command::new(TVOD).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8(out.stdout).unwrap();
        for var in [
            "TENCENTCLOUD_SECRET_ID",
            "TENCENTCLOUD_SECRET_KEY",
            "TENCENTCLOUD_SESSION_TOKEN",
            "TENCENTCLOUD_REGION",
            "TENCENTCLOUD_VOD_ENDPOINT",
            "TENCENTCLOUD_COS_ENDPOINT",
        ] {
            assert!(
                help.contains(var),
                "`tvod {args:?}` does not name {var}:\n{help}"
            );
        }
    }
}

/// `eval "$(tvod mock)"` then `tvod upload`: the default output is shell `export` lines the SDK picks up.
#[test]
fn mock_export_lines_drive_an_upload_through_eval() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(TVOD)
        .arg("mock")
        .arg("--data-dir")
        .arg(data.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mock = Mock {
        child,
        info: serde_json::Value::Null,
    };
    let mut exports = String::new();
    loop {
        let mut line = String::new();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "tvod mock exited: {exports}"
        );
        exports.push_str(&line);
        if line.starts_with("unset ") {
            break;
        }
    }
    assert!(
        exports
            .lines()
            .all(|l| l.starts_with("export TENCENTCLOUD_") || l.starts_with("unset ")),
        "{exports}"
    );
    let file = data.path().join("clip.mp4");
    std::fs::write(&file, vec![7u8; 50_000]).unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"eval "$EXPORTS" && exec "$TVOD" upload --json "$FILE""#)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env(
            "TENCENTCLOUD_SESSION_TOKEN",
            "a-token-the-mock-does-not-know",
        )
        .env("EXPORTS", &exports)
        .env("TVOD", TVOD)
        .env("FILE", &file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stderr: {stderr}");
    let line: serde_json::Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(line["Bytes"], 50_000, "{line}");
    assert!(
        line["FileId"].as_str().is_some_and(|s| !s.is_empty()),
        "{line}"
    );
    drop(mock);
}

#[test]
fn cli_overflowing_part_size_is_refused_before_any_request() {
    let data = tempfile::tempdir().unwrap();
    let mock = start_mock(data.path());
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.mp4");
    std::fs::write(&f, vec![1u8; 10]).unwrap();
    // 17592186044418 MiB = 2^64 + 2 MiB: an unchecked multiplication wraps to a valid-looking 2 MiB.
    for (arg, says) in [("17592186044418M", "too large"), ("8Q", "unknown unit")] {
        let out = upload_cmd(&mock)
            .arg("--part-size")
            .arg(arg)
            .arg(&f)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{arg} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--part-size") && stderr.contains(arg) && stderr.contains(says),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Valid sizes still parse; one outside COS limits is a clear error naming the field.
    let out = upload_cmd(&mock)
        .arg("--part-size")
        .arg("6G")
        .arg(&f)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("part_size"), "{stderr}");
}
