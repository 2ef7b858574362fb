//! `tvod task show ID` / `tvod task wait ID`: a VOD task (e.g. the Procedure an upload started) from the
//! command line (DescribeTaskDetail).

use crate::common::{ConnArgs, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, error_code, usage_error};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::time::Duration;
use tencent_vod::events::{DescribeTaskDetailResponse, TaskStatus, WaitOptions};
use tencent_vod::{Error, VodClient};

/// Look at VOD tasks.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Print a task's status and details (DescribeTaskDetail; tasks of the last 3 days).
    Show(ShowArgs),
    /// Wait until a task is FINISH or ABORTED; exit 0 only when it finished without error.
    Wait(WaitArgs),
}

/// `task show`.
#[derive(clap::Args, Debug)]
#[command(after_help = format!("{}\n\n{}", crate::common::EXIT_HELP, crate::ENV_HELP))]
pub struct ShowArgs {
    /// The task id, e.g. 1250000000-procedurev2-49dfbaea6786dd78ecf70d6256c7ec20t0.
    task_id: String,
    /// The whole answer as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

/// `task wait`.
#[derive(clap::Args, Debug)]
#[command(after_help = format!("{}\n\n{}", crate::common::EXIT_HELP, crate::ENV_HELP))]
pub struct WaitArgs {
    /// The task id.
    task_id: String,
    /// Give up after this many seconds (exit 1).
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Seconds before the second poll (doubling after each poll, up to 15 s).
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// The final answer as one JSON object.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    conn: ConnArgs,
}

fn client(conn: &ConnArgs) -> Result<VodClient, ExitCode> {
    conn.builder().and_then(|b| b.build()).map_err(usage_error)
}

/// Why a finished task did not succeed, if it did not: the task's own error code, or a sub-task whose status
/// is `FAIL` or whose `ErrCode` is not 0.
fn task_problem(d: &DescribeTaskDetailResponse) -> Option<String> {
    match d.task_status() {
        TaskStatus::Aborted => return Some("the task was aborted".into()),
        TaskStatus::Finish => {}
        other => return Some(format!("the task is {}", other.as_str())),
    }
    let p = d.procedure_task.as_ref()?;
    if let Some(code) = p.err_code.filter(|c| *c != 0) {
        return Some(format!(
            "ErrCode {code}: {}",
            p.message.as_deref().unwrap_or("")
        ));
    }
    let sets = [
        &p.media_process_result_set,
        &p.ai_content_review_result_set,
        &p.ai_analysis_result_set,
        &p.ai_recognition_result_set,
    ];
    for v in sets.into_iter().flatten().flatten() {
        if let Some(why) = failed_subtask(v) {
            return Some(why);
        }
    }
    None
}

fn failed_subtask(v: &Value) -> Option<String> {
    let obj = v.as_object()?;
    let kind = obj
        .get("Type")
        .and_then(Value::as_str)
        .unwrap_or("sub-task");
    for inner in obj.values().filter_map(Value::as_object) {
        let status = inner.get("Status").and_then(Value::as_str).unwrap_or("");
        let code = inner.get("ErrCode").and_then(Value::as_i64).unwrap_or(0);
        if status.eq_ignore_ascii_case("FAIL") || code != 0 {
            let msg = inner.get("Message").and_then(Value::as_str).unwrap_or("");
            return Some(format!("{kind} failed: ErrCode {code} {msg}"));
        }
    }
    None
}

fn print(task_id: &str, d: &DescribeTaskDetailResponse, as_json: bool) {
    if as_json {
        let mut v = serde_json::to_value(d).unwrap_or(Value::Null);
        if let Some(o) = v.as_object_mut() {
            o.insert("TaskId".into(), json!(task_id));
        }
        println!("{v}");
        return;
    }
    let s = |o: &Option<String>| {
        o.clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "{task_id}\t{}\t{}\tcreated {}\tfinished {}",
        s(&d.status),
        s(&d.task_type),
        s(&d.create_time),
        s(&d.finish_time)
    );
    if let Some(p) = &d.procedure_task {
        println!("FileId\t{}", s(&p.file_id));
    }
}

fn api_failure(e: &Error) -> ExitCode {
    eprintln!("error: {e} [{}]", error_code(e));
    ExitCode::from(EXIT_FAILED)
}

/// Runs `tvod task …`.
pub async fn run(cmd: Command) -> ExitCode {
    match cmd {
        Command::Show(a) => {
            let client = match client(&a.conn) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match client
                .api()
                .describe_task_detail(&a.task_id, a.conn.sub_app_id)
                .await
            {
                Ok(d) => {
                    print(&a.task_id, &d, a.json);
                    ExitCode::from(EXIT_OK)
                }
                Err(e) => api_failure(&e),
            }
        }
        Command::Wait(a) => {
            if !(a.interval.is_finite() && a.interval > 0.0) {
                return usage_error("--interval must be a positive number of seconds");
            }
            let client = match client(&a.conn) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let opts = WaitOptions::new(Duration::from_secs(a.timeout))
                .with_intervals(Duration::from_secs_f64(a.interval), Duration::from_secs(15));
            let wait = client
                .api()
                .wait_for_task(&a.task_id, a.conn.sub_app_id, opts);
            let r = tokio::select! {
                r = wait => r,
                _ = crate::common::interrupted() => return ExitCode::from(EXIT_INTERRUPTED),
            };
            match r {
                Ok(d) => {
                    print(&a.task_id, &d, a.json);
                    match task_problem(&d) {
                        None => ExitCode::from(EXIT_OK),
                        Some(why) => {
                            eprintln!("error: task {}: {why}", a.task_id);
                            ExitCode::from(EXIT_FAILED)
                        }
                    }
                }
                Err(Error::DeadlineExceeded(_)) => {
                    eprintln!(
                        "error: task {} did not finish within {} s",
                        a.task_id, a.timeout
                    );
                    ExitCode::from(EXIT_FAILED)
                }
                Err(e) => api_failure(&e),
            }
        }
    }
}
