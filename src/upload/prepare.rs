//! Local checks made before any network call, and HLS/DASH segment discovery.

use super::request::{
    COVER_TYPES, MAX_SESSION_CONTEXT, MAX_SOURCE_CONTEXT, MEDIA_TYPES, SourceSpec,
};
use crate::cos::FileSnapshot;
use crate::error::{Error, ManifestErrorKind, Result};
use crate::vod::{ApplyUploadRequest, ParseStreamingManifestRequest, VodApi};
use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

/// Lower-cased extension of a path.
pub(crate) fn extension(path: &Path) -> Option<String> {
    path.extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty())
}

/// The file name without its last extension (`a.b.mp4` → `a.b`).
pub(crate) fn media_name(path: &Path) -> Option<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .filter(|s| !s.is_empty())
}

/// Checks that `path` is an existing, readable regular file; returns its size and the snapshot the upload is
/// held to (a file that changes from now until CommitUpload fails the upload).
pub(crate) async fn check_file(field: &str, path: &Path) -> Result<(u64, FileSnapshot)> {
    let (field, p) = (field.to_string(), path.to_path_buf());
    // One trip to the blocking pool for both system calls.
    tokio::task::spawn_blocking(move || {
        let meta = std::fs::metadata(&p).map_err(|e| Error::io(&p, format!("{field}: stat"), e))?;
        if meta.is_dir() {
            return Err(Error::invalid(
                format!("{field} ({})", p.display()),
                "is a directory; expected a regular file",
            ));
        }
        if !meta.is_file() {
            return Err(Error::invalid(
                format!("{field} ({})", p.display()),
                "is not a regular file",
            ));
        }
        // Opening proves readability now rather than halfway through the transfer.
        std::fs::File::open(&p).map_err(|e| Error::io(&p, format!("{field}: open"), e))?;
        Ok((meta.len(), FileSnapshot::of(&meta)))
    })
    .await
    .map_err(|e| Error::io(path, "stat", std::io::Error::other(e)))?
}

/// Fills defaults (type and name from the file, SubAppId from the client) and validates every field.
pub(crate) fn complete_apply_fields(
    apply: &mut ApplyUploadRequest,
    media: &SourceSpec,
    cover: Option<&SourceSpec>,
    default_sub_app_id: Option<u64>,
) -> Result<()> {
    if apply.media_type.is_empty() {
        match media.path() {
            Some(p) => {
                apply.media_type = extension(p).ok_or_else(|| {
                    Error::invalid(
                        format!("media_type ({})", p.display()),
                        "the file has no extension; set the media type explicitly (e.g. mp4)",
                    )
                })?;
            }
            None => {
                return Err(Error::invalid(
                    "media_type",
                    "required when uploading from bytes or a reader",
                ));
            }
        }
    }
    apply.media_type = apply.media_type.to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&apply.media_type.as_str()) {
        return Err(Error::invalid(
            format!("media_type ({})", media.describe()),
            format!(
                "{:?} is not a media type VOD accepts; expected one of {}",
                apply.media_type,
                MEDIA_TYPES.join(", ")
            ),
        ));
    }
    if apply.media_name.is_none()
        && let Some(p) = media.path()
    {
        apply.media_name = media_name(p);
    }
    match cover {
        Some(c) => {
            if apply.cover_type.as_deref().is_none_or(str::is_empty) {
                let t = c.path().and_then(extension).ok_or_else(|| {
                    Error::invalid(
                        format!("cover_type ({})", c.describe()),
                        "cannot infer the cover type; set it explicitly (e.g. jpg)",
                    )
                })?;
                apply.cover_type = Some(t);
            }
            let t = apply
                .cover_type
                .as_deref()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if !COVER_TYPES.contains(&t.as_str()) {
                return Err(Error::invalid(
                    format!("cover_type ({})", c.describe()),
                    format!(
                        "{t:?} is not a cover type VOD accepts; expected one of {}",
                        COVER_TYPES.join(", ")
                    ),
                ));
            }
            apply.cover_type = Some(t);
        }
        None => {
            if apply.cover_type.is_some() {
                return Err(Error::invalid(
                    "cover_type",
                    "a cover type was given but no cover file; add the cover or drop the type",
                ));
            }
        }
    }
    if apply.sub_app_id.is_none() {
        apply.sub_app_id = default_sub_app_id;
    }
    let len = |s: &Option<String>| s.as_deref().map_or(0, |s| s.chars().count());
    if len(&apply.source_context) > MAX_SOURCE_CONTEXT {
        return Err(Error::invalid(
            "source_context",
            format!(
                "{} characters; at most {MAX_SOURCE_CONTEXT} allowed",
                len(&apply.source_context)
            ),
        ));
    }
    if len(&apply.session_context) > MAX_SESSION_CONTEXT {
        return Err(Error::invalid(
            "session_context",
            format!(
                "{} characters; at most {MAX_SESSION_CONTEXT} allowed",
                len(&apply.session_context)
            ),
        ));
    }
    if let Some(p) = &apply.media_storage_path
        && let Some(problem) = storage_path_problem(p)
    {
        return Err(Error::invalid(
            "media_storage_path",
            format!("{p:?} {problem}"),
        ));
    }
    if let Some(r) = &apply.storage_region {
        crate::transport::endpoint::validate_region("storage_region", r)?;
    }
    if let Some(t) = &apply.expire_time
        && time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_err()
    {
        return Err(Error::invalid(
            "expire_time",
            format!("{t:?} is not an ISO 8601 time; expected e.g. 2030-01-01T00:00:00Z"),
        ));
    }
    Ok(())
}

/// Longest `MediaStoragePath` in bytes, the leading `/` included (its key, without the `/`, stays within COS's
/// 850-byte key limit; segment keys of a manifest are built next to it).
pub const MAX_MEDIA_STORAGE_PATH: usize = 850;

/// What is wrong with a storage path (`MediaStoragePath` or an answer's `…StoragePath`), if anything: it must
/// start with `/`, name a file (not end with `/`), have no empty, `.` or `..` segments, no backslash and no control
/// characters, and be at most [`MAX_MEDIA_STORAGE_PATH`] bytes.
pub(crate) fn storage_path_problem(p: &str) -> Option<String> {
    if !p.starts_with('/') {
        return Some("must start with '/'".into());
    }
    if p.len() > MAX_MEDIA_STORAGE_PATH {
        return Some(format!(
            "is {} bytes; at most {MAX_MEDIA_STORAGE_PATH} are allowed",
            p.len()
        ));
    }
    if let Some(c) = p.chars().find(|c| c.is_control()) {
        return Some(format!("contains the control character {c:?}"));
    }
    if p.contains('\\') {
        return Some("contains a backslash; use '/' to separate directories".into());
    }
    if p.ends_with('/') {
        return Some("ends with '/'; it must name a file, e.g. /dir/name.mp4".into());
    }
    for seg in p[1..].split('/') {
        match seg {
            "" => return Some("has an empty segment ('//')".into()),
            "." | ".." => return Some(format!("has a {seg:?} segment; use a plain path")),
            _ => {}
        }
    }
    None
}

/// Whether a media type is a streaming manifest.
pub(crate) fn is_manifest_type(t: &str) -> bool {
    matches!(t, "m3u8" | "mpd")
}

/// Deepest nesting of playlists below the top-level manifest: a master playlist naming media playlists is depth 1,
/// and real HLS never needs more than 2. A deeper chain fails with [`ManifestErrorKind::TooDeep`] before any
/// request (each playlist would otherwise cost a `ParseStreamingManifest` call).
pub const MAX_MANIFEST_DEPTH: usize = 8;

/// Most files (segments, keys, init sections, nested playlists) one manifest tree may reference; more fails with
/// [`ManifestErrorKind::TooManyFiles`] before any file is opened or any request made. Ten hours of 2-second
/// segments in five renditions is 90,000.
pub const MAX_MANIFEST_FILES: usize = 100_000;

/// One file referenced by a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    /// Where it is on disk: the canonical path (symbolic links resolved, inside the manifest's directory).
    pub local: PathBuf,
    /// Its path relative to the root manifest's directory, `/`-separated, as the manifest names it.
    pub relative: String,
    /// Size in bytes.
    pub size: u64,
    /// The file as checked; the upload fails if it changes before CommitUpload.
    pub snapshot: FileSnapshot,
}

/// Lexically resolves `.` and `..` (no filesystem access, so a missing file still gets a clear error).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

fn manifest_error(
    manifest: &Path,
    segment: Option<&str>,
    kind: ManifestErrorKind,
    reason: impl Into<String>,
) -> Error {
    Error::Manifest {
        manifest: manifest.to_path_buf(),
        segment: segment.map(str::to_string),
        kind,
        reason: reason.into(),
    }
}

/// Rejects URLs, absolute paths and paths that climb out of the root manifest's directory.
fn check_segment_name(manifest: &Path, seg: &str) -> Result<()> {
    let bad =
        |reason: &str| manifest_error(manifest, Some(seg), ManifestErrorKind::InvalidPath, reason);
    if seg.trim().is_empty() {
        return Err(bad("empty segment path"));
    }
    if seg.contains("://") || seg.starts_with("data:") {
        return Err(bad(
            "segment is a URL; only relative paths to local files can be uploaded",
        ));
    }
    if seg.starts_with('/') || seg.starts_with('\\') || Path::new(seg).is_absolute() {
        return Err(bad(
            "segment path is absolute; only relative paths can be uploaded",
        ));
    }
    if seg.contains('?') || seg.contains('#') {
        return Err(bad("segment path has a query or fragment"));
    }
    Ok(())
}

/// Finds every file an `.m3u8`/`.mpd` references, recursively for nested manifests, de-duplicated, and checks each
/// exists locally. Nested manifests are returned as segments too.
///
/// Two passes: first with the crate's own parser ([`crate::manifest`]), so a missing or unusable segment fails
/// before any request is made; then with VOD's `ParseStreamingManifest` (what the official SDKs use), whose answer
/// is authoritative: anything it lists that the local parser did not is checked and uploaded as well. Both passes
/// apply the same rules: every path must resolve (following symbolic links) inside the top-level manifest's
/// directory, playlists nest at most [`MAX_MANIFEST_DEPTH`] deep and the tree names at most
/// [`MAX_MANIFEST_FILES`] files.
pub(crate) async fn collect_segments(api: &VodApi, root: &Path) -> Result<Vec<Segment>> {
    let local = walk_manifests(root, parse_locally).await?;
    let remote = walk_manifests(root, |text, kind| async move {
        api.parse_streaming_manifest(
            &ParseStreamingManifestRequest::new(text).with_manifest_type(kind),
        )
        .await
        .map(|r| r.media_segment_set)
    })
    .await?;
    let mut out = local;
    let known: HashSet<String> = out.iter().map(|s| s.relative.clone()).collect();
    for s in remote {
        if !known.contains(&s.relative) {
            tracing::debug!(segment = %s.relative, "segment listed by ParseStreamingManifest only");
            out.push(s);
        }
    }
    if out.len() > MAX_MANIFEST_FILES {
        return Err(manifest_error(
            root,
            None,
            ManifestErrorKind::TooManyFiles {
                max: MAX_MANIFEST_FILES,
            },
            format!(
                "the manifest tree references {} files; at most {MAX_MANIFEST_FILES} are allowed",
                out.len()
            ),
        ));
    }
    Ok(out)
}

/// The crate's own manifest parser, as a [`walk_manifests`] pass.
async fn parse_locally(text: String, kind: String) -> Result<Vec<String>> {
    Ok(match kind.as_str() {
        "mpd" => crate::manifest::parse_mpd(&text),
        _ => crate::manifest::parse_m3u8(&text),
    })
}

/// The local pass of [`collect_segments`] alone (no request): every file the manifest tree at `root` references,
/// as (path relative to the top manifest's directory, canonical path), under the same rules. For tools that
/// check a manifest before they have a client.
pub(crate) async fn local_segments(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let segments = walk_manifests(root, parse_locally).await?;
    Ok(segments
        .into_iter()
        .map(|s| (s.relative, s.local))
        .collect())
}

/// A playlist waiting to be read.
struct Pending {
    /// Its path as the manifests name it (segments are joined to its directory).
    lexical: PathBuf,
    /// Its canonical path (what is read).
    canonical: PathBuf,
    /// Nesting depth (0 = the top-level manifest).
    depth: usize,
    /// Canonical paths of the playlists that include it, for loop detection.
    ancestors: Vec<PathBuf>,
}

/// Walks a manifest tree with the given parser (text, kind) → segment names.
async fn walk_manifests<F, Fut>(root: &Path, mut parse: F) -> Result<Vec<Segment>>
where
    F: FnMut(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<String>>>,
{
    let root =
        normalize(&std::path::absolute(root).map_err(|e| Error::io(root, "resolve path", e))?);
    let root_dir = root.parent().map(Path::to_path_buf).unwrap_or_default();
    // Everything must resolve inside the top-level manifest's directory, symbolic links followed.
    let root_dir_real = tokio::fs::canonicalize(&root_dir)
        .await
        .map_err(|e| Error::io(&root_dir, "resolve the manifest's directory", e))?;
    let root_real = tokio::fs::canonicalize(&root)
        .await
        .map_err(|e| Error::io(&root, "resolve manifest path", e))?;
    let mut out = Vec::new();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    seen.insert(root.clone());
    // Depth-first with each manifest's ancestors, so loops are reported, not followed.
    let mut work = vec![Pending {
        lexical: root.clone(),
        canonical: root_real,
        depth: 0,
        ancestors: vec![],
    }];
    while let Some(Pending {
        lexical: manifest,
        canonical: manifest_real,
        depth,
        ancestors,
    }) = work.pop()
    {
        let text = tokio::fs::read_to_string(&manifest_real)
            .await
            .map_err(|e| Error::io(&manifest, "read manifest", e))?;
        let kind = extension(&manifest).unwrap_or_else(|| "m3u8".into());
        let segments = parse(text, kind).await?;
        let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
        // The count cap first, before any file is touched.
        let mut fresh = HashSet::new();
        for seg in &segments {
            check_segment_name(&manifest, seg)?;
            let local = normalize(&dir.join(seg));
            if !seen.contains(&local) {
                fresh.insert(local);
            }
        }
        if out.len() + fresh.len() > MAX_MANIFEST_FILES {
            return Err(manifest_error(
                &manifest,
                None,
                ManifestErrorKind::TooManyFiles {
                    max: MAX_MANIFEST_FILES,
                },
                format!(
                    "the manifest tree references more than {MAX_MANIFEST_FILES} files ({} so far)",
                    out.len() + fresh.len()
                ),
            ));
        }
        for seg in segments {
            let local = normalize(&dir.join(&seg));
            let relative = local.strip_prefix(&root_dir).map_err(|_| {
                manifest_error(
                    &manifest,
                    Some(&seg),
                    ManifestErrorKind::OutsideManifestDir {
                        resolved: local.clone(),
                    },
                    format!(
                        "segment path leaves the root manifest's directory {} (it names {})",
                        root_dir.display(),
                        local.display()
                    ),
                )
            })?;
            let relative = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let real = match tokio::fs::canonicalize(&local).await {
                Ok(p) => p,
                Err(e) => {
                    let what = match tokio::fs::symlink_metadata(&local).await {
                        Ok(m) if m.file_type().is_symlink() => {
                            "is a symbolic link to a missing file"
                        }
                        _ => "is missing",
                    };
                    return Err(manifest_error(
                        &manifest,
                        Some(&seg),
                        ManifestErrorKind::Missing,
                        format!("segment file {} {what} ({e})", local.display()),
                    ));
                }
            };
            if !real.starts_with(&root_dir_real) {
                return Err(manifest_error(
                    &manifest,
                    Some(&seg),
                    ManifestErrorKind::OutsideManifestDir {
                        resolved: real.clone(),
                    },
                    format!(
                        "{} points to {} (through a symbolic link), outside the root manifest's directory {}; \
                         it is not uploaded",
                        local.display(),
                        real.display(),
                        root_dir_real.display()
                    ),
                ));
            }
            let is_manifest = extension(&local).is_some_and(|e| is_manifest_type(&e));
            if is_manifest && (ancestors.contains(&real) || real == manifest_real) {
                return Err(manifest_error(
                    &manifest,
                    Some(&seg),
                    ManifestErrorKind::Loop,
                    "manifest loop: a playlist includes itself or one of its parents",
                ));
            }
            if !seen.insert(local.clone()) {
                continue;
            }
            let meta = match tokio::fs::metadata(&real).await {
                Ok(m) if m.is_file() => m,
                Ok(_) => {
                    return Err(manifest_error(
                        &manifest,
                        Some(&seg),
                        ManifestErrorKind::Missing,
                        format!("{} is not a regular file", local.display()),
                    ));
                }
                Err(e) => {
                    return Err(manifest_error(
                        &manifest,
                        Some(&seg),
                        ManifestErrorKind::Missing,
                        format!("segment file {} is missing ({e})", local.display()),
                    ));
                }
            };
            if is_manifest && depth + 1 > MAX_MANIFEST_DEPTH {
                return Err(manifest_error(
                    &manifest,
                    Some(&seg),
                    ManifestErrorKind::TooDeep {
                        max: MAX_MANIFEST_DEPTH,
                    },
                    format!(
                        "playlists nest more than {MAX_MANIFEST_DEPTH} levels deep below the top-level manifest"
                    ),
                ));
            }
            out.push(Segment {
                local: real.clone(),
                relative,
                size: meta.len(),
                snapshot: FileSnapshot::of(&meta),
            });
            if is_manifest {
                let mut anc = ancestors.clone();
                anc.push(manifest_real.clone());
                work.push(Pending {
                    lexical: local,
                    canonical: real,
                    depth: depth + 1,
                    ancestors: anc,
                });
            }
        }
    }
    Ok(out)
}

/// The COS key of a segment: the manifest key's directory joined with the segment's relative path.
pub(crate) fn segment_key(media_key: &str, relative: &str) -> String {
    match media_key.rfind('/') {
        Some(i) => format!("{}/{}", &media_key[..i], relative),
        None => relative.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_types() {
        assert_eq!(media_name(Path::new("/x/a.b.mp4")).as_deref(), Some("a.b"));
        assert_eq!(extension(Path::new("/x/A.MP4")).as_deref(), Some("mp4"));
        assert_eq!(extension(Path::new("/x/noext")), None);
        assert_eq!(segment_key("a/b/index.m3u8", "s/1.ts"), "a/b/s/1.ts");
        assert_eq!(segment_key("index.m3u8", "1.ts"), "1.ts");
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    }

    #[test]
    fn defaults_and_validation() {
        let media = SourceSpec::Path("/data/Movie.Final.MP4".into());
        let cover = SourceSpec::Path("/data/c.JPG".into());
        let mut a = ApplyUploadRequest::default();
        complete_apply_fields(&mut a, &media, Some(&cover), Some(7)).unwrap();
        assert_eq!(a.media_type, "mp4");
        assert_eq!(a.media_name.as_deref(), Some("Movie.Final"));
        assert_eq!(a.cover_type.as_deref(), Some("jpg"));
        assert_eq!(a.sub_app_id, Some(7));

        let mut a = ApplyUploadRequest::default();
        let e = complete_apply_fields(&mut a, &SourceSpec::Path("/x/file".into()), None, None)
            .unwrap_err();
        assert!(e.to_string().contains("no extension"), "{e}");

        let mut a = ApplyUploadRequest::default();
        let e = complete_apply_fields(&mut a, &SourceSpec::Path("/x/a.exe".into()), None, None)
            .unwrap_err();
        assert!(e.to_string().contains("\"exe\""), "{e}");

        let mut a = ApplyUploadRequest::default();
        let e = complete_apply_fields(
            &mut a,
            &media,
            Some(&SourceSpec::Bytes(bytes::Bytes::new())),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("cover_type"), "{e}");

        let mut a = ApplyUploadRequest {
            source_context: Some("x".repeat(251)),
            ..Default::default()
        };
        let e = complete_apply_fields(&mut a, &media, None, None).unwrap_err();
        assert!(e.to_string().contains("source_context"), "{e}");
    }

    #[test]
    fn segment_names() {
        let m = Path::new("/m/index.m3u8");
        assert!(check_segment_name(m, "a/b.ts").is_ok());
        assert!(check_segment_name(m, "http://x/y.ts").is_err());
        assert!(check_segment_name(m, "/abs.ts").is_err());
        assert!(check_segment_name(m, "").is_err());
    }
}
