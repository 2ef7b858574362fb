//! `--report FILE`: the journal written out for the next system, as JSON lines or CSV (path → FileId, URLs,
//! task id, error).

use super::journal::Item;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per item and line.
    Jsonl,
    /// A header row, then one row per item.
    Csv,
}

impl Format {
    /// The format for `path`: CSV for a `.csv` file, else JSON lines.
    pub fn for_path(path: &Path) -> Format {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            Format::Csv
        } else {
            Format::Jsonl
        }
    }
}

const COLUMNS: [&str; 15] = [
    "Path",
    "Current",
    "State",
    "FileId",
    "MediaUrl",
    "CoverUrl",
    "ProcedureTaskId",
    "ErrorCode",
    "ErrorMessage",
    "RequestId",
    "Retryable",
    "Attempts",
    "Bytes",
    "Sha256",
    "UpdatedAt",
];

fn row(item: &Item, current: bool) -> [String; 15] {
    let c = item.committed.as_ref();
    let f = item.failure.as_ref();
    let s = |v: Option<&String>| v.cloned().unwrap_or_default();
    [
        item.path.clone(),
        current.to_string(),
        item.state.as_str().to_string(),
        s(c.map(|c| &c.file_id)),
        s(c.and_then(|c| c.media_url.as_ref())),
        s(c.and_then(|c| c.cover_url.as_ref())),
        s(c.and_then(|c| c.task_id.as_ref())),
        s(f.map(|f| &f.code)),
        s(f.map(|f| &f.message)),
        s(f.and_then(|f| f.request_id.as_ref())),
        f.map(|f| f.retryable.to_string()).unwrap_or_default(),
        item.attempts.to_string(),
        item.bytes.to_string(),
        item.digest.clone(),
        tencent_vod::media::iso8601(item.updated_at),
    ]
}

/// Writes every item (oldest first). `Current` is false for an item whose file has since changed (a newer item
/// of the same path exists): both are real uploads when both are committed.
pub fn write(items: &[Item], format: Format, mut out: impl Write) -> std::io::Result<()> {
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for i in items {
        latest.insert(&i.path, i.id);
    }
    match format {
        Format::Jsonl => {
            for i in items {
                let r = row(i, latest.get(i.path.as_str()) == Some(&i.id));
                let mut obj = serde_json::Map::new();
                for (k, v) in COLUMNS.iter().zip(r) {
                    let v = match *k {
                        "Current" | "Retryable" => match v.as_str() {
                            "true" => json!(true),
                            "false" => json!(false),
                            _ => json!(null),
                        },
                        "Attempts" | "Bytes" => json!(v.parse::<u64>().unwrap_or(0)),
                        _ if v.is_empty() => json!(null),
                        _ => json!(v),
                    };
                    obj.insert((*k).to_string(), v);
                }
                writeln!(out, "{}", serde_json::Value::Object(obj))?;
            }
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(COLUMNS).map_err(std::io::Error::other)?;
            for i in items {
                w.write_record(row(i, latest.get(i.path.as_str()) == Some(&i.id)))
                    .map_err(std::io::Error::other)?;
            }
            w.flush()?;
        }
    }
    Ok(())
}
