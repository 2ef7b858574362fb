//! The mock's COS XML API: signatures, credentials, objects, multipart.

mod support;

use base64::Engine as _;
use std::time::Duration;
use support::raw::*;
use support::*;
use tencent_vod::__private::crc64_combine;
use tencent_vod::Credential;
use tencent_vod_mock::MockServer;

type R = Result<(), Box<dyn std::error::Error>>;

async fn session(server: &MockServer) -> RawCos {
    let s = server.create_cos_session(None);
    assert_eq!(s.region, server.region());
    RawCos::new(
        &server.cos_endpoint(),
        &s.bucket,
        &s.credential.credential(),
    )
}

#[tokio::test]
async fn put_and_head_object() -> R {
    let server = MockServer::start().await?;
    let cos = session(&server).await;
    let body = data(70_000, 1);
    let r = cos.put("dir/视频 (1).mp4", &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("x-cos-request-id").is_some());
    assert_eq!(r.header("etag").unwrap(), format!("\"{}\"", md5_hex(&body)));
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(&body).to_string()
    );
    let h = cos.send("HEAD", "dir/视频 (1).mp4", &[], &[], vec![]).await;
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length").unwrap(), body.len().to_string());
    assert_eq!(
        h.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(&body).to_string()
    );
    let o = server
        .object(&cos.bucket, "dir/视频 (1).mp4")
        .expect("stored");
    assert_eq!(o.sha256, sha256_hex(&body));
    assert_eq!(o.crc64, crc64(&body));
    assert_eq!(
        server
            .object_bytes(&cos.bucket, "dir/视频 (1).mp4")
            .unwrap(),
        body
    );
    let h = cos.send("HEAD", "missing", &[], &[], vec![]).await;
    assert_eq!(h.status, 404);
    assert!(h.header("x-cos-request-id").is_some());
    assert_eq!(server.count("PutObject"), 1);
    assert_eq!(server.count("HeadObject"), 2);
    Ok(())
}

#[tokio::test]
async fn crc64_is_crc64_xz() {
    assert_eq!(tencent_vod_mock::crc64(b"123456789"), 0x995D_C9BB_DF19_39FA);
    assert_eq!(
        crc64_combine(crc64(b"1234"), crc64(b"56789"), 5),
        0x995D_C9BB_DF19_39FA
    );
}

#[tokio::test]
async fn virtual_host_addressing() -> R {
    let server = MockServer::start().await?;
    let mut cos = session(&server).await;
    cos.virtual_host = Some(format!(
        "{}.cos.{}.myqcloud.com",
        cos.bucket,
        server.region()
    ));
    let r = cos.put("v/key.bin", b"hello").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        server.object_bytes(&cos.bucket, "v/key.bin").unwrap(),
        b"hello"
    );
    Ok(())
}

#[tokio::test]
async fn content_md5_checked() -> R {
    let server = MockServer::start().await?;
    let cos = session(&server).await;
    let b64 = base64::engine::general_purpose::STANDARD;
    let good = b64.encode(md5::Digest::finalize(md5::Digest::chain_update(
        <md5::Md5 as md5::Digest>::new(),
        b"abc",
    )));
    let r = cos
        .send("PUT", "m", &[], &[("content-md5", good)], b"abc".to_vec())
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let wrong = b64.encode([0u8; 16]);
    let r = cos
        .send("PUT", "m", &[], &[("content-md5", wrong)], b"abc".to_vec())
        .await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("BadDigest")));
    let r = cos
        .send(
            "PUT",
            "m",
            &[],
            &[("content-md5", "nope".into())],
            b"abc".to_vec(),
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (400, Some("InvalidDigest"))
    );
    Ok(())
}

#[tokio::test]
async fn signature_and_credential_rejections() -> R {
    let server = MockServer::start().await?;
    let cos = session(&server).await;

    let r = cos.with(|s| s.wrong_key = true).put("k", b"x").await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );
    assert!(r.tag("RequestId").is_some() && r.tag("TraceId").is_some());
    assert_eq!(r.header("x-cos-request-id"), r.tag("RequestId"));

    let r = cos.with(|s| s.send_token = false).put("k", b"x").await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (403, Some("InvalidSecurity"))
    );

    let r = cos
        .with(|s| s.token = Some("bogus".into()))
        .put("k", b"x")
        .await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (403, Some("InvalidSecurity"))
    );

    let r = cos
        .with(|s| s.secret_id = "AKIDnope".into())
        .put("k", b"x")
        .await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (403, Some("InvalidAccessKeyId"))
    );

    let n = now();
    let r = cos
        .with(|s| s.key_time = Some((n - 7200, n - 3600)))
        .put("k", b"x")
        .await;
    assert_eq!((r.status, r.code().as_deref()), (403, Some("AccessDenied")));

    // Another bucket is outside the temporary credentials' scope.
    let mut other = cos.clone();
    other.bucket = "other-1250000000".into();
    let r = other.put("k", b"x").await;
    assert_eq!((r.status, r.code().as_deref()), (403, Some("AccessDenied")));

    // An unsigned query parameter is refused.
    let rb = cos.request("PUT", "k", &[], &[], Some(b"x".to_vec().into()), Some(1));
    let url = rb.build()?.url().to_string() + "?extra=1";
    let sig_only = cos.request("PUT", "k", &[], &[], None, Some(1)).build()?;
    let auth = sig_only.headers()["authorization"].to_str()?.to_string();
    let token = sig_only.headers()["x-cos-security-token"]
        .to_str()?
        .to_string();
    let r = read(
        http()
            .put(url)
            .header("Authorization", auth)
            .header("x-cos-security-token", token)
            .body("x")
            .send()
            .await?,
    )
    .await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (403, Some("SignatureDoesNotMatch"))
    );

    // No Authorization at all.
    let r = read(
        http()
            .put(format!("{}/{}/k", server.cos_endpoint(), cos.bucket))
            .body("x")
            .send()
            .await?,
    )
    .await;
    assert_eq!((r.status, r.code().as_deref()), (403, Some("AccessDenied")));

    assert!(server.stats().rejected_signatures >= 7);
    assert!(server.object(&cos.bucket, "k").is_none());
    Ok(())
}

#[tokio::test]
async fn permanent_credentials_work_for_any_bucket() -> R {
    let server = MockServer::start().await?;
    let cos = RawCos::new(
        &server.cos_endpoint(),
        "mybucket-1250000000",
        &server.credential(),
    );
    let r = cos.put("a/b", b"perm").await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A permanent credential with a token needs it too.
    let tok = Credential::new("AKIDtok", "tok-key").with_token("the-token");
    let server = MockServer::builder()
        .with_credential(tok.clone())
        .start()
        .await?;
    let cos = RawCos::new(&server.cos_endpoint(), "b-1", &tok);
    assert_eq!(cos.put("k", b"x").await.status, 200);
    let r = cos.with(|s| s.send_token = false).put("k", b"x").await;
    assert_eq!(r.code().as_deref(), Some("InvalidSecurity"));
    Ok(())
}

#[tokio::test]
async fn expired_temporary_credentials() -> R {
    let server = MockServer::builder()
        .with_temp_credential_ttl(Duration::from_secs(1))
        .start()
        .await?;
    let cos = session(&server).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = cos.put("k", b"x").await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("ExpiredToken")));

    // Expired early on demand.
    let server = MockServer::start().await?;
    let s = server.create_cos_session(None);
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &s.bucket,
        &s.credential.credential(),
    );
    assert_eq!(cos.put("k", b"x").await.status, 200);
    assert!(server.expire_credentials(&s.credential.secret_id));
    let r = cos.put("k", b"x").await;
    assert_eq!(r.code().as_deref(), Some("ExpiredToken"));
    Ok(())
}

#[tokio::test]
async fn multipart_out_of_order_and_list_parts() -> R {
    let server = MockServer::builder()
        .with_min_part_size(1024)
        .start()
        .await?;
    let cos = session(&server).await;
    let key = "mp/big file.bin";
    let id = cos.initiate(key).await;
    let parts: Vec<Vec<u8>> = (0..4)
        .map(|i| data(if i == 3 { 500 } else { 2000 }, i))
        .collect();
    // Upload parts concurrently, completing in reverse order.
    let mut tasks = Vec::new();
    for n in (1..=4u32).rev() {
        let cos = cos.clone();
        let id = id.clone();
        let body = parts[n as usize - 1].clone();
        tasks.push(tokio::spawn(async move {
            (n, cos.upload_part(key, &id, n, &body).await)
        }));
    }
    let mut etags = Vec::new();
    for t in tasks {
        let (n, r) = t.await?;
        assert_eq!(r.status, 200, "{}", r.body);
        let body = &parts[n as usize - 1];
        assert_eq!(r.header("etag").unwrap(), format!("\"{}\"", md5_hex(body)));
        assert_eq!(
            r.header("x-cos-hash-crc64ecma").unwrap(),
            crc64(body).to_string()
        );
        etags.push((n, r.header("etag").unwrap()));
    }
    etags.sort();

    // ListParts with paging and url encoding.
    let r = cos
        .send(
            "GET",
            key,
            &[
                ("uploadId", Some(&id)),
                ("max-parts", Some("2")),
                ("encoding-type", Some("url")),
            ],
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.tag("IsTruncated").as_deref(), Some("true"));
    assert_eq!(r.tag("NextPartNumberMarker").as_deref(), Some("2"));
    assert_eq!(r.tag("Key").as_deref(), Some("mp%2Fbig%20file.bin"));
    assert_eq!(r.body.matches("<Part>").count(), 2);
    let r = cos
        .send(
            "GET",
            key,
            &[("uploadId", Some(&id)), ("part-number-marker", Some("2"))],
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.tag("IsTruncated").as_deref(), Some("false"));
    assert!(
        r.body.contains("<PartNumber>3</PartNumber>")
            && r.body.contains("<PartNumber>4</PartNumber>")
    );
    assert!(!r.body.contains("<PartNumber>1</PartNumber>"));

    let r = cos.complete(key, &id, &etags).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let whole: Vec<u8> = parts.concat();
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(&whole).to_string()
    );
    let etag = r.tag("ETag").unwrap();
    assert!(
        etag.ends_with("-4&quot;") || etag.ends_with("-4\""),
        "{etag}"
    );
    let o = server.object(&cos.bucket, key).unwrap();
    assert_eq!(o.size, whole.len() as u64);
    assert_eq!(o.sha256, sha256_hex(&whole));
    assert_eq!(server.object_bytes(&cos.bucket, key).unwrap(), whole);
    assert!(server.multipart_uploads().is_empty());
    // Completed: the upload id is gone.
    let r = cos.complete(key, &id, &etags).await;
    assert_eq!((r.status, r.code().as_deref()), (404, Some("NoSuchUpload")));
    Ok(())
}

#[tokio::test]
async fn complete_errors() -> R {
    let server = MockServer::builder()
        .with_min_part_size(1024)
        .start()
        .await?;
    let cos = session(&server).await;
    let key = "mp/x";
    // `?uploads=` form, as COSPY sends it.
    let r = cos
        .send("POST", key, &[("uploads", Some(""))], &[], vec![])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.tag("UploadId").unwrap();
    let e1 = cos
        .upload_part(key, &id, 1, &data(2000, 1))
        .await
        .header("etag")
        .unwrap();
    let e2 = cos
        .upload_part(key, &id, 2, &data(100, 2))
        .await
        .header("etag")
        .unwrap();
    let e3 = cos
        .upload_part(key, &id, 3, &data(100, 3))
        .await
        .header("etag")
        .unwrap();

    let r = cos
        .complete(key, &id, &[(1, e1.clone()), (2, "\"0000\"".into())])
        .await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("InvalidPart")));
    let r = cos
        .complete(key, &id, &[(1, e1.clone()), (9, e2.clone())])
        .await;
    assert_eq!(r.code().as_deref(), Some("InvalidPart"));
    let r = cos
        .complete(key, &id, &[(2, e2.clone()), (1, e1.clone())])
        .await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (400, Some("InvalidPartOrder"))
    );
    let r = cos
        .complete(
            key,
            &id,
            &[(1, e1.clone()), (2, e2.clone()), (3, e3.clone())],
        )
        .await;
    assert_eq!(
        (r.status, r.code().as_deref()),
        (400, Some("EntityTooSmall"))
    );
    let r = cos
        .send(
            "POST",
            key,
            &[("uploadId", Some(&id))],
            &[],
            b"<Complete".to_vec(),
        )
        .await;
    assert_eq!((r.status, r.code().as_deref()), (400, Some("MalformedXML")));
    // A small last part is fine.
    let r = cos.complete(key, &id, &[(1, e1), (2, e2)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(server.object(&cos.bucket, key).unwrap().size, 2100);

    // Abort, then the id is unknown.
    let id = cos.initiate(key).await;
    cos.upload_part(key, &id, 1, b"zz").await;
    let r = cos
        .send("DELETE", key, &[("uploadId", Some(&id))], &[], vec![])
        .await;
    assert_eq!(r.status, 204);
    let r = cos.upload_part(key, &id, 2, b"zz").await;
    assert_eq!((r.status, r.code().as_deref()), (404, Some("NoSuchUpload")));
    let r = cos
        .send("DELETE", key, &[("uploadId", Some(&id))], &[], vec![])
        .await;
    assert_eq!(r.code().as_deref(), Some("NoSuchUpload"));
    let r = cos.upload_part(key, "nope", 0, b"zz").await;
    assert_eq!(r.code().as_deref(), Some("InvalidArgument"));
    Ok(())
}

#[tokio::test]
async fn bench_mode_discards_bodies() -> R {
    let server = MockServer::builder()
        .with_bench_mode(true)
        .with_min_part_size(1)
        .start()
        .await?;
    let cos = session(&server).await;
    let body = data(100_000, 9);
    let r = cos.put("b/k", &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(&body).to_string()
    );
    assert!(server.object_bytes(&cos.bucket, "b/k").is_none());
    assert_eq!(server.object(&cos.bucket, "b/k").unwrap().size, 100_000);
    // Multipart: the CRC of the whole is combined from the parts.
    let id = cos.initiate("b/m").await;
    let e1 = cos
        .upload_part("b/m", &id, 1, &body[..60_000])
        .await
        .header("etag")
        .unwrap();
    let e2 = cos
        .upload_part("b/m", &id, 2, &body[60_000..])
        .await
        .header("etag")
        .unwrap();
    let r = cos.complete("b/m", &id, &[(1, e1), (2, e2)]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.header("x-cos-hash-crc64ecma").unwrap(),
        crc64(&body).to_string()
    );
    // Manifests are still kept (CommitUpload reads them).
    cos.put("b/i.m3u8", b"#EXTM3U\n").await;
    assert_eq!(
        server.object_bytes(&cos.bucket, "b/i.m3u8").unwrap(),
        b"#EXTM3U\n"
    );
    Ok(())
}

#[tokio::test]
async fn max_concurrent_uploads_is_tracked() -> R {
    let server = MockServer::start().await?;
    let cos = session(&server).await;
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    for i in 0..3 {
        let cos = cos.clone();
        let release = release.clone();
        tasks.push(tokio::spawn(async move {
            let stream = futures::stream::once(async { Ok::<_, std::io::Error>(vec![1u8; 10]) })
                .chain(futures::stream::once(async move {
                    release.notified().await;
                    Ok::<_, std::io::Error>(vec![2u8; 10])
                }));
            let rb = cos.request(
                "PUT",
                &format!("c/{i}"),
                &[],
                &[],
                Some(reqwest::Body::wrap_stream(stream)),
                Some(20),
            );
            read(rb.header("content-length", "20").send().await.unwrap()).await
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while server.stats().max_concurrent_uploads < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "uploads never overlapped"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    release.notify_waiters();
    for t in tasks {
        // notify_waiters only wakes current waiters; keep nudging until all finish.
        let r = loop {
            if t.is_finished() {
                break t.await?;
            }
            release.notify_waiters();
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(server.stats().max_concurrent_uploads, 3);
    Ok(())
}

use futures::StreamExt as _;

#[tokio::test]
async fn list_multipart_uploads_bucket_level() -> R {
    let server = MockServer::start().await?;
    // Temporary credentials of an ApplyUpload session may list (COS SDKs do it to resume).
    let cos = session(&server).await;
    let a = cos.initiate("lm/a b").await;
    let _b = cos.initiate("lm/c").await;
    let _other = cos.initiate("zz/d").await;
    let r = cos
        .send(
            "GET",
            "",
            &[
                ("uploads", None),
                ("prefix", Some("lm/")),
                ("encoding-type", Some("url")),
            ],
            &[],
            vec![],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body.matches("<Upload>").count(), 2);
    assert!(r.body.contains("<Key>lm%2Fa%20b</Key>"), "{}", r.body);
    assert!(r.body.contains(&format!("<UploadId>{a}</UploadId>")));
    assert!(!r.body.contains("zz%2Fd"));
    assert_eq!(server.count("ListMultipartUploads"), 1);
    Ok(())
}
