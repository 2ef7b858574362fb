//! Sources from a list: paths one per line (stdin or a file), or a CSV with per-row upload fields.

use crate::common::MediaParams;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A media file to ingest and its fields.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path as given (relative paths of a CSV are resolved against the CSV's directory).
    pub path: PathBuf,
    /// Batch defaults overridden by the CSV row.
    pub params: MediaParams,
    /// Where it came from, for messages (`csv line 4`, `stdin line 2`, `argument`).
    pub origin: String,
}

/// Reads paths, one per line (blank lines and lines starting with `#` are skipped; surrounding whitespace is
/// kept only inside the path).
pub fn read_paths(reader: impl BufRead, what: &str) -> Result<Vec<(PathBuf, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| format!("{what}: line {}: {e}", i + 1))?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        out.push((PathBuf::from(t), format!("{what} line {}", i + 1)));
    }
    Ok(out)
}

/// The CSV columns understood, with their accepted spellings (case, `_`, `-` and spaces are ignored).
const COLUMNS: &[(&str, &[&str])] = &[
    ("path", &["path", "file", "filepath", "media", "mediapath"]),
    ("media_name", &["medianame", "name"]),
    ("media_type", &["mediatype", "type"]),
    ("cover", &["cover", "coverpath", "coverfile"]),
    ("cover_type", &["covertype"]),
    ("procedure", &["procedure"]),
    ("class_id", &["classid"]),
    ("source_context", &["sourcecontext"]),
    ("session_context", &["sessioncontext"]),
    ("storage_region", &["storageregion"]),
    ("sub_app_id", &["subappid"]),
    ("expire_time", &["expiretime"]),
    ("ext_info", &["extinfo"]),
    ("media_storage_path", &["mediastoragepath"]),
];

fn column_of(header: &str) -> Option<&'static str> {
    let norm: String = header
        .chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect();
    COLUMNS
        .iter()
        .find(|(_, names)| names.contains(&norm.as_str()))
        .map(|(c, _)| *c)
}

/// Reads a CSV whose header row names the columns (see [`COLUMNS`]); an empty cell leaves the batch default.
pub fn read_csv(path: &Path, defaults: &MediaParams) -> Result<Vec<Source>, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("--csv {}: {e}", path.display()))?;
    parse_csv(file, path, defaults)
}

fn parse_csv(
    input: impl std::io::Read,
    path: &Path,
    defaults: &MediaParams,
) -> Result<Vec<Source>, String> {
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let resolve = |s: &str| {
        let p = PathBuf::from(s);
        if p.is_absolute() { p } else { base.join(p) }
    };
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let headers = rdr
        .headers()
        .map_err(|e| format!("--csv {}: header row: {e}", path.display()))?
        .clone();
    let mut cols = Vec::with_capacity(headers.len());
    for h in headers.iter() {
        match column_of(h) {
            Some(c) if cols.contains(&Some(c)) => {
                return Err(format!(
                    "--csv {}: column {h:?} appears twice",
                    path.display()
                ));
            }
            Some(c) => cols.push(Some(c)),
            None => {
                return Err(format!(
                    "--csv {}: unknown column {h:?}; known columns: {}",
                    path.display(),
                    COLUMNS
                        .iter()
                        .map(|(c, _)| *c)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
    }
    if !cols.contains(&Some("path")) {
        return Err(format!(
            "--csv {}: no `path` column in the header row",
            path.display()
        ));
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| format!("--csv {}: {e}", path.display()))?;
        let line = rec.position().map_or(0, |p| p.line());
        let at =
            |col: &str, msg: String| format!("--csv {} line {line}: {col}: {msg}", path.display());
        let mut p = defaults.clone();
        let mut media = None;
        for (value, col) in rec.iter().zip(&cols) {
            let Some(col) = *col else { continue };
            if value.is_empty() {
                continue;
            }
            let s = || Some(value.to_string());
            match col {
                "path" => media = Some(resolve(value)),
                "media_name" => p.media_name = s(),
                "media_type" => p.media_type = s(),
                "cover" => p.cover = Some(resolve(value)),
                "cover_type" => p.cover_type = s(),
                "procedure" => p.procedure = s(),
                "class_id" => {
                    p.class_id = Some(
                        value
                            .parse()
                            .map_err(|_| at(col, format!("{value:?} is not an integer")))?,
                    )
                }
                "source_context" => p.source_context = s(),
                "session_context" => p.session_context = s(),
                "storage_region" => p.storage_region = s(),
                "sub_app_id" => {
                    p.sub_app_id =
                        Some(value.parse().map_err(|_| {
                            at(col, format!("{value:?} is not an unsigned integer"))
                        })?)
                }
                "expire_time" => p.expire_time = s(),
                "ext_info" => p.ext_info = s(),
                "media_storage_path" => p.media_storage_path = s(),
                _ => {}
            }
        }
        let Some(media) = media else {
            return Err(at("path", "empty".into()));
        };
        out.push(Source {
            path: media,
            params: p,
            origin: format!("csv line {line}"),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_override_defaults_and_resolve_paths_against_the_csv() {
        let csv = "Path, Media Name,cover,class_id,SubAppId,Procedure\n\
                   a.mp4,First,a.jpg,3,,\n\
                   /abs/b.mp4,,,,\"7\",\n";
        let defaults = MediaParams {
            procedure: Some("P".into()),
            ..Default::default()
        };
        let rows = parse_csv(csv.as_bytes(), Path::new("/data/list.csv"), &defaults).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].path, PathBuf::from("/data/a.mp4"));
        assert_eq!(rows[0].params.media_name.as_deref(), Some("First"));
        assert_eq!(
            rows[0].params.cover.as_deref(),
            Some(Path::new("/data/a.jpg"))
        );
        assert_eq!(rows[0].params.class_id, Some(3));
        assert_eq!(rows[0].params.procedure.as_deref(), Some("P"));
        assert_eq!(rows[1].path, PathBuf::from("/abs/b.mp4"));
        assert_eq!(rows[1].params.sub_app_id, Some(7));
        assert_eq!(rows[1].origin, "csv line 3");
    }

    #[test]
    fn csv_errors_name_the_file_line_and_column() {
        let p = Path::new("l.csv");
        let d = MediaParams::default();
        for (csv, says) in [
            ("path,colour\na.mp4,red\n", "unknown column \"colour\""),
            ("name\nx\n", "no `path` column"),
            (
                "path,class_id\na.mp4,x\n",
                "line 2: class_id: \"x\" is not an integer",
            ),
            ("path,path\na,b\n", "appears twice"),
            ("path,name\n,x\n", "line 2: path: empty"),
            ("path,name\na.mp4\n", "l.csv"),
        ] {
            let e = parse_csv(csv.as_bytes(), p, &d).unwrap_err();
            assert!(e.contains(says), "{e} lacks {says}");
        }
    }

    #[test]
    fn path_lists_skip_blanks_and_comments() {
        let v = read_paths("a.mp4\n\n# note\n  b c.mp4  \n".as_bytes(), "stdin").unwrap();
        assert_eq!(
            v,
            vec![
                (PathBuf::from("a.mp4"), "stdin line 1".into()),
                (PathBuf::from("b c.mp4"), "stdin line 4".into())
            ]
        );
    }
}
