//! Verifying that a normal callback really comes from VOD.
//!
//! With a callback key set (`ModifyEventConfig.SignKey`: letters and digits, at most 32 characters), VOD adds two
//! members to every notification it POSTs:
//!
//! - `T` — the signature's expiry, unix seconds (VOD's default: 10 minutes after sending);
//! - `Sign` — `MD5(SignKey + T)`, lower-case hex: the key and the decimal `T` concatenated, then MD5.
//!
//! Source: the `SignKey` member of `ModifyEventConfig`
//! (<https://www.tencentcloud.com/document/api/266/57589>, listed under <https://cloud.tencent.com/document/api/266/33432>;
//! the same text ships in every tencentcloud SDK's `ModifyEventConfigRequest`). The formula covers the key and
//! `T` only, not the event body: a valid (`Sign`, `T`) pair proves the sender knows the key and bounds replays to
//! `T`, but does not bind the body — serve the callback URL over HTTPS.
//!
//! [`CallbackVerifier`] checks both (constant-time comparison, a bounded clock-skew allowance) and then parses the
//! body like [`parse_callback`].

use super::callback::{Callback, parse_callback};
use super::model::Event;
use crate::error::{CallbackRejection, Error, Result};
use md5::Digest as _;
use serde_json::Value;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest callback key VOD accepts.
pub const MAX_SIGN_KEY_LEN: usize = 32;
/// Default allowance for the difference between VOD's clock and the verifier's: 5 minutes.
pub const DEFAULT_CALLBACK_SKEW: Duration = Duration::from_secs(300);
/// Largest clock-skew allowance a verifier accepts: 1 hour.
pub const MAX_CALLBACK_SKEW: Duration = Duration::from_secs(3600);
/// Default limit on how far ahead `T` may lie: 1 hour (VOD signs for 10 minutes).
pub const DEFAULT_MAX_SIGN_VALIDITY: Duration = Duration::from_secs(3600);
/// Largest accepted [`CallbackVerifier::with_max_validity`]: 7 days.
pub const MAX_SIGN_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Checks a callback key: 1–32 ASCII letters and digits (`ModifyEventConfig.SignKey`).
pub fn validate_sign_key(field: &str, key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_SIGN_KEY_LEN {
        return Err(Error::invalid(
            field,
            format!(
                "{} characters; expected 1..={MAX_SIGN_KEY_LEN} letters and digits",
                key.chars().count()
            ),
        ));
    }
    if !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            field,
            "may contain only ASCII letters and digits",
        ));
    }
    Ok(())
}

/// `Sign` for a key and an expiry: lower-case hex `MD5(key + T)`.
///
/// ```
/// // MD5("Key123" + "1700000600")
/// assert_eq!(
///     tencent_vod::__private::callback_sign("Key123", 1700000600),
///     "94d31ced30ab3b69a2ca708279cf47a1"
/// );
/// ```
pub fn callback_sign(key: &str, t: i64) -> String {
    let mut h = md5::Md5::new();
    h.update(key.as_bytes());
    h.update(t.to_string().as_bytes());
    hex::encode(h.finalize())
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Verifies signed normal callbacks: `T` and `Sign` = MD5(`SignKey` + `T`) added by VOD when a callback key is set
/// (`ModifyEventConfig.SignKey`; source: <https://www.tencentcloud.com/document/api/266/57589>). The signature covers
/// the key and `T`, not the body.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use tencent_vod::events::CallbackVerifier;
/// let verifier = CallbackVerifier::new("Key123")?;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// // Sign = MD5("Key123" + "1700000600"), T = 10 minutes after `now`.
/// let body = br#"{"EventType":"NewFileUpload","FileUploadEvent":{"FileId":"528"},
///     "Sign":"94d31ced30ab3b69a2ca708279cf47a1","T":1700000600}"#;
/// let cb = verifier.verify(body, now)?;
/// assert!(cb.is_authenticated());
/// assert_eq!(cb.callback().file_id(), Some("528"));
/// assert!(verifier.verify(body, now + Duration::from_secs(3600)).is_err(), "expired");
/// # Ok::<(), tencent_vod::Error>(())
/// ```
#[derive(Clone)]
pub struct CallbackVerifier {
    key: Option<String>,
    skew: Duration,
    max_validity: Duration,
}

impl fmt::Debug for CallbackVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackVerifier")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("skew", &self.skew)
            .field("max_validity", &self.max_validity)
            .finish()
    }
}

impl CallbackVerifier {
    /// A verifier for this callback key: every callback must carry a valid `Sign` and an unexpired `T`.
    pub fn new(sign_key: impl Into<String>) -> Result<Self> {
        let key = sign_key.into();
        validate_sign_key("sign_key", &key)?;
        Ok(CallbackVerifier {
            key: Some(key),
            skew: DEFAULT_CALLBACK_SKEW,
            max_validity: DEFAULT_MAX_SIGN_VALIDITY,
        })
    }

    /// A verifier for an account with no callback key: callbacks are parsed but cannot be authenticated
    /// ([`VerifiedCallback::is_authenticated`] is `false`; a `Sign` present is ignored).
    pub fn without_key() -> Self {
        CallbackVerifier {
            key: None,
            skew: DEFAULT_CALLBACK_SKEW,
            max_validity: DEFAULT_MAX_SIGN_VALIDITY,
        }
    }

    /// [`new`](Self::new) with `Some(key)`, [`without_key`](Self::without_key) with `None`.
    pub fn from_optional_key(sign_key: Option<&str>) -> Result<Self> {
        match sign_key {
            Some(k) => Self::new(k),
            None => Ok(Self::without_key()),
        }
    }

    /// Clock-skew allowance (default [`DEFAULT_CALLBACK_SKEW`], at most [`MAX_CALLBACK_SKEW`]).
    pub fn with_clock_skew(mut self, skew: Duration) -> Result<Self> {
        if skew > MAX_CALLBACK_SKEW {
            return Err(Error::invalid(
                "clock_skew",
                format!(
                    "{skew:?} is above the {MAX_CALLBACK_SKEW:?} limit; a longer allowance widens the replay window"
                ),
            ));
        }
        self.skew = skew;
        Ok(self)
    }

    /// How far ahead of the verifier's clock `T` may lie (default [`DEFAULT_MAX_SIGN_VALIDITY`], at most
    /// [`MAX_SIGN_VALIDITY`]).
    pub fn with_max_validity(mut self, max: Duration) -> Result<Self> {
        if max.is_zero() || max > MAX_SIGN_VALIDITY {
            return Err(Error::invalid(
                "max_validity",
                format!("{max:?}; expected more than 0 and at most {MAX_SIGN_VALIDITY:?}"),
            ));
        }
        self.max_validity = max;
        Ok(self)
    }

    /// Whether a key is configured.
    pub fn has_key(&self) -> bool {
        self.key.is_some()
    }

    /// Checks a (`Sign`, `T`) pair at `now`: the signature first (constant-time), then the expiry.
    pub fn check(&self, sign: &str, t: i64, now: SystemTime) -> Result<()> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        let reject = |r| Err(Error::CallbackRejected(r));
        let sign = sign.trim();
        if sign.len() != 32 || !sign.bytes().all(|b| b.is_ascii_hexdigit()) {
            return reject(CallbackRejection::Malformed {
                field: "Sign",
                reason: "is not 32 hexadecimal digits (an MD5)".into(),
            });
        }
        let expected = callback_sign(key, t);
        if !crate::sign::constant_time_eq(expected.as_bytes(), sign.to_ascii_lowercase().as_bytes())
        {
            return reject(CallbackRejection::SignMismatch);
        }
        let now = unix(now);
        let skew = self.skew.as_secs() as i64;
        if now > t.saturating_add(skew) {
            return reject(CallbackRejection::Expired {
                expired_at: t,
                now,
                skew_secs: self.skew.as_secs(),
            });
        }
        let max_ahead = self.max_validity.as_secs() as i64 + skew;
        if t > now.saturating_add(max_ahead) {
            return reject(CallbackRejection::ExpiryTooFar {
                expires_at: t,
                now,
                max_ahead_secs: max_ahead as u64,
            });
        }
        Ok(())
    }

    /// Verifies and parses a callback body at `now`.
    ///
    /// With a key: `Sign` and `T` must be present, well formed, match, and `T` must not have passed (beyond the
    /// allowance) → [`Error::CallbackRejected`] otherwise. Without a key the body is only parsed. A body that is
    /// not a JSON object is an [`Error::InvalidInput`] either way.
    pub fn verify(&self, body: &[u8], now: SystemTime) -> Result<VerifiedCallback> {
        let callback = parse_callback(body)?;
        let Some(_) = &self.key else {
            return Ok(VerifiedCallback {
                callback,
                authenticated: false,
                expires_at: None,
            });
        };
        // `parse_callback` accepted the body, so it is a JSON object.
        let value: Value =
            serde_json::from_slice(body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body))
                .map_err(|e| Error::invalid("callback body", format!("not JSON ({e})")))?;
        let (sign, t) = sign_and_expiry(&value)?;
        self.check(&sign, t, now)?;
        Ok(VerifiedCallback {
            callback,
            authenticated: true,
            expires_at: Some(t),
        })
    }
}

/// `Sign` and `T` from a notification object.
fn sign_and_expiry(v: &Value) -> Result<(String, i64)> {
    let reject = |r| Error::CallbackRejected(r);
    let sign = match v.get("Sign") {
        None | Some(Value::Null) => return Err(reject(CallbackRejection::MissingSign)),
        Some(Value::String(s)) if s.trim().is_empty() => {
            return Err(reject(CallbackRejection::MissingSign));
        }
        Some(Value::String(s)) => s.clone(),
        Some(_) => {
            return Err(reject(CallbackRejection::Malformed {
                field: "Sign",
                reason: "is not a string".into(),
            }));
        }
    };
    let malformed_t = || {
        reject(CallbackRejection::Malformed {
            field: "T",
            reason: "is not a unix time in whole seconds".into(),
        })
    };
    let t = match v.get("T") {
        None | Some(Value::Null) => return Err(reject(CallbackRejection::MissingExpiry)),
        Some(Value::Number(n)) => n.as_i64().ok_or_else(malformed_t)?,
        Some(Value::String(s)) => s.trim().parse::<i64>().map_err(|_| malformed_t())?,
        Some(_) => return Err(malformed_t()),
    };
    if t <= 0 {
        return Err(malformed_t());
    }
    Ok((sign, t))
}

/// Verifies and parses a callback body: [`CallbackVerifier::from_optional_key`] with the default allowances, then
/// [`CallbackVerifier::verify`].
pub fn parse_callback_verified(
    body: &[u8],
    sign_key: Option<&str>,
    now: SystemTime,
) -> Result<VerifiedCallback> {
    CallbackVerifier::from_optional_key(sign_key)?.verify(body, now)
}

/// A parsed callback and what was verified about it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct VerifiedCallback {
    callback: Callback,
    authenticated: bool,
    expires_at: Option<i64>,
}

impl VerifiedCallback {
    /// The parsed body.
    pub fn callback(&self) -> &Callback {
        &self.callback
    }

    /// The parsed body, owned.
    pub fn into_callback(self) -> Callback {
        self.callback
    }

    /// The typed event.
    pub fn event(&self) -> Event {
        self.callback.event()
    }

    /// Whether `Sign` and `T` were checked against a key (false for a verifier without a key).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// `T` of an authenticated callback (unix seconds).
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }
}
