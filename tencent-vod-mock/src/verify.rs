//! Server-side verification helpers: parsing the `Authorization` values the SDK (or any Tencent client) sends,
//! and comparing signatures without leaking timing. The mock uses them to check every request; they are public so
//! tests can take a request apart too.

/// Constant-time comparison of two signatures (or tokens): `true` when `a` and `b` have the same length and
/// contents. The time taken depends only on the lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The TC3-HMAC-SHA256 (VOD API 3.0) `Authorization` header.
pub mod tc3 {
    use tencent_vod::__private::tc3;

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
        let rest = value.strip_prefix(tc3::ALGORITHM)?.trim_start();
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
        fn parses_authorization() {
            let a = "TC3-HMAC-SHA256 Credential=AKID/x/2019-02-25/cvm/tc3_request, SignedHeaders=content-type;host, Signature=abc";
            let p = parse_authorization(a).unwrap();
            assert_eq!(p.secret_id, "AKID/x");
            assert_eq!(p.date, "2019-02-25");
            assert_eq!(p.signed_headers, vec!["content-type", "host"]);
            assert!(parse_authorization("Bearer x").is_none());
        }
    }
}

/// The COS `q-sign-algorithm=sha1` `Authorization` value.
pub mod cos {
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
        let (mut ak, mut st, mut kt, mut hl, mut pl, mut sig) =
            (None, None, None, None, None, None);
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
        use tencent_vod::__private::cos_sign::{CosRequest, sign};

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_contents_and_lengths() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(constant_time_eq(b"", b""));
    }
}
