//! The COS XML API request signature (`q-sign-algorithm=sha1`).
//!
//! ```text
//! SignKey      = hex(HMAC-SHA1(SecretKey, KeyTime))
//! HttpString   = lower(method) \n /decoded-object-key \n HttpParameters \n HttpHeaders \n
//! StringToSign = sha1 \n KeyTime \n hex(SHA1(HttpString)) \n
//! Signature    = hex(HMAC-SHA1(SignKey, StringToSign))
//! ```
//! Parameter and header names are URL-encoded then lower-cased; values URL-encoded (only `A-Za-z0-9-_.~` kept);
//! both sorted by encoded name. The object path is the **decoded** key (`/exampleobject(腾讯云)`).

use super::{hmac_sha1, join, sha1_hex};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::borrow::Cow;
use std::fmt;

const COS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes everything but `A-Z a-z 0-9 - _ . ~` (upper-case hex), as the COS signature requires.
pub fn url_encode(s: &str) -> String {
    Cow::from(utf8_percent_encode(s, COS_ENCODE)).into_owned()
}

/// Object-path encoding on the wire: like [`url_encode`] but `/` is kept (COS SDKs: `quote(key, '/-_.~')`).
const PATH_ENCODE: &AsciiSet = &COS_ENCODE.remove(b'/');

/// The URL path for an object key: `/` + the key percent-encoded with `/` kept.
///
/// `./` and `../` segments would be normalised away by HTTP stacks, so a `.` that starts a segment made only of
/// dots is encoded as `%2E`.
pub fn object_path_on_wire(key: &str) -> String {
    let encoded: Vec<String> = key
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.chars().all(|c| c == '.') {
                seg.replace('.', "%2E")
            } else {
                utf8_percent_encode(seg, PATH_ENCODE).to_string()
            }
        })
        .collect();
    format!("/{}", encoded.join("/"))
}

/// Whether a header is signed by this crate's COS requests: `host`, `content-*` (length, type, md5…),
/// `cache-control`, `expires`, every `x-cos-*` (the security token included). Hop-by-hop and mutable headers
/// (`user-agent`, `accept-encoding`, `connection`, `date`) are never signed.
pub fn should_sign_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    matches!(
        n.as_str(),
        "host"
            | "content-length"
            | "content-type"
            | "content-md5"
            | "content-disposition"
            | "content-encoding"
            | "cache-control"
            | "expires"
            | "range"
            | "if-match"
            | "if-none-match"
            | "origin"
    ) || n.starts_with("x-cos-")
        || n.starts_with("x-ci-")
}

/// What a COS signature covers.
#[derive(Debug, Clone)]
pub struct CosRequest<'a> {
    /// HTTP method (any case).
    pub method: &'a str,
    /// `/` + the **decoded** object key (e.g. `/dir/视频.mp4`), or `/` for bucket operations.
    pub path: &'a str,
    /// Query parameters, decoded (valueless ones like `uploads` have value `""`).
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign (name, raw value).
    pub headers: &'a [(&'a str, &'a str)],
    /// `(start, end)` unix seconds: both `q-sign-time` and `q-key-time`.
    pub key_time: (i64, i64),
}

/// Every intermediate value of a COS signature.
#[derive(Clone, PartialEq, Eq)]
pub struct CosSignature {
    /// `start;end`.
    pub key_time: String,
    /// `hex(HMAC-SHA1(SecretKey, KeyTime))` (a derived secret: hidden from `Debug`).
    pub sign_key: String,
    /// Encoded, lower-cased, sorted parameter names joined by `;`.
    pub url_param_list: String,
    /// `k=v` pairs joined by `&`.
    pub http_parameters: String,
    /// Encoded, lower-cased, sorted header names joined by `;`.
    pub header_list: String,
    /// `k=v` header pairs joined by `&`.
    pub http_headers: String,
    /// The http string.
    pub http_string: String,
    /// `hex(SHA1(http_string))`.
    pub sha1_http_string: String,
    /// The string to sign.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
    /// The full `Authorization` header value.
    pub authorization: String,
}

impl fmt::Debug for CosSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CosSignature")
            .field("key_time", &self.key_time)
            .field("header_list", &self.header_list)
            .field("url_param_list", &self.url_param_list)
            .field("signature", &"***")
            .finish_non_exhaustive()
    }
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> (String, String) {
    let mut encoded: Vec<(String, Cow<'a, str>)> = pairs
        .map(|(k, v)| {
            let mut k = url_encode(k);
            k.make_ascii_lowercase();
            (k, utf8_percent_encode(v, COS_ENCODE).into())
        })
        .collect();
    encoded.sort_unstable();
    let mut list = String::with_capacity(encoded.iter().map(|(k, _)| k.len() + 1).sum());
    let mut joined =
        String::with_capacity(encoded.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
    for (i, (k, v)) in encoded.iter().enumerate() {
        if i > 0 {
            list.push(';');
            joined.push('&');
        }
        list.push_str(k);
        joined.push_str(k);
        joined.push('=');
        joined.push_str(v);
    }
    (list, joined)
}

/// Signs a COS request.
pub fn sign(secret_id: &str, secret_key: &str, req: &CosRequest<'_>) -> CosSignature {
    let key_time = format!("{};{}", req.key_time.0, req.key_time.1);
    let sign_key = super::hex_lower(&hmac_sha1(secret_key.as_bytes(), key_time.as_bytes()));
    let (url_param_list, http_parameters) = encode_pairs(req.query.iter().copied());
    let (header_list, http_headers) = encode_pairs(req.headers.iter().copied());
    let method = req.method.to_ascii_lowercase();
    let http_string = join(
        &[&method, req.path, &http_parameters, &http_headers, ""],
        "\n",
    );
    let sha1_http_string = sha1_hex(http_string.as_bytes());
    let string_to_sign = join(&["sha1", &key_time, &sha1_http_string, ""], "\n");
    let signature = super::hex_lower(&hmac_sha1(sign_key.as_bytes(), string_to_sign.as_bytes()));
    let authorization = join(
        &[
            "q-sign-algorithm=sha1&q-ak=",
            secret_id,
            "&q-sign-time=",
            &key_time,
            "&q-key-time=",
            &key_time,
            "&q-header-list=",
            &header_list,
            "&q-url-param-list=",
            &url_param_list,
            "&q-signature=",
            &signature,
        ],
        "",
    );
    CosSignature {
        key_time,
        sign_key,
        url_param_list,
        http_parameters,
        header_list,
        http_headers,
        http_string,
        sha1_http_string,
        string_to_sign,
        signature,
        authorization,
    }
}

/// The fields of a COS `Authorization` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// `q-ak`.
    pub secret_id: String,
    /// `q-sign-time`.
    pub sign_time: (i64, i64),
    /// `q-key-time`.
    pub key_time: (i64, i64),
    /// `q-header-list`, split.
    pub header_list: Vec<String>,
    /// `q-url-param-list`, split.
    pub url_param_list: Vec<String>,
    /// `q-signature`.
    pub signature: String,
}

fn parse_time(s: &str) -> Option<(i64, i64)> {
    let (a, b) = s.split_once(';')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Parses `q-sign-algorithm=sha1&q-ak=…&q-sign-time=…&q-key-time=…&q-header-list=…&q-url-param-list=…&q-signature=…`.
pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization> {
    let mut alg = None;
    let (mut ak, mut st, mut kt, mut hl, mut pl, mut sig) = (None, None, None, None, None, None);
    for pair in value.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "q-sign-algorithm" => alg = Some(v),
            "q-ak" => ak = Some(v),
            "q-sign-time" => st = Some(v),
            "q-key-time" => kt = Some(v),
            "q-header-list" => hl = Some(v),
            "q-url-param-list" => pl = Some(v),
            "q-signature" => sig = Some(v),
            _ => {}
        }
    }
    if alg? != "sha1" {
        return None;
    }
    let split = |s: &str| -> Vec<String> {
        if s.is_empty() {
            Vec::new()
        } else {
            s.split(';').map(str::to_string).collect()
        }
    };
    Some(ParsedAuthorization {
        secret_id: ak?.to_string(),
        sign_time: parse_time(st?)?,
        key_time: parse_time(kt?)?,
        header_list: split(hl.unwrap_or("")),
        url_param_list: split(pl.unwrap_or("")),
        signature: sig?.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_path_keeps_slashes_and_encodes_dot_segments() {
        assert_eq!(
            object_path_on_wire("a/b c/视.mp4"),
            "/a/b%20c/%E8%A7%86.mp4"
        );
        assert_eq!(object_path_on_wire("a/./b/../c"), "/a/%2E/b/%2E%2E/c");
    }

    #[test]
    fn parse_roundtrip() {
        let s = sign(
            "AKID",
            "key",
            &CosRequest {
                method: "PUT",
                path: "/k",
                query: &[("partNumber", "1"), ("uploadId", "x y")],
                headers: &[("Host", "b.cos.r.myqcloud.com")],
                key_time: (1, 2),
            },
        );
        assert_eq!(s.url_param_list, "partnumber;uploadid");
        assert_eq!(s.http_parameters, "partnumber=1&uploadid=x%20y");
        let p = parse_authorization(&s.authorization).unwrap();
        assert_eq!(p.secret_id, "AKID");
        assert_eq!(p.key_time, (1, 2));
        assert_eq!(p.header_list, vec!["host"]);
        assert_eq!(p.signature, s.signature);
    }
}
