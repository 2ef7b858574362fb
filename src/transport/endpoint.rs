//! Endpoint URLs, `Host` authorities, loopback detection and region names.

use crate::error::{Error, Result};

/// Validates and normalises an endpoint URL (`https://host[:port]`, no query or fragment). A value without a
/// scheme gets `https://`. `field` names the setting in the error.
pub(crate) fn parse_endpoint(field: &str, s: &str) -> Result<url::Url> {
    let with_scheme = if s.contains("://") {
        s.to_string()
    } else {
        format!("https://{s}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| {
        Error::invalid(
            field,
            format!(
                "{s:?} is not a valid URL ({e}); expected e.g. https://vod.tencentcloudapi.com"
            ),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::invalid(
            field,
            format!("{s:?}: scheme must be http or https"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(field, format!("{s:?} has no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::invalid(
            field,
            format!("{s:?} must not have a query or fragment"),
        ));
    }
    Ok(url)
}

/// `host[:port]` as sent in the `Host` header (the port only when it is not the scheme's default).
pub(crate) fn authority(url: &url::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// Whether a URL's host is a loopback address (`localhost`, `*.localhost`, `127.0.0.0/8`, `::1`).
pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        None => false,
    }
}

/// Validates a region name such as `ap-guangzhou` (lower-case letters, digits and `-`).
pub(crate) fn validate_region(field: &str, region: &str) -> Result<()> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{region:?} is not a region name; expected e.g. ap-guangzhou"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_and_region_validation() {
        assert_eq!(
            authority(&parse_endpoint("e", "http://127.0.0.1:8080").unwrap()),
            "127.0.0.1:8080"
        );
        assert_eq!(
            authority(&parse_endpoint("e", "vod.tencentcloudapi.com").unwrap()),
            "vod.tencentcloudapi.com"
        );
        assert!(parse_endpoint("e", "ftp://x").is_err());
        assert!(parse_endpoint("e", "http://").is_err());
        for (url, loopback) in [
            ("http://127.0.0.1:9000", true),
            ("http://127.8.9.10", true),
            ("http://localhost:80", true),
            ("http://LOCALHOST.", true),
            ("http://api.localhost", true),
            ("http://[::1]:8080", true),
            ("http://[::ffff:127.0.0.1]", true),
            ("http://10.0.0.1", false),
            ("http://vod.tencentcloudapi.com", false),
            ("http://localhost.example.com", false),
            ("http://[::2]", false),
        ] {
            assert_eq!(
                is_loopback(&url::Url::parse(url).unwrap()),
                loopback,
                "{url}"
            );
        }
        assert!(validate_region("r", "ap-guangzhou").is_ok());
        assert!(validate_region("r", "AP GZ").is_err());
        assert!(validate_region("r", "").is_err());
    }
}
