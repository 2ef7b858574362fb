//! Credential providers: environment (through an injected lookup, never the process environment: tests run in
//! parallel), the profile file, and the default chain's order and half-set errors.

use std::collections::HashMap;
use std::path::PathBuf;
use tencent_vod::credential::{ENV_PROFILE, ENV_SECRET_ID, ENV_SECRET_KEY, ENV_SESSION_TOKEN};
use tencent_vod::{
    Credential, DefaultCredentialChain, EnvCredentialProvider, Error, ProfileCredentialProvider,
    ProvideCredential,
};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn credentials_error(e: &Error) -> &str {
    match e {
        Error::Credentials(m) => m,
        other => panic!("expected Error::Credentials, got {other:?}"),
    }
}

const FILE: &str = "# Tencent Cloud CLI credentials\r\n\
[default]\r\n\
secret_id = AKIDfileDefault\r\n\
secret_key = fileDefaultKey\r\n\
\r\n\
; the production profile, with a session token and quoted values\n\
[ prod ]\n\
SECRET_ID=\"AKIDfileProd\"\n\
Secret_Key='fileProdKey'\n\
token = fileProdToken\n\
[half-id]\n\
secret_id = AKIDhalf\n\
[half-key]\n\
secret_key = onlyKey\n\
[empty]\n\
[session]\n\
secret_id = AKIDsession\n\
secret_key = sessionKey\n\
session_token = sessionTok\n";

fn profile_file() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("credentials");
    std::fs::write(&path, FILE).expect("write credentials file");
    (dir, path)
}

#[test]
fn env_provider_reads_id_key_and_token() {
    let c = EnvCredentialProvider::load_from(env(&[
        (ENV_SECRET_ID, "AKIDenv"),
        (ENV_SECRET_KEY, "envKey"),
        (ENV_SESSION_TOKEN, "envToken"),
    ]))
    .expect("ok")
    .expect("present");
    assert_eq!(
        (c.secret_id(), c.secret_key(), c.token()),
        ("AKIDenv", "envKey", Some("envToken"))
    );
    let c = EnvCredentialProvider::load_from(env(&[
        (ENV_SECRET_ID, "AKIDenv"),
        (ENV_SECRET_KEY, "envKey"),
        (ENV_SESSION_TOKEN, ""),
    ]))
    .expect("ok")
    .expect("present");
    assert_eq!(c.token(), None, "an empty token is no token");
}

#[test]
fn env_provider_absent_and_half_set() {
    assert!(
        EnvCredentialProvider::load_from(env(&[]))
            .expect("ok")
            .is_none()
    );
    // Empty values count as unset.
    assert!(
        EnvCredentialProvider::load_from(env(&[(ENV_SECRET_ID, ""), (ENV_SECRET_KEY, "")]))
            .expect("ok")
            .is_none()
    );
    let e = EnvCredentialProvider::load_from(env(&[(ENV_SECRET_ID, "AKIDenv")])).expect_err("half");
    let m = credentials_error(&e);
    assert!(m.contains(ENV_SECRET_KEY) && m.contains("is not"), "{m}");
    let e = EnvCredentialProvider::load_from(env(&[(ENV_SECRET_KEY, "SECRETVALUE1")]))
        .expect_err("half");
    let m = credentials_error(&e);
    assert!(m.contains(ENV_SECRET_ID), "{m}");
    assert!(!m.contains("SECRETVALUE1"), "the key is never echoed: {m}");
    let e = EnvCredentialProvider::load_from(env(&[(ENV_SESSION_TOKEN, "TOKENVALUE1")]))
        .expect_err("a token alone is half-set");
    let m = credentials_error(&e);
    assert!(
        m.contains(ENV_SECRET_ID) && m.contains(ENV_SECRET_KEY),
        "{m}"
    );
    assert!(!m.contains("TOKENVALUE1"), "{m}");
}

#[test]
fn profile_provider_reads_the_named_profile() {
    let (_dir, path) = profile_file();
    let load = |profile: &str| {
        ProfileCredentialProvider::new()
            .with_path(&path)
            .with_profile(profile)
            .load()
    };
    let d = load("default").expect("ok").expect("present");
    assert_eq!(
        (d.secret_id(), d.secret_key(), d.token()),
        ("AKIDfileDefault", "fileDefaultKey", None)
    );
    // Section names are trimmed, keys are case-insensitive, quotes stripped, CRLF tolerated.
    let p = load("prod").expect("ok").expect("present");
    assert_eq!(
        (p.secret_id(), p.secret_key(), p.token()),
        ("AKIDfileProd", "fileProdKey", Some("fileProdToken"))
    );
    let s = load("session").expect("ok").expect("present");
    assert_eq!(s.token(), Some("sessionTok"));

    let e = load("half-id").expect_err("half");
    let m = credentials_error(&e);
    assert!(
        m.contains("[half-id]") && m.contains("secret_key is missing"),
        "{m}"
    );
    let e = load("half-key").expect_err("half");
    let m = credentials_error(&e);
    assert!(m.contains("secret_id is missing"), "{m}");
    assert!(!m.contains("onlyKey"), "{m}");
    let e = load("empty").expect_err("empty");
    assert!(
        credentials_error(&e).contains("secret_id and secret_key are missing"),
        "{e}"
    );
    let e = load("staging").expect_err("no such profile");
    let m = credentials_error(&e);
    assert!(m.contains("[staging] not found"), "{m}");
    assert!(
        m.contains(&path.display().to_string()),
        "names the file: {m}"
    );
}

#[test]
fn profile_provider_missing_or_unreadable_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("nope");
    assert!(
        ProfileCredentialProvider::new()
            .with_path(&missing)
            .load()
            .expect("missing file is not an error")
            .is_none()
    );
    // A directory where the file should be is an I/O error naming the path.
    let e = ProfileCredentialProvider::new()
        .with_path(dir.path())
        .load()
        .expect_err("a directory");
    assert!(
        matches!(&e, Error::Io { path, .. } if path == dir.path()),
        "{e:?}"
    );
}

#[tokio::test]
async fn providers_as_provide_credential() {
    let (dir, path) = profile_file();
    let p = ProfileCredentialProvider::new()
        .with_path(&path)
        .with_profile("prod");
    let c = p.credential().await.expect("prod");
    assert_eq!(c.secret_id(), "AKIDfileProd");
    let e = ProfileCredentialProvider::new()
        .with_path(dir.path().join("nope"))
        .credential()
        .await
        .expect_err("no file");
    assert!(credentials_error(&e).contains("not found"), "{e}");
    // A fixed credential is its own provider and is validated.
    let c = Credential::new("AKIDfixed", "k")
        .credential()
        .await
        .expect("fixed");
    assert_eq!(c.secret_id(), "AKIDfixed");
    let e = Credential::new("  ", "k")
        .credential()
        .await
        .expect_err("blank id");
    assert!(credentials_error(&e).contains("secret id is empty"), "{e}");
}

fn chain(path: &PathBuf) -> DefaultCredentialChain {
    DefaultCredentialChain::new()
        .with_profile_provider(ProfileCredentialProvider::new().with_path(path))
}

#[test]
fn chain_prefers_the_environment_over_the_file() {
    let (_dir, path) = profile_file();
    let c = chain(&path)
        .load_from(env(&[
            (ENV_SECRET_ID, "AKIDenv"),
            (ENV_SECRET_KEY, "envKey"),
        ]))
        .expect("env");
    assert_eq!((c.secret_id(), c.secret_key()), ("AKIDenv", "envKey"));
    // Without the environment: the file's default profile.
    let c = chain(&path).load_from(env(&[])).expect("file");
    assert_eq!(c.secret_id(), "AKIDfileDefault");
}

#[test]
fn chain_uses_tencentcloud_profile_unless_a_profile_is_set_explicitly() {
    let (_dir, path) = profile_file();
    let c = chain(&path)
        .load_from(env(&[(ENV_PROFILE, "prod")]))
        .expect("prod via TENCENTCLOUD_PROFILE");
    assert_eq!(
        (c.secret_id(), c.token()),
        ("AKIDfileProd", Some("fileProdToken"))
    );
    let explicit = DefaultCredentialChain::new().with_profile_provider(
        ProfileCredentialProvider::new()
            .with_path(&path)
            .with_profile("session"),
    );
    let c = explicit
        .load_from(env(&[(ENV_PROFILE, "prod")]))
        .expect("explicit profile wins");
    assert_eq!(c.secret_id(), "AKIDsession");
    let e = chain(&path)
        .load_from(env(&[(ENV_PROFILE, "staging")]))
        .expect_err("unknown profile");
    assert!(credentials_error(&e).contains("[staging] not found"), "{e}");
}

#[test]
fn chain_never_skips_a_half_set_source() {
    let (dir, path) = profile_file();
    // A half-set environment is an error even though the file has a usable profile.
    let e = chain(&path)
        .load_from(env(&[(ENV_SECRET_ID, "AKIDenv")]))
        .expect_err("half env");
    assert!(credentials_error(&e).contains(ENV_SECRET_KEY), "{e}");
    // A half-set profile is an error too.
    let e = chain(&path)
        .load_from(env(&[(ENV_PROFILE, "half-id")]))
        .expect_err("half profile");
    assert!(
        credentials_error(&e).contains("secret_key is missing"),
        "{e}"
    );
    // Whitespace-only values are rejected, naming the source.
    let e = chain(&path)
        .load_from(env(&[(ENV_SECRET_ID, "AKIDenv"), (ENV_SECRET_KEY, "   ")]))
        .expect_err("blank key");
    let m = credentials_error(&e);
    assert!(
        m.contains("environment") && m.contains("secret key is empty"),
        "{m}"
    );
    // Nothing anywhere: the error says what to set.
    let e = chain(&dir.path().join("nope"))
        .load_from(env(&[]))
        .expect_err("nothing");
    let m = credentials_error(&e);
    assert!(
        m.contains(ENV_SECRET_ID) && m.contains(ENV_SECRET_KEY),
        "{m}"
    );
    assert!(m.contains("credentials"), "{m}");
}

#[test]
fn credential_debug_and_display_show_only_the_secret_id() {
    let c = Credential::new("AKIDshown", "KEYhidden42").with_token("TOKENhidden42");
    for s in [format!("{c:?}"), format!("{c:#?}"), format!("{c}")] {
        assert!(s.contains("AKIDshown"), "{s}");
        assert!(
            !s.contains("KEYhidden42") && !s.contains("TOKENhidden42"),
            "{s}"
        );
    }
    assert_eq!(Credential::new("a", "b").with_token("").token(), None);
    let (_dir, path) = profile_file();
    let dbg = format!("{:?}", chain(&path));
    assert!(!dbg.contains("fileDefaultKey"), "{dbg}");
}
