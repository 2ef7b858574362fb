//! What `upload` and `ingest` print: result lines on stdout (tab-separated, or one JSON object per line with
//! `--json`), failures (stderr lines, or JSON lines on stdout with `--json`), progress on stderr (live bars in a
//! terminal, periodic plain lines otherwise when `--progress` is asked for) and a final summary.
//!
//! Bars never interleave with result lines: every line goes out through [`MultiProgress::suspend`], which
//! clears the bars, prints, and draws them again.

use crate::common::human_bytes;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Output flags shared by `upload` and `ingest`.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// One JSON object per line on stdout for every item (failures included), then a summary object.
    #[arg(long, help_heading = "Output")]
    pub json: bool,
    /// Print only failures (and, with --json, the JSON lines); no progress, no summary line.
    #[arg(long, short, conflicts_with = "progress", help_heading = "Output")]
    pub quiet: bool,
    /// Show progress even when stderr is not a terminal (periodic plain-text lines then) or with --json.
    #[arg(long, help_heading = "Output")]
    pub progress: bool,
    /// Seconds between plain-text progress lines.
    #[arg(long, default_value = "5", value_parser = parse_interval, hide = true)]
    pub progress_interval: Duration,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(Duration::from_secs_f64(v)),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

/// Shared counters behind the overall bar and the plain progress lines.
#[derive(Debug, Default)]
struct Counters {
    total_files: AtomicU64,
    done_files: AtomicU64,
    failed_files: AtomicU64,
    total_bytes: AtomicU64,
    sent_bytes: AtomicU64,
}

enum Progress {
    None,
    Bars {
        multi: MultiProgress,
        overall: ProgressBar,
    },
    Plain {
        stop: CancellationToken,
        task: tokio::task::JoinHandle<()>,
    },
}

/// The run's output.
pub struct Output {
    json: bool,
    quiet: bool,
    progress: Progress,
    counters: Arc<Counters>,
    started: Instant,
}

/// The progress of one item (a per-file bar in a terminal).
pub struct ItemProgress {
    bar: Option<ProgressBar>,
    overall: Option<ProgressBar>,
    counters: Arc<Counters>,
    last: AtomicU64,
}

impl ItemProgress {
    /// The item's bytes acknowledged so far (of `total`).
    pub fn update(&self, sent: u64, total: u64) {
        let prev = self.last.swap(sent, Ordering::Relaxed);
        let now = if sent >= prev {
            self.counters
                .sent_bytes
                .fetch_add(sent - prev, Ordering::Relaxed)
                + (sent - prev)
        } else {
            self.counters
                .sent_bytes
                .fetch_sub(prev - sent, Ordering::Relaxed)
                - (prev - sent)
        };
        if let Some(b) = &self.bar {
            b.set_length(total);
            b.set_position(sent);
        }
        if let Some(o) = &self.overall {
            o.set_position(now);
        }
    }

    /// Ends the item: its bar is removed; the overall counters move on. `bytes` is the item's final size (so
    /// the overall bar ends exactly at its total even for an item that was skipped or recovered).
    pub fn finish(&self, ok: bool, bytes: u64) {
        self.update(bytes, bytes);
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
        self.counters.done_files.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.counters.failed_files.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(o) = &self.overall {
            o.set_message(files_message(&self.counters));
        }
    }
}

fn files_message(c: &Counters) -> String {
    let failed = c.failed_files.load(Ordering::Relaxed);
    let mut m = format!(
        "{}/{} files",
        c.done_files.load(Ordering::Relaxed),
        c.total_files.load(Ordering::Relaxed)
    );
    if failed > 0 {
        m.push_str(&format!(", {failed} failed"));
    }
    m
}

fn plain_line(c: &Counters, started: Instant) -> String {
    let sent = c.sent_bytes.load(Ordering::Relaxed);
    let total = c.total_bytes.load(Ordering::Relaxed);
    let pct = if total == 0 {
        100.0
    } else {
        sent as f64 * 100.0 / total as f64
    };
    let rate = sent as f64 / started.elapsed().as_secs_f64().max(1e-3);
    format!(
        "progress: {}, {} of {} ({pct:.0}%), {}/s",
        files_message(c),
        human_bytes(sent),
        human_bytes(total),
        human_bytes(rate as u64)
    )
}

impl Output {
    /// Output for a run over `files` items of `bytes` in total.
    pub fn new(args: &OutputArgs, files: u64, bytes: u64) -> Output {
        let counters = Arc::new(Counters::default());
        counters.total_files.store(files, Ordering::Relaxed);
        counters.total_bytes.store(bytes, Ordering::Relaxed);
        let started = Instant::now();
        let terminal = std::io::stderr().is_terminal();
        let progress = if args.quiet || (!args.progress && (args.json || !terminal)) {
            Progress::None
        } else if terminal {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let overall = multi.add(ProgressBar::new(bytes));
            overall.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] [{wide_bar}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            overall.set_message(files_message(&counters));
            overall.enable_steady_tick(Duration::from_millis(200));
            Progress::Bars { multi, overall }
        } else {
            let stop = CancellationToken::new();
            let (c, s, every) = (counters.clone(), stop.clone(), args.progress_interval);
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tokio::select! {
                        _ = s.cancelled() => break,
                        _ = tick.tick() => eprintln!("{}", plain_line(&c, started)),
                    }
                }
            });
            Progress::Plain { stop, task }
        };
        Output {
            json: args.json,
            quiet: args.quiet,
            progress,
            counters,
            started,
        }
    }

    /// Whether results are JSON lines.
    pub fn json(&self) -> bool {
        self.json
    }

    /// Starts an item: a bar labelled `label` in a terminal.
    pub fn start_item(&self, label: &str, total: u64) -> ItemProgress {
        let (bar, overall) = match &self.progress {
            Progress::Bars { multi, overall } => {
                let b = multi.insert_before(overall, ProgressBar::new(total));
                b.set_style(
                    ProgressStyle::with_template("  {msg:40!} [{bar:30}] {bytes}/{total_bytes}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                );
                b.set_message(label.to_string());
                (Some(b), Some(overall.clone()))
            }
            _ => (None, None),
        };
        ItemProgress {
            bar,
            overall,
            counters: self.counters.clone(),
            last: AtomicU64::new(0),
        }
    }

    fn write(&self, stdout: bool, line: &str) {
        let emit = || {
            if stdout {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            } else {
                eprintln!("{line}");
            }
        };
        match &self.progress {
            Progress::Bars { multi, .. } => multi.suspend(emit),
            _ => emit(),
        }
    }

    /// A successful item: `human` (tab-separated) or `json` on stdout; nothing with `--quiet` in human mode.
    pub fn success(&self, human: &str, json: &Value) {
        if self.json {
            self.write(true, &json.to_string());
        } else if !self.quiet {
            self.write(true, human);
        }
    }

    /// A failed item: a JSON line on stdout with `--json`, else `error: …` on stderr.
    pub fn failure(&self, human: &str, json: &Value) {
        if self.json {
            self.write(true, &json.to_string());
        } else {
            self.write(false, &format!("error: {human}"));
        }
    }

    /// An informational line on stderr (not with `--quiet`).
    pub fn note(&self, line: &str) {
        if !self.quiet {
            self.write(false, line);
        }
    }

    /// A warning line on stderr (also with `--quiet`).
    pub fn warn(&self, line: &str) {
        self.write(false, &format!("warning: {line}"));
    }

    /// Seconds since the output was created.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the progress display (the overall bar stays with its final state; the plain ticker prints a last
    /// line), then prints the summary: a JSON object with `--json`, else one line on stderr (not with
    /// `--quiet`).
    pub async fn finish(self, summary_human: &str, summary_json: &Value) {
        match self.progress {
            Progress::Bars { multi, overall } => {
                // The overall bar stays with its final state; what follows starts on a line of its own.
                overall.set_message(files_message(&self.counters));
                overall.finish();
                drop(overall);
                drop(multi);
                eprintln!();
            }
            Progress::Plain { stop, task } => {
                stop.cancel();
                let _ = task.await;
                eprintln!("{}", plain_line(&self.counters, self.started));
            }
            Progress::None => {}
        }
        if self.json {
            println!("{summary_json}");
        } else if !self.quiet {
            eprintln!("{summary_human}");
        }
    }
}
