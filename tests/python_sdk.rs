//! Tencent's official Python upload SDK (`vod-python-sdk`) uploading through the mock, with both COS addressing
//! styles and both transfer modes (the SDK's `upload_file`: one PUT up to 1 MiB, 1 MiB parts above).
//!
//! Runs `tests/python/vod_sdk_upload.py`. Needs `python3` with the package (`pip install vod-python-sdk`); without
//! them the test prints one `SKIPPED:` line and returns.

mod support;

use std::time::Duration;
use support::app::gen_bytes;
use tencent_vod_mock::MockServer;

type R = Result<(), Box<dyn std::error::Error>>;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/python/vod_sdk_upload.py"
);

/// Whether `python3` can import the SDK; the reason when it cannot.
async fn sdk_available() -> Result<(), String> {
    let out = tokio::process::Command::new("python3")
        .args(["-c", "import qcloud_vod, qcloud_cos, tencentcloud"])
        .output()
        .await
        .map_err(|e| format!("python3 not runnable ({e})"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err("python3 cannot import qcloud_vod (pip install vod-python-sdk)".into())
    }
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_uploads_through_the_mock() -> R {
    if let Err(why) = sdk_available().await {
        println!("SKIPPED: official_python_sdk_uploads_through_the_mock: {why}");
        return Ok(());
    }
    let server = MockServer::start().await?;
    let cred = server.credential();
    let dir = tempfile::tempdir()?;
    let cases = [
        ("virtual", "simple", 100 * 1024),
        ("virtual", "multipart", 2 * 1024 * 1024 + 512 * 1024),
        ("path", "simple", 100 * 1024),
        ("path", "multipart", 2 * 1024 * 1024 + 512 * 1024),
    ];
    for (i, (style, mode, size)) in cases.into_iter().enumerate() {
        let data = gen_bytes(i as u64 * 7919, size);
        let file = dir.path().join(format!("{style}-{mode}.mp4"));
        std::fs::write(&file, &data)?;
        let before = (server.count("PutObject"), server.count("UploadPart"));
        let out = tokio::time::timeout(
            Duration::from_secs(120),
            tokio::process::Command::new("python3")
                .arg(SCRIPT)
                .args(["--vod", &server.vod_addr().to_string()])
                .args(["--cos-port", &server.cos_addr().port().to_string()])
                .args(["--region", &server.region()])
                .args(["--secret-id", cred.secret_id()])
                .args(["--secret-key", cred.secret_key()])
                .args(["--style", style])
                .arg("--file")
                .arg(&file)
                .env("NO_PROXY", "127.0.0.1,localhost")
                .env("no_proxy", "127.0.0.1,localhost")
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .kill_on_drop(true)
                .output(),
        )
        .await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{style}/{mode}: {stderr}\nrejections: {:?}",
            server.rejections()
        );
        let line = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(line.trim())?;
        let file_id = v["FileId"].as_str().unwrap();
        let commit = server
            .commits()
            .into_iter()
            .find(|c| c.file_id == file_id)
            .expect("committed");
        assert_eq!(v["MediaUrl"].as_str(), Some(commit.media_url.as_str()));
        let key = commit.media_url.splitn(4, '/').nth(3).unwrap().to_string();
        let obj = server
            .objects()
            .into_iter()
            .find(|o| o.key == key)
            .expect("stored");
        assert_eq!(obj.size, size as u64, "{style}/{mode}");
        assert_eq!(obj.sha256, sha256_hex(&data), "{style}/{mode}");
        let after = (server.count("PutObject"), server.count("UploadPart"));
        match mode {
            "simple" => assert_eq!((after.0 - before.0, after.1 - before.1), (1, 0), "{style}"),
            _ => assert!(
                after.1 - before.1 >= 3 && after.0 == before.0,
                "{style}: {after:?}"
            ),
        }
    }
    assert!(
        server.rejections().is_empty(),
        "no signature was refused: {:?}",
        server.rejections()
    );
    Ok(())
}

/// The signing variants of the official COS SDKs, one by one, against the mock (path-style addressing): the key
/// path or the full URL path (Go signs `req.URL.Path`), the `Host` as sent or without its port (Python signs the
/// URL's hostname). Anything else is still refused.
#[tokio::test]
async fn mock_accepts_each_official_signing_variant_and_nothing_else() -> R {
    use support::raw::RawCos;
    let server = MockServer::start().await?;
    let session = server.create_cos_session(None);
    let cred = tencent_vod::Credential::new(
        session.credential.secret_id.clone(),
        session.credential.secret_key.clone(),
    )
    .with_token(session.credential.token.clone());
    let cos = RawCos::new(&server.cos_endpoint(), &session.bucket, &cred);
    let full_path = format!("/{}/v.mp4", session.bucket);
    let accepted: [(Option<String>, Option<String>); 4] = [
        (None, None),
        (Some(full_path.clone()), None),
        (None, Some("127.0.0.1".into())),
        (Some(full_path.clone()), Some("127.0.0.1".into())),
    ];
    for (path, host) in accepted {
        let c = cos.with(|s| {
            s.signed_path = path.clone();
            s.signed_host = host.clone();
        });
        let r = c.put("v.mp4", b"variant").await;
        assert_eq!(r.status, 200, "{path:?} {host:?}: {}", r.body);
    }
    let refused: [(Option<String>, Option<String>); 3] = [
        (Some("/other.mp4".into()), None),
        (Some(format!("/{}/v.mp4/x", session.bucket)), None),
        (None, Some("127.0.0.2".into())),
    ];
    for (path, host) in refused {
        let c = cos.with(|s| {
            s.signed_path = path.clone();
            s.signed_host = host.clone();
        });
        let r = c.put("v.mp4", b"variant").await;
        assert_eq!(
            r.code().as_deref(),
            Some("SignatureDoesNotMatch"),
            "{path:?} {host:?}"
        );
    }
    Ok(())
}
