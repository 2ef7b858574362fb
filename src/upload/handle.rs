//! [`UploadHandle`]: an upload running on its own task, with cancel, progress and join.

use super::{UploadOutcome, UploadRequest};
use crate::error::{Error, Result};
use crate::progress::Progress;
use std::future::Future;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// An upload started with [`VodClient::start_upload`](crate::VodClient::start_upload), running on its own Tokio task.
///
/// - [`cancel`](Self::cancel) stops it cleanly (multipart uploads aborted, or kept when checkpointed; nothing
///   committed); [`join`](Self::join) then returns [`Error::Cancelled`].
/// - [`progress`](Self::progress) is the latest [`Progress`] report (the same value a
///   [`with_progress`](UploadRequest::with_progress) callback receives); [`progress_watch`](Self::progress_watch)
///   a receiver to await changes.
/// - **Dropping the handle detaches the upload** (like dropping a `JoinHandle`): it runs to the end in the
///   background. Stopping async work cannot be done synchronously in `Drop`, so there is no abort-on-drop: call
///   [`cancel`](Self::cancel) (and preferably [`join`](Self::join)) before dropping it to stop the upload.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let mock = tencent_vod_mock::MockServer::start().await?;
/// # let client = mock.client_builder().build()?;
/// use tencent_vod::{Error, UploadRequest};
///
/// // Run one upload to the end, watching its progress.
/// let handle = client.start_upload(UploadRequest::from_bytes(vec![0u8; 1 << 20], "mp4"));
/// let mut progress = handle.progress_watch();
/// let watcher = tokio::spawn(async move {
///     while progress.changed().await.is_ok() {
///         if let Some(p) = progress.borrow_and_update().as_ref() {
///             eprintln!("{} of {:?} bytes", p.bytes_sent, p.total);
///         }
///     }
/// });
/// let out = handle.join().await?;
/// watcher.await?;
/// assert_eq!(out.bytes_sent, 1 << 20);
///
/// // Cancel another one: nothing is committed.
/// let handle = client.start_upload(UploadRequest::from_bytes(vec![0u8; 1 << 20], "mp4"));
/// handle.cancel();
/// assert!(matches!(handle.join().await, Err(Error::Cancelled)));
/// # assert_eq!(mock.commits().len(), 1);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct UploadHandle {
    cancel: CancellationToken,
    progress: watch::Receiver<Option<Progress>>,
    task: JoinHandle<Result<UploadOutcome>>,
}

impl UploadHandle {
    /// Asks the upload to stop; it aborts its multipart uploads and ends with [`Error::Cancelled`].
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// The token that cancels this upload (a child of the request's own token, if it had one).
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// The latest progress report (`None` before the first one).
    pub fn progress(&self) -> Option<Progress> {
        self.progress.borrow().clone()
    }

    /// A receiver of progress reports (`changed().await` to wait for the next one).
    pub fn progress_watch(&self) -> watch::Receiver<Option<Progress>> {
        self.progress.clone()
    }

    /// Whether the upload task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the upload's result. A task stopped by the runtime shutting down answers
    /// [`Error::Cancelled`]; a panic inside the task is resumed here.
    pub async fn join(self) -> Result<UploadOutcome> {
        match self.task.await {
            Ok(r) => r,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Cancelled),
        }
    }
}

impl UploadHandle {
    /// Starts `run(request)` on a new Tokio task, with a child cancellation token and a progress watch wired
    /// into the request (its own token, deadline and progress callback still apply).
    pub(crate) fn spawn<F, Fut>(mut request: UploadRequest, run: F) -> UploadHandle
    where
        F: FnOnce(UploadRequest) -> Fut,
        Fut: Future<Output = Result<UploadOutcome>> + Send + 'static,
    {
        let cancel = request
            .cancel
            .take()
            .map(|t| t.child_token())
            .unwrap_or_default();
        request.cancel = Some(cancel.clone());
        let (tx, rx) = watch::channel(None);
        let user = request.progress.take();
        request.progress = Some(Arc::new(move |p: &Progress| {
            if let Some(f) = &user {
                f(p);
            }
            tx.send_replace(Some(p.clone()));
        }));
        let task = tokio::spawn(run(request));
        UploadHandle {
            cancel,
            progress: rx,
            task,
        }
    }
}
