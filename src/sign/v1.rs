//! The legacy v1 signature (`HmacSHA1` / `HmacSHA256`).
//!
//! ```text
//! StringToSign = METHOD + host + path + "?" + join("&", k=v for k in sorted(params))   (raw values)
//! Signature    = Base64(HMAC-SHA1|SHA256(SecretKey, StringToSign))
//! ```
//! Parameters include the common ones (`Action, Version, Region, Timestamp, Nonce, SecretId`, optional
//! `SignatureMethod, Token, Language`) but not `Signature`. Sorting is by byte order of the name.

use super::{hmac_sha1, hmac_sha256};
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The v1 HMAC algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `HmacSHA1` (the default when `SignatureMethod` is absent).
    HmacSha1,
    /// `HmacSHA256`.
    HmacSha256,
}

impl Algorithm {
    /// The `SignatureMethod` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::HmacSha1 => "HmacSHA1",
            Algorithm::HmacSha256 => "HmacSHA256",
        }
    }

    /// Parses a `SignatureMethod` value (absent means `HmacSHA1`).
    pub fn from_param(v: Option<&str>) -> Option<Self> {
        match v {
            None | Some("HmacSHA1") => Some(Algorithm::HmacSha1),
            Some("HmacSHA256") => Some(Algorithm::HmacSha256),
            _ => None,
        }
    }
}

/// The string to sign from the method, host, path and every parameter except `Signature`.
pub fn string_to_sign<K: AsRef<str>, V: AsRef<str>>(
    method: &str,
    host: &str,
    path: &str,
    params: &[(K, V)],
) -> String {
    let mut sorted: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .filter(|(k, _)| *k != "Signature")
        .collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let len = sorted
        .iter()
        .map(|(k, v)| k.len() + v.len() + 2)
        .sum::<usize>()
        + method.len()
        + host.len()
        + path.len()
        + 1;
    let mut out = String::with_capacity(len);
    out.push_str(&method.to_ascii_uppercase());
    out.push_str(host);
    out.push_str(path);
    out.push('?');
    for (i, (k, v)) in sorted.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// `Base64(HMAC(secret_key, string_to_sign))`.
pub fn signature(secret_key: &str, algorithm: Algorithm, string_to_sign: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    match algorithm {
        Algorithm::HmacSha1 => {
            b64.encode(hmac_sha1(secret_key.as_bytes(), string_to_sign.as_bytes()))
        }
        Algorithm::HmacSha256 => b64.encode(hmac_sha256(
            secret_key.as_bytes(),
            string_to_sign.as_bytes(),
        )),
    }
}

/// RFC 3986 unreserved characters are kept; everything else is percent-encoded (upper-case hex).
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// RFC 3986 percent-encoding (upper-case hex, unreserved kept) as used on the wire for v1 parameters.
pub fn encode(v: &str) -> String {
    utf8_percent_encode(v, FORM).to_string()
}

/// `k=v&…` with every name and value RFC 3986-encoded: the query string or form body to send.
pub fn encode_params<K: AsRef<str>, V: AsRef<str>>(params: &[(K, V)]) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k.as_ref()), encode(v.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// Flattens a JSON request object into v1 parameter names (`Filters.0.Name`), as the official SDKs do.
/// Strings are kept raw, numbers and booleans printed; `null` members are skipped.
pub fn flatten_json(value: &serde_json::Value) -> Vec<(String, String)> {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
        match v {
            serde_json::Value::Null => {}
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, v, out);
                }
            }
            serde_json::Value::Array(a) => {
                for (i, v) in a.iter().enumerate() {
                    walk(&format!("{prefix}.{i}"), v, out);
                }
            }
            serde_json::Value::String(s) => out.push((prefix.to_string(), s.clone())),
            serde_json::Value::Bool(b) => out.push((prefix.to_string(), b.to_string())),
            serde_json::Value::Number(n) => out.push((prefix.to_string(), n.to_string())),
        }
    }
    let mut out = Vec::new();
    walk("", value, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_by_bytes_and_skips_signature() {
        let s = string_to_sign(
            "get",
            "h",
            "/",
            &[("b", "2"), ("Signature", "x"), ("a", "1"), ("Z", "0")],
        );
        assert_eq!(s, "GETh/?Z=0&a=1&b=2");
    }

    #[test]
    fn encodes_rfc3986() {
        assert_eq!(encode("a b/+=~"), "a%20b%2F%2B%3D~");
        assert_eq!(encode("测"), "%E6%B5%8B");
    }

    #[test]
    fn flattens() {
        let v = serde_json::json!({"A": 1, "B": ["x", "y"], "C": {"D": true}, "E": null});
        let mut f = flatten_json(&v);
        f.sort();
        assert_eq!(
            f,
            vec![
                ("A".into(), "1".into()),
                ("B.0".into(), "x".into()),
                ("B.1".into(), "y".into()),
                ("C.D".into(), "true".into())
            ]
        );
    }
}
