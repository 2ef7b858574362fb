//! `tvod mock --tls` then `tvod upload` over HTTPS with the CA from `TENCENTCLOUD_CA_FILE`, as a user would run
//! them (`eval "$(tvod mock --tls)"`); an environment proxy is never used for the loopback mock.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Command;
use support::closed_port::ClosedPort;
use support::*;

/// Starts `tvod mock --tls` and returns it with its `export` lines as (name, value) pairs.
fn start_tls_mock(data_dir: &std::path::Path) -> (Mock, Vec<(String, String)>) {
    let mut child = spawn_mock("--tls", data_dir);
    let mut exports = Vec::new();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    // The export lines end with the `unset TENCENTCLOUD_SESSION_TOKEN` line.
    while reader.read_line(&mut line).unwrap() > 0 {
        let l = line.trim_end().to_string();
        line.clear();
        if let Some(rest) = l.strip_prefix("export ") {
            let (name, value) = rest.split_once('=').unwrap();
            exports.push((name.to_string(), value.trim_matches('\'').to_string()));
        }
        if l.starts_with("unset TENCENTCLOUD_SESSION_TOKEN") {
            break;
        }
    }
    (
        Mock {
            child,
            info: serde_json::Value::Null,
        },
        exports,
    )
}

#[test]
fn upload_over_https_with_the_printed_ca_and_a_proxy_environment() {
    let data = tempfile::tempdir().unwrap();
    let (_mock, exports) = start_tls_mock(data.path());
    let get = |n: &str| {
        exports
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {n} in {exports:?}"))
    };
    assert!(get("TENCENTCLOUD_VOD_ENDPOINT").starts_with("https://127.0.0.1:"));
    assert!(get("TENCENTCLOUD_COS_ENDPOINT").starts_with("https://127.0.0.1:"));
    let ca = get("TENCENTCLOUD_CA_FILE");
    assert!(
        std::fs::read_to_string(&ca)
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("movie.mp4");
    std::fs::write(&f, vec![3u8; 3 << 20]).unwrap();
    // A proxy that is not listening: the environment proxy must not be used for the loopback mock.
    let closed = ClosedPort::new();
    let dead_proxy = closed.url("");
    let with_env = |cmd: &mut Command, with_ca: bool| {
        for (k, v) in &exports {
            if with_ca || k != "TENCENTCLOUD_CA_FILE" {
                cmd.env(k, v);
            }
        }
        cmd.env("HTTPS_PROXY", &dead_proxy)
            .env("ALL_PROXY", &dead_proxy);
    };
    let mut cmd = tvod("upload", None);
    with_env(&mut cmd, true);
    let out = cmd.arg("--json").arg(&f).output().unwrap();
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stderr}");
    let line: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert!(
        line["FileId"].as_str().is_some_and(|id| !id.is_empty()),
        "{line}"
    );

    // Without the CA the same upload fails on the certificate, in one line, before anything is sent.
    let mut cmd = tvod("upload", None);
    with_env(&mut cmd, false);
    let out = cmd.arg(&f).output().unwrap();
    let (_, stderr) = texts(&out);
    assert!(!out.status.success());
    assert!(stderr.contains("certificate not trusted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
