//! The mock's VOD API: signatures, parameters, the apply → put → commit cycle, manifests.

mod support;

use support::raw::*;
use support::*;
use tencent_vod::__private::v1;
use tencent_vod::SignMethod;
use tencent_vod::vod::{ApplyUploadRequest, CommitUploadRequest, ParseStreamingManifestRequest};
use tencent_vod::{Credential, RetryConfig};
use tencent_vod_mock::MockServer;

type R = Result<(), Box<dyn std::error::Error>>;

async fn full_cycle(method: SignMethod) -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_sign_method(method)
        .with_retry(RetryConfig::disabled())
        .build()?;
    let applied = client
        .api()
        .apply_upload(
            &ApplyUploadRequest::new("MP4")
                .with_media_name("测试 video")
                .with_cover_type("jpg")
                .with_procedure("LongVideoPreset")
                .with_sub_app_id(1500000001)
                .with_class_id(3)
                .with_session_context("ctx"),
        )
        .await?;
    assert!(applied.storage_bucket.ends_with("-1250000000"));
    assert_eq!(applied.storage_region, "ap-guangzhou");
    assert!(applied.media_storage_path.starts_with('/'));
    assert!(applied.media_storage_path.ends_with(".mp4"));
    let cover_path = applied.cover_storage_path.clone().expect("cover path");
    assert!(cover_path.starts_with('/') && cover_path.ends_with(".jpg"));
    for c in ['/', '+', '='] {
        assert!(applied.vod_session_key.contains(c), "session key has {c}");
    }
    let cert = applied.temp_certificate.clone().expect("temp certificate");
    assert!(cert.expired_time > now());

    // Recorded request fields.
    let recorded = server.apply_requests();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["MediaType"], "MP4");
    assert_eq!(recorded[0]["MediaName"], "测试 video");
    assert_eq!(recorded[0]["Procedure"], "LongVideoPreset");
    assert_eq!(
        recorded[0]["SubAppId"].to_string().trim_matches('"'),
        "1500000001"
    );

    // Upload media and cover with the temporary credentials.
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &applied.storage_bucket,
        &cert.credential(),
    );
    let media: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let r = cos.put(&applied.media_storage_path[1..], &media).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("etag").unwrap(),
        format!("\"{}\"", md5_hex(&media))
    );
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(&media).to_string()
    );
    let r = cos.put(&cover_path[1..], b"jpeg bytes").await;
    assert_eq!(r.status, 200, "{}", r.body);

    let committed = client
        .api()
        .commit_upload(
            &CommitUploadRequest::new(&applied.vod_session_key).with_sub_app_id(1500000001),
        )
        .await?;
    assert!(!committed.file_id.is_empty());
    assert!(
        committed
            .media_url
            .unwrap()
            .ends_with(&applied.media_storage_path)
    );
    assert!(committed.cover_url.unwrap().ends_with(&cover_path));
    let commits = server.commits();
    assert_eq!(commits.len(), 1);
    assert_eq!(commits[0].file_id, committed.file_id);
    assert_eq!(commits[0].sub_app_id, Some(1500000001));
    assert_eq!(commits[0].procedure.as_deref(), Some("LongVideoPreset"));
    let task = commits[0].procedure_task_id.clone().expect("task id");
    let (prefix, rest) = task.split_once("-procedurev2-").expect("format");
    assert_eq!(prefix, "1250000000");
    assert_eq!(rest.len(), 34);
    assert!(rest.ends_with("t0"));
    assert!(rest[..32].bytes().all(|b| b.is_ascii_hexdigit()));

    let stored = server
        .object(&applied.storage_bucket, &applied.media_storage_path[1..])
        .expect("stored");
    assert_eq!(stored.size, media.len() as u64);
    assert_eq!(stored.sha256, sha256_hex(&media));
    assert_eq!(
        server
            .object_bytes(&applied.storage_bucket, &applied.media_storage_path[1..])
            .unwrap(),
        media
    );
    assert_eq!(server.count("ApplyUpload"), 1);
    assert_eq!(server.count("CommitUpload"), 1);
    assert_eq!(server.count("PutObject"), 2);
    assert_eq!(server.stats().rejected_signatures, 0);
    Ok(())
}

#[tokio::test]
async fn full_cycle_tc3() -> R {
    full_cycle(SignMethod::Tc3HmacSha256).await
}

#[tokio::test]
async fn full_cycle_v1_hmac_sha1() -> R {
    full_cycle(SignMethod::HmacSha1).await
}

#[tokio::test]
async fn full_cycle_v1_hmac_sha256() -> R {
    full_cycle(SignMethod::HmacSha256).await
}

#[tokio::test]
async fn tc3_rejections() -> R {
    let server = MockServer::start().await?;
    let ep = server.vod_endpoint();
    let cred = server.credential();
    let body = r#"{"MediaType": "mp4"}"#;

    let ok = tc3_post(&ep, "ApplyUpload", body, &Tc3Opts::new(&cred)).await;
    assert_eq!(error_code(&ok), None, "{ok}");
    assert!(ok["Response"]["RequestId"].as_str().is_some());

    let mut o = Tc3Opts::new(&cred);
    o.secret_key = "wrong".into();
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(
        error_code(&r).as_deref(),
        Some("AuthFailure.SignatureFailure")
    );
    assert!(r["Response"]["RequestId"].as_str().is_some());

    let mut o = Tc3Opts::new(&cred);
    o.timestamp -= 301;
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(
        error_code(&r).as_deref(),
        Some("AuthFailure.SignatureExpire")
    );

    let mut o = Tc3Opts::new(&cred);
    o.secret_id = "AKIDunknown".into();
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(
        error_code(&r).as_deref(),
        Some("AuthFailure.SecretIdNotFound")
    );

    // SignedHeaders must include content-type and host.
    let mut o = Tc3Opts::new(&cred);
    o.signed = vec!["host"];
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(
        error_code(&r).as_deref(),
        Some("AuthFailure.SignatureFailure")
    );

    // Extra signed header (x-tc-action, as the current doc does) and UNSIGNED-PAYLOAD are fine.
    let mut o = Tc3Opts::new(&cred);
    o.signed = vec!["content-type", "host", "x-tc-action"];
    o.unsigned_payload = true;
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(error_code(&r), None, "{r}");

    assert_eq!(server.stats().rejected_signatures, 4);
    let rej = server.rejections();
    assert!(rej.iter().all(|r| r.kind == "ApplyUpload"));
    Ok(())
}

#[tokio::test]
async fn tc3_get_query_parameters() -> R {
    let server = MockServer::start().await?;
    let r = tc3_get(
        &server.vod_endpoint(),
        "ApplyUpload",
        &[("MediaType", "flv"), ("MediaName", "a b+c")],
        &Tc3Opts::new(&server.credential()),
    )
    .await;
    assert_eq!(error_code(&r), None, "{r}");
    assert_eq!(server.apply_requests()[0]["MediaName"], "a b+c");
    Ok(())
}

#[tokio::test]
async fn token_checked_when_credential_has_one() -> R {
    let cred = Credential::new("AKIDtokened", "key-with-token").with_token("tok-123");
    let server = MockServer::builder()
        .with_credential(Credential::new("AKIDplain", "plain-key"))
        .with_credential(cred.clone())
        .start()
        .await?;
    let ep = server.vod_endpoint();
    let body = r#"{"MediaType":"mp4"}"#;
    let r = tc3_post(&ep, "ApplyUpload", body, &Tc3Opts::new(&cred)).await;
    assert_eq!(error_code(&r), None, "{r}");
    let mut o = Tc3Opts::new(&cred);
    o.token = Some("other".into());
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(error_code(&r).as_deref(), Some("AuthFailure.TokenFailure"));
    o.token = None;
    let r = tc3_post(&ep, "ApplyUpload", body, &o).await;
    assert_eq!(error_code(&r).as_deref(), Some("AuthFailure.TokenFailure"));
    // The second configured secret id works alongside the first.
    let r = tc3_post(
        &ep,
        "ApplyUpload",
        body,
        &Tc3Opts::new(&Credential::new("AKIDplain", "plain-key")),
    )
    .await;
    assert_eq!(error_code(&r), None, "{r}");
    Ok(())
}

#[tokio::test]
async fn v1_get_both_algorithms_and_bad_signature() -> R {
    let server = MockServer::start().await?;
    let cred = server.credential();
    for alg in [v1::Algorithm::HmacSha1, v1::Algorithm::HmacSha256] {
        let r = v1_get(
            &server.vod_endpoint(),
            "ParseStreamingManifest",
            &[("MediaManifestContent", "#EXTM3U\n#EXTINF:1,\na.ts\n")],
            &cred,
            alg,
            false,
        )
        .await;
        assert_eq!(error_code(&r), None, "{r}");
        assert_eq!(
            r["Response"]["MediaSegmentSet"],
            serde_json::json!(["a.ts"])
        );
        let r = v1_get(
            &server.vod_endpoint(),
            "ParseStreamingManifest",
            &[("MediaManifestContent", "x.ts")],
            &cred,
            alg,
            true,
        )
        .await;
        assert_eq!(
            error_code(&r).as_deref(),
            Some("AuthFailure.SignatureFailure")
        );
    }
    // Flattened names are rebuilt into JSON for the handlers.
    let r = v1_get(
        &server.vod_endpoint(),
        "ApplyUpload",
        &[
            ("MediaType", "mp4"),
            ("Filters.0.Name", "n"),
            ("Filters.0.Values.0", "v"),
        ],
        &cred,
        v1::Algorithm::HmacSha1,
        false,
    )
    .await;
    assert_eq!(error_code(&r), None, "{r}");
    assert_eq!(
        server.apply_requests()[0],
        serde_json::json!({"MediaType": "mp4", "Filters": [{"Name": "n", "Values": ["v"]}]})
    );
    Ok(())
}

#[tokio::test]
async fn apply_upload_parameter_errors() -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let api = client.api();
    let code = |r: tencent_vod::Result<_>| r.err().and_then(|e| e.code().map(str::to_string));
    assert_eq!(
        code(api.apply_upload(&ApplyUploadRequest::new("exe")).await).as_deref(),
        Some("InvalidParameterValue.MediaType")
    );
    assert_eq!(
        code(api.apply_upload(&ApplyUploadRequest::new("")).await).as_deref(),
        Some("MissingParameter")
    );
    assert_eq!(
        code(
            api.apply_upload(&ApplyUploadRequest::new("mp4").with_cover_type("txt"))
                .await
        )
        .as_deref(),
        Some("InvalidParameterValue.CoverType")
    );
    assert_eq!(
        code(
            api.apply_upload(&ApplyUploadRequest::new("mp4").with_media_storage_path("no-slash"))
                .await
        )
        .as_deref(),
        Some("InvalidParameterValue.MediaStoragePath")
    );
    assert_eq!(
        code(
            api.apply_upload(&ApplyUploadRequest::new("mp4").with_expire_time("tomorrow"))
                .await
        )
        .as_deref(),
        Some("InvalidParameterValue.ExpireTime")
    );
    // Case-insensitive types, StorageRegion and MediaStoragePath honoured, no cover without CoverType.
    let ok = api
        .apply_upload(
            &ApplyUploadRequest::new("M3U8")
                .with_storage_region("ap-chongqing")
                .with_media_storage_path("/movies/m/index.m3u8"),
        )
        .await?;
    assert_eq!(ok.storage_region, "ap-chongqing");
    assert_eq!(ok.media_storage_path, "/movies/m/index.m3u8");
    assert_eq!(ok.cover_storage_path, None);
    // Fresh temporary credentials per call.
    let again = api.apply_upload(&ApplyUploadRequest::new("mp4")).await?;
    assert_ne!(
        ok.temp_certificate.unwrap().secret_id,
        again.temp_certificate.unwrap().secret_id
    );
    Ok(())
}

#[tokio::test]
async fn commit_errors() -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let api = client.api();
    let applied = api
        .apply_upload(&ApplyUploadRequest::new("mp4").with_sub_app_id(7))
        .await?;
    let commit = |sub: Option<u64>| {
        let mut r = CommitUploadRequest::new(&applied.vod_session_key);
        if let Some(s) = sub {
            r = r.with_sub_app_id(s);
        }
        r
    };
    // Before the upload.
    let e = api.commit_upload(&commit(Some(7))).await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound"), "{e}");
    assert!(e.to_string().contains(&applied.media_storage_path), "{e}");
    // Wrong SubAppId.
    let e = api.commit_upload(&commit(Some(8))).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.SubAppId"));
    let e = api.commit_upload(&commit(None)).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.SubAppId"));
    // Unknown key.
    let e = api
        .commit_upload(&CommitUploadRequest::new("bogus/+="))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.VodSessionKey"));
    // Upload, commit, commit again.
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &applied.storage_bucket,
        &applied.temp_certificate.clone().unwrap().credential(),
    );
    assert_eq!(
        cos.put(&applied.media_storage_path[1..], b"x").await.status,
        200
    );
    api.commit_upload(&commit(Some(7))).await?;
    let e = api.commit_upload(&commit(Some(7))).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.VodSessionKey"));
    assert_eq!(server.commits().len(), 1);
    Ok(())
}

#[tokio::test]
async fn cover_required_when_applied_for() -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let applied = client
        .api()
        .apply_upload(&ApplyUploadRequest::new("mp4").with_cover_type("png"))
        .await?;
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &applied.storage_bucket,
        &applied.temp_certificate.clone().unwrap().credential(),
    );
    assert_eq!(
        cos.put(&applied.media_storage_path[1..], b"m").await.status,
        200
    );
    let e = client
        .api()
        .commit_upload(&CommitUploadRequest::new(&applied.vod_session_key))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound"));
    assert!(e.to_string().contains("cover"), "{e}");
    Ok(())
}

const MASTER: &str = "#EXTM3U\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/en.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=800000,AUDIO=\"a\"\n\
video/v.m3u8\n";
const VIDEO: &str = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"../keys/k.key\"\n#EXT-X-MAP:URI=\"init.mp4\"\n\
#EXTINF:4,\ns0.m4s\n#EXTINF:4,\ns1.m4s\n";
const AUDIO: &str = "#EXTM3U\n#EXTINF:4,\na0.aac\n";

#[tokio::test]
async fn parse_streaming_manifest_m3u8_and_mpd() -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let api = client.api();
    let r = api
        .parse_streaming_manifest(&ParseStreamingManifestRequest::new(MASTER))
        .await?;
    assert_eq!(r.media_segment_set, vec!["audio/en.m3u8", "video/v.m3u8"]);
    let r = api
        .parse_streaming_manifest(&ParseStreamingManifestRequest::new(VIDEO))
        .await?;
    assert_eq!(
        r.media_segment_set,
        vec!["../keys/k.key", "init.mp4", "s0.m4s", "s1.m4s"]
    );
    let mpd = r#"<?xml version="1.0"?><MPD><Period><AdaptationSet>
<Representation id="720p" bandwidth="1"><BaseURL>720p/</BaseURL>
<SegmentList><Initialization sourceURL="init.mp4"/><SegmentURL media="1.m4s"/><SegmentURL media="2.m4s"/></SegmentList>
</Representation></AdaptationSet></Period></MPD>"#;
    let r = api
        .parse_streaming_manifest(
            &ParseStreamingManifestRequest::new(mpd).with_manifest_type("mpd"),
        )
        .await?;
    assert_eq!(
        r.media_segment_set,
        vec!["720p/init.mp4", "720p/1.m4s", "720p/2.m4s"]
    );
    let e = api
        .parse_streaming_manifest(
            &ParseStreamingManifestRequest::new(mpd).with_manifest_type("ism"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.ManifestType"));
    let e = api
        .parse_streaming_manifest(&ParseStreamingManifestRequest::new(""))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("MissingParameter"));
    Ok(())
}

#[tokio::test]
async fn hls_commit_checks_every_segment_of_nested_playlists() -> R {
    let server = MockServer::start().await?;
    let client = server
        .client_builder()
        .with_retry(RetryConfig::disabled())
        .build()?;
    let applied = client
        .api()
        .apply_upload(&ApplyUploadRequest::new("m3u8"))
        .await?;
    let root = applied.media_storage_path[1..].to_string();
    let dir = root.rsplit_once('/').unwrap().0.to_string();
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &applied.storage_bucket,
        &applied.temp_certificate.clone().unwrap().credential(),
    );
    let files: Vec<(String, Vec<u8>)> = vec![
        (root.clone(), MASTER.as_bytes().to_vec()),
        (format!("{dir}/video/v.m3u8"), VIDEO.as_bytes().to_vec()),
        (format!("{dir}/audio/en.m3u8"), AUDIO.as_bytes().to_vec()),
        (format!("{dir}/keys/k.key"), b"0123456789abcdef".to_vec()),
        (format!("{dir}/video/init.mp4"), b"init".to_vec()),
        (format!("{dir}/video/s0.m4s"), b"s0".to_vec()),
        (format!("{dir}/audio/a0.aac"), b"a0".to_vec()),
    ];
    for (k, b) in &files {
        let r = cos.put(k, b).await;
        assert_eq!(r.status, 200, "{k}: {}", r.body);
    }
    // Outside the manifest's directory: denied.
    let r = cos.put("elsewhere/x.ts", b"x").await;
    assert_eq!(r.status, 403);
    assert_eq!(r.code().as_deref(), Some("AccessDenied"));
    // s1.m4s of the nested video playlist is missing.
    let e = client
        .api()
        .commit_upload(&CommitUploadRequest::new(&applied.vod_session_key))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound"));
    assert!(e.to_string().contains("s1.m4s"), "{e}");
    assert_eq!(
        cos.put(&format!("{dir}/video/s1.m4s"), b"s1").await.status,
        200
    );
    let ok = client
        .api()
        .commit_upload(&CommitUploadRequest::new(&applied.vod_session_key))
        .await?;
    assert!(ok.media_url.unwrap().ends_with(".m3u8"));
    Ok(())
}

#[tokio::test]
async fn unknown_action_and_missing_auth() -> R {
    let server = MockServer::start().await?;
    let r = tc3_post(
        &server.vod_endpoint(),
        "DescribeNothing",
        "{}",
        &Tc3Opts::new(&server.credential()),
    )
    .await;
    assert_eq!(error_code(&r).as_deref(), Some("InvalidAction"));
    let bytes = http()
        .post(server.vod_endpoint())
        .header("Content-Type", "application/json")
        .header("X-TC-Action", "ApplyUpload")
        .body("{}")
        .send()
        .await?
        .bytes()
        .await?;
    let r: serde_json::Value = serde_json::from_slice(&bytes)?;
    assert_eq!(
        error_code(&r).as_deref(),
        Some("AuthFailure.InvalidAuthorization")
    );
    Ok(())
}
