//! [`EventPoller`]: pull events, hand them to the application, confirm them promptly.

use super::api::{MAX_EVENT_HANDLES, PullEventsRequest};
use super::model::EventContent;
use crate::error::Result;
use crate::vod::VodApi;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// What one [`EventPoller::poll_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollStats {
    /// Events pulled.
    pub received: usize,
    /// Events the handler accepted and that were confirmed.
    pub confirmed: usize,
    /// Events the handler declined (left unconfirmed: VOD redelivers them after 30 s).
    pub declined: usize,
    /// Events the handler accepted whose confirmation VOD refused as an invalid handle: the handle had lapsed
    /// (a handler slower than the 30 s lease), or it rode in one `ConfirmEvents` request with one that had (the
    /// request is all or nothing). VOD redelivers them; an idempotent handler sees them again.
    pub lapsed: usize,
}

/// A reliable-callback consumer: `PullEvents` → your handler → `ConfirmEvents`.
///
/// Delivery is **at least once**: an event is confirmed only after the handler accepted it (returned `true`);
/// declined events, events whose confirmation failed and events pulled while the process died are redelivered by
/// VOD about 30 s later, so handlers should be idempotent (key on `FileId` / `TaskId`).
///
/// Handles are confirmed in batches of ≤ 16 after each pull, or earlier once [`confirm_within`](Self::with_confirm_within)
/// has passed since the pull (VOD only honours a handle for 30 s).
///
/// ```no_run
/// # async fn demo(client: tencent_vod::VodClient) -> tencent_vod::Result<()> {
/// use tencent_vod::events::{Event, EventPoller};
/// let poller = EventPoller::new(client.api().clone()).with_sub_app_id(client.sub_app_id());
/// poller
///     .run(
///         |ev| async move {
///             if let Event::NewFileUpload(u) = ev.event() {
///                 println!("{:?} -> {:?}", u.file_id, u.procedure_task_id);
///             }
///             true // confirm
///         },
///         async { let _ = tokio::signal::ctrl_c().await; },
///     )
///     .await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct EventPoller {
    api: VodApi,
    sub_app_id: Option<u64>,
    confirm_within: Duration,
    idle_pause: Duration,
    max_error_backoff: Duration,
}

impl EventPoller {
    /// A poller for the default application.
    pub fn new(api: VodApi) -> Self {
        EventPoller {
            api,
            sub_app_id: None,
            confirm_within: Duration::from_secs(20),
            idle_pause: Duration::from_secs(1),
            max_error_backoff: Duration::from_secs(30),
        }
    }

    /// The `SubAppId` to pull and confirm for.
    pub fn with_sub_app_id(mut self, sub_app_id: Option<u64>) -> Self {
        self.sub_app_id = sub_app_id;
        self
    }

    /// Confirm what has been handled so far once this long has passed since the pull (default 20 s; VOD's
    /// window is 30 s).
    pub fn with_confirm_within(mut self, d: Duration) -> Self {
        self.confirm_within = d;
        self
    }

    /// In [`run`](Self::run), pause this long after a pull that returned nothing quickly (default 1 s; VOD
    /// itself holds an empty pull up to 5 s).
    pub fn with_idle_pause(mut self, d: Duration) -> Self {
        self.idle_pause = d;
        self
    }

    /// Pulls once, hands every event to `handler` in order, and confirms the ones it accepted (`true`).
    ///
    /// Errors of `PullEvents` / `ConfirmEvents` are returned; events handled but not confirmed because of such an
    /// error are redelivered by VOD. A confirmation refused because a handle lapsed is not an error: those
    /// events are counted in [`PollStats::lapsed`] and come back.
    pub async fn poll_once<F, Fut>(&self, handler: F) -> Result<PollStats>
    where
        F: FnMut(EventContent) -> Fut,
        Fut: Future<Output = bool>,
    {
        let events = self.pull().await?;
        self.handle(events, handler).await
    }

    async fn pull(&self) -> Result<Vec<EventContent>> {
        let mut req = PullEventsRequest::new();
        req.sub_app_id = self.sub_app_id;
        self.api.pull_events(&req).await
    }

    async fn handle<F, Fut>(&self, events: Vec<EventContent>, mut handler: F) -> Result<PollStats>
    where
        F: FnMut(EventContent) -> Fut,
        Fut: Future<Output = bool>,
    {
        let pulled_at = Instant::now();
        let mut stats = PollStats {
            received: events.len(),
            ..Default::default()
        };
        let mut pending: Vec<String> = Vec::new();
        let mut lapsed = 0;
        for ev in events {
            let handle = ev.event_handle.clone().filter(|h| !h.is_empty());
            if handler(ev).await {
                match handle {
                    Some(h) => pending.push(h),
                    None => tracing::warn!("accepted event has no EventHandle; cannot confirm it"),
                }
            } else {
                stats.declined += 1;
            }
            if pending.len() >= MAX_EVENT_HANDLES
                || (!pending.is_empty() && pulled_at.elapsed() >= self.confirm_within)
            {
                stats.confirmed += self.flush(&mut pending, &mut lapsed).await?;
            }
        }
        stats.confirmed += self.flush(&mut pending, &mut lapsed).await?;
        stats.lapsed = lapsed;
        Ok(stats)
    }

    /// Confirms `pending` (≤ 16 handles a request); returns how many were confirmed. A request refused as an
    /// invalid parameter (a lapsed handle) is counted in `lapsed` and the rest go on: those events come back.
    async fn flush(&self, pending: &mut Vec<String>, lapsed: &mut usize) -> Result<usize> {
        let mut done = 0;
        for chunk in pending.chunks(MAX_EVENT_HANDLES) {
            match self.api.confirm_events(chunk, self.sub_app_id).await {
                Ok(()) => done += chunk.len(),
                Err(e) if e.code().is_some_and(|c| c.starts_with("InvalidParameter")) => {
                    tracing::warn!(
                        handles = chunk.len(),
                        error = %e,
                        "VOD refused the confirmation (a handle lapsed: the handler took longer than the lease); \
                         these events will be delivered again"
                    );
                    *lapsed += chunk.len();
                }
                Err(e) => return Err(e),
            }
        }
        pending.clear();
        Ok(done)
    }

    /// Polls until `shutdown` completes. A pull in progress is abandoned at shutdown (its events come back in
    /// 30 s); a handler in progress is not interrupted.
    ///
    /// Retryable errors (network, throttling, server errors) are logged and retried with a growing pause (up to
    /// 30 s); a confirmation refused for a lapsed handle is logged and counted (the events come back); any
    /// other error (authentication, parameters) ends the loop and is returned.
    pub async fn run<F, Fut, S>(&self, mut handler: F, shutdown: S) -> Result<()>
    where
        F: FnMut(EventContent) -> Fut,
        Fut: Future<Output = bool>,
        S: Future<Output = ()>,
    {
        tokio::pin!(shutdown);
        let mut backoff = Duration::ZERO;
        loop {
            let started = Instant::now();
            let pulled = tokio::select! {
                biased;
                _ = &mut shutdown => return Ok(()),
                r = self.pull() => r,
            };
            let result = match pulled {
                Ok(events) if events.is_empty() => Ok(None),
                Ok(events) => self.handle(events, &mut handler).await.map(Some),
                Err(e) => Err(e),
            };
            let pause = match result {
                Ok(Some(stats)) => {
                    tracing::debug!(?stats, "events handled");
                    backoff = Duration::ZERO;
                    Duration::ZERO
                }
                Ok(None) => {
                    backoff = Duration::ZERO;
                    self.idle_pause.saturating_sub(started.elapsed())
                }
                Err(e) if e.is_retryable() => {
                    backoff = (backoff * 2).clamp(Duration::from_secs(1), self.max_error_backoff);
                    tracing::warn!(error = %e, ?backoff, "event polling failed; retrying");
                    backoff
                }
                Err(e) => return Err(e),
            };
            if !pause.is_zero() {
                tokio::select! {
                    biased;
                    _ = &mut shutdown => return Ok(()),
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
    }
}
