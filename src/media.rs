//! The media library: `SearchMedia` and `DescribeMediaInfos`.
//!
//! Both answer [`MediaInfo`] records (`FileId`, `BasicInfo`, `MetaData`, …), read leniently like events: every
//! member optional, unknown members kept in `extra`. The upload uses them to establish the FileId of a commit
//! whose answer was lost (see [`crate::upload`]); they are public for the same kind of reconciliation in an
//! application.
//!
//! ```no_run
//! # async fn demo(client: tencent_vod::VodClient) -> tencent_vod::Result<()> {
//! use tencent_vod::events::TimeRange;
//! use tencent_vod::media::{BASIC_INFO, SearchMediaRequest};
//! let found = client
//!     .api()
//!     .search_media(
//!         &SearchMediaRequest::new()
//!             .with_names(["movie"])
//!             .with_create_time(TimeRange::after("2024-05-01T00:00:00Z"))
//!             .with_filters([BASIC_INFO])
//!             .with_limit(100),
//!     )
//!     .await?;
//! for m in &found.media_info_set {
//!     println!("{:?} {:?}", m.file_id, m.basic_info.as_ref().and_then(|b| b.media_url.as_deref()));
//! }
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::events::lenient::{self, lenient_struct};
use crate::events::{MediaBasicInfo, MediaMetaData, SortBy, TimeRange};
use crate::vod::VodApi;
use serde::{Deserialize, Serialize};

/// `SearchMedia` pages end at `Offset + Limit` = 5000.
pub const MAX_SEARCH_RESULTS: u64 = 5000;
/// Most `FileIds` one `DescribeMediaInfos` call accepts.
pub const MAX_DESCRIBE_FILE_IDS: usize = 20;
/// The `Filters` value selecting `BasicInfo`.
pub const BASIC_INFO: &str = "basicInfo";
/// The `Filters` value selecting `MetaData`.
pub const META_DATA: &str = "metaData";

lenient_struct! {
    /// `MediaInfo`: one media file of the library.
    rename_all = "PascalCase";
    pub struct MediaInfo {
        /// Basic information (name, URLs, times, storage), when `basicInfo` was asked for.
        pub basic_info: Option<MediaBasicInfo>,
        /// Technical metadata, when `metaData` was asked for.
        pub meta_data: Option<MediaMetaData>,
        /// The FileId.
        pub file_id: Option<String>,
    }
}

/// `SearchMedia` request: media matching every given filter (each list matches any of its elements).
///
/// ```
/// use tencent_vod::media::SearchMediaRequest;
/// let r = SearchMediaRequest::new().with_names(["a"]).with_limit(10);
/// assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"Names":["a"],"Limit":10}"#);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SearchMediaRequest {
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
    /// FileIds (≤ 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_ids: Vec<String>,
    /// Names, fuzzy-matched (≤ 10, each ≤ 100 characters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// Name prefixes (≤ 10, each ≤ 100 characters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub name_prefixes: Vec<String>,
    /// Category ids (their sub-categories match too; ≤ 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_ids: Vec<i64>,
    /// Tags (≤ 16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// `Video`, `Audio`, `Image`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Source types, e.g. `Upload` (≤ 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_types: Vec<String>,
    /// Creation time range (both ends inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<TimeRange>,
    /// Storage regions, e.g. `ap-guangzhou` (≤ 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_regions: Vec<String>,
    /// File formats, e.g. `mp4` (≤ 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_types: Vec<String>,
    /// Information to return ([`BASIC_INFO`], [`META_DATA`], …); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// Order (`CreateTime`); ignored by VOD when `Names` is given (then by relevance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<SortBy>,
    /// Page start (default 0); `Offset + Limit` ≤ [`MAX_SEARCH_RESULTS`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Page size (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl SearchMediaRequest {
    /// A request without filters.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id_opt(mut self, v: Option<u64>) -> Self {
        self.sub_app_id = v;
        self
    }
    /// Sets `Names`.
    pub fn with_names<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.names = names.into_iter().map(Into::into).collect();
        self
    }
    /// Sets `FileIds`.
    pub fn with_file_ids<S: Into<String>>(mut self, ids: impl IntoIterator<Item = S>) -> Self {
        self.file_ids = ids.into_iter().map(Into::into).collect();
        self
    }
    /// Sets `CreateTime`.
    pub fn with_create_time(mut self, range: TimeRange) -> Self {
        self.create_time = Some(range);
        self
    }
    /// Sets `Filters`.
    pub fn with_filters<S: Into<String>>(mut self, filters: impl IntoIterator<Item = S>) -> Self {
        self.filters = filters.into_iter().map(Into::into).collect();
        self
    }
    /// Sets `Sort`.
    pub fn with_sort(mut self, sort: SortBy) -> Self {
        self.sort = Some(sort);
        self
    }
    /// Sets `Offset`.
    pub fn with_offset(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
    /// Sets `Limit`.
    pub fn with_limit(mut self, limit: u64) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Checks the documented limits (list lengths, name lengths, `Offset + Limit`).
    pub fn validate(&self) -> Result<()> {
        let list = |field: &str, len: usize, max: usize| {
            if len > max {
                Err(Error::invalid(
                    field,
                    format!("{len} elements given; SearchMedia accepts at most {max}"),
                ))
            } else {
                Ok(())
            }
        };
        list("file_ids", self.file_ids.len(), 10)?;
        list("names", self.names.len(), 10)?;
        list("name_prefixes", self.name_prefixes.len(), 10)?;
        list("class_ids", self.class_ids.len(), 10)?;
        list("tags", self.tags.len(), 16)?;
        list("source_types", self.source_types.len(), 10)?;
        list("storage_regions", self.storage_regions.len(), 20)?;
        list("media_types", self.media_types.len(), 10)?;
        for (field, values) in [
            ("names", &self.names),
            ("name_prefixes", &self.name_prefixes),
        ] {
            if let Some(v) = values.iter().find(|v| v.chars().count() > 100) {
                return Err(Error::invalid(
                    field,
                    format!(
                        "{} characters in {v:?}; at most 100 per element",
                        v.chars().count()
                    ),
                ));
            }
        }
        if self.limit == Some(0) {
            return Err(Error::invalid("limit", "must be at least 1"));
        }
        let end = self
            .offset
            .unwrap_or(0)
            .saturating_add(self.limit.unwrap_or(10));
        if end > MAX_SEARCH_RESULTS {
            return Err(Error::invalid(
                "offset",
                format!("offset + limit = {end}; SearchMedia pages end at {MAX_SEARCH_RESULTS}"),
            ));
        }
        Ok(())
    }
}

/// `SearchMedia` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct SearchMediaResponse {
    /// Matching media (at most 5000 is reported even when more match).
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_count: Option<u64>,
    /// This page; `null` or absent reads as empty.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub media_info_set: Vec<MediaInfo>,
    /// Request id.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
}

/// `DescribeMediaInfos` request: media by FileId.
///
/// ```
/// use tencent_vod::media::{BASIC_INFO, DescribeMediaInfosRequest};
/// let r = DescribeMediaInfosRequest::new(["5285890784273533167"]).with_filters([BASIC_INFO]);
/// assert_eq!(
///     serde_json::to_string(&r).unwrap(),
///     r#"{"FileIds":["5285890784273533167"],"Filters":["basicInfo"]}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeMediaInfosRequest {
    /// FileIds, 1 to [`MAX_DESCRIBE_FILE_IDS`]. Required.
    #[serde(default)]
    pub file_ids: Vec<String>,
    /// Information to return ([`BASIC_INFO`], [`META_DATA`], …); all when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<String>,
    /// VOD application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_app_id: Option<u64>,
}

impl DescribeMediaInfosRequest {
    /// A request for these FileIds.
    pub fn new<S: Into<String>>(file_ids: impl IntoIterator<Item = S>) -> Self {
        DescribeMediaInfosRequest {
            file_ids: file_ids.into_iter().map(Into::into).collect(),
            ..Default::default()
        }
    }
    /// Sets `Filters`.
    pub fn with_filters<S: Into<String>>(mut self, filters: impl IntoIterator<Item = S>) -> Self {
        self.filters = filters.into_iter().map(Into::into).collect();
        self
    }
    /// Sets `SubAppId`.
    pub fn with_sub_app_id_opt(mut self, v: Option<u64>) -> Self {
        self.sub_app_id = v;
        self
    }
}

/// `DescribeMediaInfos` response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
#[non_exhaustive]
pub struct DescribeMediaInfosResponse {
    /// The media found.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub media_info_set: Vec<MediaInfo>,
    /// FileIds that do not exist.
    #[serde(default, deserialize_with = "lenient::vec")]
    pub not_exist_file_id_set: Vec<String>,
    /// Request id.
    #[serde(
        default,
        deserialize_with = "lenient::opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub request_id: Option<String>,
}

impl VodApi {
    /// `SearchMedia`: one page of the media matching the request. The request is checked against the
    /// documented limits first ([`SearchMediaRequest::validate`]).
    pub async fn search_media(&self, req: &SearchMediaRequest) -> Result<SearchMediaResponse> {
        req.validate()?;
        self.call("SearchMedia", req).await
    }

    /// `DescribeMediaInfos`: the media of up to [`MAX_DESCRIBE_FILE_IDS`] FileIds; unknown ones are listed in
    /// `not_exist_file_id_set`.
    pub async fn describe_media_infos(
        &self,
        req: &DescribeMediaInfosRequest,
    ) -> Result<DescribeMediaInfosResponse> {
        if req.file_ids.is_empty() || req.file_ids.len() > MAX_DESCRIBE_FILE_IDS {
            return Err(Error::invalid(
                "file_ids",
                format!(
                    "{} FileIds given; DescribeMediaInfos takes 1 to {MAX_DESCRIBE_FILE_IDS}",
                    req.file_ids.len()
                ),
            ));
        }
        if req.file_ids.iter().any(String::is_empty) {
            return Err(Error::invalid("file_ids", "a FileId is empty"));
        }
        self.call("DescribeMediaInfos", req).await
    }
}

/// A unix time (seconds) as the ISO 8601 UTC form VOD uses (`2019-01-09T16:36:22Z`).
pub fn iso8601(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
            .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Whether a media's `MediaUrl` (or `StoragePath`) designates the storage path `path` (`/a/b/f0.mp4`): the URL's
/// path, percent-decoded, equals it. In VOD's examples `MediaUrl` is `http://{domain}` + `MediaStoragePath`.
pub fn media_matches_storage_path(info: &MediaBasicInfo, path: &str) -> bool {
    if info.storage_path.as_deref() == Some(path) {
        return true;
    }
    let Some(u) = info
        .media_url
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
    else {
        return false;
    };
    percent_encoding::percent_decode_str(u.path())
        .decode_utf8()
        .is_ok_and(|p| p == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_leniently_and_matches_paths() {
        let body = serde_json::json!({
            "TotalCount": "1",
            "MediaInfoSet": [{
                "FileId": "5285890784273533167",
                "BasicInfo": {"Name": "a", "MediaUrl": "http://1250000000.vod2.myqcloud.com/d1/d2/f%200.mp4"},
                "TranscodeInfo": null,
                "Unknown": {"x": 1}
            }],
            "RequestId": "r"
        });
        let r: SearchMediaResponse = serde_json::from_value(body).unwrap();
        assert_eq!(r.total_count, Some(1));
        let m = &r.media_info_set[0];
        assert_eq!(m.file_id.as_deref(), Some("5285890784273533167"));
        assert!(m.extra.contains_key("Unknown"));
        let b = m.basic_info.as_ref().unwrap();
        assert!(media_matches_storage_path(b, "/d1/d2/f 0.mp4"));
        assert!(!media_matches_storage_path(b, "/d1/d2/f0.mp4"));
        assert_eq!(iso8601(1_547_051_782), "2019-01-09T16:36:22Z");
        let r: DescribeMediaInfosResponse =
            serde_json::from_str(r#"{"MediaInfoSet":null,"NotExistFileIdSet":["1"]}"#).unwrap();
        assert!(r.media_info_set.is_empty());
        assert_eq!(r.not_exist_file_id_set, vec!["1".to_string()]);
    }

    #[test]
    fn validates_documented_limits() {
        let ok = SearchMediaRequest::new().with_names(["x"]).with_limit(100);
        assert!(ok.validate().is_ok());
        for (bad, field) in [
            (SearchMediaRequest::new().with_names(vec!["n"; 11]), "names"),
            (
                SearchMediaRequest::new().with_names(["n".repeat(101)]),
                "names",
            ),
            (
                SearchMediaRequest::new().with_offset(4990).with_limit(20),
                "offset",
            ),
            (SearchMediaRequest::new().with_limit(0), "limit"),
        ] {
            match bad.validate() {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
