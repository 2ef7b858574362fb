//! `tvod events pull` / `tvod events confirm`: VOD's reliable-callback event queue from the command line
//! (PullEvents / ConfirmEvents).
//!
//! ```sh
//! tvod events pull > events.jsonl            # one JSON event per line, each with its EventHandle
//! tvod events confirm - < events.jsonl       # acknowledge them (within 30 s of the pull)
//! tvod events pull --confirm                 # print, then acknowledge at once
//! ```

use crate::common::{ConnArgs, EXIT_FAILED, EXIT_OK, error_code, usage_error};
use serde_json::Value;
use std::io::BufRead;
use std::process::ExitCode;
use tencent_vod::VodClient;
use tencent_vod::events::{MAX_EVENT_HANDLES, PullEventsRequest};

/// The event queue.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Pull waiting events (PullEvents, up to 16 per call; VOD holds an empty poll up to 5 s) and print each as
    /// one JSON line. Unconfirmed events are delivered again after 30 s.
    Pull(PullArgs),
    /// Acknowledge events (ConfirmEvents) by their EventHandle.
    Confirm(ConfirmArgs),
}

/// `events pull`.
#[derive(clap::Args, Debug)]
#[command(after_help = format!("{}\n\n{}", crate::common::EXIT_HELP, crate::ENV_HELP))]
pub struct PullArgs {
    /// Acknowledge the events once they are printed.
    #[arg(long)]
    confirm: bool,
    /// Keep pulling until at least this many events were printed (or an empty poll), instead of one call.
    #[arg(long)]
    max: Option<usize>,
    #[command(flatten)]
    conn: ConnArgs,
}

/// `events confirm`.
#[derive(clap::Args, Debug)]
#[command(after_help = format!("{}\n\n{}", crate::common::EXIT_HELP, crate::ENV_HELP))]
pub struct ConfirmArgs {
    /// Event handles; `-` reads lines from stdin: bare handles, or JSON event lines as `events pull` prints.
    #[arg(required = true)]
    handles: Vec<String>,
    #[command(flatten)]
    conn: ConnArgs,
}

fn client(conn: &ConnArgs) -> Result<VodClient, ExitCode> {
    conn.builder().and_then(|b| b.build()).map_err(usage_error)
}

fn handle_of(line: &str) -> Option<String> {
    let t = line.trim();
    if t.is_empty() {
        return None;
    }
    if t.starts_with('{') {
        return serde_json::from_str::<Value>(t)
            .ok()
            .and_then(|v| v["EventHandle"].as_str().map(str::to_string));
    }
    Some(t.to_string())
}

async fn confirm(
    client: &VodClient,
    handles: &[String],
    sub_app_id: Option<u64>,
) -> Result<(), tencent_vod::Error> {
    for chunk in handles.chunks(MAX_EVENT_HANDLES) {
        client.api().confirm_events(chunk, sub_app_id).await?;
    }
    Ok(())
}

/// Runs `tvod events …`.
pub async fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Pull(a) => {
            let client = match client(&a.conn) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let mut req = PullEventsRequest::new();
            req.sub_app_id = a.conn.sub_app_id;
            let mut printed = 0usize;
            loop {
                let events = match client.api().pull_events(&req).await {
                    Ok(e) => e,
                    Err(e) => {
                        eprintln!("error: {e} [{}]", error_code(&e));
                        return ExitCode::from(EXIT_FAILED);
                    }
                };
                let handles: Vec<String> = events
                    .iter()
                    .filter_map(|e| e.event_handle.clone())
                    .collect();
                for e in &events {
                    println!("{}", serde_json::to_value(e).unwrap_or(Value::Null));
                }
                printed += events.len();
                if a.confirm
                    && !handles.is_empty()
                    && let Err(e) = confirm(&client, &handles, a.conn.sub_app_id).await
                {
                    eprintln!(
                        "error: the events were printed but not confirmed: {e} [{}]",
                        error_code(&e)
                    );
                    return ExitCode::from(EXIT_FAILED);
                }
                if events.is_empty() || a.max.is_none_or(|m| printed >= m) {
                    break;
                }
            }
            if !a.confirm && printed > 0 {
                eprintln!(
                    "{printed} event(s); confirm them within 30 s (`tvod events confirm -` reads these lines) or they are delivered again"
                );
            }
            ExitCode::from(EXIT_OK)
        }
        Command::Confirm(a) => {
            let mut handles = Vec::new();
            for h in &a.handles {
                if h == "-" {
                    for line in std::io::stdin().lock().lines() {
                        match line {
                            Ok(l) => handles.extend(handle_of(&l)),
                            Err(e) => return usage_error(format!("stdin: {e}")),
                        }
                    }
                } else {
                    handles.push(h.clone());
                }
            }
            if handles.is_empty() {
                return usage_error("no event handles given");
            }
            let client = match client(&a.conn) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match confirm(&client, &handles, a.conn.sub_app_id).await {
                Ok(()) => {
                    eprintln!("confirmed {} event(s)", handles.len());
                    ExitCode::from(EXIT_OK)
                }
                Err(e) => {
                    eprintln!("error: {e} [{}]", error_code(&e));
                    ExitCode::from(EXIT_FAILED)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn handles_come_from_bare_lines_or_event_json() {
        assert_eq!(super::handle_of("  abc \n").as_deref(), Some("abc"));
        assert_eq!(
            super::handle_of(r#"{"EventHandle":"h1","EventType":"NewFileUpload"}"#).as_deref(),
            Some("h1")
        );
        assert_eq!(super::handle_of(""), None);
        assert_eq!(super::handle_of(r#"{"EventType":"x"}"#), None);
    }
}
