//! TC3-HMAC-SHA256 ("signature v3") for Tencent Cloud API 3.0.
//!
//! ```text
//! CanonicalRequest = Method \n / \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n hex(SHA256(payload))
//! StringToSign     = TC3-HMAC-SHA256 \n Timestamp \n Date/service/tc3_request \n hex(SHA256(CanonicalRequest))
//! SecretSigning    = HMAC(HMAC(HMAC("TC3"+SecretKey, Date), service), "tc3_request")
//! Signature        = hex(HMAC(SecretSigning, StringToSign))
//! ```
//! `Date` is the **UTC** date of the timestamp. `X-TC-Token` is sent but not signed.

use super::{hmac_sha256, join, sha256_hex};
use std::borrow::Cow;
use std::fmt;

/// The algorithm name.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";

/// The payload hash input: the exact body, or `UNSIGNED-PAYLOAD` (header `X-TC-Content-SHA256: UNSIGNED-PAYLOAD`).
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The exact bytes of the body (`b""` for GET).
    Bytes(&'a [u8]),
    /// Hash the literal `UNSIGNED-PAYLOAD` instead of the body.
    Unsigned,
}

/// What a TC3 signature covers.
#[derive(Debug, Clone)]
pub struct Tc3Request<'a> {
    /// `POST` or `GET`.
    pub method: &'a str,
    /// The canonical URI; always `/` for API 3.0.
    pub path: &'a str,
    /// The query string exactly as sent (`""` for POST).
    pub query: &'a str,
    /// Headers to sign as (name, value); names are lower-cased, values trimmed and lower-cased, then sorted.
    /// Must include `content-type` and `host`.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub payload: Payload<'a>,
    /// Service name, `vod`.
    pub service: &'a str,
    /// `X-TC-Timestamp`, unix seconds.
    pub timestamp: i64,
}

/// Every intermediate value of a TC3 signature.
#[derive(Clone, PartialEq, Eq)]
pub struct Tc3Signature {
    /// UTC `yyyy-mm-dd` of the timestamp.
    pub date: String,
    /// `hex(SHA256(payload))`.
    pub hashed_request_payload: String,
    /// `name:value\n` per signed header.
    pub canonical_headers: String,
    /// Signed header names joined by `;`.
    pub signed_headers: String,
    /// The canonical request.
    pub canonical_request: String,
    /// `hex(SHA256(canonical_request))`.
    pub hashed_canonical_request: String,
    /// `date/service/tc3_request`.
    pub credential_scope: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The lower-case hex signature.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

impl fmt::Debug for Tc3Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tc3Signature")
            .field("credential_scope", &self.credential_scope)
            .field("signed_headers", &self.signed_headers)
            .field("signature", &"***")
            .finish_non_exhaustive()
    }
}

/// UTC `yyyy-mm-dd` of a unix timestamp.
pub fn utc_date(timestamp: i64) -> String {
    let dt = time::OffsetDateTime::from_unix_timestamp(timestamp)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let d = dt.date();
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The derived keys `SecretDate`, `SecretService`, `SecretSigning`.
pub fn derive_keys(secret_key: &str, date: &str, service: &str) -> [[u8; 32]; 3] {
    let mut key = Vec::with_capacity(3 + secret_key.len());
    key.extend_from_slice(b"TC3");
    key.extend_from_slice(secret_key.as_bytes());
    let secret_date = hmac_sha256(&key, date.as_bytes());
    let secret_service = hmac_sha256(&secret_date, service.as_bytes());
    let secret_signing = hmac_sha256(&secret_service, b"tc3_request");
    [secret_date, secret_service, secret_signing]
}

/// Canonical headers and the signed-header list from (name, value) pairs.
pub fn canonical_headers(headers: &[(&str, &str)]) -> (String, String) {
    let mut hs: Vec<(Cow<'_, str>, Cow<'_, str>)> = headers
        .iter()
        .map(|(k, v)| (ascii_lower(k.trim()), lower(v.trim())))
        .collect();
    hs.sort_unstable();
    let len: usize = hs.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    let mut canonical = String::with_capacity(len);
    let mut signed = String::with_capacity(len);
    for (i, (k, v)) in hs.iter().enumerate() {
        canonical.push_str(k);
        canonical.push(':');
        canonical.push_str(v);
        canonical.push('\n');
        if i > 0 {
            signed.push(';');
        }
        signed.push_str(k);
    }
    (canonical, signed)
}

/// `str::to_ascii_lowercase`, borrowing when there is nothing to change.
fn ascii_lower(v: &str) -> Cow<'_, str> {
    if v.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(v.to_ascii_lowercase())
    } else {
        Cow::Borrowed(v)
    }
}

/// `str::to_lowercase` (same output), borrowing when an ASCII value has nothing to change.
fn lower(v: &str) -> Cow<'_, str> {
    if v.is_ascii() {
        ascii_lower(v)
    } else {
        Cow::Owned(v.to_lowercase())
    }
}

/// Signs a request with TC3-HMAC-SHA256.
pub fn sign(secret_id: &str, secret_key: &str, req: &Tc3Request<'_>) -> Tc3Signature {
    let date = utc_date(req.timestamp);
    let hashed_request_payload = match req.payload {
        Payload::Bytes(b) => sha256_hex(b),
        Payload::Unsigned => sha256_hex(b"UNSIGNED-PAYLOAD"),
    };
    let (canonical_headers, signed_headers) = canonical_headers(req.headers);
    let method = req.method.to_ascii_uppercase();
    let canonical_request = join(
        &[
            &method,
            req.path,
            req.query,
            &canonical_headers,
            &signed_headers,
            &hashed_request_payload,
        ],
        "\n",
    );
    let hashed_canonical_request = sha256_hex(canonical_request.as_bytes());
    let credential_scope = join(&[&date, req.service, "tc3_request"], "/");
    let string_to_sign = join(
        &[
            ALGORITHM,
            &req.timestamp.to_string(),
            &credential_scope,
            &hashed_canonical_request,
        ],
        "\n",
    );
    let [_, _, secret_signing] = derive_keys(secret_key, &date, req.service);
    let signature = super::hex_lower(&hmac_sha256(&secret_signing, string_to_sign.as_bytes()));
    let authorization = join(
        &[
            ALGORITHM,
            " Credential=",
            secret_id,
            "/",
            &credential_scope,
            ", SignedHeaders=",
            &signed_headers,
            ", Signature=",
            &signature,
        ],
        "",
    );
    Tc3Signature {
        date,
        hashed_request_payload,
        canonical_headers,
        signed_headers,
        canonical_request,
        hashed_canonical_request,
        credential_scope,
        string_to_sign,
        signature,
        authorization,
    }
}

/// The parts of a TC3 `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// SecretId from `Credential=`.
    pub secret_id: String,
    /// Date from the credential scope.
    pub date: String,
    /// Service from the credential scope.
    pub service: String,
    /// Signed header names.
    pub signed_headers: Vec<String>,
    /// The hex signature.
    pub signature: String,
}

/// Parses `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=hex`.
pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization> {
    let rest = value.strip_prefix(ALGORITHM)?.trim_start();
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let mut scope = credential?.rsplitn(4, '/');
    let terminator = scope.next()?;
    let service = scope.next()?;
    let date = scope.next()?;
    let secret_id = scope.next()?;
    if terminator != "tc3_request" || secret_id.is_empty() {
        return None;
    }
    Some(ParsedAuthorization {
        secret_id: secret_id.to_string(),
        date: date.to_string(),
        service: service.to_string(),
        signed_headers: signed?.split(';').map(str::to_string).collect(),
        signature: signature?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_date_is_utc() {
        assert_eq!(utc_date(1551113065), "2019-02-25");
        assert_eq!(utc_date(1700000000), "2023-11-14");
        // 23:59:59 UTC vs 00:00:00 UTC the next day.
        assert_eq!(utc_date(1704067199), "2023-12-31");
        assert_eq!(utc_date(1704067200), "2024-01-01");
    }

    #[test]
    fn parses_authorization() {
        let a = "TC3-HMAC-SHA256 Credential=AKID/x/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=abc";
        let p = parse_authorization(a).unwrap();
        assert_eq!(p.secret_id, "AKID/x");
        assert_eq!(p.date, "2019-02-25");
        assert_eq!(p.signed_headers, vec!["content-type", "host"]);
        assert!(parse_authorization("Bearer x").is_none());
    }
}
