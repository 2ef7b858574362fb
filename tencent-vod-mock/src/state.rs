//! Shared state of the mock server.

use crate::fault::{Fault, RuleState, Target};
use crate::{CommitRecord, CosSession, Rejection, StoredObject};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tencent_vod::credential::Credential;
use tencent_vod::error::CosOperation;
use tencent_vod::events::TaskStatus;
use tencent_vod::vod::TempCertificate;

pub(crate) struct Config {
    pub credentials: Vec<Credential>,
    pub app_id: u64,
    pub region: String,
    pub bench: bool,
    pub temp_ttl: Duration,
    pub min_part_size: u64,
    pub seed: Option<u64>,
    pub data_dir: PathBuf,
    /// Kept so the temp dir lives (and is removed) with the server state.
    pub _tempdir: Option<tempfile::TempDir>,
    pub faults: Vec<crate::FaultRule>,
    /// How long a pulled event stays leased before it is redelivered.
    pub event_confirm_timeout: Duration,
    /// How long an empty `PullEvents` waits for an event before answering.
    pub pull_wait: Duration,
    /// How long a Procedure task stays `WAITING`, then `PROCESSING`.
    pub task_waiting: Duration,
    pub task_processing: Duration,
    /// Where events are POSTed (normal callback), with the client doing it.
    pub callback: Option<(String, reqwest::Client)>,
    /// How a second `CommitUpload` of a committed session is answered.
    pub recommit: crate::Recommit,
}

/// Where temporary credentials may write.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// Anything in the bucket.
    Bucket,
    /// These exact keys, plus anything under `prefix` (manifest directory).
    Keys {
        exact: Vec<String>,
        prefix: Option<String>,
    },
}

pub(crate) struct TempCred {
    pub secret_key: String,
    pub token: String,
    pub expired_time: i64,
    pub expired_early: bool,
    pub bucket: String,
    pub scope: Scope,
}

pub(crate) struct Session {
    pub sub_app_id: Option<u64>,
    pub bucket: String,
    pub region: String,
    /// Keys without the leading `/`.
    pub media_key: String,
    pub cover_key: Option<String>,
    pub media_type: String,
    pub procedure: Option<String>,
    pub committed: bool,
    pub temp_secret_id: String,
    pub file_id: String,
    /// `MediaName` of ApplyUpload.
    pub media_name: Option<String>,
    pub class_id: i64,
    pub source_context: String,
    pub session_context: String,
    pub expire_time: Option<String>,
}

#[derive(Clone)]
pub(crate) struct ObjectMeta {
    pub path: Option<PathBuf>,
    pub size: u64,
    pub sha256: String,
    pub crc64: u64,
    pub etag: String,
    pub content_type: String,
    pub last_modified: SystemTime,
}

#[derive(Clone)]
pub(crate) struct PartMeta {
    pub size: u64,
    /// Quoted.
    pub etag: String,
    pub crc64: u64,
    pub path: Option<PathBuf>,
    pub last_modified: SystemTime,
}

pub(crate) struct Upload {
    pub bucket: String,
    pub key: String,
    pub parts: BTreeMap<u32, PartMeta>,
    pub content_type: String,
    pub initiated: SystemTime,
}

/// A pulled event's lease: its current handle and when the lease ends.
pub(crate) struct Lease {
    pub handle: String,
    pub until: Instant,
}

pub(crate) struct QueuedEvent {
    pub seq: u64,
    pub sub_app_id: Option<u64>,
    /// The v3 `EventContent` without `EventHandle`.
    pub body: Value,
    pub lease: Option<Lease>,
    pub deliveries: u32,
}

/// The event queue of one server (every `SubAppId`).
#[derive(Default)]
pub(crate) struct EventQueue {
    pub next_seq: u64,
    pub pending: Vec<QueuedEvent>,
    pub confirmed: Vec<(Option<u64>, Value)>,
}

/// A Procedure task started by `CommitUpload`.
pub(crate) struct TaskRecord {
    pub seq: u64,
    pub task_id: String,
    pub sub_app_id: Option<u64>,
    pub procedure: String,
    pub file_id: String,
    pub file_name: String,
    pub file_url: String,
    pub session_context: String,
    pub session_id: String,
    pub meta_data: Value,
    pub created_wall: SystemTime,
    pub created: Instant,
    pub finish_event_queued: bool,
}

/// One `DescribeTasks` row (`TaskSimpleInfo`) of any task type, with what the filters and the order need.
pub(crate) struct TaskRow {
    /// Creation order, shared by every task type.
    pub seq: u64,
    pub file_id: String,
    pub status: TaskStatus,
    pub created_wall: SystemTime,
    /// When it finished (`FINISH` only).
    pub finish_wall: Option<SystemTime>,
    /// The `TaskSimpleInfo` object.
    pub json: Value,
}

/// Event-notification settings of one application.
#[derive(Debug, Clone)]
pub(crate) struct EventSettings {
    pub mode: String,
    pub notification_url: String,
    pub upload_switch: bool,
    pub delete_switch: bool,
    pub persistence_switch: bool,
    pub sign_key: Option<String>,
}

/// A pull task.
pub(crate) struct PullTask {
    pub seq: u64,
    pub task_id: String,
    pub sub_app_id: Option<u64>,
    pub status: TaskStatus,
    pub err_code: i64,
    pub message: String,
    pub progress: i64,
    pub file_id: String,
    pub file_url: String,
    pub cover_url: String,
    pub media_name: String,
    pub media_type: String,
    pub region: String,
    pub class_id: i64,
    pub source_context: String,
    pub session_context: String,
    pub session_id: String,
    pub procedure_task_id: String,
    pub expire_time: Option<String>,
    pub size: u64,
    pub created: SystemTime,
    pub begun: Option<SystemTime>,
    pub finished: Option<SystemTime>,
}

/// The app-server state of a mock server (in [`Inner`]): event-notification settings and pull tasks.
#[derive(Default)]
pub(crate) struct AppState {
    pub settings: HashMap<Option<u64>, EventSettings>,
    pub pulls: Vec<PullTask>,
    pub pull_requests: Vec<Value>,
    pub session_ids: HashSet<(Option<u64>, String)>,
    pub pull_timeout: Option<Duration>,
    pub http: OnceLock<reqwest::Client>,
}

/// A media file of the library (one per successful `CommitUpload`).
pub(crate) struct MediaRecord {
    pub sub_app_id: Option<u64>,
    pub file_id: String,
    /// The mock's time at the commit.
    pub created: SystemTime,
    /// `MediaBasicInfo` as in the `NewFileUpload` event (`MediaUrl` path = the storage path).
    pub basic_info: Value,
    pub meta_data: Value,
}

pub(crate) struct Inner {
    pub rng: fastrand::Rng,
    pub faults: Vec<RuleState>,
    pub faults_injected: u64,
    pub counts: BTreeMap<String, u64>,
    pub rejections: Vec<Rejection>,
    pub sessions: HashMap<String, Session>,
    pub temp_creds: HashMap<String, TempCred>,
    pub objects: HashMap<(String, String), ObjectMeta>,
    pub uploads: HashMap<String, Upload>,
    pub apply_requests: Vec<serde_json::Value>,
    pub commits: Vec<CommitRecord>,
    pub file_seq: u64,
    /// Events queued for `PullEvents` (and confirmed ones, for inspection).
    pub events: EventQueue,
    /// Procedure tasks started by `CommitUpload`.
    pub tasks: Vec<TaskRecord>,
    /// The media library (`SearchMedia`, `DescribeMediaInfos`).
    pub media: Vec<MediaRecord>,
    /// The last task sequence number handed out (Procedure and pull tasks share it: `DescribeTasks` order).
    pub task_seq: u64,
    /// Event-notification settings and pull tasks.
    pub app: AppState,
}

impl Inner {
    /// The next task sequence number (1, 2, …).
    pub fn next_task_seq(&mut self) -> u64 {
        self.task_seq += 1;
        self.task_seq
    }
}

pub(crate) struct Shared {
    pub cfg: Config,
    inner: Mutex<Inner>,
    seq: AtomicU64,
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    /// Body bytes received by PUT Object and Upload Part (complete or not).
    pub bytes_received: AtomicU64,
    /// Woken when an event is queued (long-polling `PullEvents`).
    pub events_notify: tokio::sync::Notify,
    /// Outcomes of callback POSTs (shared with the tasks doing them).
    pub callback_log: std::sync::Arc<Mutex<Vec<crate::CallbackDelivery>>>,
    /// Seconds the mock's clock is ahead of the host's (negative: behind).
    clock_offset: std::sync::atomic::AtomicI64,
}

fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

pub(crate) fn random_string(rng: &mut fastrand::Rng, alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[rng.usize(..alphabet.len())] as char)
        .collect()
}

pub(crate) fn random_hex(rng: &mut fastrand::Rng, len: usize) -> String {
    random_string(rng, b"0123456789abcdef", len)
}

/// Decrements the in-flight upload counter on drop.
pub(crate) struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    pub fn new(mut cfg: Config, clock_offset: i64) -> Self {
        let rng = match cfg.seed {
            Some(s) => fastrand::Rng::with_seed(s),
            None => fastrand::Rng::new(),
        };
        let faults = std::mem::take(&mut cfg.faults)
            .into_iter()
            .map(|rule| RuleState {
                rule,
                seen: 0,
                hits: 0,
            })
            .collect();
        Shared {
            cfg,
            inner: Mutex::new(Inner {
                rng,
                faults,
                faults_injected: 0,
                counts: BTreeMap::new(),
                rejections: Vec::new(),
                sessions: HashMap::new(),
                temp_creds: HashMap::new(),
                objects: HashMap::new(),
                uploads: HashMap::new(),
                apply_requests: Vec::new(),
                commits: Vec::new(),
                file_seq: 0,
                events: Default::default(),
                tasks: Vec::new(),
                media: Vec::new(),
                task_seq: 0,
                app: Default::default(),
            }),
            seq: AtomicU64::new(1),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            events_notify: tokio::sync::Notify::new(),
            callback_log: Default::default(),
            clock_offset: std::sync::atomic::AtomicI64::new(clock_offset),
        }
    }

    /// The mock's own time: the host's plus the clock offset. Signature windows, `Date` headers, credential
    /// expiry and the times of media, events and tasks use it.
    pub fn now(&self) -> SystemTime {
        let off = self.clock_offset();
        let d = Duration::from_secs(off.unsigned_abs());
        let host = SystemTime::now();
        if off >= 0 {
            host + d
        } else {
            host.checked_sub(d).unwrap_or(UNIX_EPOCH)
        }
    }

    /// [`now`](Self::now) in unix seconds.
    pub fn now_unix(&self) -> i64 {
        unix_secs(self.now())
    }

    pub fn clock_offset(&self) -> i64 {
        self.clock_offset.load(Ordering::Relaxed)
    }

    pub fn set_clock_offset(&self, secs: i64) {
        self.clock_offset.store(secs, Ordering::Relaxed);
    }

    /// Locks the state (a poisoned lock is recovered: the state stays usable).
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::Relaxed)
    }

    /// A fresh temp file path under the data dir.
    pub fn tmp_path(&self) -> PathBuf {
        self.cfg
            .data_dir
            .join("tmp")
            .join(format!("{}.tmp", self.next_seq()))
    }

    pub fn object_path(&self) -> PathBuf {
        self.cfg
            .data_dir
            .join("objects")
            .join(self.next_seq().to_string())
    }

    /// A VOD-style request id (uuid v4 shape).
    pub fn vod_request_id(&self) -> String {
        let mut inner = self.lock();
        let h = random_hex(&mut inner.rng, 32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }

    /// A COS-style request id (base64 of something).
    pub fn cos_request_id(&self) -> String {
        use base64::Engine as _;
        let n = self.next_seq();
        let raw = format!("{:x}_{:08x}_{:x}", self.now_unix(), n, self.cfg.app_id);
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(raw)
    }

    pub fn count(&self, kind: &str) {
        *self.lock().counts.entry(kind.to_string()).or_insert(0) += 1;
    }

    pub fn reject(&self, kind: &str, code: &str, message: &str) {
        tracing::debug!(kind, code, message, "mock rejected a request");
        self.lock().rejections.push(Rejection {
            kind: kind.to_string(),
            code: code.to_string(),
            message: message.to_string(),
        });
    }

    /// Evaluates the fault rules for a VOD action.
    pub fn vod_fault(&self, action: &str) -> Option<Fault> {
        self.pick(|t| t.matches_vod(action))
    }

    /// Evaluates the fault rules for a COS operation.
    pub fn cos_fault(&self, op: CosOperation) -> Option<Fault> {
        self.pick(|t| t.matches_cos(op))
    }

    fn pick(&self, matches: impl Fn(&Target) -> bool) -> Option<Fault> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut chosen = None;
        for r in inner.faults.iter_mut() {
            if matches(&r.rule.target) && r.fire(&mut inner.rng) && chosen.is_none() {
                chosen = Some(r.rule.fault.clone());
            }
        }
        if chosen.is_some() {
            inner.faults_injected += 1;
        }
        chosen
    }

    pub fn begin_upload(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self)
    }

    /// The region's bucket: `vod{region without dashes}-{appid}`.
    pub fn bucket_for(&self, region: &str) -> String {
        format!("vod{}-{}", region.replace('-', ""), self.cfg.app_id)
    }

    /// Issues temporary credentials; returns the certificate.
    pub fn issue_temp(&self, inner: &mut Inner, bucket: &str, scope: Scope) -> TempCertificate {
        let secret_id = format!("AKID{}", random_string(&mut inner.rng, ALNUM, 32));
        let secret_key = random_string(&mut inner.rng, ALNUM, 32);
        let token = format!(
            "{}{}",
            random_string(&mut inner.rng, ALNUM, 96),
            random_hex(&mut inner.rng, 32)
        );
        let expired_time = self.now_unix() + self.cfg.temp_ttl.as_secs() as i64;
        inner.temp_creds.insert(
            secret_id.clone(),
            TempCred {
                secret_key: secret_key.clone(),
                token: token.clone(),
                expired_time,
                expired_early: false,
                bucket: bucket.to_string(),
                scope,
            },
        );
        TempCertificate::new(secret_id, secret_key, token, expired_time)
    }

    pub fn create_cos_session(&self, bucket: Option<&str>) -> CosSession {
        let bucket = bucket
            .map(str::to_string)
            .unwrap_or_else(|| self.bucket_for(&self.cfg.region));
        let mut inner = self.lock();
        let credential = self.issue_temp(&mut inner, &bucket, Scope::Bucket);
        CosSession {
            bucket,
            region: self.cfg.region.clone(),
            credential,
        }
    }

    pub fn expire_credentials(&self, key_or_id: &str) -> bool {
        let mut inner = self.lock();
        let id = inner
            .sessions
            .get(key_or_id)
            .map(|s| s.temp_secret_id.clone())
            .unwrap_or_else(|| key_or_id.to_string());
        match inner.temp_creds.get_mut(&id) {
            Some(c) => {
                c.expired_early = true;
                true
            }
            None => false,
        }
    }

    fn to_stored(bucket: &str, key: &str, m: &ObjectMeta) -> StoredObject {
        StoredObject {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: m.size,
            sha256: m.sha256.clone(),
            crc64: m.crc64,
            etag: m.etag.clone(),
        }
    }

    pub fn objects(&self) -> Vec<StoredObject> {
        let inner = self.lock();
        let mut v: Vec<_> = inner
            .objects
            .iter()
            .map(|((b, k), m)| Self::to_stored(b, k, m))
            .collect();
        v.sort_by(|a, b| (&a.bucket, &a.key).cmp(&(&b.bucket, &b.key)));
        v
    }

    pub fn object(&self, bucket: &str, key: &str) -> Option<StoredObject> {
        let inner = self.lock();
        inner
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|m| Self::to_stored(bucket, key, m))
    }

    pub fn object_meta(&self, bucket: &str, key: &str) -> Option<ObjectMeta> {
        self.lock()
            .objects
            .get(&(bucket.to_string(), key.to_string()))
            .cloned()
    }

    pub fn object_bytes(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let path = self.object_meta(bucket, key)?.path?;
        std::fs::read(path).ok()
    }

    /// Stores an object (replacing any previous one, whose file is removed).
    pub fn put_object(&self, bucket: &str, key: &str, meta: ObjectMeta) {
        let old = self
            .lock()
            .objects
            .insert((bucket.to_string(), key.to_string()), meta);
        if let Some(p) = old.and_then(|o| o.path) {
            let _ = std::fs::remove_file(p);
        }
    }
}
