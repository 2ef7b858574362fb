//! A real forward proxy for tests: `tinyproxy` from `PATH`, started by the test with a generated configuration on a
//! free loopback port, and killed when dropped. Its log says which requests it saw (`.ci/run` installs it).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running tinyproxy.
pub struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// How to configure it.
#[derive(Default)]
pub struct ProxyOptions<'a> {
    /// Ports `CONNECT` may reach (tinyproxy allows only 443 and 563 by default).
    pub connect_ports: &'a [u16],
    /// `BasicAuth user password`: clients must send these credentials.
    pub basic_auth: Option<(&'a str, &'a str)>,
}

/// The `tinyproxy` executable on `PATH`.
fn find() -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("tinyproxy"))
        .find(|p| p.is_file())
}

impl Tinyproxy {
    /// Starts tinyproxy. Without it on `PATH`, prints `SKIPPED: tinyproxy not found` (one line, not captured by
    /// the test harness) and returns `None`: the caller returns at once.
    pub fn start(opts: ProxyOptions<'_>) -> Option<Tinyproxy> {
        let Some(exe) = find() else {
            let _ = writeln!(std::io::stderr(), "SKIPPED: tinyproxy not found");
            return None;
        };
        // A port that was free a moment ago may be taken by the time tinyproxy binds it: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            match Self::try_start(&exe, &opts) {
                Ok(p) => return Some(p),
                Err(e) => last = e,
            }
        }
        panic!("tinyproxy did not start: {last}");
    }

    fn try_start(exe: &PathBuf, opts: &ProxyOptions<'_>) -> Result<Tinyproxy, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let log = dir.path().join("tinyproxy.log");
        let mut conf = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 64\nAllow 127.0.0.1\nLogLevel Connect\n\
             LogFile \"{}\"\nPidFile \"{}\"\n",
            log.display(),
            dir.path().join("tinyproxy.pid").display()
        );
        for p in opts.connect_ports {
            conf.push_str(&format!("ConnectPort {p}\n"));
        }
        if opts.connect_ports.is_empty() {
            conf.push_str("ConnectPort 443\n");
        }
        if let Some((user, pass)) = opts.basic_auth {
            conf.push_str(&format!("BasicAuth {user} {pass}\n"));
        }
        let conf_path = dir.path().join("tinyproxy.conf");
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let mut child = Command::new(exe)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                let proxy = Tinyproxy {
                    child,
                    port,
                    log,
                    _dir: dir,
                };
                // The probe connection is logged like any client: start counting after it.
                proxy.wait_for_log("Connect (file descriptor");
                return Ok(proxy);
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("tinyproxy exited ({status}) on port {port}"));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "tinyproxy did not listen on port {port} within 10 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Polls the log until a line contains `needle` (deadline 5 s).
    fn wait_for_log(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.log_text().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "tinyproxy never logged {needle:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `http://user:password@127.0.0.1:PORT`, both percent-encoded.
    pub fn url_with_auth(&self, user: &str, password: &str) -> String {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        format!(
            "http://{}:{}@127.0.0.1:{}",
            enc(user),
            enc(password),
            self.port
        )
    }

    /// Every request line the proxy received so far (`CONNECT 127.0.0.1:443 HTTP/1.1`,
    /// `PUT http://127.0.0.1:8080/b/k HTTP/1.1`), in order.
    pub fn requests(&self) -> Vec<String> {
        self.log_text()
            .lines()
            .filter_map(|l| l.split_once("]: Request (file descriptor "))
            .filter_map(|(_, rest)| rest.split_once("): ").map(|(_, r)| r.to_string()))
            .collect()
    }

    /// The request lines naming `127.0.0.1:{port}`.
    pub fn requests_to(&self, port: u16) -> Vec<String> {
        let needle = format!("127.0.0.1:{port}");
        self.requests()
            .into_iter()
            .filter(|r| r.contains(&needle))
            .collect()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
