//! Credentials and where they come from.
//!
//! A [`Credential`] is a SecretId, a SecretKey and an optional session token. Its `Debug` and `Display` show the
//! SecretId only. Providers ([`ProvideCredential`]) produce one per request, so rotating credentials work:
//!
//! - a fixed [`Credential`] (it is its own provider);
//! - [`EnvCredentialProvider`]: `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY`, `TENCENTCLOUD_SESSION_TOKEN`;
//! - [`ProfileCredentialProvider`]: `~/.tencentcloud/credentials` (INI; profile from `TENCENTCLOUD_PROFILE`,
//!   default `default`; keys `secret_id`, `secret_key`, optional `token`);
//! - [`DefaultCredentialChain`]: environment, then profile file.

use crate::error::{Error, Result};
use futures::future::BoxFuture;
use std::fmt;
use std::path::{Path, PathBuf};

/// Environment variable holding the SecretId.
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// Environment variable holding the SecretKey.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
/// Environment variable holding an STS session token.
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";
/// Environment variable choosing the profile in the credentials file.
pub const ENV_PROFILE: &str = "TENCENTCLOUD_PROFILE";

/// A Tencent Cloud API key pair with an optional session token.
///
/// ```
/// use tencent_vod::Credential;
/// let c = Credential::new("AKIDexample", "my-secret-key").with_token("my-session-token");
/// assert_eq!(c.secret_id(), "AKIDexample");
/// let shown = format!("{c:?} {c}");
/// assert!(!shown.contains("my-secret-key") && !shown.contains("my-session-token"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    secret_id: String,
    secret_key: String,
    token: Option<String>,
}

impl Credential {
    /// A permanent key pair.
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Self {
        Credential {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            token: None,
        }
    }

    /// Adds a session token (temporary credentials from STS or a VOD `TempCertificate`).
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let t = token.into();
        self.token = if t.is_empty() { None } else { Some(t) };
        self
    }

    /// The SecretId.
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    /// The SecretKey. Never log it.
    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    /// The session token, if any. Never log it.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn validate(self, source: &str) -> Result<Self> {
        if self.secret_id.trim().is_empty() {
            return Err(Error::Credentials(format!("{source}: secret id is empty")));
        }
        if self.secret_key.trim().is_empty() {
            return Err(Error::Credentials(format!("{source}: secret key is empty")));
        }
        Ok(self)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"***")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl fmt::Display for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.secret_id)
    }
}

/// Something that yields credentials for each request.
pub trait ProvideCredential: Send + Sync + fmt::Debug {
    /// Returns the credential to sign the next request with.
    fn credential(&self) -> BoxFuture<'_, Result<Credential>>;
}

impl ProvideCredential for Credential {
    fn credential(&self) -> BoxFuture<'_, Result<Credential>> {
        let c = self.clone().validate("static credential");
        Box::pin(async move { c })
    }
}

/// Reads `TENCENTCLOUD_SECRET_ID`, `TENCENTCLOUD_SECRET_KEY` and optional `TENCENTCLOUD_SESSION_TOKEN`.
#[derive(Debug, Clone, Default)]
pub struct EnvCredentialProvider {
    _priv: (),
}

impl EnvCredentialProvider {
    /// A provider reading the process environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// `Ok(None)` when neither variable is set; an error naming the missing one when only one is.
    pub fn load(&self) -> Result<Option<Credential>> {
        Self::load_from(|k| std::env::var(k).ok())
    }

    /// Like [`load`](Self::load) with a custom variable lookup (for tests and embedding).
    pub fn load_from(get: impl Fn(&str) -> Option<String>) -> Result<Option<Credential>> {
        let id = get(ENV_SECRET_ID).filter(|v| !v.is_empty());
        let key = get(ENV_SECRET_KEY).filter(|v| !v.is_empty());
        let token = get(ENV_SESSION_TOKEN).filter(|v| !v.is_empty());
        match (id, key) {
            (None, None) if token.is_some() => Err(Error::Credentials(format!(
                "{ENV_SESSION_TOKEN} is set but {ENV_SECRET_ID} and {ENV_SECRET_KEY} are not"
            ))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(Error::Credentials(format!(
                "{ENV_SECRET_ID} is set but {ENV_SECRET_KEY} is not"
            ))),
            (None, Some(_)) => Err(Error::Credentials(format!(
                "{ENV_SECRET_KEY} is set but {ENV_SECRET_ID} is not"
            ))),
            (Some(id), Some(key)) => {
                let mut c = Credential::new(id, key);
                if let Some(t) = token {
                    c = c.with_token(t);
                }
                Ok(Some(c))
            }
        }
    }
}

impl ProvideCredential for EnvCredentialProvider {
    fn credential(&self) -> BoxFuture<'_, Result<Credential>> {
        Box::pin(async move {
            self.load()?.ok_or_else(|| {
                Error::Credentials(format!(
                    "environment: {ENV_SECRET_ID} and {ENV_SECRET_KEY} are not set"
                ))
            })
        })
    }
}

/// Reads the Tencent Cloud CLI credentials file (`~/.tencentcloud/credentials`).
///
/// ```ini
/// [default]
/// secret_id = AKID...
/// secret_key = ...
/// ```
#[derive(Debug, Clone)]
pub struct ProfileCredentialProvider {
    path: Option<PathBuf>,
    profile: Option<String>,
}

impl Default for ProfileCredentialProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl ProfileCredentialProvider {
    /// The default file and the profile named by `TENCENTCLOUD_PROFILE` (else `default`).
    pub fn new() -> Self {
        ProfileCredentialProvider {
            path: None,
            profile: None,
        }
    }

    /// Reads this file instead of `~/.tencentcloud/credentials`.
    pub fn with_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Uses this profile instead of `TENCENTCLOUD_PROFILE` / `default`.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// The file that will be read, if a home directory is known.
    pub fn path(&self) -> Option<PathBuf> {
        self.path.clone().or_else(|| {
            std::env::var_os("HOME")
                .filter(|h| !h.is_empty())
                .map(|h| Path::new(&h).join(".tencentcloud").join("credentials"))
        })
    }

    fn profile_name(&self) -> String {
        self.profile
            .clone()
            .or_else(|| std::env::var(ENV_PROFILE).ok().filter(|p| !p.is_empty()))
            .unwrap_or_else(|| "default".to_string())
    }

    /// `Ok(None)` when the file does not exist; an error when it exists but the profile is missing or half-set.
    pub fn load(&self) -> Result<Option<Credential>> {
        let Some(path) = self.path() else {
            return Ok(None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, "read credentials file", e)),
        };
        let profile = self.profile_name();
        let section = parse_ini_section(&text, &profile).ok_or_else(|| {
            Error::Credentials(format!("{}: profile [{profile}] not found", path.display()))
        })?;
        let get = |k: &str| {
            section
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
        };
        let where_ = format!("{} [{profile}]", path.display());
        match (get("secret_id"), get("secret_key")) {
            (Some(id), Some(key)) => {
                let mut c = Credential::new(id, key);
                if let Some(t) = get("token").or_else(|| get("session_token")) {
                    c = c.with_token(t);
                }
                Ok(Some(c))
            }
            (None, Some(_)) => Err(Error::Credentials(format!(
                "{where_}: secret_id is missing"
            ))),
            (Some(_), None) => Err(Error::Credentials(format!(
                "{where_}: secret_key is missing"
            ))),
            (None, None) => Err(Error::Credentials(format!(
                "{where_}: secret_id and secret_key are missing"
            ))),
        }
    }
}

/// The `key = value` pairs of one `[section]` of an INI text (`#`/`;` comments, quotes stripped).
fn parse_ini_section(text: &str, section: &str) -> Option<Vec<(String, String)>> {
    let mut current: Option<&str> = None;
    let mut found = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name.trim());
            found |= name.trim() == section;
            continue;
        }
        if current == Some(section)
            && let Some((k, v)) = line.split_once('=')
        {
            let v = v.trim().trim_matches('"').trim_matches('\'');
            out.push((k.trim().to_string(), v.to_string()));
        }
    }
    found.then_some(out)
}

impl ProvideCredential for ProfileCredentialProvider {
    fn credential(&self) -> BoxFuture<'_, Result<Credential>> {
        Box::pin(async move {
            self.load()?.ok_or_else(|| {
                Error::Credentials(format!(
                    "credentials file {} not found",
                    self.path()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "~/.tencentcloud/credentials".into())
                ))
            })
        })
    }
}

/// Environment first, then the profile file. The first source that is present wins; a half-set source is an
/// error (it is never silently skipped).
#[derive(Debug, Clone, Default)]
pub struct DefaultCredentialChain {
    profile: ProfileCredentialProvider,
}

impl DefaultCredentialChain {
    /// The standard chain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Uses this profile-file provider (its path and profile) as the chain's second source.
    pub fn with_profile_provider(mut self, profile: ProfileCredentialProvider) -> Self {
        self.profile = profile;
        self
    }

    /// Resolves a credential now.
    pub fn load(&self) -> Result<Credential> {
        self.load_from(|k| std::env::var(k).ok())
    }

    /// Like [`load`](Self::load) with a custom variable lookup (for tests and embedding), used for the environment
    /// source and for `TENCENTCLOUD_PROFILE` (unless the profile provider names a profile itself).
    pub fn load_from(&self, get: impl Fn(&str) -> Option<String>) -> Result<Credential> {
        if let Some(c) = EnvCredentialProvider::load_from(&get)? {
            return c.validate("environment");
        }
        let profile = match get(ENV_PROFILE).filter(|p| !p.is_empty()) {
            Some(p) if self.profile.profile.is_none() => self.profile.clone().with_profile(p),
            _ => self.profile.clone(),
        };
        if let Some(c) = profile.load()? {
            return c.validate("credentials file");
        }
        Err(Error::Credentials(format!(
            "no credentials found: set {ENV_SECRET_ID} and {ENV_SECRET_KEY}, or write secret_id/secret_key \
             under [default] in ~/.tencentcloud/credentials"
        )))
    }
}

impl ProvideCredential for DefaultCredentialChain {
    fn credential(&self) -> BoxFuture<'_, Result<Credential>> {
        Box::pin(async move { self.load() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_secrets() {
        let c = Credential::new("AKIDid", "KEYVALUE").with_token("TOKENVALUE");
        for s in [format!("{c:?}"), format!("{c}"), format!("{c:#?}")] {
            assert!(!s.contains("KEYVALUE") && !s.contains("TOKENVALUE"), "{s}");
            assert!(s.contains("AKIDid"));
        }
    }

    #[test]
    fn env_half_set_is_an_error() {
        let e = EnvCredentialProvider::load_from(|k| (k == ENV_SECRET_ID).then(|| "x".into()))
            .unwrap_err();
        assert!(e.to_string().contains(ENV_SECRET_KEY), "{e}");
        let e = EnvCredentialProvider::load_from(|k| (k == ENV_SECRET_KEY).then(|| "x".into()))
            .unwrap_err();
        assert!(e.to_string().contains(ENV_SECRET_ID), "{e}");
        assert!(
            EnvCredentialProvider::load_from(|_| None)
                .unwrap()
                .is_none()
        );
        let c = EnvCredentialProvider::load_from(|k| Some(format!("v-{k}")))
            .unwrap()
            .unwrap();
        assert_eq!(c.token(), Some("v-TENCENTCLOUD_SESSION_TOKEN"));
    }

    #[test]
    fn profile_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("credentials");
        std::fs::write(
            &p,
            "# comment\n[default]\nsecret_id = AKIDd\nsecret_key = kd\n\n[prod]\nsecret_id=AKIDp\nsecret_key=\"kp\"\ntoken=tp\n[half]\nsecret_id=x\n",
        )
        .unwrap();
        let d = ProfileCredentialProvider::new()
            .with_path(&p)
            .with_profile("default")
            .load()
            .unwrap()
            .unwrap();
        assert_eq!((d.secret_id(), d.secret_key()), ("AKIDd", "kd"));
        let prod = ProfileCredentialProvider::new()
            .with_path(&p)
            .with_profile("prod")
            .load()
            .unwrap()
            .unwrap();
        assert_eq!((prod.secret_key(), prod.token()), ("kp", Some("tp")));
        let e = ProfileCredentialProvider::new()
            .with_path(&p)
            .with_profile("half")
            .load()
            .unwrap_err();
        assert!(e.to_string().contains("secret_key is missing"), "{e}");
        let e = ProfileCredentialProvider::new()
            .with_path(&p)
            .with_profile("nope")
            .load()
            .unwrap_err();
        assert!(e.to_string().contains("[nope] not found"), "{e}");
        let none = ProfileCredentialProvider::new()
            .with_path(dir.path().join("missing"))
            .load()
            .unwrap();
        assert!(none.is_none());
    }

    #[tokio::test]
    async fn static_empty_key_is_rejected() {
        let e = Credential::new("id", "").credential().await.unwrap_err();
        assert!(e.to_string().contains("secret key is empty"));
    }
}
