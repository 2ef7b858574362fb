//! Turning command-line paths into media files, and checking a media file (with its cover and, for HLS/DASH,
//! every file its manifests reference) locally, before anything is sent.

use crate::common::{MediaParams, ext, is_manifest};
use globset::{Glob, GlobSet, GlobSetBuilder};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use tencent_vod::{COVER_TYPES, MEDIA_TYPES};

/// How directories are expanded.
#[derive(Debug, Default)]
pub struct Walk {
    /// Descend into subdirectories.
    pub recursive: bool,
    /// Only files matching one of these (path relative to the directory given, `/`-separated); default: files
    /// with a media extension.
    pub include: Option<GlobSet>,
    /// Never files matching one of these.
    pub exclude: Option<GlobSet>,
}

/// Builds a glob set; the error names the flag and the pattern.
pub fn globs(flag: &str, patterns: &[String]) -> Result<Option<GlobSet>, String> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).map_err(|e| format!("{flag} {p:?}: {e}"))?);
    }
    b.build().map(Some).map_err(|e| format!("{flag}: {e}"))
}

fn is_media_file(p: &Path) -> bool {
    ext(p).is_some_and(|e| MEDIA_TYPES.contains(&e.as_str()))
}

fn hidden(p: &Path) -> bool {
    p.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// Expands `paths`: files are kept as given; directories yield their media files (sorted; hidden entries
/// skipped; symbolic links to files followed, to directories not). Files referenced by a manifest found in the
/// same walk (HLS segments, variant playlists, DASH segments) are not items of their own: they travel with
/// their manifest.
pub fn expand(paths: &[PathBuf], walk: &Walk) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if !meta.is_dir() {
            out.push(p.clone());
            continue;
        }
        let mut found = Vec::new();
        walk_dir(p, p, walk, &mut found)?;
        found.sort();
        let mut referenced: HashSet<PathBuf> = HashSet::new();
        for f in found.iter().filter(|f| is_manifest(f)) {
            // A manifest that does not parse is still an item: its check reports the problem.
            if let Ok(tree) = manifest_tree(f) {
                referenced.extend(tree.into_iter().map(|s| s.path));
            }
        }
        out.extend(found.into_iter().filter(|f| {
            let canonical = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
            !referenced.contains(&canonical)
        }));
    }
    Ok(out)
}

fn walk_dir(root: &Path, dir: &Path, walk: &Walk, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in rd {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        if hidden(&path) {
            continue;
        }
        let ft = entry
            .file_type()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let rel = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        if ft.is_dir() {
            if walk.recursive && !walk.exclude.as_ref().is_some_and(|x| x.is_match(&rel)) {
                walk_dir(root, &path, walk, out)?;
            }
            continue;
        }
        // A symbolic link counts when it points to a regular file.
        if ft.is_symlink() && !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let included = match &walk.include {
            Some(g) => g.is_match(&rel),
            None => is_media_file(&path),
        };
        if included && !walk.exclude.as_ref().is_some_and(|x| x.is_match(&rel)) {
            out.push(path);
        }
    }
    Ok(())
}

/// One file a manifest tree references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Referenced {
    /// Its path relative to the top manifest's directory, `/`-separated.
    pub relative: String,
    /// Canonical path.
    pub path: PathBuf,
}

/// Every file an HLS/DASH manifest references, nested playlists followed, each checked to exist as a regular
/// file inside the top manifest's directory (symbolic links resolved). The same rules the SDK applies before
/// ApplyUpload; an error names the manifest and the segment.
pub fn manifest_tree(root: &Path) -> Result<BTreeSet<Referenced>, String> {
    // The SDK's own walk; on a runtime of its own, on a thread of its own, so this works from any caller
    // (async code included) without blocking a runtime worker inside a runtime.
    let walked = std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("{}: {e}", root.display()))?
                .block_on(tencent_vod::__private::manifest::local_files(root))
                .map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err(format!("{}: the manifest check panicked", root.display())))
    })?;
    Ok(walked
        .into_iter()
        .map(|(relative, path)| Referenced { relative, path })
        .collect())
}

/// What a local check found.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Bytes of every object of the upload: media, cover, segments.
    pub total: u64,
    /// Files a manifest references.
    pub referenced: BTreeSet<Referenced>,
}

/// Checks a media file and its upload fields locally, as the SDK will before ApplyUpload: a readable, non-empty
/// regular file with a media type VOD accepts, a readable cover of a known type, every manifest segment present.
pub fn check(path: &Path, params: &MediaParams) -> Result<Checked, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", path.display()));
    }
    std::fs::File::open(path).map_err(|e| format!("{}: cannot open: {e}", path.display()))?;
    if meta.len() == 0 {
        return Err(format!(
            "{}: empty file (VOD does not accept empty media)",
            path.display()
        ));
    }
    let media_type = params
        .media_type
        .clone()
        .or_else(|| ext(path))
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(format!(
            "{}: {:?} is not a media type VOD accepts (expected one of {})",
            path.display(),
            media_type,
            MEDIA_TYPES.join(", ")
        ));
    }
    let mut total = meta.len();
    if let Some(cover) = &params.cover {
        let cm = std::fs::metadata(cover).map_err(|e| format!("cover {}: {e}", cover.display()))?;
        if !cm.is_file() || cm.len() == 0 {
            return Err(format!(
                "cover {}: not a non-empty regular file",
                cover.display()
            ));
        }
        std::fs::File::open(cover)
            .map_err(|e| format!("cover {}: cannot open: {e}", cover.display()))?;
        let ct = params
            .cover_type
            .clone()
            .or_else(|| ext(cover))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !COVER_TYPES.contains(&ct.as_str()) {
            return Err(format!(
                "cover {}: {ct:?} is not a cover type VOD accepts (expected one of {})",
                cover.display(),
                COVER_TYPES.join(", ")
            ));
        }
        total += cm.len();
    }
    let referenced = if matches!(media_type.as_str(), "m3u8" | "mpd") {
        let tree = manifest_tree(path)?;
        for r in &tree {
            total += std::fs::metadata(&r.path).map(|m| m.len()).unwrap_or(0);
        }
        tree
    } else {
        BTreeSet::new()
    };
    Ok(Checked { total, referenced })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, rel: &str, body: &[u8]) -> PathBuf {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn directories_expand_to_media_files_and_manifests_own_their_segments() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        touch(root, "a.mp4", b"x");
        touch(root, "notes.txt", b"x");
        touch(root, ".hidden.mp4", b"x");
        touch(root, "sub/b.mov", b"x");
        touch(root, "sub/deeper/c.mp3", b"x");
        touch(
            root,
            "hls/index.m3u8",
            b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nlow/p.m3u8\n",
        );
        touch(
            root,
            "hls/low/p.m3u8",
            b"#EXTM3U\n#EXTINF:1,\ns1.ts\n#EXTINF:1,\ns2.ts\n",
        );
        touch(root, "hls/low/s1.ts", b"x");
        touch(root, "hls/low/s2.ts", b"x");
        touch(root, "loose.ts", b"x");
        let rel = |v: Vec<PathBuf>| -> Vec<String> {
            v.iter()
                .map(|p| {
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/")
                })
                .collect()
        };
        let flat = expand(&[root.to_path_buf()], &Walk::default()).unwrap();
        assert_eq!(rel(flat), ["a.mp4", "loose.ts"]);
        let deep = expand(
            &[root.to_path_buf()],
            &Walk {
                recursive: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            rel(deep),
            [
                "a.mp4",
                "hls/index.m3u8",
                "loose.ts",
                "sub/b.mov",
                "sub/deeper/c.mp3"
            ]
        );
        let filtered = expand(
            &[root.to_path_buf()],
            &Walk {
                recursive: true,
                include: globs(
                    "--include",
                    &["*.mp4".into(), "*.mov".into(), "*.m3u8".into()],
                )
                .unwrap(),
                exclude: globs("--exclude", &["sub/**".into()]).unwrap(),
            },
        )
        .unwrap();
        assert_eq!(rel(filtered), ["a.mp4", "hls/index.m3u8"]);
        assert!(
            globs("--include", &["a[".into()])
                .unwrap_err()
                .contains("--include \"a[\"")
        );
    }

    #[test]
    fn checks_name_the_problem() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        let ok = touch(root, "a.mp4", b"data");
        let empty = touch(root, "e.mp4", b"");
        let exe = touch(root, "x.exe", b"data");
        let bad_hls = touch(root, "h/i.m3u8", b"#EXTM3U\n#EXTINF:1,\nmissing.ts\n");
        let escape = touch(root, "h2/i.m3u8", b"#EXTM3U\n#EXTINF:1,\n../a.mp4\n");
        let cover_bad = MediaParams {
            cover: Some(exe.clone()),
            ..Default::default()
        };
        let cases: Vec<(&Path, MediaParams, Option<&str>)> = vec![
            (&ok, MediaParams::default(), None),
            (&empty, MediaParams::default(), Some("empty file")),
            (
                &exe,
                MediaParams::default(),
                Some("\"exe\" is not a media type"),
            ),
            (&bad_hls, MediaParams::default(), Some("missing.ts")),
            (
                &escape,
                MediaParams::default(),
                Some("leaves the root manifest's directory"),
            ),
            (&ok, cover_bad, Some("not a cover type")),
            (
                Path::new("/nonexistent/z.mp4"),
                MediaParams::default(),
                Some("z.mp4"),
            ),
        ];
        for (path, params, want) in cases {
            match (check(path, &params), want) {
                (Ok(c), None) => assert_eq!(c.total, 4),
                (Err(e), Some(w)) => assert!(e.contains(w), "{e} lacks {w}"),
                (r, w) => panic!("{}: {r:?}, wanted {w:?}", path.display()),
            }
        }
    }
}
