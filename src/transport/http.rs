//! The crate's HTTP client and what every request shares: the response-size cap, redirect refusal and the
//! "credentials over plain HTTP" warning.

use super::endpoint::{authority, is_loopback};
use crate::error::{Error, Result};

/// The largest response body the crate reads (VOD envelopes and COS XML are a few KiB; anything near this is a
/// misbehaving server or proxy, and reading it all would only exhaust memory).
pub(crate) const MAX_RESPONSE_BODY: usize = 16 << 20;

/// Reads a response body of at most `max` bytes; a larger one (by `Content-Length` or as it streams) is an
/// [`Error::InvalidResponse`] rather than an unbounded allocation.
pub(crate) async fn read_body_capped(
    operation: &str,
    mut resp: reqwest::Response,
    max: usize,
) -> Result<bytes::Bytes> {
    let status = resp.status().as_u16();
    let request_id = resp
        .headers()
        .get("x-cos-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let too_large = |what: String, head: &[u8]| {
        Error::invalid_response(
            operation,
            status,
            format!("response body {what} exceeds the {max} byte limit"),
            head,
            request_id.clone(),
        )
    };
    if let Some(n) = resp.content_length()
        && n > max as u64
    {
        return Err(too_large(format!("of {n} bytes"), b""));
    }
    let mut buf = bytes::BytesMut::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::transport(operation, e))?
    {
        if buf.len() + chunk.len() > max {
            return Err(too_large("streamed past the limit".into(), &buf));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// Logs one warning per client the first time credentials (a signature, a session token) are sent over plain
/// HTTP to a host that is not a loopback address. Plain HTTP stays allowed (local mocks and proxies need it).
#[derive(Debug, Default)]
pub(crate) struct PlainHttpWarning(std::sync::atomic::AtomicBool);

impl PlainHttpWarning {
    /// Checks a request URL about to carry credentials for `service` (`VOD` or `COS`).
    pub(crate) fn check(&self, service: &str, url: &url::Url) {
        use std::sync::atomic::Ordering;
        if url.scheme() == "http" && !is_loopback(url) && !self.0.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                service,
                host = %authority(url),
                "credentials are sent over plain HTTP to a non-loopback host: anyone on the path can read the \
                 session token and replay signed requests; use an https:// endpoint"
            );
        }
    }
}

/// The error for a 3xx answer: names the operation and the `Location` host, never its path or query.
pub(crate) fn redirect_error(
    operation: &str,
    status: u16,
    request_url: &url::Url,
    headers: &reqwest::header::HeaderMap,
) -> Error {
    let location_host = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|loc| request_url.join(loc.trim()).ok())
        .filter(|u| u.host_str().is_some())
        .map(|u| authority(&u));
    tracing::warn!(
        operation,
        status,
        location_host = location_host.as_deref().unwrap_or("-"),
        "redirect refused"
    );
    Error::Redirect {
        operation: operation.to_string(),
        status,
        location_host,
        followed: false,
    }
}

/// The error for a response that came from another URL than the one requested: a caller-supplied HTTP client
/// followed a redirect.
pub(crate) fn followed_redirect(operation: &str, status: u16, final_url: &url::Url) -> Error {
    tracing::warn!(
        operation,
        location_host = %authority(final_url),
        "the HTTP client followed a redirect (build it with redirect::Policy::none())"
    );
    Error::Redirect {
        operation: operation.to_string(),
        status,
        location_host: Some(authority(final_url)),
        followed: true,
    }
}
