//! `SearchMedia` over the mock's committed uploads.

use crate::events::iso8601;
use crate::state::Shared;
use crate::vod::{VodErr, err, get_str, get_u64};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::SystemTime;

/// VOD's cap on `Offset + Limit`.
const MAX_RESULTS: u64 = 5000;
const DEFAULT_LIMIT: u64 = 10;

fn str_list(req: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, VodErr> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                _ => Err(err(
                    "InvalidParameter",
                    format!("`{name}` must be an array of strings."),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(err(
            "InvalidParameter",
            format!("`{name}` must be an array."),
        )),
    }
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

fn category(media_type: &str) -> &'static str {
    match media_type {
        "mp3" | "m4a" | "flac" | "wav" | "ra" | "aac" | "amr" => "Audio",
        _ => "Video",
    }
}

pub(crate) fn search_media(sh: &Arc<Shared>, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let sub_app_id = get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")?;
    let file_ids = str_list(req, "FileIds")?;
    let names = str_list(req, "Names")?
        .map(|v| v.into_iter().map(|n| n.to_lowercase()).collect::<Vec<_>>());
    let prefixes = str_list(req, "NamePrefixes")?;
    let class_ids = str_list(req, "ClassIds")?;
    let source_types = str_list(req, "SourceTypes")?;
    let regions = str_list(req, "StorageRegions")?;
    let (after, before) = match req.get("CreateTime") {
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
        None | Some(Value::Null) => (None, None),
        Some(_) => {
            return Err(err("InvalidParameter", "`CreateTime` must be an object."));
        }
    };
    let ascending = match req.get("Sort") {
        Some(Value::Object(s)) => {
            if let Some(f) = get_str(s, "Field")?
                && f != "CreateTime"
            {
                return Err(err(
                    "InvalidParameterValue.SortField",
                    format!("Sort.Field `{f}` is not supported (CreateTime)."),
                ));
            }
            match get_str(s, "Order")?.as_deref() {
                Some("Asc") => true,
                None | Some("Desc") => false,
                Some(o) => {
                    return Err(err(
                        "InvalidParameterValue.SortOrder",
                        format!("Sort.Order `{o}` is not Asc or Desc."),
                    ));
                }
            }
        }
        _ => false,
    };
    let offset = get_u64(req, "Offset", "InvalidParameterValue.Offset")?.unwrap_or(0);
    let limit = get_u64(req, "Limit", "InvalidParameterValue.Limit")?.unwrap_or(DEFAULT_LIMIT);
    if offset.saturating_add(limit) > MAX_RESULTS {
        return Err(err(
            "InvalidParameterValue.Limit",
            format!("Offset + Limit must not exceed {MAX_RESULTS}."),
        ));
    }
    let base = format!("http://{}.vod2.myqcloud.com", sh.cfg.app_id);
    let inner = sh.lock();
    let mut hits: Vec<(SystemTime, Value)> = inner
        .sessions
        .values()
        .filter_map(|s| s.committed_at.map(|t| (s, t)))
        .filter(|(s, _)| s.sub_app_id == sub_app_id)
        .filter(|(s, _)| file_ids.as_ref().is_none_or(|ids| ids.contains(&s.file_id)))
        .filter(|(s, _)| regions.as_ref().is_none_or(|r| r.contains(&s.region)))
        .filter(|(s, _)| {
            class_ids
                .as_ref()
                .is_none_or(|c| c.contains(&s.class_id.to_string()))
        })
        .filter(|(_, _)| {
            source_types
                .as_ref()
                .is_none_or(|t| t.iter().any(|t| t == "Upload"))
        })
        .filter(|(_, t)| after.is_none_or(|a| *t >= a) && before.is_none_or(|b| *t < b))
        .filter_map(|(s, t)| {
            let stem = s
                .media_key
                .rsplit('/')
                .next()
                .and_then(|f| f.rsplit_once('.').map(|(stem, _)| stem.to_string()))
                .unwrap_or_default();
            let name = s.media_name.clone().unwrap_or(stem);
            let lname = name.to_lowercase();
            let name_ok = names.as_ref().is_none_or(|ns| {
                ns.iter()
                    .any(|n| lname.contains(n.as_str()) || n.contains(lname.as_str()))
            });
            let prefix_ok = prefixes
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| name.starts_with(p.as_str())));
            (name_ok && prefix_ok).then(|| {
                let created = iso8601(t);
                let info = json!({
                    "FileId": s.file_id,
                    "BasicInfo": {
                        "Name": name,
                        "Description": "",
                        "CreateTime": created,
                        "UpdateTime": created,
                        "ExpireTime": s.expire_time.clone().unwrap_or_else(|| "9999-12-31T23:59:59Z".into()),
                        "ClassId": s.class_id,
                        "ClassName": "",
                        "ClassPath": "",
                        "CoverUrl": s.cover_key.as_ref().map(|k| format!("{base}/{k}")).unwrap_or_default(),
                        "Type": s.media_type,
                        "MediaUrl": format!("{base}/{}", s.media_key),
                        "SourceInfo": {"SourceType": "Upload", "SourceContext": s.source_context},
                        "StorageRegion": s.region,
                        "TagSet": [],
                        "Vid": "",
                        "Category": category(&s.media_type),
                        "Status": "Normal",
                        "StorageClass": "STANDARD",
                    },
                });
                (t, info)
            })
        })
        .collect();
    drop(inner);
    hits.sort_by(|a, b| {
        let o = a.0.cmp(&b.0).then_with(|| {
            a.1["FileId"]
                .as_str()
                .unwrap_or_default()
                .cmp(b.1["FileId"].as_str().unwrap_or_default())
        });
        if ascending { o } else { o.reverse() }
    });
    let total = hits.len();
    let page: Vec<Value> = hits
        .into_iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(usize::try_from(limit).unwrap_or(usize::MAX))
        .map(|(_, v)| v)
        .collect();
    Ok(json!({"TotalCount": total, "MediaInfoSet": page}))
}
