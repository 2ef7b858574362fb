//! HTTPS end to end: the mock serves TLS with a CA generated at start; the client trusts it through the builder.
//! The whole upload (ApplyUpload, multipart, CommitUpload) runs over TLS; an untrusted certificate or a failed
//! handshake is a typed [`Error::Tls`], never retried.

mod support;

use support::*;

use tencent_vod::cos::{CosClient, UploadOptions, UploadSource};
use tencent_vod::error::TlsProblem;
use tencent_vod::{Error, UploadRequest};
use tencent_vod_mock::MockServer;

async fn tls_server() -> MockServer {
    MockServer::builder()
        .with_tls(true)
        .with_min_part_size(64 * 1024)
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn full_upload_over_https() {
    let server = tls_server().await;
    assert!(server.vod_endpoint().starts_with("https://"));
    assert!(server.cos_endpoint().starts_with("https://"));
    let client = server
        .client_builder()
        .with_transfer_config(parts_of(MIB).with_concurrency(4))
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bytes = data((4 * MIB + 4321) as usize, 16);
    let cover = data(30_000, 17);
    let media = write(dir.path(), "movie.mp4", &bytes);
    let poster = write(dir.path(), "poster.jpg", &cover);
    let out = client
        .upload(UploadRequest::from_path(&media).with_cover_path(&poster))
        .await
        .unwrap();
    assert!(!out.file_id.is_empty());
    let stored = server.object(&out.bucket, &out.media_key).unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    let stored_cover = server
        .object(&out.bucket, out.cover_key.as_deref().unwrap())
        .unwrap();
    assert_eq!(stored_cover.sha256, sha256_hex(&cover));
    for (kind, n) in [
        ("ApplyUpload", 1),
        ("InitiateMultipartUpload", 1),
        ("UploadPart", 5),
        ("CompleteMultipartUpload", 1),
        ("PutObject", 1),
        ("CommitUpload", 1),
    ] {
        assert_eq!(server.count(kind), n, "{kind}");
    }
    // Every connection was TLS and spoke HTTP/1.1: the client's choice for COS parts (one connection per part
    // in flight), although the mock offers h2 as well.
    let conns = server.tls_connections();
    assert!(
        conns.get("http/1.1").copied().unwrap_or(0) >= 2,
        "{conns:?}"
    );
    assert_eq!(conns.len(), 1, "{conns:?}");
}

#[tokio::test]
async fn standalone_cos_client_over_https() {
    let server = tls_server().await;
    let s = server.create_cos_session(None);
    let cos = CosClient::builder(&s.bucket, &s.region)
        .with_credential(s.credential.credential())
        .with_credential_expiry(s.credential.expired_time)
        .with_endpoint(server.cos_endpoint())
        .with_root_certificate(server.ca_certificate_pem().unwrap())
        .build()
        .unwrap();
    let bytes = data((2 * MIB + 7) as usize, 18);
    let out = cos
        .upload(
            "tls/object.bin",
            UploadSource::bytes(bytes.clone()),
            UploadOptions::default().with_config(
                tencent_vod::cos::TransferConfig::default()
                    .with_part_size(MIB)
                    .with_multipart_threshold(MIB),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 3);
    let stored = server.object(&s.bucket, "tls/object.bin").unwrap();
    assert_eq!(stored.sha256, sha256_hex(&bytes));
    // The CA also loads from a file (what `tvod mock --tls` prints).
    let from_file = CosClient::builder(&s.bucket, &s.region)
        .with_credential(s.credential.credential())
        .with_endpoint(server.cos_endpoint())
        .with_root_certificate_file(server.ca_file().unwrap())
        .with_built_in_root_certificates(false)
        .build()
        .unwrap();
    from_file
        .upload(
            "tls/small.bin",
            UploadSource::bytes(&b"hello"[..]),
            UploadOptions::default(),
        )
        .await
        .unwrap();
}

/// What each client was told to trust, and the certificate verdict expected from a TLS mock.
#[tokio::test]
async fn untrusted_certificates_are_typed_errors_and_not_retried() {
    let server = tls_server().await;
    let other = tls_server().await;
    let plain = MockServer::start().await.unwrap();
    let other_ca = other.ca_certificate_pem().unwrap().to_string();
    // An https:// endpoint on the plain-HTTP mock: the peer does not speak TLS.
    let plain_as_https = plain.vod_endpoint().replacen("http://", "https://", 1);
    let cases: Vec<(&str, tencent_vod::VodClientBuilder, TlsProblem, String)> = vec![
        (
            "platform roots only",
            server.client_builder_without_ca(),
            TlsProblem::UnknownIssuer,
            server.vod_endpoint(),
        ),
        (
            "another mock's CA only",
            server
                .client_builder_without_ca()
                .with_root_certificate(&other_ca)
                .with_built_in_root_certificates(false),
            TlsProblem::UnknownIssuer,
            server.vod_endpoint(),
        ),
        (
            "another mock's CA besides the platform roots",
            server
                .client_builder_without_ca()
                .with_root_certificate(&other_ca),
            TlsProblem::UnknownIssuer,
            server.vod_endpoint(),
        ),
        (
            "https to a plain-HTTP port",
            plain.client_builder().with_vod_endpoint(&plain_as_https),
            TlsProblem::Handshake,
            plain_as_https.clone(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let media = write(dir.path(), "a.mp4", &data(1000, 19));
    for (what, builder, problem, endpoint) in cases {
        let client = builder.with_retry(retry(3)).build().unwrap();
        let e = client
            .upload(UploadRequest::from_path(&media))
            .await
            .expect_err(what);
        let Error::Tls(t) = &e else {
            panic!("{what}: expected Error::Tls, got {e:?}")
        };
        assert_eq!(t.problem, problem, "{what}: {e}");
        assert_eq!(t.operation, "ApplyUpload", "{what}");
        let host = endpoint.trim_start_matches("https://");
        assert_eq!(t.host.as_deref(), Some(host), "{what}");
        assert_eq!(
            e.attempts(),
            1,
            "{what}: a certificate problem is not retried"
        );
        assert!(!e.is_retryable(), "{what}");
        let msg = e.to_string();
        assert!(
            msg.contains("TLS with") && msg.contains(host),
            "{what}: {msg}"
        );
        if problem == TlsProblem::UnknownIssuer {
            assert!(
                msg.contains("certificate not trusted") && msg.contains("with_root_certificate"),
                "{what}: {msg}"
            );
        }
    }
    assert_eq!(server.count("ApplyUpload"), 0, "no request got through");
    assert_eq!(plain.count("ApplyUpload"), 0);

    // COS with the wrong CA: the error names the object operation.
    let s = server.create_cos_session(None);
    let cos = CosClient::builder(&s.bucket, &s.region)
        .with_credential(s.credential.credential())
        .with_endpoint(server.cos_endpoint())
        .with_root_certificate(&other_ca)
        .with_retry(retry(3))
        .build()
        .unwrap();
    let e = cos
        .upload(
            "k/v.bin",
            UploadSource::bytes(&b"x"[..]),
            UploadOptions::default(),
        )
        .await
        .unwrap_err();
    let Error::Tls(t) = &e else {
        panic!("expected Error::Tls, got {e:?}")
    };
    assert_eq!(t.problem, TlsProblem::UnknownIssuer);
    assert!(
        t.operation.contains("PutObject") && t.operation.contains("k/v.bin"),
        "{e}"
    );
    assert_eq!(e.attempts(), 1);
    assert_eq!(server.count("PutObject"), 0);
}

#[tokio::test]
async fn root_certificate_and_proxy_options_are_checked() {
    let server = tls_server().await;
    let ca = server.ca_certificate_pem().unwrap().to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // (what, builder, expected field, expected words)
    let cases: Vec<(&str, tencent_vod::VodClientBuilder, &str, &str)> = vec![
        (
            "not a certificate",
            server.client_builder().with_root_certificate("hello"),
            "root_certificate",
            "neither PEM",
        ),
        (
            "a private key",
            server.client_builder().with_root_certificate(
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
            ),
            "root_certificate",
            "no -----BEGIN CERTIFICATE",
        ),
        (
            "no roots at all",
            server
                .client_builder_without_ca()
                .with_built_in_root_certificates(false),
            "root_certificate",
            "no root certificate was added",
        ),
        (
            "roots with a caller's client",
            server.client_builder().with_http_client(http.clone()),
            "http_client",
            "with_root_certificate",
        ),
        (
            "a proxy with a caller's client",
            server
                .client_builder_without_ca()
                .with_proxy("http://127.0.0.1:3128")
                .with_http_client(http),
            "http_client",
            "with_proxy",
        ),
        (
            "a SOCKS proxy",
            server.client_builder().with_proxy("socks5://127.0.0.1:1080"),
            "proxy",
            "SOCKS proxies are not supported",
        ),
        (
            "a proxy URL with a path",
            server
                .client_builder()
                .with_proxy("http://user:hunter2@127.0.0.1:3128/x"),
            "proxy",
            "no path",
        ),
    ];
    for (what, builder, field, words) in cases {
        let dbg = format!("{builder:?}");
        assert!(
            !dbg.contains("hunter2"),
            "{what}: proxy password in Debug: {dbg}"
        );
        let e = builder.build().expect_err(what);
        let msg = e.to_string();
        assert!(
            matches!(&e, Error::InvalidInput { field: f, .. } if f == field),
            "{what}: {e:?}"
        );
        assert!(msg.contains(words), "{what}: {msg}");
        assert!(
            !msg.contains("hunter2"),
            "{what}: proxy password in the error: {msg}"
        );
    }
    let e = server
        .client_builder_without_ca()
        .with_root_certificate_file("/nonexistent/ca.pem")
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, Error::Io { path, .. } if path.ends_with("ca.pem")),
        "{e:?}"
    );
    // The right CA as a file works, alone.
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &ca).unwrap();
    let client = server
        .client_builder_without_ca()
        .with_root_certificate_file(file.path())
        .with_built_in_root_certificates(false)
        .build()
        .unwrap();
    client
        .api()
        .apply_upload(&tencent_vod::vod::ApplyUploadRequest::new("mp4"))
        .await
        .unwrap();
}

trait WithoutCa {
    /// The mock's client builder, without trusting its CA.
    fn client_builder_without_ca(&self) -> tencent_vod::VodClientBuilder;
}

impl WithoutCa for MockServer {
    fn client_builder_without_ca(&self) -> tencent_vod::VodClientBuilder {
        tencent_vod::VodClient::builder()
            .with_credential(self.credential())
            .with_region(self.region())
            .with_vod_endpoint(self.vod_endpoint())
            .with_cos_endpoint(self.cos_endpoint())
    }
}
