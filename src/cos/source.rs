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

/// An open file shared by the parts of one upload (positional reads, no shared cursor).
pub(crate) struct FileHandle {
    pub(crate) path: PathBuf,
    file: std::fs::File,
}

impl FileHandle {
    /// Opens and checks a path: it must exist and be a regular file. Returns the handle and the size.
    pub(crate) async fn open(path: &Path) -> Result<(Arc<FileHandle>, u64)> {
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
            let size = file.metadata().map_err(|e| Error::io(&p, "stat", e))?.len();
            Ok((Arc::new(FileHandle { path: p, file }), size))
        })
        .await
        .map_err(|e| Error::io(path, "open", std::io::Error::other(e)))?
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

    /// Reads `len` bytes at `offset` on the blocking pool.
    pub(crate) async fn read_chunk(
        self: &Arc<Self>,
        offset: u64,
        len: usize,
    ) -> std::io::Result<Bytes> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; len];
            me.read_at(&mut buf, offset)?;
            Ok(Bytes::from(buf))
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

    fn record(&self, chunk: &[u8], tracker: Option<&ProgressTracker>) {
        match self.crc.lock() {
            Ok(mut g) => g.update(chunk),
            Err(p) => p.into_inner().update(chunk),
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

    /// A streaming body yielding `chunk`-sized pieces; every piece is CRC'd and reported as it is yielded.
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
                        file.read_chunk(offset + pos, n as usize).await
                    }
                };
                match piece {
                    Ok(bytes) => {
                        meter.record(&bytes, tracker.as_deref());
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
                    let piece = file.read_chunk(offset + pos, n as usize).await?;
                    h.update(&piece);
                    pos += n;
                }
            }
        }
        Ok(h.finalize().into())
    }
}
