//! [`UploadRequest::from_url`]: the body of an HTTP(S) URL, streamed through the normal upload (single PUT or
//! multipart, bounded memory, no temp file).
//!
//! For a source the app can read but VOD cannot (a private network, a header-authenticated origin) — otherwise
//! `PullUpload` lets VOD fetch it. Tencent's Go SDK has `UploadFromUrl`, which reads the whole body and sends it as
//! one PUT; here the body goes through the reader path of the transfer engine: with a `Content-Length` the parts
//! are planned up front, without one the stream is cut into parts as it arrives, and at most (concurrency + 1)
//! parts are in memory at any time.

use crate::appserver::pull::{url_extension, without_query};
use crate::error::{Error, Result};
use crate::upload::{MEDIA_TYPES, UploadRequest};
use futures::TryStreamExt as _;
use std::time::Duration;

/// The client [`UploadRequest::from_url`] uses: connect timeout 10 s, read timeout 60 s (no whole-request
/// timeout: a large body may take long), at most 10 redirects.
fn default_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::limited(10))
        .build()
        .map_err(|e| Error::transport("build the download client", e))
}

/// A media type from a `Content-Type`, for URLs whose path has no usable extension.
fn type_from_content_type(ct: &str) -> Option<&'static str> {
    let mime = ct.split(';').next()?.trim().to_ascii_lowercase();
    Some(match mime.as_str() {
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/x-flv" => "flv",
        "video/webm" => "webm",
        "video/x-matroska" => "mkv",
        "video/x-msvideo" => "avi",
        "video/mpeg" => "mpeg",
        "video/mp2t" => "ts",
        "video/3gpp" => "3gp",
        "video/x-ms-wmv" => "wmv",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/x-m4a" => "m4a",
        "audio/aac" => "aac",
        "audio/flac" => "flac",
        "audio/wav" | "audio/x-wav" => "wav",
        "audio/ogg" | "video/ogg" => "ogg",
        _ => return None,
    })
}

impl UploadRequest {
    /// Uploads the body of `url` (http or https), streamed: `GET` now, body read part by part as the upload
    /// proceeds. See [`from_url_with`](Self::from_url_with).
    ///
    /// ```no_run
    /// # async fn demo(client: tencent_vod::VodClient) -> tencent_vod::Result<()> {
    /// use tencent_vod::UploadRequest;
    /// let req = UploadRequest::from_url("https://origin.internal/exports/show.mp4").await?
    ///     .with_procedure("LongVideoPreset");
    /// let outcome = client.upload(req).await?;
    /// # let _ = outcome; Ok(()) }
    /// ```
    pub async fn from_url(url: &str) -> Result<Self> {
        Self::from_url_with(&default_client()?, url).await
    }

    /// Like [`from_url`](Self::from_url) with your HTTP client (proxies, headers, TLS roots, timeouts).
    ///
    /// - The media type is the URL path's extension, else derived from `Content-Type` (`video/mp4` → `mp4`…), else
    ///   left for [`with_media_type`](Self::with_media_type); the media name is the file name without its
    ///   extension. HLS/DASH manifests are refused (their segments would not follow).
    /// - The size is the response's `Content-Length` when there is one (a body that then ends early or runs long
    ///   fails the upload); without it the length is unknown and the stream is cut into parts as it arrives.
    /// - A status other than 2xx is an [`Error::InvalidResponse`] with that status; a connection failure an
    ///   [`Error::Transport`]. Errors name the URL without its query string (pre-signed URLs keep credentials
    ///   there). A failure while the body streams fails the upload as an [`Error::Io`] on `<reader>`.
    /// - The body can be read once: an upload from a URL is not resumable across runs and is not replayed by a
    ///   credential-expiry restart.
    pub async fn from_url_with(client: &reqwest::Client, url: &str) -> Result<Self> {
        let parsed = url::Url::parse(url).map_err(|e| {
            Error::invalid(
                "url",
                format!("is not a URL ({e}); expected e.g. https://example.com/a.mp4"),
            )
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(Error::invalid("url", "must be an http or https URL"));
        }
        let shown = without_query(url);
        let operation = format!("GET {shown}");
        let ext_type = url_extension(&parsed).filter(|e| MEDIA_TYPES.contains(&e.as_str()));
        if let Some(t) = &ext_type
            && matches!(t.as_str(), "m3u8" | "mpd")
        {
            return Err(Error::invalid(
                "url",
                format!(
                    "{shown} is an HLS/DASH manifest; its segments cannot be streamed from a URL (use PullUpload for HLS)"
                ),
            ));
        }
        tracing::debug!(url = %shown, "opening the upload source");
        let resp = client
            .get(parsed.clone())
            .send()
            .await
            .map_err(|e| Error::transport(operation.clone(), e))?;
        let status = resp.status().as_u16();
        if !resp.status().is_success() {
            let body = crate::transport::http::read_body_capped(&operation, resp, 4096)
                .await
                .unwrap_or_default();
            return Err(Error::invalid_response(
                operation,
                status,
                format!("the source answered HTTP {status}"),
                &body,
                None,
            ));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let encoded = resp
            .headers()
            .get(reqwest::header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes() != b"identity");
        // With a content coding the client may decode, so the header no longer gives the body's length.
        let size = if encoded { None } else { resp.content_length() };
        let media_type = ext_type
            .or_else(|| {
                content_type
                    .as_deref()
                    .and_then(type_from_content_type)
                    .map(str::to_string)
            })
            .unwrap_or_default();
        let media_name = parsed
            .path_segments()
            .and_then(|mut s| s.next_back())
            .map(|last| {
                let decoded = percent_encoding::percent_decode_str(last)
                    .decode_utf8_lossy()
                    .into_owned();
                match decoded.rsplit_once('.') {
                    Some((stem, _)) if !stem.is_empty() => stem.to_string(),
                    _ => decoded,
                }
            })
            .filter(|n| !n.is_empty());
        tracing::debug!(url = %shown, ?size, media_type, "upload source open");
        let stream = resp
            .bytes_stream()
            .map_err(|e| std::io::Error::other(e.without_url()));
        let reader = tokio_util::io::StreamReader::new(Box::pin(stream));
        let mut req = UploadRequest::from_reader(reader, size, media_type);
        if let Some(n) = media_name {
            req = req.with_media_name(n);
        }
        Ok(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(type_from_content_type("video/mp4; codecs=x"), Some("mp4"));
        assert_eq!(type_from_content_type("VIDEO/QUICKTIME"), Some("mov"));
        assert_eq!(type_from_content_type("application/octet-stream"), None);
    }
}
