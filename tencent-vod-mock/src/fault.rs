//! Fault injection: which requests fail, and how.

use std::str::FromStr;
use std::time::Duration;
use tencent_vod::error::{CosOperation, Error};

/// The requests a [`FaultRule`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// One VOD action, e.g. `Target::Vod("ApplyUpload")`.
    Vod(&'static str),
    /// Every VOD action.
    AnyVod,
    /// One COS operation.
    Cos(CosOperation),
    /// Every COS operation.
    AnyCos,
}

impl Target {
    pub(crate) fn matches_vod(&self, action: &str) -> bool {
        match self {
            Target::Vod(a) => a.eq_ignore_ascii_case(action),
            Target::AnyVod => true,
            _ => false,
        }
    }
    pub(crate) fn matches_cos(&self, op: CosOperation) -> bool {
        match self {
            Target::Cos(o) => *o == op,
            Target::AnyCos => true,
            _ => false,
        }
    }
}

/// What happens to a request hit by a fault.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer this HTTP status. COS: the error XML (`InternalError` for 500, `ServiceUnavailable` for 503, a
    /// fitting code for others); VOD: the bare status with a text body (no envelope).
    Status(u16),
    /// COS only: answer the error XML with this status and code.
    CosError {
        /// HTTP status.
        status: u16,
        /// COS error code, e.g. `RequestTimeOut`.
        code: String,
    },
    /// VOD only: answer the real envelope (HTTP 200) with this error code.
    VodError(String),
    /// VOD: `RequestLimitExceeded`; COS: `503 SlowDown`.
    Throttle,
    /// Read part of the request body, then drop the connection without a response (nothing is processed).
    /// `HEAD Object` answers have no body that could be cut short: there it is a `503` instead.
    DropConnection,
    /// Process the request completely (the object is stored, the upload completed, the session committed…),
    /// then drop the connection without a complete response: the answer is lost after the work was done.
    /// `HEAD Object`: a `503` instead, as for [`DropConnection`](Self::DropConnection).
    DropAfterProcessing,
    /// Process the request completely, then answer this HTTP status instead of the result (a gateway error after
    /// the backend did the work). COS: the error XML (`InternalError` for 500…); VOD: the bare status.
    StatusAfterProcessing(u16),
    /// Wait, then serve normally.
    Delay(Duration),
    /// Wait until the [`Gate`] is opened, then serve normally: a test holds a request back until something else
    /// has happened, with no fixed time. (No text form.)
    Hold(Gate),
    /// `CompleteMultipartUpload` only: `200 OK` whose body is whitespace then an `<Error>` document (the upload
    /// is not completed).
    CompleteErrorBody,
    /// Serve normally but with `x-cos-hash-crc64ecma` off by one.
    WrongCrc,
    /// The temporary credentials used by this request are treated as expired from now on (so this request and
    /// every later one with them fails with `ExpiredToken`).
    ExpireCredentials,
    /// COS only: serve normally but without `x-cos-hash-crc64ecma` (PUT Object, Upload Part, Complete, HEAD),
    /// like a store that does not report CRC-64.
    OmitCrc,
    /// Answer this 3xx status with a `Location` header (VOD or COS), without doing the work: a redirect a
    /// client must not follow.
    Redirect {
        /// The HTTP status, e.g. 307.
        status: u16,
        /// The `Location` value.
        location: String,
    },
}

/// Where requests hit by [`Fault::Hold`] wait. Clones share the gate; once opened it stays open.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// use tencent_vod_mock::Gate;
/// let gate = Gate::new();
/// let held = gate.clone();
/// let waiter = tokio::spawn(async move { held.wait().await });
/// gate.open();
/// waiter.await.unwrap();
/// assert!(gate.is_open());
/// # }
/// ```
#[derive(Clone, Default)]
pub struct Gate(std::sync::Arc<GateState>);

#[derive(Default)]
struct GateState {
    open: std::sync::atomic::AtomicBool,
    notify: tokio::sync::Notify,
}

impl Gate {
    /// A closed gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Opens the gate: every request waiting at it goes on, and later ones do not stop.
    pub fn open(&self) {
        self.0.open.store(true, std::sync::atomic::Ordering::SeqCst);
        self.0.notify.notify_waiters();
    }

    /// Whether it was opened.
    pub fn is_open(&self) -> bool {
        self.0.open.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until the gate is open.
    pub async fn wait(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            // Registered before the check, so an `open` in between is not missed.
            notified.as_mut().enable();
            if self.is_open() {
                return;
            }
            notified.await;
        }
    }
}

impl PartialEq for Gate {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("open", &self.is_open())
            .finish()
    }
}

impl Fault {
    /// The answer to a request hit by [`Fault::Redirect`].
    pub(crate) fn redirect_response(status: u16, location: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        let status = axum::http::StatusCode::from_u16(status)
            .unwrap_or(axum::http::StatusCode::TEMPORARY_REDIRECT);
        match axum::http::HeaderValue::from_str(location) {
            Ok(v) => (status, [(axum::http::header::LOCATION, v)], "").into_response(),
            Err(_) => (status, "").into_response(),
        }
    }
}

/// A fault and the requests it hits. Selectors: [`nth`](Self::nth), [`every`](Self::every),
/// [`probability`](Self::probability), capped by [`times`](Self::times); by default every matching request.
///
/// Text form (used by `tvod mock --fault`): `TARGET[:SELECTOR...]:FAULT`, e.g.
/// `UploadPart:nth=2:status=503`, `ApplyUpload:every=3:vod-error=InternalError`, `AnyCos:p=0.1:drop`,
/// `PutObject:times=2:cos-error=400/RequestTimeOut`, `CompleteMultipartUpload:complete-error-body`,
/// `UploadPart:delay=500ms`, `AnyVod:throttle`, `UploadPart:wrong-crc`, `UploadPart:nth=3:expire-credentials`,
/// `PutObject:omit-crc`, `CommitUpload:nth=1:drop-after`, `CompleteMultipartUpload:status-after=502`,
/// `CommitUpload:redirect=307=http://127.0.0.1:9000/x` (the `Location` runs to the end of
/// the text, colons included, so `redirect=` comes last).
/// Targets: a VOD action (`ApplyUpload`, `CommitUpload`, `ParseStreamingManifest`), a COS operation name
/// (`PutObject`, `UploadPart`, …), `AnyVod`, `AnyCos`. Selectors: `nth=N`, `every=N`, `p=F` (or
/// `probability=F`), `times=N`. Faults: `status=N`, `cos-error=STATUS/CODE`, `vod-error=CODE`, `throttle`, `drop`,
/// `delay=N(ms|s)`, `complete-error-body`, `wrong-crc`, `expire-credentials`, `omit-crc`, `drop-after`
/// (process, then drop the connection), `status-after=N` (process, then answer status N),
/// `redirect=STATUS=LOCATION`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    pub(crate) target: Target,
    pub(crate) nth: Option<u64>,
    pub(crate) every: Option<u64>,
    pub(crate) probability: Option<f64>,
    pub(crate) times: Option<u64>,
    pub(crate) fault: Fault,
}

impl FaultRule {
    /// A rule for `target`; the default fault is `Status(500)` until [`fault`](Self::fault) is called.
    pub fn new(target: Target) -> Self {
        FaultRule {
            target,
            nth: None,
            every: None,
            probability: None,
            times: None,
            fault: Fault::Status(500),
        }
    }
    /// Only the `n`th matching request (1-based).
    pub fn nth(mut self, n: u64) -> Self {
        self.nth = Some(n.max(1));
        self
    }
    /// Every `n`th matching request (`n`, `2n`, …).
    pub fn every(mut self, n: u64) -> Self {
        self.every = Some(n.max(1));
        self
    }
    /// Each matching request with probability `p` (deterministic with [`with_seed`](crate::MockServerBuilder::with_seed)).
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = Some(p.clamp(0.0, 1.0));
        self
    }
    /// At most `max_hits` times in total.
    pub fn times(mut self, max_hits: u64) -> Self {
        self.times = Some(max_hits);
        self
    }
    /// The fault to inject.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

fn parse_cos_op(s: &str) -> Option<CosOperation> {
    [
        CosOperation::PutObject,
        CosOperation::HeadObject,
        CosOperation::InitiateMultipartUpload,
        CosOperation::UploadPart,
        CosOperation::CompleteMultipartUpload,
        CosOperation::ListParts,
        CosOperation::AbortMultipartUpload,
    ]
    .into_iter()
    .find(|o| o.as_str().eq_ignore_ascii_case(s))
}

/// VOD actions a fault can name in text form.
const VOD_ACTIONS: &[&str] = &[
    "ApplyUpload",
    "CommitUpload",
    "ParseStreamingManifest",
    "SearchMedia",
    "DescribeMediaInfos",
    "PullEvents",
    "ConfirmEvents",
    "DescribeTasks",
    "DescribeTaskDetail",
];

fn parse_duration(s: &str) -> Option<Duration> {
    if let Some(ms) = s.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    if let Some(secs) = s.strip_suffix('s') {
        return secs
            .parse::<f64>()
            .ok()
            .and_then(|f| Duration::try_from_secs_f64(f).ok());
    }
    s.parse().ok().map(Duration::from_millis)
}

impl FromStr for FaultRule {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: String| Error::invalid("fault", format!("{s:?}: {why}"));
        let mut parts = s.split(':');
        let target_s = parts.next().unwrap_or_default().trim();
        let target = if target_s.eq_ignore_ascii_case("AnyVod") {
            Target::AnyVod
        } else if target_s.eq_ignore_ascii_case("AnyCos") {
            Target::AnyCos
        } else if let Some(op) = parse_cos_op(target_s) {
            Target::Cos(op)
        } else if let Some(a) = VOD_ACTIONS
            .iter()
            .find(|a| a.eq_ignore_ascii_case(target_s))
        {
            Target::Vod(a)
        } else {
            return Err(bad(format!(
                "unknown target {target_s:?}; expected a VOD action, a COS operation, AnyVod or AnyCos"
            )));
        };
        let mut rule = FaultRule::new(target);
        let mut fault = None;
        let parts: Vec<&str> = parts.collect();
        for (i, p) in parts.iter().enumerate() {
            let p = p.trim();
            if let Some(rest) = p.strip_prefix("redirect=") {
                // The Location may contain ':': it takes the rest of the text.
                let rest = std::iter::once(rest)
                    .chain(parts[i + 1..].iter().copied())
                    .collect::<Vec<_>>()
                    .join(":");
                let (st, location) = rest
                    .split_once('=')
                    .ok_or_else(|| bad("redirect=STATUS=LOCATION".into()))?;
                let status: u16 = st
                    .parse()
                    .ok()
                    .filter(|s| (300..400).contains(s))
                    .ok_or_else(|| bad("redirect needs a 3xx status".into()))?;
                fault = Some(Fault::Redirect {
                    status,
                    location: location.to_string(),
                });
                break;
            }
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let num = || {
                v.parse::<u64>()
                    .map_err(|_| bad(format!("{k} needs a number")))
            };
            match k.to_ascii_lowercase().as_str() {
                "nth" => rule = rule.nth(num()?),
                "every" => rule = rule.every(num()?),
                "times" => rule = rule.times(num()?),
                "p" | "probability" => {
                    rule = rule.probability(
                        v.parse()
                            .map_err(|_| bad("p needs a number in 0..1".into()))?,
                    )
                }
                "status" => {
                    fault = Some(Fault::Status(
                        v.parse().map_err(|_| bad("status needs a number".into()))?,
                    ))
                }
                "cos-error" => {
                    let (st, code) = v
                        .split_once('/')
                        .ok_or_else(|| bad("cos-error=STATUS/CODE".into()))?;
                    fault = Some(Fault::CosError {
                        status: st.parse().map_err(|_| bad("bad status".into()))?,
                        code: code.to_string(),
                    });
                }
                "vod-error" => fault = Some(Fault::VodError(v.to_string())),
                "throttle" => fault = Some(Fault::Throttle),
                "drop" | "drop-connection" => fault = Some(Fault::DropConnection),
                "drop-after" | "drop-after-processing" => fault = Some(Fault::DropAfterProcessing),
                "status-after" => {
                    fault = Some(Fault::StatusAfterProcessing(
                        v.parse()
                            .map_err(|_| bad("status-after needs a number".into()))?,
                    ))
                }
                "delay" => {
                    fault = Some(Fault::Delay(
                        parse_duration(v).ok_or_else(|| bad("delay=N(ms|s)".into()))?,
                    ))
                }
                "complete-error-body" => fault = Some(Fault::CompleteErrorBody),
                "wrong-crc" => fault = Some(Fault::WrongCrc),
                "expire-credentials" => fault = Some(Fault::ExpireCredentials),
                "omit-crc" => fault = Some(Fault::OmitCrc),
                other => return Err(bad(format!("unknown element {other:?}"))),
            }
        }
        Ok(rule.fault(fault.ok_or_else(|| bad("no fault given".into()))?))
    }
}

/// A rule with its hit counters.
#[derive(Debug)]
pub(crate) struct RuleState {
    pub rule: FaultRule,
    pub seen: u64,
    pub hits: u64,
}

impl RuleState {
    /// Counts a matching request and says whether the fault fires for it.
    pub fn fire(&mut self, rng: &mut fastrand::Rng) -> bool {
        self.seen += 1;
        if let Some(max) = self.rule.times
            && self.hits >= max
        {
            return false;
        }
        let mut fire = true;
        if let Some(n) = self.rule.nth {
            fire &= self.seen == n;
        }
        if let Some(n) = self.rule.every {
            fire &= self.seen.is_multiple_of(n);
        }
        if let Some(p) = self.rule.probability {
            fire &= rng.f64() < p;
        }
        if fire {
            self.hits += 1;
        }
        fire
    }
}

/// A response whose body fails at once: hyper drops the connection without completing a response.
pub(crate) fn dropped_connection() -> axum::response::Response {
    let stream = futures::stream::once(async {
        Err::<bytes::Bytes, std::io::Error>(std::io::Error::other("mock fault: connection dropped"))
    });
    axum::response::Response::new(axum::body::Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_form() {
        let r: FaultRule = "UploadPart:nth=2:status=503".parse().unwrap();
        assert_eq!(r.target, Target::Cos(CosOperation::UploadPart));
        assert_eq!(r.nth, Some(2));
        assert_eq!(r.fault, Fault::Status(503));
        let r: FaultRule = "applyupload:every=3:vod-error=InternalError"
            .parse()
            .unwrap();
        assert_eq!(r.target, Target::Vod("ApplyUpload"));
        assert_eq!(r.fault, Fault::VodError("InternalError".into()));
        let r: FaultRule = "AnyCos:p=0.5:times=2:delay=20ms".parse().unwrap();
        assert_eq!(r.fault, Fault::Delay(Duration::from_millis(20)));
        assert_eq!(r.times, Some(2));
        let r: FaultRule = "PutObject:cos-error=400/RequestTimeOut".parse().unwrap();
        assert_eq!(
            r.fault,
            Fault::CosError {
                status: 400,
                code: "RequestTimeOut".into()
            }
        );
        let r: FaultRule = "InitiateMultipartUpload:nth=1:redirect=307=http://127.0.0.1:9/x?a=b"
            .parse()
            .unwrap();
        assert_eq!(r.nth, Some(1));
        assert_eq!(
            r.fault,
            Fault::Redirect {
                status: 307,
                location: "http://127.0.0.1:9/x?a=b".into()
            }
        );
        assert!(
            "CommitUpload:redirect=200=http://x"
                .parse::<FaultRule>()
                .is_err()
        );
        let r: FaultRule = "PutObject:omit-crc".parse().unwrap();
        assert_eq!(r.fault, Fault::OmitCrc);
        let r: FaultRule = "CommitUpload:nth=1:drop-after".parse().unwrap();
        assert_eq!(
            (r.target, r.nth, r.fault),
            (
                Target::Vod("CommitUpload"),
                Some(1),
                Fault::DropAfterProcessing
            )
        );
        let r: FaultRule = "CompleteMultipartUpload:status-after=502".parse().unwrap();
        assert_eq!(r.fault, Fault::StatusAfterProcessing(502));
        assert!("SearchMedia:status-after=x".parse::<FaultRule>().is_err());
        assert!("Nope:drop".parse::<FaultRule>().is_err());
        assert!("UploadPart:nth=2".parse::<FaultRule>().is_err());
    }

    #[test]
    fn selectors() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut s = RuleState {
            rule: FaultRule::new(Target::AnyCos).every(2).times(2),
            seen: 0,
            hits: 0,
        };
        let fired: Vec<bool> = (0..8).map(|_| s.fire(&mut rng)).collect();
        assert_eq!(
            fired,
            vec![false, true, false, true, false, false, false, false]
        );
    }
}
