//! Event notifications and Procedure tasks of the mock: `PullEvents`, `ConfirmEvents`, `DescribeTasks`,
//! `DescribeTaskDetail`, and the optional normal-callback POSTs.
//!
//! Task states are computed from timestamps when something looks at them (no background work is needed): a task is
//! `WAITING` for the configured waiting time after its commit, then `PROCESSING`, then `FINISH`. The first time a
//! finished task is seen (by any of these actions, an inspection method, or the timer started at commit), its
//! `ProcedureStateChanged` event is queued.

use crate::api::{VodErr, err, get_str, get_u64, iso8601, missing};
use crate::state::{
    Inner, Lease, MediaRecord, QueuedEvent, Shared, TaskRecord, TaskRow, random_string,
};
use crate::{CallbackDelivery, MockEvent, MockTask};
use serde_json::{Map, Value, json};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime};
use tencent_vod::events::{EventContent, MAX_EVENT_HANDLES, MAX_TASKS_LIMIT, TaskStatus};

/// Default `DescribeTasks` page size (like VOD).
const DEFAULT_TASKS_LIMIT: u64 = 10;
/// How often an empty long poll looks again (for leases that expire and tasks that finish meanwhile).
const PULL_RECHECK: Duration = Duration::from_millis(50);
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

impl TaskRecord {
    fn status(&self, cfg: &crate::state::Config, now: Instant) -> TaskStatus {
        let age = now.saturating_duration_since(self.created);
        if age < cfg.task_waiting {
            TaskStatus::Waiting
        } else if age < cfg.task_waiting + cfg.task_processing {
            TaskStatus::Processing
        } else {
            TaskStatus::Finish
        }
    }

    fn begin_wall(&self, cfg: &crate::state::Config) -> SystemTime {
        self.created_wall + cfg.task_waiting
    }

    fn finish_wall(&self, cfg: &crate::state::Config) -> SystemTime {
        self.created_wall + cfg.task_waiting + cfg.task_processing
    }

    /// `(status, CreateTime, BeginProcessTime, FinishTime)`; times not reached yet are `""`.
    fn times(
        &self,
        cfg: &crate::state::Config,
        now: Instant,
    ) -> (TaskStatus, String, String, String) {
        let status = self.status(cfg, now);
        let begin = match status {
            TaskStatus::Waiting => String::new(),
            _ => iso8601(self.begin_wall(cfg)),
        };
        let finish = match status {
            TaskStatus::Finish => iso8601(self.finish_wall(cfg)),
            _ => String::new(),
        };
        (status, iso8601(self.created_wall), begin, finish)
    }

    /// The task as a `DescribeTasks` row.
    fn row(&self, cfg: &crate::state::Config, now: Instant) -> TaskRow {
        let (status, created, begin, finish) = self.times(cfg, now);
        let json = json!({
            "TaskId": self.task_id,
            "Status": status.as_str(),
            "FileId": self.file_id,
            "TaskType": tencent_vod::events::PROCEDURE_TASK_TYPE,
            "CreateTime": created,
            "BeginProcessTime": begin,
            "FinishTime": finish,
            "SessionId": self.session_id,
            "SessionContext": self.session_context,
        });
        TaskRow {
            seq: self.seq,
            file_id: self.file_id.clone(),
            finish_wall: (status == TaskStatus::Finish).then(|| self.finish_wall(cfg)),
            status,
            created_wall: self.created_wall,
            json,
        }
    }

    fn procedure_task(&self, status: &TaskStatus) -> Value {
        json!({
            "TaskId": self.task_id,
            "Status": status.as_str(),
            "ErrCode": 0,
            "Message": "SUCCESS",
            "FileId": self.file_id,
            "FileName": self.file_name,
            "FileUrl": self.file_url,
            "MetaData": self.meta_data,
            "MediaProcessResultSet": [],
            "AiContentReviewResultSet": [],
            "AiAnalysisResultSet": [],
            "AiRecognitionResultSet": [],
            "TasksPriority": 0,
            "TasksNotifyMode": "Finish",
            "SessionContext": self.session_context,
            "SessionId": self.session_id,
        })
    }
}

fn parse_iso(field: &str, s: &str) -> Result<SystemTime, VodErr> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| {
            err(
                "InvalidParameterValue",
                format!("{field} `{s}` is not ISO 8601 (e.g. 2030-01-01T00:00:00Z)."),
            )
        })
}

/// What an upload's `NewFileUpload` event and its task need, gathered at commit.
pub(crate) struct Committed {
    pub sub_app_id: Option<u64>,
    pub file_id: String,
    pub media_name: String,
    pub media_type: String,
    pub media_url: String,
    pub cover_url: String,
    pub region: String,
    pub class_id: i64,
    pub source_context: String,
    pub session_context: String,
    pub expire_time: Option<String>,
    pub size: u64,
    pub procedure: Option<String>,
    pub procedure_task_id: Option<String>,
}

fn container_of(media_type: &str) -> String {
    match media_type {
        "mp4" | "mov" | "3gp" | "m4a" | "m4v" | "mp4v" | "qt" => "mov,mp4,m4a,3gp,3g2,mj2".into(),
        "m3u8" => "hls,applehttp".into(),
        "mpd" => "dash".into(),
        "mkv" | "webm" => "matroska,webm".into(),
        other => other.to_string(),
    }
}

fn category_of(media_type: &str) -> &'static str {
    match media_type {
        "mp3" | "m4a" | "flac" | "wav" | "ra" | "aac" | "amr" | "ogg" => "Audio",
        _ => "Video",
    }
}

fn meta_data(c: &Committed) -> Value {
    json!({
        "Size": c.size,
        "Container": container_of(&c.media_type),
        "Bitrate": 0,
        "Height": 0,
        "Width": 0,
        "Duration": 0.0,
        "Rotate": 0,
        "VideoStreamSet": [],
        "AudioStreamSet": [],
        "VideoDuration": 0.0,
        "AudioDuration": 0.0,
    })
}

impl Shared {
    /// Records a successful commit: queues its `NewFileUpload` event and, with a Procedure, creates the task (and
    /// a timer that queues its `ProcedureStateChanged` event when it finishes).
    pub(crate) fn on_commit(self: &Arc<Self>, c: Committed) {
        let now_wall = self.now();
        let created = iso8601(now_wall);
        let class_id = c.class_id;
        let (class_name, class_path) = if class_id == 0 {
            ("其他", "其他")
        } else {
            ("", "")
        };
        let basic_info = json!({
                    "Name": c.media_name,
                    "Description": "",
                    "CreateTime": created,
                    "UpdateTime": created,
                    "ExpireTime": c.expire_time.clone().unwrap_or_else(|| "9999-12-31T23:59:59Z".into()),
                    "ClassId": class_id,
                    "ClassName": class_name,
                    "ClassPath": class_path,
                    "CoverUrl": c.cover_url,
                    "Type": c.media_type,
                    "MediaUrl": c.media_url,
                    "TagSet": [],
                    "StorageRegion": c.region,
                    "SourceInfo": {"SourceType": "Upload", "SourceContext": c.source_context},
                    "Vid": c.file_id,
                    "Category": category_of(&c.media_type),
                    "Status": "Normal",
                    "StorageClass": "STANDARD",
        });
        let body = json!({
            "EventType": tencent_vod::events::NEW_FILE_UPLOAD,
            "FileUploadEvent": {
                "FileId": c.file_id,
                "MediaBasicInfo": basic_info,
                "ProcedureTaskId": c.procedure_task_id.clone().unwrap_or_default(),
                "ReviewAudioVideoTaskId": "",
                "MetaData": meta_data(&c),
            },
        });
        {
            let mut inner = self.lock();
            inner.media.push(MediaRecord {
                sub_app_id: c.sub_app_id,
                file_id: c.file_id.clone(),
                created: now_wall,
                basic_info,
                meta_data: meta_data(&c),
            });
            self.enqueue(&mut inner, c.sub_app_id, body);
            if let (Some(task_id), Some(procedure)) = (&c.procedure_task_id, &c.procedure) {
                let seq = inner.next_task_seq();
                inner.tasks.push(TaskRecord {
                    seq,
                    task_id: task_id.clone(),
                    sub_app_id: c.sub_app_id,
                    procedure: procedure.clone(),
                    file_id: c.file_id.clone(),
                    file_name: c.media_name.clone(),
                    file_url: c.media_url.clone(),
                    session_context: c.session_context.clone(),
                    session_id: String::new(),
                    meta_data: meta_data(&c),
                    created_wall: now_wall,
                    created: Instant::now(),
                    finish_event_queued: false,
                });
            }
        }
        if c.procedure_task_id.is_some() {
            let weak: Weak<Shared> = Arc::downgrade(self);
            let after = self.cfg.task_waiting + self.cfg.task_processing + Duration::from_millis(1);
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                if let Some(sh) = weak.upgrade() {
                    sh.advance_tasks();
                }
            });
        }
    }

    /// Queues an event (and POSTs it to the callback URL, if any, signed when a callback key is set); an event
    /// switched off with `ModifyEventConfig` is dropped.
    pub(crate) fn enqueue(&self, inner: &mut Inner, sub_app_id: Option<u64>, body: Value) {
        if !super::appserver::event_enabled(self, inner, sub_app_id, &body) {
            tracing::debug!(event_type = ?body.get("EventType"), "mock event switched off");
            return;
        }
        let target = super::appserver::callback_target(self, inner, sub_app_id);
        let q = &mut inner.events;
        q.next_seq += 1;
        q.pending.push(QueuedEvent {
            seq: q.next_seq,
            sub_app_id,
            body: body.clone(),
            lease: None,
            deliveries: 0,
        });
        tracing::debug!(event_type = ?body.get("EventType"), "mock event queued");
        self.events_notify.notify_waiters();
        if let Some((url, http, key)) = target {
            let mut body = body;
            if let Some(k) = key {
                super::appserver::sign_callback_body(&mut body, &k, self.now());
            }
            post_callback(url, http, body, self.callback_log.clone());
        }
    }

    /// Queues the `ProcedureStateChanged` event of every task that has finished and has none yet.
    pub(crate) fn advance_tasks(&self) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now = Instant::now();
        let mut finished = Vec::new();
        for t in inner.tasks.iter_mut() {
            if !t.finish_event_queued && t.status(&self.cfg, now) == TaskStatus::Finish {
                t.finish_event_queued = true;
                let mut body = Map::new();
                body.insert(
                    "EventType".into(),
                    Value::String(tencent_vod::events::PROCEDURE_STATE_CHANGED.into()),
                );
                body.insert(
                    "ProcedureStateChangeEvent".into(),
                    t.procedure_task(&TaskStatus::Finish),
                );
                finished.push((t.sub_app_id, Value::Object(body)));
            }
        }
        for (sub, body) in finished {
            self.enqueue(inner, sub, body);
        }
    }

    /// Leases up to 16 pullable events of `sub_app_id`: each gets a fresh handle.
    fn lease_events(&self, sub_app_id: Option<u64>) -> Vec<Value> {
        self.advance_tasks();
        let mut guard = self.lock();
        let inner = &mut *guard;
        let now = Instant::now();
        let timeout = self.cfg.event_confirm_timeout;
        let mut out = Vec::new();
        for i in 0..inner.events.pending.len() {
            if out.len() >= MAX_EVENT_HANDLES {
                break;
            }
            let ev = &inner.events.pending[i];
            if ev.sub_app_id != sub_app_id || ev.lease.as_ref().is_some_and(|l| l.until > now) {
                continue;
            }
            let handle = format!("{}{}", ev.seq, random_string(&mut inner.rng, ALNUM, 40));
            let ev = &mut inner.events.pending[i];
            if ev.lease.is_some() {
                tracing::debug!(seq = ev.seq, "mock event lease expired; redelivering");
            }
            ev.lease = Some(Lease {
                handle: handle.clone(),
                until: now + timeout,
            });
            ev.deliveries += 1;
            let mut body = ev.body.clone();
            if let Some(o) = body.as_object_mut() {
                o.insert("EventHandle".into(), Value::String(handle));
            }
            out.push(body);
        }
        out
    }

    /// The queued (unconfirmed) events.
    pub(crate) fn pending_events(&self) -> Vec<MockEvent> {
        self.advance_tasks();
        let inner = self.lock();
        let now = Instant::now();
        inner
            .events
            .pending
            .iter()
            .map(|e| {
                let active = e.lease.as_ref().filter(|l| l.until > now);
                MockEvent {
                    sub_app_id: e.sub_app_id,
                    content: serde_json::from_value(e.body.clone()).unwrap_or_default(),
                    handle: active.map(|l| l.handle.clone()),
                    deliveries: e.deliveries,
                }
            })
            .collect()
    }

    /// Events confirmed so far, in confirmation order.
    pub(crate) fn confirmed_events(&self) -> Vec<EventContent> {
        self.lock()
            .events
            .confirmed
            .iter()
            .map(|(_, b)| serde_json::from_value(b.clone()).unwrap_or_default())
            .collect()
    }

    /// Every Procedure task, oldest first.
    pub(crate) fn task_list(&self) -> Vec<MockTask> {
        self.advance_tasks();
        let inner = self.lock();
        let now = Instant::now();
        inner
            .tasks
            .iter()
            .map(|t| MockTask {
                task_id: t.task_id.clone(),
                file_id: t.file_id.clone(),
                sub_app_id: t.sub_app_id,
                procedure: t.procedure.clone(),
                status: t.status(&self.cfg, now),
                session_context: t.session_context.clone(),
                created: t.created_wall,
            })
            .collect()
    }
}

fn sub_app_id_of(req: &Map<String, Value>) -> Result<Option<u64>, VodErr> {
    get_u64(req, "SubAppId", "InvalidParameterValue.SubAppId")
}

/// `PullEvents`: up to 16 events not currently leased; waits up to the configured pull wait for one.
pub(crate) async fn pull_events(
    sh: &Arc<Shared>,
    req: &Map<String, Value>,
) -> Result<Value, VodErr> {
    let sub_app_id = sub_app_id_of(req)?;
    let deadline = Instant::now() + sh.cfg.pull_wait;
    loop {
        let notified = sh.events_notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let events = sh.lease_events(sub_app_id);
        let now = Instant::now();
        if !events.is_empty() || now >= deadline {
            return Ok(json!({ "EventSet": events }));
        }
        let step = (deadline - now).min(PULL_RECHECK);
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(step) => {}
        }
    }
}

/// `ConfirmEvents`: all-or-nothing; any unknown, already confirmed or expired handle rejects the whole request.
pub(crate) fn confirm_events(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    let sub_app_id = sub_app_id_of(req)?;
    let handles: Vec<String> = match req.get("EventHandles") {
        None | Some(Value::Null) => return Err(missing("EventHandles")),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(err(
                    "InvalidParameter",
                    "EventHandles must be an array of strings.",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(err(
                "InvalidParameter",
                "EventHandles must be an array of strings.",
            ));
        }
    };
    if handles.is_empty() {
        return Err(missing("EventHandles"));
    }
    if handles.len() > MAX_EVENT_HANDLES {
        return Err(err(
            "InvalidParameterValue",
            format!(
                "EventHandles has {} handles; at most {MAX_EVENT_HANDLES} are accepted.",
                handles.len()
            ),
        ));
    }
    let mut guard = sh.lock();
    let inner = &mut *guard;
    let now = Instant::now();
    let mut idx = Vec::with_capacity(handles.len());
    for h in &handles {
        let found = inner.events.pending.iter().position(|e| {
            e.sub_app_id == sub_app_id
                && e.lease
                    .as_ref()
                    .is_some_and(|l| l.until > now && l.handle == *h)
        });
        match found {
            Some(i) => idx.push(i),
            None => {
                return Err(err(
                    "InvalidParameterValue",
                    "EventHandles contains a handle that is unknown, already confirmed or expired.",
                ));
            }
        }
    }
    idx.sort_unstable();
    idx.dedup();
    for i in idx.into_iter().rev() {
        let ev = inner.events.pending.remove(i);
        inner.events.confirmed.push((ev.sub_app_id, ev.body));
    }
    Ok(json!({}))
}

/// A `TimeRange` filter: `(After, Before)`.
fn time_range(
    req: &Map<String, Value>,
    name: &str,
) -> Result<(Option<SystemTime>, Option<SystemTime>), VodErr> {
    let Some(v) = req.get(name).filter(|v| !v.is_null()) else {
        return Ok((None, None));
    };
    let Some(m) = v.as_object() else {
        return Err(err(
            "InvalidParameter",
            format!("{name} must be an object with After / Before."),
        ));
    };
    let after = get_str(m, "After")?
        .filter(|s| !s.is_empty())
        .map(|s| parse_iso(&format!("{name}.After"), &s))
        .transpose()?;
    let before = get_str(m, "Before")?
        .filter(|s| !s.is_empty())
        .map(|s| parse_iso(&format!("{name}.Before"), &s))
        .transpose()?;
    Ok((after, before))
}

fn in_range(t: SystemTime, (after, before): (Option<SystemTime>, Option<SystemTime>)) -> bool {
    // Compare at whole seconds, like the ISO 8601 values.
    let secs = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    after.is_none_or(|a| secs(t) >= secs(a)) && before.is_none_or(|b| secs(t) < secs(b))
}

fn scroll_token(desc: bool, last_seq: u64) -> String {
    format!("st{}{last_seq:x}", if desc { 'd' } else { 'a' })
}

fn parse_scroll_token(token: &str, desc: bool) -> Result<u64, VodErr> {
    let bad = || {
        err(
            "InvalidParameterValue.ScrollToken",
            "ScrollToken is invalid or does not belong to this sort order.",
        )
    };
    let rest = token
        .strip_prefix(if desc { "std" } else { "sta" })
        .ok_or_else(bad)?;
    u64::from_str_radix(rest, 16).map_err(|_| bad())
}

/// `DescribeTasks`: Procedure and `PullUpload` tasks filtered by `SubAppId`, `FileId`, `Status`, `CreateTime`,
/// `FinishTime`; sorted by creation (`Sort.Field` `CreateTime` or `FinishTime` — the same order here; default
/// newest first); `Limit` 1–100 (default 10); `ScrollToken` pages.
pub(crate) fn describe_tasks(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    sh.advance_tasks();
    let sub_app_id = sub_app_id_of(req)?;
    let file_id = get_str(req, "FileId")?.filter(|s| !s.is_empty());
    let status = get_str(req, "Status")?.filter(|s| !s.is_empty());
    if let Some(s) = &status
        && !matches!(
            TaskStatus::parse(s),
            TaskStatus::Waiting | TaskStatus::Processing | TaskStatus::Finish
        )
    {
        return Err(err(
            "InvalidParameterValue.Status",
            format!("Status `{s}` is not WAITING, PROCESSING or FINISH."),
        ));
    }
    let limit =
        get_u64(req, "Limit", "InvalidParameterValue.Limit")?.unwrap_or(DEFAULT_TASKS_LIMIT);
    if !(1..=MAX_TASKS_LIMIT).contains(&limit) {
        return Err(err(
            "InvalidParameterValue.Limit",
            format!("Limit {limit} is outside 1..={MAX_TASKS_LIMIT}."),
        ));
    }
    let desc = match req.get("Sort").filter(|v| !v.is_null()) {
        None => true,
        Some(Value::Object(m)) => {
            let field = get_str(m, "Field")?.unwrap_or_default();
            if !matches!(field.as_str(), "CreateTime" | "FinishTime") {
                return Err(err(
                    "InvalidParameterValue.Sort",
                    format!("Sort.Field `{field}` is not CreateTime or FinishTime."),
                ));
            }
            match get_str(m, "Order")?.unwrap_or_default().as_str() {
                "Asc" => false,
                "Desc" => true,
                other => {
                    return Err(err(
                        "InvalidParameterValue.Sort",
                        format!("Sort.Order `{other}` is not Asc or Desc."),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(err(
                "InvalidParameter",
                "Sort must be an object with Field and Order.",
            ));
        }
    };
    let after_seq = get_str(req, "ScrollToken")?
        .filter(|s| !s.is_empty())
        .map(|t| parse_scroll_token(&t, desc))
        .transpose()?;
    let created_range = time_range(req, "CreateTime")?;
    let finish_range = time_range(req, "FinishTime")?;
    let finish_filter = finish_range.0.is_some() || finish_range.1.is_some();

    let inner = sh.lock();
    let now = Instant::now();
    let rows = inner
        .tasks
        .iter()
        .filter(|t| t.sub_app_id == sub_app_id)
        .map(|t| t.row(&sh.cfg, now))
        .chain(crate::appserver::pull_task_rows(&inner, sub_app_id));
    let mut matching: Vec<TaskRow> = rows
        .filter(|t| file_id.as_deref().is_none_or(|f| t.file_id == f))
        .filter(|t| {
            status
                .as_deref()
                .is_none_or(|s| t.status == TaskStatus::parse(s))
        })
        .filter(|t| in_range(t.created_wall, created_range))
        .filter(|t| {
            !finish_filter
                || (t.status == TaskStatus::Finish
                    && t.finish_wall.is_some_and(|f| in_range(f, finish_range)))
        })
        .filter(|t| match after_seq {
            None => true,
            Some(s) if desc => t.seq < s,
            Some(s) => t.seq > s,
        })
        .collect();
    matching.sort_by_key(|t| t.seq);
    if desc {
        matching.reverse();
    }
    let more = matching.len() as u64 > limit;
    matching.truncate(limit as usize);
    let page = matching;
    let task_set: Vec<&Value> = page.iter().map(|t| &t.json).collect();
    let token = match (more, page.last()) {
        (true, Some(last)) => scroll_token(desc, last.seq),
        _ => String::new(),
    };
    Ok(json!({ "TaskSet": task_set, "ScrollToken": token }))
}

/// `DescribeTaskDetail` of a Procedure task of this `SubAppId`; unknown → `InvalidParameterValue.TaskId`.
pub(crate) fn describe_task_detail(sh: &Shared, req: &Map<String, Value>) -> Result<Value, VodErr> {
    sh.advance_tasks();
    let sub_app_id = sub_app_id_of(req)?;
    let task_id = get_str(req, "TaskId")?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| missing("TaskId"))?;
    let inner = sh.lock();
    let t = inner
        .tasks
        .iter()
        .find(|t| t.task_id == task_id && t.sub_app_id == sub_app_id)
        .ok_or_else(|| {
            err(
                "InvalidParameterValue.TaskId",
                format!("The task `{task_id}` does not exist."),
            )
        })?;
    let (status, created, begin, finish) = t.times(&sh.cfg, Instant::now());
    Ok(json!({
        "TaskType": tencent_vod::events::PROCEDURE_TASK_TYPE,
        "Status": status.as_str(),
        "CreateTime": created,
        "BeginProcessTime": begin,
        "FinishTime": finish,
        "ProcedureTask": t.procedure_task(&status),
    }))
}

/// POSTs a normal-callback body (the event without `EventHandle`), retrying twice on failure; records the outcome.
fn post_callback(
    url: String,
    http: reqwest::Client,
    body: Value,
    log: Arc<std::sync::Mutex<Vec<CallbackDelivery>>>,
) {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        tracing::warn!("no tokio runtime; mock callback not sent");
        return;
    };
    rt.spawn(async move {
        let event_type = body
            .get("EventType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let text = body.to_string();
        let mut delivery = CallbackDelivery {
            event_type,
            body: text.clone(),
            status: None,
            error: None,
            attempts: 0,
        };
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            }
            delivery.attempts = attempt + 1;
            let sent = http
                .post(&url)
                .header("content-type", "application/json")
                .body(text.clone())
                .send()
                .await;
            match sent {
                Ok(r) => {
                    delivery.status = Some(r.status().as_u16());
                    delivery.error = None;
                    if r.status().is_success() {
                        break;
                    }
                }
                Err(e) => {
                    delivery.status = None;
                    delivery.error = Some(e.without_url().to_string());
                }
            }
        }
        tracing::debug!(?delivery.status, attempts = delivery.attempts, "mock callback sent");
        log.lock().unwrap_or_else(|e| e.into_inner()).push(delivery);
    });
}
