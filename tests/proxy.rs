//! Uploads through a real forward proxy (tinyproxy, started by each test): `https://` through a `CONNECT` tunnel,
//! `http://` forwarded; proxy basic authentication; a proxy that refuses (typed error, a bounded number of
//! attempts seen by the proxy). Without tinyproxy on `PATH` each test prints `SKIPPED: tinyproxy not found`.

mod support;

use support::closed_port::ClosedPort;
use support::proxy::{ProxyOptions, Tinyproxy};
use support::*;

use tencent_vod::error::ProxyProblem;
use tencent_vod::{Error, UploadRequest};
use tencent_vod_mock::MockServer;

async fn mock(tls: bool) -> MockServer {
    MockServer::builder()
        .with_tls(tls)
        .with_min_part_size(64 * 1024)
        .start()
        .await
        .unwrap()
}

fn ports(server: &MockServer) -> [u16; 2] {
    [server.vod_addr().port(), server.cos_addr().port()]
}

/// Uploads a 2.5 MiB file (1 MiB parts, 3 in flight) plus a cover; checks what the mock stored.
/// ApplyUpload through `proxy` with `retries` retries, which must fail with [`Error::Proxy`]: its problem and the
/// error.
async fn apply_through(server: &MockServer, proxy: &str, retries: u32) -> (ProxyProblem, Error) {
    let client = server
        .client_builder()
        .with_proxy(proxy)
        .with_retry(retry(retries))
        .build()
        .unwrap();
    let e = client
        .api()
        .apply_upload(&tencent_vod::vod::ApplyUploadRequest::new("mp4"))
        .await
        .unwrap_err();
    let Error::Proxy(p) = &e else {
        panic!("expected Error::Proxy, got {e:?}")
    };
    (p.problem, e)
}

async fn upload_and_check(server: &MockServer, client: &tencent_vod::VodClient) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = data((2 * MIB + MIB / 2) as usize, 30);
    let cover = data(10_000, 31);
    let media = write(dir.path(), "via-proxy.mp4", &bytes);
    let poster = write(dir.path(), "poster.png", &cover);
    let out = client
        .upload(UploadRequest::from_path(&media).with_cover_path(&poster))
        .await
        .unwrap();
    let stored = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    assert_eq!(server.count("UploadPart"), 3);
    assert_eq!(server.count("CommitUpload"), 1);
}

#[tokio::test]
async fn upload_through_a_proxy_https_and_http() {
    for tls in [true, false] {
        let server = mock(tls).await;
        let [vod, cos] = ports(&server);
        let Some(proxy) = Tinyproxy::start(ProxyOptions {
            connect_ports: &[vod, cos],
            ..Default::default()
        }) else {
            return;
        };
        let client = server
            .client_builder()
            .with_proxy(proxy.url())
            .with_transfer_config(parts_of(MIB).with_concurrency(3))
            .build()
            .unwrap();
        upload_and_check(&server, &client).await;
        let to_vod = proxy.requests_to(vod);
        let to_cos = proxy.requests_to(cos);
        if tls {
            // Tunnels: one CONNECT per connection, none of the requests inside are visible to the proxy.
            for (what, seen) in [("VOD", &to_vod), ("COS", &to_cos)] {
                assert!(!seen.is_empty(), "no CONNECT to {what}: {seen:?}");
                assert!(
                    seen.iter().all(|r| r.starts_with("CONNECT 127.0.0.1:")),
                    "{what}: {seen:?}"
                );
            }
            assert!(server.tls_connections().values().sum::<u64>() >= 2);
        } else {
            // Forwarded in absolute form: the proxy sees every request.
            assert_eq!(
                to_vod
                    .iter()
                    .filter(|r| r.starts_with(&format!("POST http://127.0.0.1:{vod}/")))
                    .count(),
                2,
                "ApplyUpload and CommitUpload: {to_vod:?}"
            );
            let puts = to_cos.iter().filter(|r| r.starts_with("PUT ")).count();
            assert_eq!(puts, 4, "3 parts and the cover: {to_cos:?}");
        }
    }
}

#[tokio::test]
async fn proxy_basic_authentication() {
    // (tinyproxy's configuration takes letters, digits, `.`, `_` and `-`; percent-decoding of the URL's
    // credentials is covered by the unit tests.)
    let (user, password) = ("vod-uploader", "pa.ss_w-0rd");
    for tls in [true, false] {
        let server = mock(tls).await;
        let Some(proxy) = Tinyproxy::start(ProxyOptions {
            connect_ports: &ports(&server),
            basic_auth: Some((user, password)),
        }) else {
            return;
        };
        let client = server
            .client_builder()
            .with_proxy(proxy.url_with_auth(user, password))
            .with_transfer_config(parts_of(MIB))
            .build()
            .unwrap();
        upload_and_check(&server, &client).await;
        assert!(!proxy.requests().is_empty());
    }
}

/// Refused credentials are never retried. tinyproxy answers a missing `Proxy-Authorization` with 407 and a wrong
/// one with 401: through a tunnel the HTTP stack reports the 401 only as an unsuccessful `CONNECT`.
#[tokio::test]
async fn wrong_proxy_credentials_are_refused_once() {
    let cases = [
        (
            true,
            "no credentials",
            None,
            ProxyProblem::AuthenticationRequired,
            Some(407),
        ),
        (
            true,
            "wrong password",
            Some("not-the-password"),
            ProxyProblem::TunnelRefused,
            None,
        ),
        (
            false,
            "no credentials",
            None,
            ProxyProblem::AuthenticationRequired,
            Some(407),
        ),
        (
            false,
            "wrong password",
            Some("not-the-password"),
            ProxyProblem::AuthenticationRequired,
            Some(401),
        ),
    ];
    for (tls, what, password, problem, status) in cases {
        let server = mock(tls).await;
        let [vod, _] = ports(&server);
        let Some(proxy) = Tinyproxy::start(ProxyOptions {
            connect_ports: &ports(&server),
            basic_auth: Some(("vod-uploader", "right-password")),
        }) else {
            return;
        };
        let url = match password {
            Some(p) => proxy.url_with_auth("vod-uploader", p),
            None => proxy.url(),
        };
        let client = server
            .client_builder()
            .with_proxy(&url)
            .with_retry(retry(3))
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let media = write(dir.path(), "a.mp4", &data(1000, 32));
        let e = client
            .upload(UploadRequest::from_path(&media))
            .await
            .expect_err(what);
        let Error::Proxy(p) = &e else {
            panic!("tls={tls} {what}: expected Error::Proxy, got {e:?}")
        };
        assert_eq!(p.problem, problem, "tls={tls} {what}: {e}");
        assert_eq!(p.status, status, "tls={tls} {what}");
        assert_eq!(p.operation, "ApplyUpload");
        assert_eq!(e.attempts(), 1, "tls={tls} {what}: not retried");
        assert!(!e.is_retryable());
        let msg = e.to_string();
        assert!(msg.contains("the proxy refused"), "{msg}");
        assert!(!msg.contains("not-the-password"), "{msg}");
        // No retry storm: the proxy saw exactly one request.
        let seen = proxy.requests_to(vod);
        assert_eq!(seen.len(), 1, "tls={tls} {what}: {seen:?}");
        assert_eq!(server.count("ApplyUpload"), 0);
    }
}

#[tokio::test]
async fn proxy_refusing_the_tunnel_is_not_retried() {
    let server = mock(true).await;
    let [vod, _] = ports(&server);
    // CONNECT allowed to 443 only: tinyproxy answers 403 for the mock's port.
    let Some(proxy) = Tinyproxy::start(ProxyOptions::default()) else {
        return;
    };
    let (problem, e) = apply_through(&server, &proxy.url(), 2).await;
    assert_eq!(problem, ProxyProblem::TunnelRefused, "{e}");
    assert_eq!(e.attempts(), 1, "{e}");
    assert!(e.to_string().contains("refused to open a tunnel"), "{e}");
    let seen = proxy.requests_to(vod);
    assert_eq!(seen, [format!("CONNECT 127.0.0.1:{vod} HTTP/1.1")]);
    assert_eq!(server.count("ApplyUpload"), 0);
}

/// No proxy process needed: a proxy that is not listening, and the bypass list.
#[tokio::test]
async fn unreachable_proxy_and_bypass() {
    let server = mock(true).await;
    let closed = ClosedPort::new();
    let dead = closed.url("");
    let (problem, e) = apply_through(&server, &dead, 1).await;
    assert_eq!(problem, ProxyProblem::Unreachable, "{e}");
    assert_eq!(e.attempts(), 2, "retried like a connection failure: {e}");
    // The same dead proxy, bypassed for loopback: the upload goes direct.
    let client = server
        .client_builder()
        .with_proxy(&dead)
        .with_proxy_bypass("localhost, 127.0.0.0/8")
        .with_transfer_config(parts_of(MIB).with_concurrency(3))
        .build()
        .unwrap();
    upload_and_check(&server, &client).await;
}
