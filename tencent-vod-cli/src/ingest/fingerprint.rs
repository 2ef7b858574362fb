//! What identifies an item's content.
//!
//! Two levels, so a re-run of a large tree costs one `stat` per file:
//! - the **stat signature**: SHA-256 over the size, modification time (ns), inode and device of every file of
//!   the item (the media; for HLS/DASH also every file its manifests reference). Equal to the journal's → the
//!   content is taken as unchanged and nothing is read.
//! - the **digest**: SHA-256 of the full content (for HLS/DASH: of each file, with its relative path). Computed
//!   only for a new path or when the stat signature changed: equal to an item's digest → the same item (a
//!   `touch`, a copy-and-rename with the same bytes: not uploaded again); different → a new item.
//!
//! Full hashing rather than a sampled hash: a sample misses a same-size edit in an unsampled region, and SHA-256
//! with the CPU's SHA extensions runs at about 1.5–2 GB/s, well above what an upload to VOD moves, so the
//! one-time read of a new file costs a small fraction of its upload (see the README for the measured figure).
//! What the two levels cannot see: content rewritten in place with the same size, modification time and inode
//! (a deliberate `touch -r`); `--rehash` re-reads every file for that case.

use crate::sources::Referenced;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::Path;

/// The cheap part of an item's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Size of the media file.
    pub size: u64,
    /// Its modification time, ns since the epoch.
    pub mtime_ns: Option<i64>,
    /// See the module docs.
    pub stat_sig: String,
}

fn mtime_ns(m: &std::fs::Metadata) -> Option<i64> {
    m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|d| i64::try_from(d.as_nanos()).ok())
}

fn feed_meta(h: &mut Sha256, name: &str, m: &std::fs::Metadata) {
    h.update(name.as_bytes());
    h.update([0]);
    h.update(m.len().to_le_bytes());
    h.update(mtime_ns(m).unwrap_or(-1).to_le_bytes());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        h.update(m.ino().to_le_bytes());
        h.update(m.dev().to_le_bytes());
    }
}

/// Stats the media file and every referenced file.
pub fn stat(path: &Path, referenced: &BTreeSet<Referenced>) -> Result<Stat, String> {
    let m = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    feed_meta(&mut h, "", &m);
    for r in referenced {
        let rm = std::fs::metadata(&r.path).map_err(|e| format!("{}: {e}", r.path.display()))?;
        feed_meta(&mut h, &r.relative, &rm);
    }
    Ok(Stat {
        size: m.len(),
        mtime_ns: mtime_ns(&m),
        stat_sig: hex::encode(&h.finalize()[..16]),
    })
}

fn hash_file(path: &Path, buf: &mut [u8]) -> Result<[u8; 32], String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = Sha256::new();
    loop {
        let n = f
            .read(buf)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().into())
}

/// The content digest (hex SHA-256).
pub fn digest(path: &Path, referenced: &BTreeSet<Referenced>) -> Result<String, String> {
    let mut buf = vec![0u8; 1 << 20];
    let media = hash_file(path, &mut buf)?;
    if referenced.is_empty() {
        return Ok(hex::encode(media));
    }
    let mut h = Sha256::new();
    h.update(media);
    for r in referenced {
        h.update(r.relative.as_bytes());
        h.update([0]);
        h.update(hash_file(&r.path, &mut buf)?);
    }
    Ok(hex::encode(h.finalize()))
}

/// The checkpoint key of an item: derived from its identity, so any run (even one that lost its journal rows to
/// an OS crash) finds the same checkpoint.
pub fn checkpoint_key(path: &str, digest: &str) -> String {
    let mut h = Sha256::new();
    h.update(path.as_bytes());
    h.update([0]);
    h.update(digest.as_bytes());
    format!("tvod-{}", &hex::encode(h.finalize())[..40])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_and_digest_follow_the_content() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.mp4");
        std::fs::write(&p, b"one").unwrap();
        let none = BTreeSet::new();
        let (s1, d1) = (stat(&p, &none).unwrap(), digest(&p, &none).unwrap());
        assert_eq!(stat(&p, &none).unwrap(), s1);
        assert_eq!(d1, hex::encode(Sha256::digest(b"one")));
        std::fs::write(&p, b"two").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1))
            .unwrap();
        assert_ne!(stat(&p, &none).unwrap().stat_sig, s1.stat_sig);
        assert_ne!(digest(&p, &none).unwrap(), d1);
        assert_ne!(checkpoint_key("/a", "x"), checkpoint_key("/a", "y"));
        assert!(checkpoint_key("/a", "x").len() <= 100);
    }
}
