//! `tvod task show|wait` and `tvod events pull|confirm` against the in-process mock, after an upload that
//! started a Procedure (found with `--resolve-task`).

mod support;

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;
use support::*;
use tencent_vod::events::TaskStatus;
use tencent_vod_mock::MockServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_and_events_from_the_command_line() {
    let server = MockServer::builder()
        .with_task_durations(Duration::from_millis(100), Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in/a.mp4", &data(3000, 1));
    write(d, "in/b.mp4", &data(3000, 2));
    let out = run_at(
        &server,
        d,
        "ingest",
        &[
            "--json",
            "--journal",
            "j.db",
            "--procedure",
            "QuickPreset",
            "--resolve-task",
            "in",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let lines = json_lines(&out);
    let task = lines[0]["ProcedureTaskId"]
        .as_str()
        .expect("resolved task id")
        .to_string();
    assert!(task.contains("-procedurev2-"), "{task}");
    // The journal's report carries it too.
    let out = run_at(
        &server,
        d,
        "ingest",
        &["--journal", "j.db", "--report", "-"],
    )
    .await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&task),
        "{}",
        show(&out)
    );

    // task wait: until FINISH; JSON answer with the task id.
    let out = output({
        let mut c = tvod_at(&server, "task");
        c.args([
            "wait",
            &task,
            "--json",
            "--interval",
            "0.05",
            "--timeout",
            "30",
        ]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["Status"], "FINISH", "{v}");
    assert_eq!(v["TaskId"], task.as_str());
    // task show: one human line; an unknown task is a failure (exit 1) naming the code.
    let out = output({
        let mut c = tvod_at(&server, "task");
        c.args(["show", &task]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with(&format!("{task}\tFINISH\tProcedure")),
        "{}",
        show(&out)
    );
    let out = output({
        let mut c = tvod_at(&server, "task");
        c.args([
            "show",
            "1250000000-procedurev2-00000000000000000000000000000000t0",
        ]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("InvalidParameterValue.TaskId"),
        "{}",
        show(&out)
    );

    // events pull: NewFileUpload (2) and ProcedureStateChanged (2) as JSON lines with handles. Only the first
    // file's task was waited for; the second one runs on the mock's clock and may still be running.
    poll_until(
        "both Procedure tasks to finish",
        Duration::from_secs(60),
        || {
            let tasks = server.tasks();
            (tasks.len() == 2 && tasks.iter().all(|t| t.status == TaskStatus::Finish)).then_some(())
        },
    )
    .await;
    let out = output({
        let mut c = tvod_at(&server, "events");
        c.args(["pull", "--max", "4"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let events = json_lines(&out);
    assert_eq!(events.len(), 4, "{events:#?}");
    assert!(
        events
            .iter()
            .all(|e| e["EventHandle"].as_str().is_some_and(|h| !h.is_empty()))
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e["EventType"] == "NewFileUpload")
            .count(),
        2
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("confirm them within 30 s"));
    // events confirm -: the pulled lines on stdin.
    let mut child = tvod_at(&server, "events")
        .args(["confirm", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&out.stdout).unwrap();
    let confirmed = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(confirmed.status.code(), Some(0), "{}", show(&confirmed));
    assert_eq!(server.events_confirmed().len(), 4);
    assert!(server.events_pending().is_empty());
    // A handle VOD does not know: exit 1.
    let out = output({
        let mut c = tvod_at(&server, "events");
        c.args(["confirm", "no-such-handle"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    // Nothing left: an empty pull prints nothing.
    let out = output({
        let mut c = tvod_at(&server, "events");
        c.args(["pull", "--confirm"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stdout.is_empty(), "{}", show(&out));
}
