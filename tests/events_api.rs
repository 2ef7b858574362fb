//! PullEvents / ConfirmEvents / DescribeTasks / DescribeTaskDetail against a loopback axum server that answers
//! canned envelopes and records requests (it does not verify signatures), plus the polling helpers on a paused
//! clock.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tencent_vod::__private::{find_procedure_task_id_with, wait_for_task_with};
use tencent_vod::events::{
    DescribeTaskDetailResponse, DescribeTasksRequest, DescribeTasksResponse, EventPoller,
    TaskStatus, WaitOptions,
};
use tencent_vod::{Credential, Error, RetryConfig, VodClient};

type Responder = dyn Fn(&str, &Value, usize) -> Value + Send + Sync;

/// One recorded request: action and JSON body.
#[derive(Debug, Clone)]
struct Seen {
    action: String,
    body: Value,
}

struct Server {
    seen: Arc<Mutex<Vec<Seen>>>,
    client: VodClient,
}

impl Server {
    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
    fn requests_of(&self, action: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(|s| s.action == action)
            .map(|s| s.body)
            .collect()
    }
}

#[derive(Clone)]
struct AppState {
    seen: Arc<Mutex<Vec<Seen>>>,
    respond: Arc<Responder>,
}

async fn handle(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ([(&'static str, &'static str); 1], String) {
    let action = headers
        .get("x-tc-action")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = {
        let mut seen = st.seen.lock().unwrap();
        seen.push(Seen {
            action: action.clone(),
            body: body.clone(),
        });
        seen.iter().filter(|s| s.action == action).count()
    };
    let mut response = (st.respond)(&action, &body, n);
    if let Some(o) = response.as_object_mut() {
        o.entry("RequestId")
            .or_insert(json!(format!("req-{action}-{n}")));
    }
    (
        [("content-type", "application/json")],
        json!({ "Response": response }).to_string(),
    )
}

/// Starts a server whose answer to the `n`-th (1-based) call of an action is `respond(action, body, n)` (the
/// `Response` object without `RequestId`).
async fn server(respond: impl Fn(&str, &Value, usize) -> Value + Send + Sync + 'static) -> Server {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = Router::new().route("/", post(handle)).with_state(AppState {
        seen: seen.clone(),
        respond: Arc::new(respond),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    let client = VodClient::builder()
        .with_credential(Credential::new("AKIDEXAMPLE", "test-secret-key"))
        .with_region("ap-guangzhou")
        .with_vod_endpoint(format!("http://{addr}"))
        .with_retry(RetryConfig::disabled())
        .with_request_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    Server { seen, client }
}

fn error(code: &str) -> Value {
    json!({"Error": {"Code": code, "Message": "canned"}})
}

const TASK_ID: &str = "1256768367-procedurev2-49dfbaea6786dd78ecf70d6256c7ec20t0";

fn upload_event(handle: &str, file_id: &str) -> Value {
    json!({
        "EventHandle": handle, "EventType": "NewFileUpload",
        "FileUploadEvent": {"FileId": file_id, "ProcedureTaskId": TASK_ID, "ReviewAudioVideoTaskId": "",
            "MediaBasicInfo": {"Name": "Animal World", "Type": "mp4"}, "MetaData": null},
        "ProcedureStateChangeEvent": null
    })
}

#[tokio::test]
async fn pull_events_parses_and_sends_sub_app_id() {
    let s = server(|action, _, _| {
        assert_eq!(action, "PullEvents");
        json!({"EventSet": [upload_event("EventHandle.N", "5285890784273533167")]})
    })
    .await;
    let req = tencent_vod::events::PullEventsRequest::new().with_sub_app_id(1500000001);
    let events = s.client.api().pull_events(&req).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_handle.as_deref(), Some("EventHandle.N"));
    assert_eq!(events[0].file_id(), Some("5285890784273533167"));
    assert_eq!(events[0].procedure_task_id(), Some(TASK_ID));
    assert_eq!(
        s.requests_of("PullEvents"),
        vec![json!({"SubAppId": 1500000001})]
    );
}

#[tokio::test]
async fn pull_events_without_events_is_empty() {
    let s = server(|_, _, n| match n {
        1 => json!({"EventSet": []}),
        2 => json!({"EventSet": null}),
        3 => json!({}),
        4 => error("ResourceNotFound"),
        _ => error("AuthFailure.SignatureFailure"),
    })
    .await;
    let api = s.client.api();
    let req = tencent_vod::events::PullEventsRequest::new();
    for _ in 0..4 {
        assert!(api.pull_events(&req).await.unwrap().is_empty());
    }
    let e = api.pull_events(&req).await.unwrap_err();
    assert_eq!(e.code(), Some("AuthFailure.SignatureFailure"));
    assert_eq!(s.requests_of("PullEvents").len(), 5);
}

#[tokio::test]
async fn confirm_events_body_and_limits() {
    let s = server(|_, _, _| json!({})).await;
    let api = s.client.api();
    api.confirm_events(&["h1".to_string(), "h2".to_string()], Some(7))
        .await
        .unwrap();
    assert_eq!(
        s.requests_of("ConfirmEvents"),
        vec![json!({"EventHandles": ["h1", "h2"], "SubAppId": 7})]
    );

    let seventeen: Vec<String> = (0..17).map(|i| format!("h{i}")).collect();
    let e = api.confirm_events(&seventeen, None).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput { field, reason } if field == "event_handles" && reason.contains("17")),
        "{e:?}"
    );
    api.confirm_events(&seventeen[..16], None).await.unwrap();
    api.confirm_events::<String>(&[], None).await.unwrap();
    assert!(api.confirm_events(&["", "x"], None).await.is_err());
    let sent = s.requests_of("ConfirmEvents");
    assert_eq!(
        sent.len(),
        2,
        "only the valid, non-empty calls reach the server"
    );
    assert_eq!(sent[1]["EventHandles"].as_array().unwrap().len(), 16);
    assert!(sent[1].get("SubAppId").is_none());
}

#[tokio::test]
async fn describe_tasks_pages_with_scroll_token() {
    let s = server(|action, body, _| {
        assert_eq!(action, "DescribeTasks");
        match body.get("ScrollToken").and_then(Value::as_str) {
            None => json!({"TaskSet": [
                {"TaskId": "t1", "Status": "FINISH", "FileId": "f1", "TaskType": "Procedure"},
                {"TaskId": "t2", "Status": "PROCESSING", "FileId": "f1", "TaskType": "EditMedia"}],
                "ScrollToken": "page-2"}),
            Some("page-2") => json!({"TaskSet": [
                {"TaskId": "t3", "Status": "WAITING", "FileId": "f1", "TaskType": "Procedure"}],
                "ScrollToken": ""}),
            Some(other) => panic!("unexpected token {other}"),
        }
    })
    .await;
    let api = s.client.api();
    let mut req = DescribeTasksRequest::new()
        .with_file_id("f1")
        .with_status("FINISH")
        .with_limit(2)
        .with_sub_app_id(9);
    let mut ids = Vec::new();
    loop {
        let page = api.describe_tasks(&req).await.unwrap();
        ids.extend(page.task_set.iter().filter_map(|t| t.task_id.clone()));
        match page.next_token() {
            Some(t) => req = req.with_scroll_token(t),
            None => break,
        }
    }
    assert_eq!(ids, ["t1", "t2", "t3"]);
    let sent = s.requests_of("DescribeTasks");
    assert_eq!(
        sent,
        vec![
            json!({"SubAppId": 9, "Status": "FINISH", "FileId": "f1", "Limit": 2}),
            json!({"SubAppId": 9, "Status": "FINISH", "FileId": "f1", "Limit": 2, "ScrollToken": "page-2"}),
        ]
    );

    let e = api
        .describe_tasks(&DescribeTasksRequest::new().with_limit(101))
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::InvalidInput { field, .. } if field == "limit"));
    assert_eq!(s.requests().len(), 2, "rejected before sending");
}

fn detail(status: &str) -> Value {
    json!({"TaskType": "Procedure", "Status": status, "CreateTime": "2024-01-01T00:00:00Z",
           "BeginProcessTime": "2024-01-01T00:00:01Z", "FinishTime": "",
           "ProcedureTask": {"TaskId": TASK_ID, "Status": status, "FileId": "f1", "MediaProcessResultSet": []}})
}

fn fast() -> WaitOptions {
    WaitOptions::new(Duration::from_secs(120))
        .with_intervals(Duration::from_millis(5), Duration::from_millis(20))
}

#[tokio::test]
async fn wait_for_task_ends_on_finish() {
    let s = server(|action, body, n| {
        assert_eq!(action, "DescribeTaskDetail");
        assert_eq!(body, &json!({"TaskId": TASK_ID, "SubAppId": 3}));
        detail(if n < 3 { "PROCESSING" } else { "FINISH" })
    })
    .await;
    let d = s
        .client
        .api()
        .wait_for_task(TASK_ID, Some(3), fast())
        .await
        .unwrap();
    assert_eq!(d.task_status(), TaskStatus::Finish);
    assert_eq!(d.procedure_task.unwrap().task_id.as_deref(), Some(TASK_ID));
    assert_eq!(s.requests_of("DescribeTaskDetail").len(), 3);
}

#[tokio::test]
async fn wait_for_task_ends_on_aborted_and_surfaces_errors() {
    let s = server(|_, body, n| {
        if body["TaskId"] == "missing" {
            return error("ResourceNotFound");
        }
        detail(if n < 2 { "WAITING" } else { "ABORTED" })
    })
    .await;
    let api = s.client.api();
    let d = api.wait_for_task(TASK_ID, None, fast()).await.unwrap();
    assert_eq!(d.task_status(), TaskStatus::Aborted);
    let e = api
        .wait_for_task("missing", None, fast())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound"));
    assert!(api.wait_for_task("", None, fast()).await.is_err());
}

fn parsed_detail(status: &str) -> DescribeTaskDetailResponse {
    serde_json::from_value(detail(status)).unwrap()
}

#[tokio::test(start_paused = true)]
async fn wait_for_task_backoff_and_deadline_on_paused_clock() {
    let polls = Arc::new(Mutex::new(Vec::new()));
    let start = tokio::time::Instant::now();
    let opts = WaitOptions::new(Duration::from_secs(60))
        .with_intervals(Duration::from_secs(1), Duration::from_secs(8));
    let p = polls.clone();
    let e = wait_for_task_with(&opts, || {
        p.lock().unwrap().push(start.elapsed().as_secs());
        async { Ok(parsed_detail("PROCESSING")) }
    })
    .await
    .unwrap_err();
    assert!(
        matches!(e, Error::DeadlineExceeded(d) if d == Duration::from_secs(60)),
        "{e:?}"
    );
    // 1, 2, 4, 8, 8, … seconds apart; the last pause is cut to the deadline, which gets one last poll.
    assert_eq!(
        *polls.lock().unwrap(),
        vec![0, 1, 3, 7, 15, 23, 31, 39, 47, 55, 60]
    );
    assert_eq!(start.elapsed(), Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn wait_for_task_paused_clock_finish_and_slow_poll() {
    let n = AtomicUsize::new(0);
    let opts = WaitOptions::new(Duration::from_secs(600));
    let start = tokio::time::Instant::now();
    let d = wait_for_task_with(&opts, || {
        let i = n.fetch_add(1, Ordering::SeqCst);
        async move { Ok(parsed_detail(if i < 4 { "PROCESSING" } else { "FINISH" })) }
    })
    .await
    .unwrap();
    assert_eq!(d.task_status(), TaskStatus::Finish);
    assert_eq!(n.load(Ordering::SeqCst), 5);
    assert_eq!(start.elapsed(), Duration::from_secs(1 + 2 + 4 + 8));

    // A poll that hangs past the deadline is abandoned at the deadline.
    let opts = WaitOptions::new(Duration::from_secs(30));
    let start = tokio::time::Instant::now();
    let e = wait_for_task_with(&opts, || async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok(parsed_detail("FINISH"))
    })
    .await
    .unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)));
    assert_eq!(start.elapsed(), Duration::from_secs(30));

    // Bad options are rejected up front.
    let bad =
        WaitOptions::new(Duration::from_secs(1)).with_intervals(Duration::ZERO, Duration::ZERO);
    assert!(matches!(
        wait_for_task_with(&bad, || async { Ok(parsed_detail("FINISH")) }).await,
        Err(Error::InvalidInput { .. })
    ));
}

#[tokio::test]
async fn find_procedure_task_id_after_a_few_polls() {
    // Polls 1 and 2 see nothing; poll 3 finds an EditMedia task on page 1 and the Procedure task on page 2.
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let s = server(move |_, body, _| {
        if body.get("ScrollToken").is_none() {
            let poll = p.fetch_add(1, Ordering::SeqCst) + 1;
            if poll < 3 {
                return json!({"TaskSet": [], "ScrollToken": ""});
            }
            return json!({"TaskSet": [
                {"TaskId": "other-file-task", "FileId": "f-other", "TaskType": "Procedure"},
                {"TaskId": "edit-1", "FileId": "f1", "TaskType": "EditMedia"}],
                "ScrollToken": "tok-2"});
        }
        json!({"TaskSet": [{"TaskId": TASK_ID, "FileId": "f1", "TaskType": "Procedure", "Status": "WAITING"}],
               "ScrollToken": ""})
    })
    .await;
    let id = s
        .client
        .api()
        .find_procedure_task_id("f1", Some(5), fast())
        .await
        .unwrap();
    assert_eq!(id, TASK_ID);
    assert_eq!(polls.load(Ordering::SeqCst), 3);
    let sent = s.requests_of("DescribeTasks");
    assert_eq!(sent.len(), 4);
    let first = json!({"SubAppId": 5, "FileId": "f1", "Sort": {"Field": "CreateTime", "Order": "Asc"}, "Limit": 100});
    assert_eq!(sent[0], first);
    let mut paged = first.clone();
    paged["ScrollToken"] = json!("tok-2");
    assert_eq!(sent[3], paged);
}

#[tokio::test(start_paused = true)]
async fn find_procedure_task_id_deadline_and_token_loop_guard() {
    let calls = AtomicUsize::new(0);
    let opts = WaitOptions::new(Duration::from_secs(10))
        .with_intervals(Duration::from_secs(2), Duration::from_secs(2));
    let start = tokio::time::Instant::now();
    // A server that keeps repeating the same token must not loop forever within a poll.
    let e = find_procedure_task_id_with("f1", &opts, |token| {
        calls.fetch_add(1, Ordering::SeqCst);
        let page: DescribeTasksResponse = serde_json::from_value(json!({
            "TaskSet": [{"TaskId": "x", "FileId": "f1", "TaskType": "EditMedia"}],
            "ScrollToken": "same"
        }))
        .unwrap();
        let _ = token;
        async move { Ok(page) }
    })
    .await
    .unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(d) if d == Duration::from_secs(10)));
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    // Polls at 0, 2, 4, 6, 8, 10 — each reads page 1 and the repeated-token page 2, then stops.
    assert_eq!(calls.load(Ordering::SeqCst), 12);
    assert!(
        find_procedure_task_id_with("", &opts, |_| async {
            Ok(DescribeTasksResponse::default())
        })
        .await
        .is_err()
    );
}

#[tokio::test]
async fn event_poller_confirms_accepted_events_in_batches() {
    let s = server(|action, _, n| match (action, n) {
        ("PullEvents", 1) => json!({"EventSet": [
            upload_event("h-up", "f1"),
            {"EventHandle": "h-proc", "EventType": "ProcedureStateChanged",
             "ProcedureStateChangeEvent": {"TaskId": TASK_ID, "Status": "FINISH", "FileId": "f1"}},
            {"EventHandle": "h-del", "EventType": "FileDeleted", "FileDeleteEvent": {"FileIdSet": ["f0"]}}
        ]}),
        // A server handing out more than 16 at once still gets confirmations of ≤ 16 each.
        ("PullEvents", 2) => json!({"EventSet": (0..20).map(|i| upload_event(&format!("b{i}"), "f")).collect::<Vec<_>>()}),
        ("PullEvents", _) => json!({"EventSet": []}),
        ("ConfirmEvents", _) => json!({}),
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let poller = EventPoller::new(s.client.api().clone()).with_sub_app_id(Some(11));
    let mut seen = Vec::new();
    let stats = poller
        .poll_once(|ev| {
            seen.push(ev.event_type().to_string());
            // Decline the deletion: it stays unconfirmed and will be redelivered.
            let accept = ev.event_type() != "FileDeleted";
            async move { accept }
        })
        .await
        .unwrap();
    assert_eq!(
        seen,
        ["NewFileUpload", "ProcedureStateChanged", "FileDeleted"]
    );
    assert_eq!((stats.received, stats.confirmed, stats.declined), (3, 2, 1));
    assert_eq!(
        s.requests_of("ConfirmEvents"),
        vec![json!({"EventHandles": ["h-up", "h-proc"], "SubAppId": 11})]
    );

    let stats = poller.poll_once(|_| async { true }).await.unwrap();
    assert_eq!((stats.received, stats.confirmed), (20, 20));
    let confirms = s.requests_of("ConfirmEvents");
    let sizes: Vec<usize> = confirms[1..]
        .iter()
        .map(|c| c["EventHandles"].as_array().unwrap().len())
        .collect();
    assert_eq!(sizes, [16, 4]);

    let stats = poller.poll_once(|_| async { true }).await.unwrap();
    assert_eq!(stats.received, 0);
    assert_eq!(
        s.requests_of("ConfirmEvents").len(),
        3,
        "nothing to confirm"
    );
}

#[tokio::test]
async fn event_poller_run_until_shutdown_and_stops_on_fatal_error() {
    let s = server(|action, _, n| match (action, n) {
        ("PullEvents", 1) => json!({"EventSet": [upload_event("h1", "f1")]}),
        ("PullEvents", _) => json!({"EventSet": []}),
        ("ConfirmEvents", _) => json!({}),
        other => panic!("unexpected {other:?}"),
    })
    .await;
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let mut tx = Some(tx);
    let poller = s
        .client
        .event_poller()
        .with_idle_pause(Duration::from_millis(5));
    let mut files = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(60),
        poller.run(
            |ev| {
                files.push(ev.file_id().map(str::to_string));
                if let Some(tx) = tx.take() {
                    let _ = tx.send(());
                }
                async { true }
            },
            async {
                let _ = rx.await;
            },
        ),
    )
    .await
    .expect("run returns at shutdown")
    .unwrap();
    assert_eq!(files, [Some("f1".to_string())]);
    assert_eq!(
        s.requests_of("ConfirmEvents"),
        vec![json!({"EventHandles": ["h1"]})]
    );

    let s = server(|_, _, _| error("AuthFailure.SecretIdNotFound")).await;
    let e = tokio::time::timeout(
        Duration::from_secs(60),
        s.client
            .event_poller()
            .run(|_| async { true }, std::future::pending()),
    )
    .await
    .expect("fatal errors end the loop")
    .unwrap_err();
    assert_eq!(e.code(), Some("AuthFailure.SecretIdNotFound"));
}
