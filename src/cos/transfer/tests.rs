//! The engine against an in-memory [`MultipartStore`]: planning, the in-flight bounds, the retry loop, abort or
//! keep, resume, lost Complete answers, the expiry stop and integrity — without HTTP. Timing-dependent cases run on
//! paused Tokio time.

use super::*;
use crate::cos::crc::crc64;
use crate::cos::ops::{CompleteAnswer, CompleteMultipartUploadOutput, HeadObjectOutput};
use crate::cos::xml::ListedPart;
use crate::error::CosError;
use crate::progress::ProgressEvent;
use crate::retry::RetryConfig;
use std::time::Duration;

const BUCKET: &str = "mem-1250000000";
const PART: u64 = 100;

/// A request the store answers with an error instead of doing the work.
struct Fault {
    op: &'static str,
    part: Option<u32>,
    remaining: u32,
    status: u16,
    code: &'static str,
}

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Bytes>,
    /// Multipart uploads: id → (key, parts).
    uploads: BTreeMap<String, (String, BTreeMap<u32, Bytes>)>,
    next_id: u32,
    /// Every operation, in order: `put`, `part N`, `initiate`, `list ID`, `complete ID`, `abort ID`, `head`.
    log: Vec<String>,
    in_flight: usize,
    max_in_flight: usize,
    faults: Vec<Fault>,
    /// How long a write takes (on paused time in the tests that set it).
    write_delay: Duration,
    /// Answers without a CRC-64.
    omit_crc: bool,
    /// The part whose CRC-64 the store reports wrong.
    wrong_crc_part: Option<u32>,
    /// Complete does the work, then its answer is "lost" and the retry meets `NoSuchUpload`.
    lose_complete_answer: bool,
    /// With `lose_complete_answer`: the lost attempt did not complete the upload after all.
    complete_did_nothing: bool,
    /// The size of every part written, by number.
    part_sizes: BTreeMap<u32, usize>,
}

/// An in-memory bucket.
#[derive(Clone)]
struct Mem {
    state: Arc<Mutex<State>>,
    retry: RetryConfig,
    deadline: Option<(i64, Duration)>,
}

fn cos_error(
    op: CosOperation,
    status: u16,
    code: &str,
    key: &str,
    upload_id: Option<&str>,
) -> Error {
    Error::Cos(Box::new(CosError {
        operation: op,
        status,
        code: code.to_string(),
        message: "injected".to_string(),
        request_id: None,
        trace_id: None,
        bucket: BUCKET.to_string(),
        key: key.to_string(),
        upload_id: upload_id.map(str::to_string),
        part_number: None,
        retry_after: None,
        attempts: 1,
        elapsed: Duration::ZERO,
        orphaned_uploads: Vec::new(),
    }))
}

fn etag_of(b: &[u8]) -> String {
    format!("\"{:016x}\"", crc64(b))
}

/// Counts a write in flight for as long as it lives (also when the engine drops it).
struct InFlight(Arc<Mutex<State>>);

impl InFlight {
    fn start(state: &Arc<Mutex<State>>) -> Self {
        let mut s = state.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        InFlight(Arc::clone(state))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.lock().unwrap().in_flight -= 1;
    }
}

impl Mem {
    fn new() -> Self {
        Mem {
            state: Arc::default(),
            retry: RetryConfig::default()
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(10)),
            deadline: None,
        }
    }

    fn with(self, f: impl FnOnce(&mut State)) -> Self {
        f(&mut self.state.lock().unwrap());
        self
    }

    fn fault(
        self,
        op: &'static str,
        part: Option<u32>,
        times: u32,
        status: u16,
        code: &'static str,
    ) -> Self {
        self.with(|s| {
            s.faults.push(Fault {
                op,
                part,
                remaining: times,
                status,
                code,
            })
        })
    }

    fn s(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn log(&self) -> Vec<String> {
        self.s().log.clone()
    }

    fn count(&self, prefix: &str) -> usize {
        self.log().iter().filter(|l| l.starts_with(prefix)).count()
    }

    /// Logs `entry` and returns the injected error for it, if a fault matches.
    fn enter(
        &self,
        op: &'static str,
        part: Option<u32>,
        entry: String,
        err: impl FnOnce(u16, &str) -> Error,
    ) -> Option<Error> {
        let mut s = self.s();
        s.log.push(entry);
        let f = s
            .faults
            .iter_mut()
            .find(|f| f.op == op && f.remaining > 0 && (f.part.is_none() || f.part == part))?;
        f.remaining -= 1;
        Some(err(f.status, f.code))
    }
}

impl MultipartStore for Mem {
    fn bucket(&self) -> &str {
        BUCKET
    }

    fn retry(&self) -> &RetryConfig {
        &self.retry
    }

    fn check_not_expired(&self, key: &str) -> Result<()> {
        match self.deadline {
            Some((exp, left)) if left.is_zero() => {
                Err(Error::credentials_expired(exp, key.to_string()))
            }
            _ => Ok(()),
        }
    }

    fn abort_deadline(&self) -> Option<(i64, Duration)> {
        self.deadline
    }

    fn stopped_for_expiry(&self, expired_at: i64, key: &str) -> Error {
        Error::credentials_expired(expired_at, format!("the rest of {key}"))
    }

    async fn write_once(
        &self,
        target: WriteTarget<'_>,
        data: &PartData,
        _md5: Option<&str>,
        _chunk_size: usize,
        tracker: Option<&Arc<ProgressTracker>>,
    ) -> Result<WriteResult> {
        let PartData::Bytes(bytes) = data else {
            return Err(Error::invalid("source", "the in-memory store takes bytes"));
        };
        let (op, entry) = match target.part {
            Some(n) => ("part", format!("part {n}")),
            None => ("put", "put".to_string()),
        };
        let ctx = target.ctx();
        let fault = self.enter(op, target.part, entry, |status, code| {
            let mut e = cos_error(ctx.op, status, code, target.key, target.upload_id);
            if let Error::Cos(c) = &mut e {
                c.part_number = target.part;
            }
            e
        });
        let _in_flight = InFlight::start(&self.state);
        let len = bytes.len() as u64;
        // The body goes out, then the answer comes back.
        if let Some(t) = tracker {
            t.add(len);
        }
        let delay = self.s().write_delay;
        tokio::time::sleep(delay).await;
        if let Some(e) = fault {
            if let Some(t) = tracker {
                t.sub(len);
            }
            return Err(e);
        }
        let mut s = self.s();
        match (target.upload_id, target.part) {
            (Some(id), Some(n)) => match s.uploads.get_mut(id) {
                Some((_, parts)) => {
                    parts.insert(n, bytes.clone());
                    s.part_sizes.insert(n, bytes.len());
                }
                None => {
                    drop(s);
                    if let Some(t) = tracker {
                        t.sub(len);
                    }
                    return Err(cos_error(ctx.op, 404, "NoSuchUpload", target.key, Some(id)));
                }
            },
            _ => {
                s.objects.insert(target.key.to_string(), bytes.clone());
            }
        }
        let crc = crc64(bytes);
        let server_crc = if s.omit_crc {
            None
        } else if s.wrong_crc_part.is_some() && s.wrong_crc_part == target.part {
            Some(crc ^ 1)
        } else {
            Some(crc)
        };
        Ok(WriteResult {
            etag: Some(etag_of(bytes)),
            local_crc: crc,
            server_crc,
            request_id: Some("mem".into()),
        })
    }

    async fn head(&self, key: &str) -> Result<Option<HeadObjectOutput>> {
        let mut s = self.s();
        s.log.push(format!("head {key}"));
        let omit = s.omit_crc;
        Ok(s.objects.get(key).map(|b| HeadObjectOutput {
            size: b.len() as u64,
            etag: Some(etag_of(b)),
            crc64: (!omit).then(|| crc64(b)),
            content_type: None,
            request_id: None,
        }))
    }

    async fn initiate(&self, key: &str, _content_type: Option<&str>) -> Result<String> {
        if let Some(e) = self.enter("initiate", None, "initiate".into(), |st, code| {
            cos_error(CosOperation::InitiateMultipartUpload, st, code, key, None)
        }) {
            return Err(e);
        }
        let mut s = self.s();
        s.next_id += 1;
        let id = format!("u{}", s.next_id);
        s.uploads
            .insert(id.clone(), (key.to_string(), BTreeMap::new()));
        Ok(id)
    }

    async fn list_parts(&self, key: &str, upload_id: &str) -> Result<Vec<ListedPart>> {
        let mut s = self.s();
        s.log.push(format!("list {upload_id}"));
        match s.uploads.get(upload_id) {
            Some((_, parts)) => Ok(parts
                .iter()
                .map(|(n, b)| ListedPart {
                    part_number: *n,
                    last_modified: None,
                    etag: etag_of(b),
                    size: b.len() as u64,
                })
                .collect()),
            None => Err(cos_error(
                CosOperation::ListParts,
                404,
                "NoSuchUpload",
                key,
                Some(upload_id),
            )),
        }
    }

    async fn complete(
        &self,
        key: &str,
        upload_id: &str,
        parts: &[CompletePartXml],
    ) -> Result<CompleteAnswer> {
        let entry = format!("complete {upload_id}");
        if let Some(e) = self.enter("complete", None, entry, |st, code| {
            cos_error(
                CosOperation::CompleteMultipartUpload,
                st,
                code,
                key,
                Some(upload_id),
            )
        }) {
            return Err(e);
        }
        let mut s = self.s();
        let gone = || {
            cos_error(
                CosOperation::CompleteMultipartUpload,
                404,
                "NoSuchUpload",
                key,
                Some(upload_id),
            )
        };
        let Some((_, stored)) = s.uploads.remove(upload_id) else {
            return Err(gone());
        };
        let mut whole = BytesMut::new();
        for p in parts {
            match stored.get(&p.part_number) {
                Some(b) if etag_of(b) == p.etag => whole.extend_from_slice(b),
                _ => {
                    return Err(cos_error(
                        CosOperation::CompleteMultipartUpload,
                        400,
                        "InvalidPart",
                        key,
                        Some(upload_id),
                    ));
                }
            }
        }
        let whole = whole.freeze();
        let answer = CompleteMultipartUploadOutput {
            etag: format!("\"{:016x}-{}\"", crc64(&whole), parts.len()),
            location: None,
            server_crc64: (!s.omit_crc).then(|| crc64(&whole)),
            request_id: Some("mem".into()),
        };
        if s.lose_complete_answer {
            if !s.complete_did_nothing {
                s.objects.insert(key.to_string(), whole);
            }
            return Ok(CompleteAnswer::GoneAfterLostAnswer(gone()));
        }
        s.objects.insert(key.to_string(), whole);
        Ok(CompleteAnswer::Completed(answer))
    }

    async fn abort(&self, key: &str, upload_id: &str) -> Result<()> {
        if let Some(e) = self.enter("abort", None, format!("abort {upload_id}"), |st, code| {
            cos_error(
                CosOperation::AbortMultipartUpload,
                st,
                code,
                key,
                Some(upload_id),
            )
        }) {
            return Err(e);
        }
        self.s().uploads.remove(upload_id);
        Ok(())
    }
}

/// 100-byte parts and threshold, one part in flight unless a test says otherwise.
fn tiny() -> TransferConfig {
    TransferConfig::default()
        .with_min_part_size_unchecked(1)
        .with_part_size(PART)
        .with_multipart_threshold(PART)
        .with_concurrency(1)
}

/// `len` bytes uploaded as key `k` with the [`tiny`] configuration.
async fn upload_tiny(mem: &Mem, len: usize) -> Result<UploadOutput> {
    Engine::new(mem.clone())
        .upload(
            "k",
            UploadSource::bytes(data(len)),
            UploadOptions::default().with_config(tiny()),
        )
        .await
}

fn data(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i * 7 % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

fn recorder() -> (
    Arc<Mutex<Vec<Progress>>>,
    impl Fn(&Progress) + Send + Sync + 'static,
) {
    let seen: Arc<Mutex<Vec<Progress>>> = Arc::default();
    let s = Arc::clone(&seen);
    (seen, move |p: &Progress| s.lock().unwrap().push(p.clone()))
}

#[tokio::test]
async fn plans_a_single_put_or_parts_of_the_configured_size() {
    type Source = Box<dyn Fn(Bytes) -> UploadSource>;
    // (what, source, its length, expected operations)
    let cases: Vec<(&str, Source, usize, Vec<&str>)> = vec![
        (
            "bytes below the threshold",
            Box::new(UploadSource::bytes),
            99,
            vec!["put"],
        ),
        (
            "bytes at the threshold",
            Box::new(UploadSource::bytes),
            100,
            vec!["initiate", "part 1", "complete u1"],
        ),
        (
            "bytes of two and a half parts",
            Box::new(UploadSource::bytes),
            250,
            vec!["initiate", "part 1", "part 2", "part 3", "complete u1"],
        ),
        (
            "a reader of known length",
            Box::new(|b: Bytes| {
                UploadSource::reader(std::io::Cursor::new(b.to_vec()), Some(b.len() as u64))
            }),
            250,
            vec!["initiate", "part 1", "part 2", "part 3", "complete u1"],
        ),
        (
            "a short reader of unknown length",
            Box::new(|b: Bytes| UploadSource::reader(std::io::Cursor::new(b.to_vec()), None)),
            99,
            vec!["put"],
        ),
        (
            "a long reader of unknown length",
            Box::new(|b: Bytes| UploadSource::reader(std::io::Cursor::new(b.to_vec()), None)),
            250,
            vec!["initiate", "part 1", "part 2", "part 3", "complete u1"],
        ),
    ];
    for (what, source, len, ops) in cases {
        let mem = Mem::new();
        let body = data(len);
        let out = Engine::new(mem.clone())
            .upload(
                "k",
                source(body.clone()),
                UploadOptions::default().with_config(tiny()),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(mem.log(), ops, "{what}");
        assert_eq!(mem.s().objects.get("k"), Some(&body), "{what}");
        assert_eq!((out.size, out.crc64), (len as u64, crc64(&body)), "{what}");
        assert_eq!(
            out.parts as usize,
            ops.len().saturating_sub(2).max(1),
            "{what}"
        );
        assert_eq!(out.upload_id.is_some(), ops.len() > 1, "{what}");
        if len == 250 {
            let sizes: Vec<usize> = mem.s().part_sizes.values().copied().collect();
            assert_eq!(sizes, [100, 100, 50], "{what}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn concurrency_bounds_one_upload_and_a_shared_budget_bounds_several() {
    let slow = |m: Mem| m.with(|s| s.write_delay = Duration::from_secs(1));
    // One upload: 10 parts, 3 in flight.
    let mem = slow(Mem::new());
    Engine::new(mem.clone())
        .upload(
            "a",
            UploadSource::bytes(data(1000)),
            UploadOptions::default().with_config(tiny().with_concurrency(3)),
        )
        .await
        .unwrap();
    assert_eq!((mem.count("part"), mem.s().max_in_flight), (10, 3));

    // Two uploads of 4 parts in flight each, sharing a budget of 2.
    let mem = slow(Mem::new());
    let budget = ConcurrencyBudget::new(2);
    let opts = || {
        UploadOptions::default()
            .with_config(tiny().with_concurrency(4))
            .with_budget(budget.clone())
    };
    let engine = Engine::new(mem.clone());
    let (a, b) = tokio::join!(
        engine.upload("a", UploadSource::bytes(data(800)), opts()),
        engine.upload("b", UploadSource::bytes(data(50)), opts()),
    );
    a.unwrap();
    b.unwrap();
    assert_eq!((mem.count("part"), mem.count("put")), (8, 1));
    assert_eq!(
        mem.s().max_in_flight,
        2,
        "the budget bounds both uploads together"
    );
    assert_eq!(budget.available(), 2, "every permit returned");
}

#[tokio::test(start_paused = true)]
async fn retryable_part_failures_are_retried_and_reported_others_abort() {
    // A part answered 503 once: sent again, reported, counted; progress stays monotonic.
    let mem = Mem::new().fault("part", Some(2), 1, 503, "SlowDown");
    let (seen, record) = recorder();
    let out = Engine::new(mem.clone())
        .upload(
            "k",
            UploadSource::bytes(data(300)),
            UploadOptions::default()
                .with_config(tiny())
                .with_progress(record),
        )
        .await
        .unwrap();
    assert_eq!(out.parts, 3);
    assert_eq!(
        mem.log(),
        [
            "initiate",
            "part 1",
            "part 2",
            "part 2",
            "part 3",
            "complete u1"
        ]
    );
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|p| p.event == ProgressEvent::Retrying { part: Some(2) })
    );
    assert_eq!(
        seen.last().map(|p| (p.bytes_sent, p.retries)),
        Some((300, 1))
    );
    assert!(seen.windows(2).all(|w| w[0].bytes_sent <= w[1].bytes_sent));

    // (what, fault on part 2, attempts of part 2)
    let failing = [
        (
            "a non-retryable error",
            Mem::new().fault("part", Some(2), 1, 403, "AccessDenied"),
            1,
        ),
        (
            "retries exhausted",
            Mem::new().fault("part", Some(2), 10, 503, "SlowDown"),
            4,
        ),
    ];
    for (what, mem, attempts) in failing {
        let e = upload_tiny(&mem, 300).await.unwrap_err();
        let Error::Cos(c) = &e else {
            panic!("{what}: {e:?}")
        };
        assert_eq!(
            (c.part_number, c.upload_id.as_deref()),
            (Some(2), Some("u1")),
            "{what}"
        );
        assert_eq!(e.attempts(), attempts, "{what}");
        assert_eq!(mem.count("part 2"), attempts as usize, "{what}");
        assert_eq!(mem.count("part 3"), 0, "{what}: stops at the failure");
        assert_eq!(
            (mem.count("abort u1"), mem.count("complete")),
            (1, 0),
            "{what}"
        );
        assert!(
            mem.s().uploads.is_empty() && mem.s().objects.is_empty(),
            "{what}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn unfinished_upload_policy_keeps_or_aborts() {
    use UnfinishedUploadPolicy::*;
    // (policy, cancelled (else failed), kept)
    let cases = [
        (Abort, true, false),
        (Abort, false, false),
        (KeepIfCancelled, true, true),
        (KeepIfCancelled, false, false),
        (Keep, true, true),
        (Keep, false, true),
    ];
    for (policy, cancel, kept) in cases {
        let mem = if cancel {
            Mem::new().with(|s| s.write_delay = Duration::from_secs(60))
        } else {
            Mem::new().fault("part", Some(1), 1, 403, "AccessDenied")
        };
        let token = CancellationToken::new();
        let t = token.clone();
        let canceller = async move {
            if cancel {
                tokio::time::sleep(Duration::from_secs(1)).await;
                t.cancel();
            }
        };
        let engine = Engine::new(mem.clone());
        let upload = engine.upload(
            "k",
            UploadSource::bytes(data(300)),
            UploadOptions::default()
                .with_config(tiny())
                .with_cancellation(token)
                .with_unfinished_upload_policy(policy),
        );
        let (r, ()) = tokio::join!(upload, canceller);
        let e = r.unwrap_err();
        let case = format!("{policy:?}, cancelled {cancel}: {e}");
        assert_eq!(matches!(e, Error::Cancelled), cancel, "{case}");
        assert_eq!(mem.s().uploads.contains_key("u1"), kept, "{case}");
        assert_eq!(mem.count("abort"), usize::from(!kept), "{case}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_upload_that_cannot_be_aborted_is_reported_as_orphaned() {
    let mem = Mem::new()
        .fault("part", Some(1), 1, 403, "AccessDenied")
        .fault("abort", None, 10, 500, "InternalError");
    let sink: OrphanSink = Arc::default();
    let e = Engine::new(mem.clone())
        .upload(
            "dir/k.mp4",
            UploadSource::bytes(data(300)),
            UploadOptions::default()
                .with_config(tiny())
                .with_orphan_sink(Arc::clone(&sink)),
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        Some("AccessDenied"),
        "the part's error is the one returned"
    );
    let orphan = OrphanedUpload::new(BUCKET, "dir/k.mp4", "u1");
    assert_eq!(e.orphaned_uploads(), std::slice::from_ref(&orphan));
    assert_eq!(*sink.lock().unwrap(), [orphan]);
    assert!(mem.s().uploads.contains_key("u1"));
}

#[tokio::test]
async fn resume_sends_only_the_parts_list_parts_confirms() {
    let body = data(450);
    let chunk = |n: usize| body.slice((n - 1) * 100..(n * 100).min(body.len()));
    let mem = Mem::new().with(|s| {
        let parts = [1, 2].into_iter().map(|n| (n as u32, chunk(n))).collect();
        s.uploads.insert("u7".into(), ("k".into(), parts));
    });
    let recorded = |n: usize, etag: String| CompletedPart {
        number: n as u32,
        etag,
        crc64: crc64(&chunk(n)),
        size: chunk(n).len() as u64,
    };
    let resume = ResumeState {
        upload_id: "u7".into(),
        completed_parts: vec![
            recorded(1, etag_of(&chunk(1))),
            recorded(2, "\"stale\"".into()), // COS holds another ETag: sent again
            recorded(3, etag_of(&chunk(3))), // not on COS: sent again
        ],
    };
    let (seen, record) = recorder();
    let out = Engine::new(mem.clone())
        .upload(
            "k",
            UploadSource::bytes(body.clone()),
            UploadOptions::default()
                .with_config(tiny())
                .with_resume(resume.clone())
                .with_progress(record),
        )
        .await
        .unwrap();
    assert_eq!(
        mem.log(),
        [
            "list u7",
            "part 2",
            "part 3",
            "part 4",
            "part 5",
            "complete u7"
        ]
    );
    assert_eq!((out.upload_id.as_deref(), out.parts), (Some("u7"), 5));
    assert_eq!(mem.s().objects["k"], body);
    let done: Vec<u32> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|p| match &p.event {
            ProgressEvent::PartDone { upload_id, part } if upload_id == "u7" => Some(part.number),
            _ => None,
        })
        .collect();
    assert_eq!(done, [2, 3, 4, 5]);

    // The upload to resume is gone (aborted, expired): a new one starts.
    let mem = Mem::new();
    Engine::new(mem.clone())
        .upload(
            "k",
            UploadSource::bytes(body.clone()),
            UploadOptions::default()
                .with_config(tiny())
                .with_resume(resume),
        )
        .await
        .unwrap();
    assert_eq!(mem.log()[..2], ["list u7", "initiate"]);
    assert_eq!(mem.count("part"), 5);
}

#[tokio::test]
async fn a_lost_complete_answer_counts_only_when_head_confirms_the_object() {
    let mem = Mem::new().with(|s| s.lose_complete_answer = true);
    let out = upload_tiny(&mem, 250).await.unwrap();
    assert_eq!(out.crc64, crc64(&data(250)));
    assert_eq!(mem.log().last().map(String::as_str), Some("head k"));

    let mem = Mem::new().with(|s| {
        s.lose_complete_answer = true;
        s.complete_did_nothing = true;
    });
    let e = upload_tiny(&mem, 250).await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchUpload"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn credentials_about_to_expire_stop_the_parts_and_abort() {
    let started = tokio::time::Instant::now();
    let mut mem = Mem::new().with(|s| s.write_delay = Duration::from_secs(60));
    mem.deadline = Some((1_700_000_000, Duration::from_secs(5)));
    let e = upload_tiny(&mem, 300).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::CredentialsExpired {
                expired_at: 1_700_000_000,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(5),
        "stopped at the deadline"
    );
    assert_eq!((mem.count("abort u1"), mem.count("complete")), (1, 0));
    assert!(mem.s().uploads.is_empty());

    // Already past the deadline: nothing is started.
    let mut mem = Mem::new();
    mem.deadline = Some((1_700_000_000, Duration::ZERO));
    let e = upload_tiny(&mem, 300).await.unwrap_err();
    assert!(matches!(e, Error::CredentialsExpired { .. }), "{e}");
    assert!(mem.log().is_empty());
}

#[tokio::test]
async fn integrity_a_wrong_part_crc_fails_a_missing_one_is_checked_with_head() {
    let mem = Mem::new().with(|s| s.wrong_crc_part = Some(2));
    let e = upload_tiny(&mem, 300).await.unwrap_err();
    assert!(matches!(e, Error::Integrity { part: Some(2), .. }), "{e}");
    assert_eq!((mem.count("abort u1"), mem.count("complete")), (1, 0));

    // No CRC in the answers: the object is verified with HEAD (which has none either, so only with
    // trust_missing_crc does it count).
    for (trust, ok) in [(false, false), (true, true)] {
        let mem = Mem::new().with(|s| s.omit_crc = true);
        let r = Engine::new(mem.clone())
            .upload(
                "k",
                UploadSource::bytes(data(50)),
                UploadOptions::default().with_config(tiny().with_trust_missing_crc(trust)),
            )
            .await;
        assert_eq!(r.is_ok(), ok, "trust {trust}: {r:?}");
        assert_eq!(mem.count("head"), usize::from(!trust), "trust {trust}");
    }
}
