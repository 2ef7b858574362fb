//! Typed COS XML bodies (quick-xml + serde).

use serde::{Deserialize, Serialize};

/// `<Error>`: the body of every COS error response (and of a failed Complete that answered `200`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct ErrorBody {
    /// Error code, e.g. `SignatureDoesNotMatch`.
    pub code: String,
    /// Message.
    pub message: String,
    /// The resource addressed.
    pub resource: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
}

/// `<InitiateMultipartUploadResult>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct InitiateMultipartUploadResult {
    /// Bucket.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Key.
    #[serde(default)]
    pub key: Option<String>,
    /// The new upload id.
    pub upload_id: String,
}

/// One `<Part>` of a `<CompleteMultipartUpload>` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompletePartXml {
    /// Part number.
    #[serde(rename = "PartNumber")]
    pub part_number: u32,
    /// ETag as returned by Upload Part (quotes included).
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// `<CompleteMultipartUpload>`: the request body of Complete Multipart Upload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename = "CompleteMultipartUpload")]
pub struct CompleteMultipartUpload {
    /// Parts, ascending.
    #[serde(rename = "Part")]
    pub parts: Vec<CompletePartXml>,
}

impl CompleteMultipartUpload {
    /// Serialises the body.
    pub fn to_xml(&self) -> Result<String, quick_xml::SeError> {
        quick_xml::se::to_string(self)
    }
}

/// `<CompleteMultipartUploadResult>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct CompleteMultipartUploadResult {
    /// `bucket.cos.region.myqcloud.com/key`.
    pub location: Option<String>,
    /// Bucket.
    pub bucket: Option<String>,
    /// Key.
    pub key: Option<String>,
    /// The object's ETag (`"…-N"`). Its presence is what marks success.
    #[serde(rename = "ETag")]
    pub etag: Option<String>,
}

/// One `<Part>` of a `<ListPartsResult>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct ListedPart {
    /// Part number.
    pub part_number: u32,
    /// Last modification time (as sent).
    #[serde(default)]
    pub last_modified: Option<String>,
    /// ETag (quotes included).
    #[serde(rename = "ETag")]
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
}

/// `<ListPartsResult>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[non_exhaustive]
pub struct ListPartsResult {
    /// Bucket.
    pub bucket: Option<String>,
    /// Key.
    pub key: Option<String>,
    /// Upload id.
    pub upload_id: Option<String>,
    /// Marker to pass for the next page.
    pub next_part_number_marker: Option<u32>,
    /// Whether more parts follow.
    pub is_truncated: bool,
    /// The parts of this page.
    #[serde(rename = "Part")]
    pub parts: Vec<ListedPart>,
}

/// Parses a COS response body as the document `T` (e.g. [`InitiateMultipartUploadResult`]): `Ok(Ok(doc))`, or
/// `Ok(Err(error))` when the body is an `<Error>` document (also under `200 OK`, as Complete Multipart Upload may
/// answer), or `Err(reason)` when it is neither (not UTF-8, not XML, a required element missing). Never panics.
///
/// ```
/// use tencent_vod::__private::cos_xml::{parse_document, InitiateMultipartUploadResult};
/// let ok = parse_document::<InitiateMultipartUploadResult>(
///     b"<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>").unwrap();
/// assert_eq!(ok.unwrap().upload_id, "u1");
/// let err = parse_document::<InitiateMultipartUploadResult>(b"<Error><Code>NoSuchBucket</Code></Error>").unwrap();
/// assert_eq!(err.unwrap_err().code, "NoSuchBucket");
/// assert!(parse_document::<InitiateMultipartUploadResult>(b"<html>").is_err());
/// ```
pub fn parse_document<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<Result<T, ErrorBody>, String> {
    match parse_or_error::<T>(body)? {
        Parsed::Ok(t) => Ok(Ok(t)),
        Parsed::Error => parse_error(body)
            .map(Err)
            .ok_or_else(|| "malformed <Error> body".to_string()),
    }
}

/// Parses a COS `<Error>` body; `None` when `body` is not one. Never panics.
pub fn parse_error_body(body: &[u8]) -> Option<ErrorBody> {
    parse_error(body)
}

/// What a response body turned out to be.
pub(crate) enum Parsed<T> {
    Ok(T),
    /// An `<Error>` document (read it with [`parse_error`]).
    Error,
}

/// Parses `body` as `T`, or as an `<Error>` document (leading whitespace and an XML declaration allowed).
pub(crate) fn parse_or_error<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<Parsed<T>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("body is not UTF-8: {e}"))?;
    let text = text.trim_start();
    if root_element(text) == Some("Error") {
        return quick_xml::de::from_str::<ErrorBody>(text)
            .map(|_| Parsed::Error)
            .map_err(|e| format!("malformed <Error> body: {e}"));
    }
    quick_xml::de::from_str::<T>(text)
        .map(Parsed::Ok)
        .map_err(|e| format!("malformed XML: {e}"))
}

/// Parses an `<Error>` body, if `body` is one.
pub(crate) fn parse_error(body: &[u8]) -> Option<ErrorBody> {
    let text = std::str::from_utf8(body).ok()?.trim_start();
    if root_element(text) != Some("Error") {
        return None;
    }
    quick_xml::de::from_str(text).ok()
}

/// A COS XML response body: the expected document, or an `<Error>` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum XmlResponse<T> {
    /// The expected document.
    Ok(T),
    /// An `<Error>` document (COS sends these with error statuses, and sometimes with `200` after Complete).
    Error(ErrorBody),
}

/// Parses a COS response body as `T` (e.g. [`CompleteMultipartUploadResult`], [`ListPartsResult`]) or as an
/// `<Error>` document, the way the client does. `Err` carries why the body is neither.
///
/// ```
/// use tencent_vod::__private::cos_xml::{parse_response, CompleteMultipartUploadResult, XmlResponse};
/// let body = b"<CompleteMultipartUploadResult><ETag>\"e-2\"</ETag></CompleteMultipartUploadResult>";
/// match parse_response::<CompleteMultipartUploadResult>(body).unwrap() {
///     XmlResponse::Ok(r) => assert_eq!(r.etag.as_deref(), Some("\"e-2\"")),
///     XmlResponse::Error(e) => panic!("{}", e.code),
/// }
/// ```
pub fn parse_response<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<XmlResponse<T>, String> {
    match parse_or_error::<T>(body)? {
        Parsed::Ok(t) => Ok(XmlResponse::Ok(t)),
        Parsed::Error => parse_error(body)
            .map(XmlResponse::Error)
            .ok_or_else(|| "malformed <Error> body".to_string()),
    }
}

/// The name of the root element (skipping the declaration, comments and whitespace).
fn root_element(text: &str) -> Option<&str> {
    let mut rest = text;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("<?") {
            rest = &r[r.find("?>")? + 2..];
        } else if let Some(r) = rest.strip_prefix("<!--") {
            rest = &r[r.find("-->")? + 3..];
        } else if let Some(r) = rest.strip_prefix('<') {
            let end = r
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(r.len());
            return Some(&r[..end]);
        } else {
            return None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(id: &str) -> (u64, String) {
        let raw = include_str!("../../tests/data/doc-vectors.json");
        let v: serde_json::Value = serde_json::from_str(raw).unwrap();
        let f = v["response_fixtures"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id)
            .unwrap();
        (
            f["http_status"].as_u64().unwrap(),
            f["body_text"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn error_fixture() {
        let (status, body) = fixture("cos-error-xml");
        assert_eq!(status, 403);
        let e = parse_error(body.as_bytes()).unwrap();
        assert_eq!(e.code, "SignatureDoesNotMatch");
        assert_eq!(e.message, "The Signature you specified is invalid.");
        assert_eq!(
            e.request_id.as_deref(),
            Some("NjQwMDAwMDBfMDAwMDAwMDBfMDAwMF8wMDAwMDA=")
        );
        assert_eq!(e.trace_id.as_deref(), Some("OGVmYzZiMmQ3MjAwOTc2YQ=="));
        assert!(e.resource.unwrap().ends_with("/exampleobject"));
    }

    #[test]
    fn complete_200_with_error_body_fixture() {
        let (status, body) = fixture("cos-complete-200-with-error-body");
        assert_eq!(status, 200);
        assert!(body.starts_with("   \n"));
        match parse_or_error::<CompleteMultipartUploadResult>(body.as_bytes()).unwrap() {
            Parsed::Error => {
                let e = parse_error(body.as_bytes()).unwrap();
                assert_eq!(e.code, "InternalError");
                assert_eq!(e.request_id.as_deref(), Some("NjQw"));
            }
            Parsed::Ok(r) => panic!("parsed as success: {r:?}"),
        }
    }

    #[test]
    fn complete_result_and_request() {
        let body = "<?xml version='1.0' encoding='utf-8' ?>\n<CompleteMultipartUploadResult><Location>b.cos.r.myqcloud.com/k</Location><Bucket>b</Bucket><Key>k</Key><ETag>\"abc-2\"</ETag></CompleteMultipartUploadResult>";
        let Parsed::Ok(r) =
            parse_or_error::<CompleteMultipartUploadResult>(body.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert_eq!(r.etag.as_deref(), Some("\"abc-2\""));
        let req = CompleteMultipartUpload {
            parts: vec![
                CompletePartXml {
                    part_number: 1,
                    etag: "\"e1\"".into(),
                },
                CompletePartXml {
                    part_number: 2,
                    etag: "\"e2\"".into(),
                },
            ],
        };
        let xml = req.to_xml().unwrap();
        assert!(xml.starts_with("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"));
        assert!(xml.contains("<PartNumber>2</PartNumber>"));
        // The ETag's quotes survive a round trip through an XML parser.
        assert!(
            xml.contains("&quot;e1&quot;") || xml.contains("\"e1\""),
            "{xml}"
        );
    }

    #[test]
    fn initiate_and_list_parts() {
        let body = "<InitiateMultipartUploadResult><Bucket>b-1250000000</Bucket><Key>a/b.mp4</Key><UploadId>1585130821cbb7df1d11846c073ad648e8f33b087cec2381df437acdc833cf654b9ecc6361</UploadId></InitiateMultipartUploadResult>";
        let Parsed::Ok(r) =
            parse_or_error::<InitiateMultipartUploadResult>(body.as_bytes()).unwrap()
        else {
            panic!()
        };
        assert!(r.upload_id.starts_with("1585130821"));
        let body = r#"<ListPartsResult><Bucket>b</Bucket><Encoding-type/><Key>k</Key><UploadId>u</UploadId>
            <Initiator><ID>1</ID><DisplayName>1</DisplayName></Initiator><Owner><ID>1</ID><DisplayName>1</DisplayName></Owner>
            <StorageClass>STANDARD</StorageClass><PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>2</NextPartNumberMarker>
            <MaxParts>1000</MaxParts><IsTruncated>false</IsTruncated>
            <Part><PartNumber>1</PartNumber><LastModified>2019-01-01T00:00:00.000Z</LastModified><ETag>"a"</ETag><Size>1048576</Size></Part>
            <Part><PartNumber>2</PartNumber><LastModified>2019-01-01T00:00:00.000Z</LastModified><ETag>"b"</ETag><Size>3</Size></Part>
            </ListPartsResult>"#;
        let Parsed::Ok(r) = parse_or_error::<ListPartsResult>(body.as_bytes()).unwrap() else {
            panic!()
        };
        assert!(!r.is_truncated);
        assert_eq!(r.next_part_number_marker, Some(2));
        assert_eq!(r.parts.len(), 2);
        assert_eq!(r.parts[1].etag, "\"b\"");
        assert_eq!(r.parts[1].size, 3);
        // An empty list.
        let Parsed::Ok(r) = parse_or_error::<ListPartsResult>(
            b"<ListPartsResult><IsTruncated>false</IsTruncated></ListPartsResult>",
        )
        .unwrap() else {
            panic!()
        };
        assert!(r.parts.is_empty());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(parse_or_error::<InitiateMultipartUploadResult>(b"not xml").is_err());
        assert!(parse_or_error::<InitiateMultipartUploadResult>(b"\xff\xfe").is_err());
        assert!(parse_error(b"<Other/>").is_none());
    }
}
