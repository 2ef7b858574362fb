//! `UploadRequest::from_url`: a remote body streamed through the normal upload — a 200 MiB body with bounded
//! read-ahead, an unknown length, type/name inference, and typed errors for a bad source.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use support::app::{Source, gen_crc64};
use support::closed_port::ClosedPort;
use tencent_vod::{Error, TransferConfig, UploadRequest, VodClient};
use tencent_vod_mock::MockServer;

type R = Result<(), Box<dyn std::error::Error>>;

const MIB: u64 = 1 << 20;
const PART: u64 = 8 * MIB;
const CONCURRENCY: usize = 4;

async fn setup(bench: bool) -> (MockServer, VodClient, Source) {
    let server = MockServer::builder()
        .with_bench_mode(bench)
        .start()
        .await
        .unwrap();
    let client = server
        .client_builder()
        .with_transfer_config(
            TransferConfig::default()
                .with_part_size(PART)
                .with_concurrency(CONCURRENCY),
        )
        .build()
        .unwrap();
    (server, client, Source::start().await)
}

/// Uploads `url`, tracking how far the source ran ahead of what COS had acknowledged (the bytes held between
/// the two: buffered parts plus socket buffers).
async fn upload_tracking(
    client: &VodClient,
    source: &Source,
    url: &str,
) -> Result<(tencent_vod::UploadOutcome, u64), Error> {
    let max_gap = Arc::new(AtomicU64::new(0));
    let gap = max_gap.clone();
    let served = source.served_reader();
    let req = UploadRequest::from_url(url).await?.with_progress(move |p| {
        gap.fetch_max(served().saturating_sub(p.bytes_sent), Ordering::SeqCst);
    });
    let out = client.upload(req).await?;
    Ok((out, max_gap.load(Ordering::SeqCst)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_200_mib_body_streams_with_bounded_read_ahead() -> R {
    let (server, client, source) = setup(true).await;
    let size = 200 * MIB;
    let (out, max_gap) =
        upload_tracking(&client, &source, &source.media("movie.mp4", size)).await?;
    assert_eq!(out.bytes_sent, size);
    assert_eq!(source.served(), size, "the source was read exactly once");
    let obj = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!((obj.size, obj.crc64), (size, gen_crc64(size)));
    // At most (concurrency + 1) parts are buffered; allow socket buffers on top. 200 MiB in memory would fail.
    let bound = (CONCURRENCY as u64 + 1) * PART + 24 * MIB;
    println!(
        "largest read-ahead of the source over acknowledged bytes: {} MiB",
        max_gap / MIB
    );
    assert!(max_gap <= bound, "read-ahead {max_gap} > {bound}");
    Ok(())
}

#[tokio::test]
async fn unknown_length_is_cut_into_parts_as_it_arrives() -> R {
    let (server, client, source) = setup(false).await;
    let size = 20 * MIB + 12345;
    let url = format!("{}&chunked=1", source.media("talk.mp4", size));
    let (out, _) = upload_tracking(&client, &source, &url).await?;
    assert_eq!(out.bytes_sent, size);
    let obj = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!((obj.size, obj.crc64), (size, gen_crc64(size)));
    assert!(
        server.count("UploadPart") >= 3,
        "multipart: {:?}",
        server.stats()
    );
    Ok(())
}

#[tokio::test]
async fn type_and_name_come_from_the_path_or_the_content_type() -> R {
    let (server, client, source) = setup(false).await;
    // From the path: `clip` / `mp4`; small, so one PUT.
    let out = client
        .upload(UploadRequest::from_url(&source.media("clip%20one.mp4", 100_000)).await?)
        .await?;
    assert!(out.media_key.ends_with(".mp4"), "{}", out.media_key);
    assert_eq!(server.apply_requests()[0]["MediaName"], "clip one");
    assert_eq!(server.count("PutObject"), 1);
    // No extension: the Content-Type decides.
    let url = format!("{}&type=video/quicktime", source.media("download", 1000));
    let out = client.upload(UploadRequest::from_url(&url).await?).await?;
    assert!(out.media_key.ends_with(".mov"), "{}", out.media_key);
    // Neither: the media type must be given.
    let req = UploadRequest::from_url(&source.media("blob", 10)).await?;
    match client.upload(req).await {
        Err(Error::InvalidInput { field, .. }) => {
            assert!(field.starts_with("media_type"), "{field}")
        }
        other => panic!("{other:?}"),
    }
    let req = UploadRequest::from_url(&source.media("blob", 10))
        .await?
        .with_media_type("mp4");
    client.upload(req).await?;
    Ok(())
}

#[tokio::test]
async fn a_bad_source_is_a_typed_error_that_hides_the_query() -> R {
    let (_server, _client, source) = setup(false).await;
    let e = UploadRequest::from_url(&format!("{}/missing/a.mp4?token=SECRET123", source.base))
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), Some(404));
    assert!(matches!(e, Error::InvalidResponse(_)), "{e:?}");
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains("SECRET123") && text.contains("/missing/a.mp4"),
        "{text}"
    );
    let closed = ClosedPort::new();
    let e = UploadRequest::from_url(&closed.url("/a.mp4?sig=SECRET456"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Transport(_)), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("SECRET456"));
    for (url, what) in [
        ("not a url", "garbage"),
        ("ftp://127.0.0.1/a.mp4", "scheme"),
        ("http://127.0.0.1/live/index.m3u8", "manifest"),
    ] {
        assert!(
            matches!(
                UploadRequest::from_url(url).await,
                Err(Error::InvalidInput { .. })
            ),
            "{what}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn the_source_failing_mid_stream_fails_the_upload() -> R {
    let (server, client, _source) = setup(false).await;
    // A source that promises 20 MiB and stops after the headers: the engine reports the short body.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\ncontent-length: 20971520\r\n\r\n";
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&vec![1u8; 1 << 20]).await.unwrap();
        // Close early.
    });
    let req = UploadRequest::from_url(&format!("http://{addr}/cut.mp4"))
        .await?
        .with_deadline(Duration::from_secs(60));
    let e = client.upload(req).await.unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(server.commits().is_empty());
    Ok(())
}
