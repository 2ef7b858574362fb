//! TLS for the mock ([`MockServerBuilder::with_tls`](crate::MockServerBuilder::with_tls)): a throw-away CA and a
//! server certificate signed by it, generated at start, and the accept loop that serves the VOD and COS routers
//! over rustls with HTTP/1.1 or HTTP/2 (chosen by ALPN).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use tencent_vod::error::{Error, Result};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a client may take to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the mock serves TLS with.
pub(crate) struct MockTls {
    /// The CA certificate (PEM) a client must trust.
    pub(crate) ca_pem: String,
    pub(crate) acceptor: TlsAcceptor,
}

fn tls_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::invalid("tls", format!("cannot {what}: {e}"))
}

/// Generates a CA (`tencent-vod-mock CA <random>`) and a server certificate for `localhost`, `127.0.0.1`, `::1` and `ip`
/// (when it is a specific address), and the acceptor offering `alpn` (e.g. `h2`, `http/1.1`).
pub(crate) fn generate(ip: IpAddr, alpn: &[&[u8]]) -> Result<MockTls> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    let ca_key = KeyPair::generate().map_err(|e| tls_error("generate the CA key", e))?;
    let mut ca = CertificateParams::default();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // A name of its own per server: a client given another mock's CA then sees an unknown issuer, as with any
    // unrelated CA (same-named CAs would fail on the signature instead).
    ca.distinguished_name.push(
        DnType::CommonName,
        format!("tencent-vod-mock CA {:016x}", fastrand::u64(..)),
    );
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca
        .self_signed(&ca_key)
        .map_err(|e| tls_error("sign the CA certificate", e))?;

    let leaf_key = KeyPair::generate().map_err(|e| tls_error("generate the server key", e))?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, "tencent-vod-mock");
    let mut sans = vec![
        SanType::DnsName(
            "localhost"
                .try_into()
                .map_err(|e| tls_error("name localhost", e))?,
        ),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        SanType::IpAddress(IpAddr::V6(Ipv6Addr::LOCALHOST)),
    ];
    if !ip.is_unspecified() && !ip.is_loopback() {
        sans.push(SanType::IpAddress(ip));
    }
    leaf.subject_alt_names = sans;
    leaf.is_ca = IsCa::ExplicitNoCa;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf_cert = leaf
        .signed_by(&leaf_key, &issuer)
        .map_err(|e| tls_error("sign the server certificate", e))?;

    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("configure TLS", e))?
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone(), ca_cert.der().clone()], key)
        .map_err(|e| tls_error("configure the server certificate", e))?;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(MockTls {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

/// TLS connections accepted, by the protocol ALPN settled on (`h2`, `http/1.1`, or `-` when the client offered
/// none).
pub(crate) type AlpnCounts = Arc<std::sync::Mutex<std::collections::BTreeMap<String, u64>>>;

/// Serves `router` on `listener` over TLS until `shutdown` turns true; connections still open then get a few
/// seconds to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    router: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    alpn: AlpnCounts,
) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    use hyper_util::server::conn::auto;
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Large HTTP/2 windows, so the flow control of the mock never limits a client's parallel uploads.
    builder
        .http2()
        .initial_stream_window_size(16 << 20)
        .initial_connection_window_size(64 << 20)
        .max_frame_size(1 << 20);
    loop {
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors and the like: do not spin.
                    tracing::debug!(error = %e, "mock TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = async { shutdown.wait_for(|v| *v).await.map(|_| ()) } => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        // HTTP/2 carries the host in the `:authority` pseudo-header, not in `Host`: give the handlers (and the
        // signature checks, which cover `host`) the header they read, as the real services do.
        let service =
            hyper_util::service::TowerToHyperService::new(tower::ServiceExt::map_request(
                router.clone(),
                |mut req: axum::http::Request<hyper::body::Incoming>| {
                    if !req.headers().contains_key(axum::http::header::HOST)
                        && let Some(authority) = req.uri().authority()
                        && let Ok(v) = axum::http::HeaderValue::from_str(authority.as_str())
                    {
                        req.headers_mut().insert(axum::http::header::HOST, v);
                    }
                    req
                },
            ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let alpn = alpn.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "mock TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("mock TLS handshake timed out");
                    return;
                }
            };
            let protocol = tls
                .get_ref()
                .1
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_else(|| "-".to_string());
            *alpn
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(protocol)
                .or_default() += 1;
            let conn = builder
                .serve_connection(TokioIo::new(tls), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "mock TLS connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(Duration::from_secs(5), graceful.shutdown()).await;
}
