//! Polling with backoff: waiting for a task to end, finding the Procedure task of a FileId.
//!
//! The loops take the fetch step as a closure (the [`VodApi`](crate::vod::VodApi) methods pass an API call), and
//! use `tokio::time`, so they can be driven with a paused clock.

use super::api::{DescribeTaskDetailResponse, DescribeTasksResponse};
use crate::error::{Error, Result};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// Task type of a task flow started by an upload's `Procedure`.
pub const PROCEDURE_TASK_TYPE: &str = "Procedure";

/// Most `DescribeTasks` pages read per poll by [`find_procedure_task_id_with`] (a guard against a server that
/// keeps answering tokens).
pub(crate) const MAX_PAGES_PER_POLL: usize = 50;

/// How long and how often to poll.
///
/// ```
/// use std::time::Duration;
/// use tencent_vod::events::WaitOptions;
/// let o = WaitOptions::new(Duration::from_secs(600)).with_intervals(Duration::from_secs(2), Duration::from_secs(30));
/// assert_eq!(o.max_interval, Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitOptions {
    /// Give up with [`Error::DeadlineExceeded`] after this long (default 10 min).
    pub deadline: Duration,
    /// Wait before the second poll (default 1 s); doubles after every poll…
    pub initial_interval: Duration,
    /// …up to this (default 15 s).
    pub max_interval: Duration,
}

impl Default for WaitOptions {
    fn default() -> Self {
        WaitOptions {
            deadline: Duration::from_secs(600),
            initial_interval: Duration::from_secs(1),
            max_interval: Duration::from_secs(15),
        }
    }
}

impl WaitOptions {
    /// The default intervals with this deadline.
    pub fn new(deadline: Duration) -> Self {
        WaitOptions {
            deadline,
            ..Default::default()
        }
    }

    /// Sets the first and the largest interval between polls.
    pub fn with_intervals(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_interval = initial;
        self.max_interval = max;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.initial_interval.is_zero() {
            return Err(Error::invalid(
                "initial_interval",
                "must be greater than zero",
            ));
        }
        if self.max_interval < self.initial_interval {
            return Err(Error::invalid(
                "max_interval",
                format!(
                    "{:?} is below initial_interval {:?}",
                    self.max_interval, self.initial_interval
                ),
            ));
        }
        Ok(())
    }
}

/// The clock of one wait: runs attempts under the deadline and sleeps the growing interval between them.
struct Backoff<'a> {
    what: &'a str,
    opts: &'a WaitOptions,
    deadline_at: Instant,
    interval: Duration,
    polls: u32,
}

impl<'a> Backoff<'a> {
    fn start(what: &'a str, opts: &'a WaitOptions) -> Result<Self> {
        opts.validate()?;
        Ok(Backoff {
            what,
            opts,
            deadline_at: Instant::now() + opts.deadline,
            interval: opts.initial_interval,
            polls: 0,
        })
    }

    /// Runs one attempt; an attempt still running at the deadline is dropped.
    async fn attempt<T>(&mut self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.polls += 1;
        match tokio::time::timeout_at(self.deadline_at, fut).await {
            Ok(r) => r,
            Err(_) => {
                tracing::debug!(
                    what = self.what,
                    polls = self.polls,
                    "deadline reached during a poll"
                );
                Err(Error::DeadlineExceeded(self.opts.deadline))
            }
        }
    }

    /// Sleeps until the next attempt (never past the deadline), or fails once the deadline has passed.
    async fn pause(&mut self) -> Result<()> {
        let now = Instant::now();
        if now >= self.deadline_at {
            tracing::debug!(what = self.what, polls = self.polls, "deadline reached");
            return Err(Error::DeadlineExceeded(self.opts.deadline));
        }
        let pause = self.interval.min(self.deadline_at - now);
        tracing::trace!(
            what = self.what,
            polls = self.polls,
            ?pause,
            "not yet; polling again"
        );
        tokio::time::sleep(pause).await;
        self.interval = self.interval.saturating_mul(2).min(self.opts.max_interval);
        Ok(())
    }
}

/// Polls `fetch` (one `DescribeTaskDetail`) until the status is `FINISH` or `ABORTED`; returns that detail.
///
/// [`VodApi::wait_for_task`](crate::vod::VodApi::wait_for_task) is this with an API call; use this directly to
/// poll through something else (a cache, a test double).
pub async fn wait_for_task_with<F, Fut>(
    opts: &WaitOptions,
    mut fetch: F,
) -> Result<DescribeTaskDetailResponse>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<DescribeTaskDetailResponse>>,
{
    let mut clock = Backoff::start("wait_for_task", opts)?;
    loop {
        let detail = clock.attempt(fetch()).await?;
        if detail.task_status().is_terminal() {
            return Ok(detail);
        }
        clock.pause().await?;
    }
}

/// Polls `fetch_page(scroll_token)` (one `DescribeTasks` page filtered on `file_id`) until a `Procedure` task for
/// `file_id` shows up, following `ScrollToken`s within each poll; returns its task id.
///
/// Tasks whose `FileId` is present and different are ignored (in case the server did not filter); among several
/// Procedure tasks the first one listed wins, so ask for `Sort = CreateTime Asc` to get the one the upload started.
pub async fn find_procedure_task_id_with<F, Fut>(
    file_id: &str,
    opts: &WaitOptions,
    mut fetch_page: F,
) -> Result<String>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<DescribeTasksResponse>>,
{
    if file_id.is_empty() {
        return Err(Error::invalid("file_id", "must not be empty"));
    }
    let mut clock = Backoff::start("find_procedure_task_id", opts)?;
    loop {
        let mut token: Option<String> = None;
        for page_no in 1..=MAX_PAGES_PER_POLL {
            let page = clock.attempt(fetch_page(token.clone())).await?;
            let found = page.task_set.iter().find(|t| {
                t.task_type.as_deref() == Some(PROCEDURE_TASK_TYPE)
                    && t.file_id.as_deref().is_none_or(|f| f == file_id)
                    && t.task_id.as_deref().is_some_and(|id| !id.is_empty())
            });
            if let Some(id) = found.and_then(|t| t.task_id.clone()) {
                return Ok(id);
            }
            match page.next_token() {
                Some(next) if token.as_deref() != Some(next) => token = Some(next.to_string()),
                _ => break,
            }
            if page_no == MAX_PAGES_PER_POLL {
                tracing::warn!(
                    file_id,
                    "DescribeTasks kept paging; giving up on this poll after {MAX_PAGES_PER_POLL} pages"
                );
            }
        }
        clock.pause().await?;
    }
}
