//! Log capture and a recording second server (for redirect and secret-leak tests).

/// A `tracing` subscriber writing into a buffer, installed as the current thread's default (use it from a
/// current-thread runtime, e.g. `#[tokio::test]`, so the client's and the in-process mock's events land in it).
pub struct LogCapture {
    buf: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

#[derive(Clone)]
struct CaptureWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CaptureWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Captures events at `level` and above.
    pub fn start(level: tracing::Level) -> Self {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = CaptureWriter(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(level)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .finish();
        LogCapture {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap()).into_owned()
    }

    /// The captured lines containing every one of `needles`.
    pub fn lines_with(&self, needles: &[&str]) -> Vec<String> {
        self.text()
            .lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .map(str::to_string)
            .collect()
    }
}

/// One request that reached a [`Recorder`].
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// A second local HTTP server that records every request reaching it and answers each with a canned 200 body
/// (a plausible VOD success envelope): the "other host" a redirect points at.
pub struct Recorder {
    pub addr: std::net::SocketAddr,
    seen: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>>,
    connections: std::sync::Arc<std::sync::atomic::AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start() -> Self {
        use axum::body::to_bytes;
        use axum::extract::Request;
        let seen: std::sync::Arc<std::sync::Mutex<Vec<Recorded>>> = Default::default();
        let s = seen.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let s = s.clone();
            async move {
                let (parts, body) = req.into_parts();
                let body = to_bytes(body, 64 << 20).await.unwrap_or_default().to_vec();
                s.lock().unwrap().push(Recorded {
                    method: parts.method.to_string(),
                    uri: parts.uri.to_string(),
                    headers: parts
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                        .collect(),
                    body,
                });
                (
                    [("content-type", "application/json")],
                    r#"{"Response":{"FileId":"forged","MediaUrl":"http://evil.example/x.mp4","RequestId":"forged"}}"#,
                )
            }
        });
        use axum::serve::ListenerExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections: std::sync::Arc<std::sync::atomic::AtomicU64> = Default::default();
        let c = connections.clone();
        // Every accepted TCP connection counts, even one that never sends a whole request.
        let listener = listener.tap_io(move |_| {
            c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Recorder {
            addr,
            seen,
            connections,
            task,
        }
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// `http://127.0.0.1:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}
