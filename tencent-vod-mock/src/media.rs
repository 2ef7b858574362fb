//! The mock's media library: `SearchMedia` and `DescribeMediaInfos` over the media committed so far.
//!
//! Every successful `CommitUpload` adds a media whose `BasicInfo` is the `MediaBasicInfo` of its `NewFileUpload`
//! event: `MediaUrl` is `http://{appid}.vod2.myqcloud.com` + the session's `MediaStoragePath` (as in Tencent's
//! examples, the URL's path is the storage path), `CreateTime` the mock's time of the commit. Media are visible
//! to searches at once (VOD indexes them with a delay).

use crate::api::{VodErr, err, get_str, get_u64, missing};
use crate::state::{MediaRecord, Shared};
use serde_json::{Map, Value, json};
use std::time::SystemTime;

/// `Offset + Limit` may not exceed this.
const MAX_RESULTS: u64 = 5000;
/// `Filters` values VOD documents.
const FILTERS: &[&str] = &[
    "basicInfo",
    "metaData",
    "transcodeInfo",
    "animatedGraphicsInfo",
    "imageSpriteInfo",
    "snapshotByTimeOffsetInfo",
    "sampleSnapshotInfo",
    "keyFrameDescInfo",
    "adaptiveDynamicStreamingInfo",
    "miniProgramReviewInfo",
    "subtitleInfo",
    "reviewInfo",
];

/// A list member (`["a","b"]`, or the strings of a rebuilt v1 list); absent → empty.
fn get_list(m: &Map<String, Value>, name: &str, max: usize) -> Result<Vec<String>, VodErr> {
    let list = match m.get(name) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(err(
                    "InvalidParameter",
                    format!("The elements of `{name}` must be strings."),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => {
            return Err(err(
                "InvalidParameter",
                format!("The parameter `{name}` must be an array."),
            ));
        }
    };
    if list.len() > max {
        return Err(err(
            "InvalidParameterValue",
            format!(
                "`{name}` has {} elements; at most {max} are allowed.",
                list.len()
            ),
        ));
    }
    Ok(list)
}

fn parse_time(field: &str, s: &str) -> Result<SystemTime, VodErr> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| {
            err(
                "InvalidParameterValue",
                format!("{field} `{s}` is not ISO 8601 (e.g. 2030-01-01T00:00:00Z)."),
            )
        })
}

fn filters_of(req: &Map<String, Value>) -> Result<Vec<String>, VodErr> {
    let filters = get_list(req, "Filters", FILTERS.len())?;
    if let Some(f) = filters.iter().find(|f| !FILTERS.contains(&f.as_str())) {
        return Err(err(
            "InvalidParameterValue.Filters",
            format!("Filters `{f}` is not supported."),
        ));
    }
    Ok(filters)
}

/// One `MediaInfo` with the members `filters` asks for (all when empty).
fn media_info(r: &MediaRecord, filters: &[String]) -> Value {
    let want = |f: &str| filters.is_empty() || filters.iter().any(|x| x == f);
    let mut m = Map::new();
    if want("basicInfo") {
        m.insert("BasicInfo".into(), r.basic_info.clone());
    }
    if want("metaData") {
        m.insert("MetaData".into(), r.meta_data.clone());
    }
    for (filter, member) in [
        ("transcodeInfo", "TranscodeInfo"),
        ("animatedGraphicsInfo", "AnimatedGraphicsInfo"),
        ("sampleSnapshotInfo", "SampleSnapshotInfo"),
        ("imageSpriteInfo", "ImageSpriteInfo"),
        ("snapshotByTimeOffsetInfo", "SnapshotByTimeOffsetInfo"),
        ("keyFrameDescInfo", "KeyFrameDescInfo"),
        (
            "adaptiveDynamicStreamingInfo",
            "AdaptiveDynamicStreamingInfo",
        ),
        ("miniProgramReviewInfo", "MiniProgramReviewInfo"),
        ("subtitleInfo", "SubtitleInfo"),
        ("reviewInfo", "ReviewInfo"),
    ] {
        if want(filter) {
            m.insert(member.into(), Value::Null);
        }
    }
    m.insert("FileId".into(), Value::String(r.file_id.clone()));
    Value::Object(m)
}

fn basic_str<'a>(r: &'a MediaRecord, member: &str) -> &'a str {
    r.basic_info
        .get(member)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `SearchMedia`: `SubAppId`, `FileIds`, `Names` (fuzzy: the name contains the text, case-insensitively),
/// `NamePrefixes`, `Categories`, `MediaTypes`, `StorageRegions`, `SourceTypes`, `ClassIds`, `CreateTime`
/// (both ends inclusive), `Filters`, `Sort` (`CreateTime`, `Asc`/`Desc`, default newest first), `Offset`/`Limit`
/// (default 10; `Offset + Limit` ≤ 5000).
pub(crate) fn search_media(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    let file_ids = get_list(req, "FileIds", 10)?;
    let names = get_list(req, "Names", 10)?;
    let prefixes = get_list(req, "NamePrefixes", 10)?;
    let categories = get_list(req, "Categories", 3)?;
    let media_types = get_list(req, "MediaTypes", 10)?;
    let regions = get_list(req, "StorageRegions", 20)?;
    let source_types = get_list(req, "SourceTypes", 10)?;
    let class_ids = get_list(req, "ClassIds", 10)?;
    for n in names.iter().chain(&prefixes) {
        if n.chars().count() > 100 {
            return Err(err(
                "InvalidParameterValue",
                "A name or name prefix is longer than 100 characters.",
            ));
        }
    }
    let filters = filters_of(req)?;
    let (after, before) = match req.get("CreateTime") {
        None | Some(Value::Null) => (None, None),
        Some(Value::Object(r)) => (
            get_str(r, "After")?
                .filter(|s| !s.is_empty())
                .map(|s| parse_time("CreateTime.After", &s))
                .transpose()?,
            get_str(r, "Before")?
                .filter(|s| !s.is_empty())
                .map(|s| parse_time("CreateTime.Before", &s))
                .transpose()?,
        ),
        Some(_) => {
            return Err(err(
                "InvalidParameter",
                "CreateTime must be an object with After and Before.",
            ));
        }
    };
    let desc = match req.get("Sort") {
        None | Some(Value::Null) => true,
        Some(Value::Object(s)) => {
            let field = get_str(s, "Field")?.unwrap_or_default();
            if field != "CreateTime" {
                return Err(err(
                    "InvalidParameterValue.SortField",
                    format!("Sort.Field `{field}` is not supported; use CreateTime."),
                ));
            }
            match get_str(s, "Order")?.as_deref() {
                Some("Asc") => false,
                Some("Desc") | None => true,
                Some(o) => {
                    return Err(err(
                        "InvalidParameterValue.SortOrder",
                        format!("Sort.Order `{o}` is not Asc or Desc."),
                    ));
                }
            }
        }
        Some(_) => return Err(err("InvalidParameter", "Sort must be an object.")),
    };
    let offset = get_u64(req, "Offset", "InvalidParameterValue.Offset")?.unwrap_or(0);
    let limit = get_u64(req, "Limit", "InvalidParameterValue.Limit")?.unwrap_or(10);
    if limit == 0 || offset.saturating_add(limit) > MAX_RESULTS {
        return Err(err(
            "InvalidParameterValue",
            format!("Offset + Limit must be at most {MAX_RESULTS}, and Limit at least 1."),
        ));
    }
    let any_or =
        |list: &[String], f: &dyn Fn(&String) -> bool| list.is_empty() || list.iter().any(f);
    let inner = sh.lock();
    let mut found: Vec<&MediaRecord> = inner
        .media
        .iter()
        .filter(|r| r.sub_app_id == sub_app_id)
        .filter(|r| any_or(&file_ids, &|id| *id == r.file_id))
        .filter(|r| {
            let name = basic_str(r, "Name").to_lowercase();
            any_or(&names, &|n| name.contains(&n.to_lowercase()))
        })
        .filter(|r| any_or(&prefixes, &|p| basic_str(r, "Name").starts_with(p.as_str())))
        .filter(|r| any_or(&categories, &|c| c == basic_str(r, "Category")))
        .filter(|r| {
            any_or(&media_types, &|t| {
                t.eq_ignore_ascii_case(basic_str(r, "Type"))
            })
        })
        .filter(|r| any_or(&regions, &|g| g == basic_str(r, "StorageRegion")))
        .filter(|r| {
            let source = r
                .basic_info
                .pointer("/SourceInfo/SourceType")
                .and_then(Value::as_str)
                .unwrap_or_default();
            any_or(&source_types, &|t| t == source)
        })
        .filter(|r| {
            let class = r
                .basic_info
                .get("ClassId")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .to_string();
            any_or(&class_ids, &|c| *c == class)
        })
        .filter(|r| after.is_none_or(|a| r.created >= a) && before.is_none_or(|b| r.created <= b))
        .collect();
    found.sort_by_key(|r| r.created);
    if desc {
        found.reverse();
    }
    let total = found.len() as u64;
    let page: Vec<Value> = found
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|r| media_info(r, &filters))
        .collect();
    Ok(json!({"TotalCount": total.min(MAX_RESULTS), "MediaInfoSet": page}))
}

/// `DescribeMediaInfos`: `FileIds` (1 to 20, required), `Filters`, `SubAppId`; unknown ids (or ids of another
/// `SubAppId`) in `NotExistFileIdSet`.
pub(crate) fn describe_media_infos(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    let file_ids = get_list(req, "FileIds", 20)?;
    if file_ids.is_empty() {
        return Err(missing("FileIds"));
    }
    let filters = filters_of(req)?;
    let inner = sh.lock();
    let mut set = Vec::new();
    let mut missing_ids = Vec::new();
    for id in &file_ids {
        match inner
            .media
            .iter()
            .find(|r| &r.file_id == id && r.sub_app_id == sub_app_id)
        {
            Some(r) => set.push(media_info(r, &filters)),
            None => missing_ids.push(Value::String(id.clone())),
        }
    }
    Ok(json!({"MediaInfoSet": set, "NotExistFileIdSet": missing_ids}))
}
