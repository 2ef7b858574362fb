//! What an upload reads from, and the streaming request bodies made from it.

use super::crc::Crc64;
use crate::error::{Error, Result};
use crate::progress::ProgressTracker;
use bytes::Bytes;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::AsyncRead;

/// The data of an upload.
///
/// A [`Path`](UploadSource::Path) source is checked against changes: the file's size, modification time,
/// status-change time, inode and device are recorded when it is opened and compared again at the end of every
/// part (after its last byte was read) and before the upload is completed. A change fails the upload with
/// [`Error::SourceChanged`] (the multipart upload is aborted, a single PUT is cut off before its last byte), so a
/// file rewritten, appended to or truncated while it is read never becomes a complete object.
///
/// ```
/// use tencent_vod::cos::UploadSource;
/// let a = UploadSource::path("/data/a.mp4");
/// let b = UploadSource::bytes(bytes::Bytes::from_static(b"hello"));
/// let c = UploadSource::reader(tokio::io::empty(), None);
/// # let _ = (a, b, c);
/// ```
pub enum UploadSource {
    /// A local file, read part by part as it is sent (checked up front: exists, regular file).
    Path(PathBuf),
    /// Bytes in memory (shared, never copied).
    Bytes(Bytes),
    /// Any reader, with its length when known. With `None`, a short stream (below the multipart threshold) is
    /// one PUT and a longer one is sent in parts as it is read.
    Reader {
        /// The reader.
        reader: Box<dyn AsyncRead + Send + Unpin + 'static>,
        /// Its exact length, when known (a reader that ends early or runs long fails the upload).
        size: Option<u64>,
    },
}

impl fmt::Debug for UploadSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadSource::Path(p) => f.debug_tuple("Path").field(p).finish(),
            UploadSource::Bytes(b) => f.debug_tuple("Bytes").field(&b.len()).finish(),
            UploadSource::Reader { size, .. } => f
                .debug_struct("Reader")
                .field("size", size)
                .finish_non_exhaustive(),
        }
    }
}

impl UploadSource {
    /// A local file.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        UploadSource::Path(path.into())
    }

    /// Bytes in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        UploadSource::Bytes(bytes.into())
    }

    /// A reader, with its length if known.
    pub fn reader(reader: impl AsyncRead + Send + Unpin + 'static, size: Option<u64>) -> Self {
        UploadSource::Reader {
            reader: Box::new(reader),
            size,
        }
    }
}

/// What identifies a file's content cheaply: size, modification and status-change times, inode and device.
/// Two snapshots differ when the file was written to, truncated, appended to, replaced or moved.
///
/// Detection relies on the file system's timestamps: a write that keeps the size and lands within the same
/// timestamp tick as the snapshot (coarse file systems: up to a few milliseconds; FAT: 2 s) cannot be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileSnapshot {
    len: u64,
    modified: Option<std::time::SystemTime>,
    #[cfg(unix)]
    unix: (u64, u64, i64, i64),
}

impl FileSnapshot {
    /// The snapshot of a file's metadata (following symbolic links).
    pub(crate) fn of(meta: &std::fs::Metadata) -> Self {
        FileSnapshot {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            unix: {
                use std::os::unix::fs::MetadataExt;
                (meta.dev(), meta.ino(), meta.ctime(), meta.ctime_nsec())
            },
        }
    }

    /// The size recorded.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// What changed from `self` to `now`, in words; `None` when nothing did.
    pub(crate) fn diff(&self, now: &FileSnapshot) -> Option<String> {
        let mut what = Vec::new();
        #[cfg(unix)]
        if (self.unix.0, self.unix.1) != (now.unix.0, now.unix.1) {
            what.push(format!(
                "replaced: inode {}:{} -> {}:{}",
                self.unix.0, self.unix.1, now.unix.0, now.unix.1
            ));
        }
        if self.len != now.len {
            what.push(format!("size {} -> {} bytes", self.len, now.len));
        }
        if self.modified != now.modified {
            what.push("modification time changed".to_string());
        }
        #[cfg(unix)]
        if (self.unix.2, self.unix.3) != (now.unix.2, now.unix.3) && what.is_empty() {
            what.push("status-change time changed".to_string());
        }
        (!what.is_empty()).then(|| what.join(", "))
    }

    /// Stats `path` (following symbolic links) and compares; `Err(SourceChanged)` on any difference or when the
    /// path can no longer be read.
    pub(crate) fn verify_path(&self, path: &Path) -> Result<()> {
        match std::fs::metadata(path) {
            Ok(m) => match self.diff(&FileSnapshot::of(&m)) {
                None => Ok(()),
                Some(detail) => Err(changed(path, detail)),
            },
            Err(e) => Err(changed(path, format!("cannot stat it any more: {e}"))),
        }
    }
}

fn changed(path: &Path, detail: String) -> Error {
    Error::SourceChanged {
        path: path.to_path_buf(),
        detail,
    }
}

/// Chunk buffers reused by every chunk and part of one file upload: in the steady state a chunk costs no
/// allocation, no zeroing and no fresh page (each fresh page is a fault). A buffer goes back to the pool when the
/// HTTP stack drops the `Bytes` it was sent as; at most `keep` idle buffers are kept (about three per part in
/// flight: one being read, one or two being written), so memory stays `keep × chunk` at most.
pub(crate) struct ChunkPool {
    free: Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

impl ChunkPool {
    pub(crate) fn new(keep: usize) -> Self {
        ChunkPool {
            free: Mutex::new(Vec::new()),
            keep: keep.max(1),
        }
    }

    /// A buffer of at least `len` bytes (its contents are stale, and overwritten by the read).
    fn take(&self, len: usize) -> Vec<u8> {
        let reused = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            free.iter()
                .rposition(|b| b.len() >= len)
                .map(|i| free.swap_remove(i))
        };
        reused.unwrap_or_else(|| vec![0u8; len])
    }

    fn give(&self, buf: Vec<u8>) {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        if free.len() < self.keep {
            free.push(buf);
        }
    }
}

/// The first `len` bytes of a pooled buffer, returned to the pool when dropped (the owner of a [`Bytes`]).
struct PooledChunk {
    buf: Vec<u8>,
    len: usize,
    pool: Arc<FileHandle>,
}

impl AsRef<[u8]> for PooledChunk {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

impl Drop for PooledChunk {
    fn drop(&mut self) {
        self.pool.pool.give(std::mem::take(&mut self.buf));
    }
}

/// An open file shared by the parts of one upload (positional reads, no shared cursor), with the snapshot taken
/// when it was opened and the upload's [`ChunkPool`].
pub(crate) struct FileHandle {
    pub(crate) path: PathBuf,
    file: std::fs::File,
    snapshot: FileSnapshot,
    pool: ChunkPool,
    /// Whether non-blocking reads of cached data (`RWF_NOWAIT`) are still worth trying on this file.
    nowait: std::sync::atomic::AtomicBool,
}

impl FileHandle {
    /// Opens and checks a path: it must exist and be a regular file. Returns the handle and the size. With
    /// `expected` (the snapshot taken when the caller checked the file), a file that changed since then fails
    /// with [`Error::SourceChanged`]. `parts_in_flight` sizes the chunk pool.
    pub(crate) async fn open(
        path: &Path,
        expected: Option<FileSnapshot>,
        parts_in_flight: usize,
    ) -> Result<(Arc<FileHandle>, u64)> {
        let p = path.to_path_buf();
        tokio::task::spawn_blocking(move || {
            let meta = std::fs::metadata(&p).map_err(|e| Error::io(&p, "stat", e))?;
            if !meta.is_file() {
                return Err(Error::invalid(
                    format!("source ({})", p.display()),
                    if meta.is_dir() {
                        "is a directory, expected a regular file".to_string()
                    } else {
                        "is not a regular file".to_string()
                    },
                ));
            }
            let file = std::fs::File::open(&p).map_err(|e| Error::io(&p, "open", e))?;
            let snapshot =
                FileSnapshot::of(&file.metadata().map_err(|e| Error::io(&p, "stat", e))?);
            if let Some(detail) = expected.and_then(|x| x.diff(&snapshot)) {
                return Err(changed(
                    &p,
                    format!("between the local checks and the upload: {detail}"),
                ));
            }
            let size = snapshot.len();
            Ok((
                Arc::new(FileHandle {
                    path: p,
                    file,
                    snapshot,
                    pool: ChunkPool::new(parts_in_flight.saturating_mul(3).saturating_add(1)),
                    nowait: std::sync::atomic::AtomicBool::new(cfg!(target_os = "linux")),
                }),
                size,
            ))
        })
        .await
        .map_err(|e| Error::io(path, "open", std::io::Error::other(e)))?
    }

    /// Checks that the file is still what it was when opened: the open file (written to, truncated, appended)
    /// and the path (replaced or removed). `Err(SourceChanged)` otherwise.
    pub(crate) fn verify_unchanged_blocking(&self) -> Result<()> {
        let now = self
            .file
            .metadata()
            .map_err(|e| changed(&self.path, format!("cannot stat it any more: {e}")))?;
        if let Some(detail) = self.snapshot.diff(&FileSnapshot::of(&now)) {
            return Err(changed(&self.path, detail));
        }
        self.snapshot.verify_path(&self.path)
    }

    /// [`verify_unchanged_blocking`](Self::verify_unchanged_blocking) on the blocking pool.
    pub(crate) async fn verify_unchanged(self: &Arc<Self>) -> Result<()> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || me.verify_unchanged_blocking())
            .await
            .map_err(|e| Error::io(&self.path, "stat", std::io::Error::other(e)))?
    }

    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.file.read_exact_at(buf, offset)
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            let mut done = 0;
            while done < buf.len() {
                let n = self
                    .file
                    .seek_read(&mut buf[done..], offset + done as u64)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
            Ok(())
        }
        #[cfg(not(any(unix, windows)))]
        {
            use std::io::{Read, Seek, SeekFrom};
            let mut f = &self.file;
            f.seek(SeekFrom::Start(offset))?;
            f.read_exact(buf)
        }
    }

    /// Reads as much of `buf` at `offset` as the page cache holds, without blocking (`preadv2` with
    /// `RWF_NOWAIT`): the bytes read, `0` when none are cached or the file system does not support it (then it
    /// is not tried again on this file).
    #[cfg(target_os = "linux")]
    fn read_cached(&self, buf: &mut [u8], offset: u64) -> usize {
        use rustix::io::{Errno, ReadWriteFlags, preadv2};
        use std::sync::atomic::Ordering::Relaxed;
        if !self.nowait.load(Relaxed) {
            return 0;
        }
        let mut done = 0;
        while done < buf.len() {
            let mut io = [std::io::IoSliceMut::new(&mut buf[done..])];
            match preadv2(
                &self.file,
                &mut io,
                offset + done as u64,
                ReadWriteFlags::NOWAIT,
            ) {
                Ok(0) => break, // end of file (or shrunk): the blocking read will tell
                Ok(n) => done += n,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break, // not cached: read it on the blocking pool
                Err(_) => {
                    // EOPNOTSUPP, ENOSYS, EINVAL: no non-blocking reads on this file (system).
                    self.nowait.store(false, Relaxed);
                    break;
                }
            }
        }
        done
    }

    #[cfg(not(target_os = "linux"))]
    fn read_cached(&self, _buf: &mut [u8], _offset: u64) -> usize {
        0
    }

    /// Reads `len` bytes at `offset` into a pooled buffer and, with `crc`, feeds them to the CRC on the thread
    /// that just read them, while they are in its cache (no second pass over memory).
    ///
    /// Bytes already in the page cache are read right here, on the task's thread, without blocking
    /// ([`read_cached`](Self::read_cached)): no hand-off at all, and the HTTP stack then writes the chunk from
    /// the same core's cache. The rest (not cached, or not Linux) is read on the blocking pool, one hand-off per
    /// chunk.
    pub(crate) async fn read_chunk(
        self: &Arc<Self>,
        offset: u64,
        len: usize,
        crc: Option<Arc<AttemptMeter>>,
    ) -> std::io::Result<Bytes> {
        let mut buf = self.pool.take(len);
        let cached = self.read_cached(&mut buf[..len], offset);
        let finish = move |me: Arc<FileHandle>, buf: Vec<u8>| {
            if let Some(m) = crc {
                m.crc
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .update(&buf[..len]);
            }
            Bytes::from_owner(PooledChunk { buf, len, pool: me })
        };
        if cached == len {
            return Ok(finish(self.clone(), buf));
        }
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = me.read_at(&mut buf[cached..len], offset + cached as u64) {
                me.pool.give(buf);
                return Err(e);
            }
            Ok(finish(me, buf))
        })
        .await
        .map_err(std::io::Error::other)?
    }
}

/// The bytes of one request body: a file range or a buffer. Cheap to clone; can be sent again for a retry.
#[derive(Clone)]
pub(crate) enum PartData {
    File {
        file: Arc<FileHandle>,
        offset: u64,
        len: u64,
    },
    Bytes(Bytes),
}

/// What one attempt at sending a body observed.
#[derive(Default)]
pub(crate) struct AttemptMeter {
    /// Bytes handed to the HTTP stack (and reported to progress).
    pub(crate) sent: AtomicU64,
    /// CRC-64 of those bytes.
    pub(crate) crc: Mutex<Crc64>,
    /// A local read failure (not a network error: never retried).
    pub(crate) io_error: Mutex<Option<std::io::Error>>,
    /// The source file changed while this body was read ([`Error::SourceChanged`]; never retried).
    pub(crate) changed: Mutex<Option<Error>>,
}

impl AttemptMeter {
    pub(crate) fn crc(&self) -> Crc64 {
        match self.crc.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    pub(crate) fn take_io_error(&self) -> Option<std::io::Error> {
        match self.io_error.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }

    pub(crate) fn take_changed(&self) -> Option<Error> {
        match self.changed.lock() {
            Ok(mut g) => g.take(),
            Err(p) => p.into_inner().take(),
        }
    }

    fn set_changed(&self, e: Error) {
        match self.changed.lock() {
            Ok(mut g) => *g = Some(e),
            Err(p) => *p.into_inner() = Some(e),
        }
    }

    /// Counts a chunk handed to the HTTP stack (and, with `crc`, feeds it to the CRC: for chunks that were not
    /// CRC'd when read).
    fn record(&self, chunk: &[u8], crc: bool, tracker: Option<&ProgressTracker>) {
        if crc {
            match self.crc.lock() {
                Ok(mut g) => g.update(chunk),
                Err(p) => p.into_inner().update(chunk),
            }
        }
        self.sent.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        if let Some(t) = tracker {
            t.add(chunk.len() as u64);
        }
    }
}

impl PartData {
    pub(crate) fn len(&self) -> u64 {
        match self {
            PartData::File { len, .. } => *len,
            PartData::Bytes(b) => b.len() as u64,
        }
    }

    pub(crate) fn path(&self) -> Option<&Path> {
        match self {
            PartData::File { file, .. } => Some(&file.path),
            PartData::Bytes(_) => None,
        }
    }

    /// For a file range: checks the file did not change since it was opened (see [`FileHandle`]).
    pub(crate) async fn verify_unchanged(&self) -> Result<()> {
        match self {
            PartData::File { file, .. } => file.verify_unchanged().await,
            PartData::Bytes(_) => Ok(()),
        }
    }

    /// A streaming body yielding `chunk`-sized pieces; every piece is CRC'd (a file range: on the thread that read
    /// it, right after the read) and reported as it is yielded.
    /// For a file range, the file is checked for changes after the last piece was read and before it is
    /// yielded: a change ends the body with an error (so the request never completes) and is recorded in the
    /// meter as [`Error::SourceChanged`]. A read error caused by a change (truncation) is reported the same way.
    pub(crate) fn body(
        &self,
        chunk: usize,
        meter: Arc<AttemptMeter>,
        tracker: Option<Arc<ProgressTracker>>,
    ) -> reqwest::Body {
        let chunk = chunk.max(1) as u64;
        let data = self.clone();
        let total = data.len();
        let stream = futures::stream::unfold(0u64, move |pos| {
            let data = data.clone();
            let meter = meter.clone();
            let tracker = tracker.clone();
            async move {
                if pos >= total {
                    return None;
                }
                let n = chunk.min(total - pos);
                let piece = match &data {
                    PartData::Bytes(b) => Ok(b.slice(pos as usize..(pos + n) as usize)),
                    PartData::File { file, offset, .. } => {
                        let read = file
                            .read_chunk(offset + pos, n as usize, Some(meter.clone()))
                            .await;
                        // After the last byte of the range (or a failed read): did the file change?
                        if (read.is_err() || pos + n >= total)
                            && let Err(e) = file.verify_unchanged().await
                        {
                            let msg = e.to_string();
                            meter.set_changed(e);
                            return Some((Err(std::io::Error::other(msg)), total));
                        }
                        read
                    }
                };
                match piece {
                    Ok(bytes) => {
                        let crc_done = matches!(data, PartData::File { .. });
                        meter.record(&bytes, !crc_done, tracker.as_deref());
                        Some((Ok::<Bytes, std::io::Error>(bytes), pos + n))
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        if let Ok(mut g) = meter.io_error.lock() {
                            *g = Some(e);
                        }
                        // End the stream after the error.
                        Some((Err(std::io::Error::other(msg)), total))
                    }
                }
            }
        });
        reqwest::Body::wrap_stream(stream)
    }

    /// MD5 of the data (a pre-pass read for a file range).
    pub(crate) async fn md5(&self, chunk: usize) -> std::io::Result<[u8; 16]> {
        use md5::Digest;
        let mut h = md5::Md5::new();
        match self {
            PartData::Bytes(b) => h.update(b),
            PartData::File { file, offset, len } => {
                let mut pos = 0u64;
                while pos < *len {
                    let n = (chunk as u64).min(len - pos);
                    let piece = file.read_chunk(offset + pos, n as usize, None).await?;
                    h.update(&piece);
                    pos += n;
                }
            }
        }
        Ok(h.finalize().into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    fn file_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), bytes).unwrap();
        f
    }

    /// Cached reads on the task's thread and reads on the blocking pool give the same bytes and CRC, for every
    /// chunk including a short last one.
    #[tokio::test]
    async fn cached_and_blocking_reads_agree() {
        let mut data = vec![0u8; 300_001];
        fastrand::Rng::with_seed(5).fill(&mut data);
        let f = file_with(&data);
        for nowait in [true, false] {
            let (file, size) = FileHandle::open(f.path(), None, 2).await.unwrap();
            assert_eq!(size, data.len() as u64);
            file.nowait
                .store(nowait && cfg!(target_os = "linux"), Relaxed);
            let meter = Arc::new(AttemptMeter::default());
            let mut got = Vec::new();
            let chunk = 65_536;
            let mut pos = 0;
            while pos < data.len() {
                let n = chunk.min(data.len() - pos);
                let b = file
                    .read_chunk(pos as u64, n, Some(meter.clone()))
                    .await
                    .unwrap();
                assert_eq!(b.len(), n);
                got.extend_from_slice(&b);
                pos += n;
            }
            assert_eq!(got, data, "nowait={nowait}");
            assert_eq!(meter.crc().finish(), super::super::crc64(&data));
            assert_eq!(meter.crc().len(), data.len() as u64);
        }
    }

    /// A chunk's buffer goes back to the pool when its `Bytes` is dropped and is used again: the steady state
    /// allocates nothing. The pool keeps at most `3 × parts + 1` idle buffers.
    #[tokio::test]
    async fn chunk_buffers_are_reused() {
        let f = file_with(&vec![7u8; 1 << 20]);
        let (file, _) = FileHandle::open(f.path(), None, 1).await.unwrap();
        let first = file.read_chunk(0, 65_536, None).await.unwrap();
        let addr = first.as_ptr();
        drop(first);
        for i in 1..8u64 {
            let b = file.read_chunk(i * 65_536, 65_536, None).await.unwrap();
            assert_eq!(b.as_ptr(), addr, "chunk {i} did not reuse the buffer");
            assert!(b.iter().all(|&x| x == 7));
        }
        // Many chunks alive at once, then all dropped: only `keep` (4) stay pooled.
        let mut alive = Vec::new();
        for i in 0..10u64 {
            alive.push(file.read_chunk(i * 4096, 4096, None).await.unwrap());
        }
        drop(alive);
        assert_eq!(file.pool.free.lock().unwrap().len(), 4);
        // A smaller chunk fits in a pooled buffer; a larger one gets a fresh buffer.
        let small = file.read_chunk(0, 100, None).await.unwrap();
        assert_eq!(&small[..], &[7u8; 100][..]);
        let big = file.read_chunk(0, 200_000, None).await.unwrap();
        assert_eq!(big.len(), 200_000);
    }

    /// Reading past the end (a file that shrank) is an error, whichever path the read takes.
    #[tokio::test]
    async fn short_file_is_an_error() {
        let f = file_with(&[1u8; 1000]);
        for nowait in [true, false] {
            let (file, _) = FileHandle::open(f.path(), None, 1).await.unwrap();
            file.nowait
                .store(nowait && cfg!(target_os = "linux"), Relaxed);
            let e = file.read_chunk(500, 1000, None).await.unwrap_err();
            assert_eq!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof,
                "nowait={nowait}"
            );
        }
    }
}
