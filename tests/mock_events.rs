//! The mock's events and tasks, driven through the crate's signed `VodApi`: PullEvents / ConfirmEvents (leases,
//! redelivery), DescribeTasks (filters, paging) / DescribeTaskDetail (timed states), the wait helpers, the
//! `EventPoller` and normal-callback POSTs.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::closed_port::ClosedPort;
use support::eventually;
use support::raw::*;
use tencent_vod::events::{
    ConfirmEventsRequest, ConfirmEventsResponse, DescribeTasksRequest, Event, EventContent,
    PullEventsRequest, SortBy, TaskStatus, WaitOptions, parse_callback,
};
use tencent_vod::vod::{ApplyUploadRequest, CommitUploadRequest, VodApi};
use tencent_vod::{Error, VodClient};
use tencent_vod_mock::MockServer;

type R = Result<(), Box<dyn std::error::Error>>;

const LONG: Duration = Duration::from_secs(3600);
/// A confirm timeout short enough for tests, long enough that a loaded machine does not stall past it between a
/// pull and its confirm.
const LEASE: Duration = Duration::from_secs(2);

/// A finished upload.
struct Uploaded {
    file_id: String,
    task_id: Option<String>,
    media_url: String,
    size: usize,
}

/// ApplyUpload → PUT (temporary credentials) → CommitUpload through the signed API.
async fn upload(
    server: &MockServer,
    client: &VodClient,
    req: ApplyUploadRequest,
    size: usize,
) -> Result<Uploaded, Box<dyn std::error::Error>> {
    let sub_app_id = req.sub_app_id;
    let applied = client.api().apply_upload(&req).await?;
    let cert = applied.temp_certificate.clone().expect("temp certificate");
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &applied.storage_bucket,
        &cert.credential(),
    );
    let body: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    let r = cos.put(&applied.media_storage_path[1..], &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut commit = CommitUploadRequest::new(&applied.vod_session_key);
    commit.sub_app_id = sub_app_id;
    let committed = client.api().commit_upload(&commit).await?;
    let record = server
        .commits()
        .into_iter()
        .find(|c| c.file_id == committed.file_id)
        .expect("commit recorded");
    Ok(Uploaded {
        file_id: committed.file_id,
        task_id: record.procedure_task_id,
        media_url: committed.media_url.unwrap_or_default(),
        size,
    })
}

async fn pull(api: &VodApi, sub_app_id: Option<u64>) -> tencent_vod::Result<Vec<EventContent>> {
    let mut req = PullEventsRequest::new();
    if let Some(id) = sub_app_id {
        req = req.with_sub_app_id(id);
    }
    api.pull_events(&req).await
}

/// A mock whose event leases last [`LEASE`] and whose tasks never finish by themselves, and its client.
async fn leased() -> Result<(MockServer, VodClient), Box<dyn std::error::Error>> {
    let server = MockServer::builder()
        .with_event_confirm_timeout(LEASE)
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    Ok((server, client))
}

/// Waits until no pending event is leased any more (the confirm timeout has passed since it was pulled).
async fn lease_lapsed(server: &MockServer) {
    eventually("the lease to lapse", LEASE * 10, || {
        server.events_pending().iter().all(|e| e.handle.is_none())
    })
    .await;
}

fn handle_of(ev: &EventContent) -> String {
    let h = ev.event_handle.clone().expect("EventHandle");
    assert!(!h.is_empty());
    h
}

#[tokio::test]
async fn new_file_upload_event_carries_file_id_and_procedure_task_id() -> R {
    let server = MockServer::builder()
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let with = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4")
            .with_media_name("holiday")
            .with_procedure("LongVideoPreset")
            .with_class_id(7)
            .with_source_context("src-ctx"),
        4096,
    )
    .await?;
    let without = upload(&server, &client, ApplyUploadRequest::new("mp4"), 100).await?;
    let task_id = with.task_id.clone().expect("task id for a Procedure");
    assert!(without.task_id.is_none());

    let events = pull(api, None).await?;
    assert_eq!(events.len(), 2, "{events:?}");
    let mut handles = Vec::new();
    for ev in &events {
        handles.push(handle_of(ev));
        assert_eq!(ev.event_type(), "NewFileUpload");
    }
    let first = &events[0];
    assert_eq!(first.file_id(), Some(with.file_id.as_str()));
    assert_eq!(first.procedure_task_id(), Some(task_id.as_str()));
    let Event::NewFileUpload(u) = first.event() else {
        panic!("not a NewFileUpload: {first:?}")
    };
    assert_eq!(u.procedure_task_id.as_deref(), Some(task_id.as_str()));
    assert_eq!(u.review_audio_video_task_id.as_deref(), Some(""));
    let info = u.media_basic_info.clone().expect("MediaBasicInfo");
    assert_eq!(info.name.as_deref(), Some("holiday"));
    assert_eq!(info.r#type.as_deref(), Some("mp4"));
    assert_eq!(info.media_url.as_deref(), Some(with.media_url.as_str()));
    assert_eq!(info.class_id, Some(7));
    assert_eq!(info.storage_region.as_deref(), Some("ap-guangzhou"));
    assert_eq!(info.cover_url.as_deref(), Some(""));
    let source = info.source_info.expect("SourceInfo");
    assert_eq!(source.source_type.as_deref(), Some("Upload"));
    assert_eq!(source.source_context.as_deref(), Some("src-ctx"));
    assert!(info.create_time.unwrap().ends_with('Z'));
    assert_eq!(
        u.meta_data.as_ref().and_then(|m| m.size),
        Some(with.size as i64)
    );

    // No Procedure: ProcedureTaskId is "", the name is the file stem.
    let second = &events[1];
    assert_eq!(second.file_id(), Some(without.file_id.as_str()));
    assert_eq!(second.procedure_task_id(), None);
    let Event::NewFileUpload(u2) = second.event() else {
        panic!("not a NewFileUpload: {second:?}")
    };
    assert_eq!(u2.procedure_task_id.as_deref(), Some(""));
    assert_eq!(
        u2.media_basic_info.and_then(|i| i.name).as_deref(),
        Some("f0")
    );

    // Leased: nothing more to pull; another SubAppId sees nothing.
    assert!(pull(api, None).await?.is_empty());
    assert!(pull(api, Some(1500000001)).await?.is_empty());
    let pending = server.events_pending();
    assert_eq!(pending.len(), 2);
    assert!(
        pending
            .iter()
            .all(|p| p.deliveries == 1 && p.handle.is_some())
    );

    api.confirm_events(&handles, None).await?;
    assert!(server.events_pending().is_empty());
    assert_eq!(server.events_confirmed().len(), 2);
    assert_eq!(server.stats().rejected_signatures, 0);
    Ok(())
}

#[tokio::test]
async fn sub_app_events_stay_in_their_application() -> R {
    let server = MockServer::builder()
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let up = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4")
            .with_sub_app_id(1500000001)
            .with_procedure("P"),
        10,
    )
    .await?;
    assert!(pull(api, None).await?.is_empty());
    let events = pull(api, Some(1500000001)).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].file_id(), Some(up.file_id.as_str()));
    let h = handle_of(&events[0]);
    // A handle confirmed under the wrong application is unknown there.
    let e = api.confirm_events(&[&h], None).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue"), "{e}");
    api.confirm_events(&[&h], Some(1500000001)).await?;
    assert!(server.events_pending().is_empty());
    Ok(())
}

#[tokio::test]
async fn confirmed_events_are_not_redelivered() -> R {
    let (server, client) = leased().await?;
    let api = client.api();
    let up = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4").with_procedure("P"),
        10,
    )
    .await?;
    let events = pull(api, None).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].file_id(), Some(up.file_id.as_str()));
    let h = handle_of(&events[0]);
    api.confirm_events(&[&h], None).await?;
    // Well past the confirm timeout: still nothing.
    tokio::time::sleep(LEASE * 3 / 2).await;
    assert!(pull(api, None).await?.is_empty());
    assert!(server.events_pending().is_empty());
    // Confirming again: the handle is gone.
    let e = api.confirm_events(&[&h], None).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue"), "{e}");
    let confirmed = server.events_confirmed();
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0].file_id(), Some(up.file_id.as_str()));
    assert!(confirmed[0].event_handle.is_none());
    Ok(())
}

#[tokio::test]
async fn unconfirmed_events_are_redelivered_with_a_new_handle() -> R {
    let (server, client) = leased().await?;
    let api = client.api();
    let up = upload(&server, &client, ApplyUploadRequest::new("mp4"), 10).await?;
    let first = pull(api, None).await?;
    assert_eq!(first.len(), 1);
    let h1 = handle_of(&first[0]);
    // Past the confirm timeout the event is pullable again, with a new handle.
    lease_lapsed(&server).await;
    let second = pull(api, None).await?;
    assert_eq!(second.len(), 1, "redelivered after the confirm timeout");
    assert_eq!(second[0].file_id(), Some(up.file_id.as_str()));
    let mut h2 = handle_of(&second[0]);
    assert_ne!(h1, h2, "a redelivery has a new handle");
    // The old handle is no longer valid; the whole request is rejected (all or nothing).
    let e = api.confirm_events(&[&h2, &h1], None).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue"), "{e}");
    assert_eq!(server.events_pending().len(), 1);
    assert!(server.events_pending()[0].deliveries >= 2);
    // Confirm the current handle (should a stalled machine let the lease lapse, take the next delivery).
    let mut confirmed = false;
    for _ in 0..5 {
        if api.confirm_events(&[&h2], None).await.is_ok() {
            confirmed = true;
            break;
        }
        tokio::time::sleep(LEASE).await;
        let again = pull(api, None).await?;
        assert_eq!(again.len(), 1);
        let h = handle_of(&again[0]);
        assert_ne!(h, h2);
        h2 = h;
    }
    assert!(confirmed);
    assert!(server.events_pending().is_empty());
    assert!(pull(api, None).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn more_than_16_handles_are_rejected() -> R {
    let server = MockServer::builder()
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let mut files = Vec::new();
    for _ in 0..17 {
        files.push(
            upload(&server, &client, ApplyUploadRequest::new("mp4"), 1)
                .await?
                .file_id,
        );
    }
    let batch = pull(api, None).await?;
    assert_eq!(batch.len(), 16, "at most 16 events per pull");
    let rest = pull(api, None).await?;
    assert_eq!(rest.len(), 1);
    let mut handles: Vec<String> = batch.iter().map(handle_of).collect();
    handles.push(handle_of(&rest[0]));
    let pulled: Vec<&str> = batch
        .iter()
        .chain(&rest)
        .filter_map(|e| e.file_id())
        .collect();
    assert_eq!(pulled, files.iter().map(String::as_str).collect::<Vec<_>>());

    // The client refuses before sending…
    let e = api.confirm_events(&handles, None).await.unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    // …and the server refuses too.
    let r: Result<ConfirmEventsResponse, _> = api
        .call("ConfirmEvents", &ConfirmEventsRequest::new(handles.clone()))
        .await;
    assert_eq!(r.unwrap_err().code(), Some("InvalidParameterValue"));
    assert_eq!(server.events_pending().len(), 17);
    // An empty list is a missing parameter.
    let r: Result<ConfirmEventsResponse, _> = api
        .call("ConfirmEvents", &ConfirmEventsRequest::new(Vec::new()))
        .await;
    assert_eq!(r.unwrap_err().code(), Some("MissingParameter"));

    api.confirm_events(&handles[..16], None).await?;
    api.confirm_events(&handles[16..], None).await?;
    assert!(server.events_pending().is_empty());
    Ok(())
}

#[tokio::test]
async fn describe_tasks_filters_and_pages_with_scroll_token() -> R {
    let server = MockServer::builder()
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let mut ups = Vec::new();
    for i in 0..5 {
        ups.push(
            upload(
                &server,
                &client,
                ApplyUploadRequest::new("mp4")
                    .with_procedure("P")
                    .with_session_context(format!("ctx{i}")),
                10,
            )
            .await?,
        );
    }
    let other = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4")
            .with_procedure("P")
            .with_sub_app_id(1500000001),
        10,
    )
    .await?;
    let ids: Vec<String> = ups.iter().map(|u| u.task_id.clone().unwrap()).collect();

    // By FileId.
    let r = api
        .describe_tasks(&DescribeTasksRequest::new().with_file_id(&ups[2].file_id))
        .await?;
    assert_eq!(r.task_set.len(), 1);
    let t = &r.task_set[0];
    assert_eq!(t.task_id.as_deref(), Some(ids[2].as_str()));
    assert_eq!(t.file_id.as_deref(), Some(ups[2].file_id.as_str()));
    assert_eq!(t.task_type.as_deref(), Some("Procedure"));
    assert_eq!(t.task_status(), TaskStatus::Waiting);
    assert_eq!(t.session_context.as_deref(), Some("ctx2"));
    assert_eq!(t.begin_process_time.as_deref(), Some(""));
    assert_eq!(r.next_token(), None);

    // Paging, newest first by default.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut req = DescribeTasksRequest::new().with_limit(2);
        req.scroll_token = token.clone();
        let page = api.describe_tasks(&req).await?;
        pages += 1;
        assert!(page.task_set.len() <= 2);
        seen.extend(page.task_set.iter().filter_map(|t| t.task_id.clone()));
        match page.next_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    // Oldest first; a token of the other order is refused.
    let page1 = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_limit(3)
                .with_sort(SortBy::asc("CreateTime")),
        )
        .await?;
    let asc: Vec<_> = page1
        .task_set
        .iter()
        .filter_map(|t| t.task_id.clone())
        .collect();
    assert_eq!(asc, ids[..3]);
    let asc_token = page1.next_token().expect("more").to_string();
    let page2 = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_limit(3)
                .with_sort(SortBy::asc("CreateTime"))
                .with_scroll_token(&asc_token),
        )
        .await?;
    let asc2: Vec<_> = page2
        .task_set
        .iter()
        .filter_map(|t| t.task_id.clone())
        .collect();
    assert_eq!(asc2, ids[3..]);
    assert_eq!(page2.next_token(), None);
    let e = api
        .describe_tasks(&DescribeTasksRequest::new().with_scroll_token(&asc_token))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.ScrollToken"));

    // Status filter.
    let waiting = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_status("WAITING")
                .with_limit(100),
        )
        .await?;
    assert_eq!(waiting.task_set.len(), 5);
    let finished = api
        .describe_tasks(&DescribeTasksRequest::new().with_status("FINISH"))
        .await?;
    assert!(finished.task_set.is_empty());

    // SubAppId scoping.
    let sub = api
        .describe_tasks(&DescribeTasksRequest::new().with_sub_app_id(1500000001))
        .await?;
    assert_eq!(sub.task_set.len(), 1);
    assert_eq!(
        sub.task_set[0].file_id.as_deref(),
        Some(other.file_id.as_str())
    );
    let none = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_sub_app_id(1500000001)
                .with_file_id(&ups[0].file_id),
        )
        .await?;
    assert!(none.task_set.is_empty());

    // Limit is checked by the client (and the server).
    let e = api
        .describe_tasks(&DescribeTasksRequest::new().with_limit(101))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e:?}");
    let r: Result<tencent_vod::events::DescribeTasksResponse, _> = api
        .call(
            "DescribeTasks",
            &DescribeTasksRequest::new().with_limit(101),
        )
        .await;
    assert_eq!(r.unwrap_err().code(), Some("InvalidParameterValue.Limit"));
    assert_eq!(server.tasks().len(), 6);
    Ok(())
}

#[tokio::test]
async fn task_detail_advances_waiting_processing_finish() -> R {
    let procedure = || {
        ApplyUploadRequest::new("mp4")
            .with_media_name("clip")
            .with_procedure("P")
            .with_session_context("session-ctx")
    };
    // What DescribeTaskDetail says about the task in any state; returns the status.
    let check =
        |d: &tencent_vod::events::DescribeTaskDetailResponse, task_id: &str| -> TaskStatus {
            let s = d.task_status();
            assert_eq!(d.task_type.as_deref(), Some("Procedure"));
            let create = d.create_time.clone().unwrap();
            assert!(create.ends_with('Z'), "{create}");
            let begin = d.begin_process_time.clone().unwrap_or_default();
            let finish = d.finish_time.clone().unwrap_or_default();
            match s {
                TaskStatus::Waiting => assert!(begin.is_empty() && finish.is_empty()),
                TaskStatus::Processing => assert!(!begin.is_empty() && finish.is_empty()),
                TaskStatus::Finish => assert!(!begin.is_empty() && !finish.is_empty()),
                ref other => panic!("unexpected status {other}"),
            }
            let pt = d.procedure_task.clone().expect("ProcedureTask");
            assert_eq!(pt.task_id.as_deref(), Some(task_id));
            assert_eq!(pt.status.as_deref(), Some(s.as_str()));
            s
        };

    // Every state, each on a mock whose durations keep the task in it for the whole test (no timing involved).
    for (waiting, processing, expected) in [
        (LONG, LONG, TaskStatus::Waiting),
        (Duration::ZERO, LONG, TaskStatus::Processing),
        (Duration::ZERO, Duration::ZERO, TaskStatus::Finish),
    ] {
        let server = MockServer::builder()
            .with_task_durations(waiting, processing)
            .start()
            .await?;
        let client = server.client_builder().build()?;
        let up = upload(&server, &client, procedure(), 1000).await?;
        let task_id = up.task_id.clone().unwrap();
        for _ in 0..2 {
            let d = client.api().describe_task_detail(&task_id, None).await?;
            assert_eq!(check(&d, &task_id), expected);
            // No waiting: started when created; no processing: finished when started.
            if waiting.is_zero() {
                assert_eq!(d.begin_process_time, d.create_time, "{expected}");
            }
            if expected == TaskStatus::Finish {
                assert_eq!(d.finish_time, d.begin_process_time);
            }
        }
        assert_eq!(server.tasks()[0].status, expected);
    }

    // The progression, polled: the status only moves forward, ends FINISH, and whenever the task's age at the
    // mock is known to lie inside one state's window (the commit happened between `t0` and `t1`, the mock
    // answered between `sent` and `received`), it is that state.
    const WAITING: Duration = Duration::from_millis(300);
    const PROCESSING: Duration = Duration::from_millis(300);
    let server = MockServer::builder()
        .with_task_durations(WAITING, PROCESSING)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let t0 = Instant::now();
    let up = upload(&server, &client, procedure(), 1000).await?;
    let t1 = Instant::now();
    let task_id = up.task_id.clone().unwrap();
    let order = [
        TaskStatus::Waiting,
        TaskStatus::Processing,
        TaskStatus::Finish,
    ];
    let mut statuses: Vec<TaskStatus> = Vec::new();
    let final_detail = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let sent = Instant::now();
            let d = api.describe_task_detail(&task_id, None).await?;
            let received = Instant::now();
            let s = check(&d, &task_id);
            let (youngest, oldest) = (sent.saturating_duration_since(t1), received - t0);
            let known = if oldest < WAITING {
                Some(TaskStatus::Waiting)
            } else if youngest >= WAITING && oldest < WAITING + PROCESSING {
                Some(TaskStatus::Processing)
            } else if youngest >= WAITING + PROCESSING {
                Some(TaskStatus::Finish)
            } else {
                None
            };
            if let Some(k) = known {
                assert_eq!(s, k, "aged {youngest:?}..{oldest:?}");
            }
            if statuses.last() != Some(&s) {
                if let Some(last) = statuses.last() {
                    let rank = |t: &TaskStatus| order.iter().position(|o| o == t);
                    assert!(rank(last) < rank(&s), "{s} after {last}");
                }
                statuses.push(s.clone());
            }
            if s == TaskStatus::Finish {
                return Ok::<_, Error>(d);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await??;
    let pt = final_detail.procedure_task.unwrap();
    assert_eq!(pt.file_id.as_deref(), Some(up.file_id.as_str()));
    assert_eq!(pt.file_name.as_deref(), Some("clip"));
    assert_eq!(pt.file_url.as_deref(), Some(up.media_url.as_str()));
    assert_eq!(pt.err_code, Some(0));
    assert_eq!(pt.message.as_deref(), Some("SUCCESS"));
    assert_eq!(pt.session_context.as_deref(), Some("session-ctx"));
    assert_eq!(pt.media_process_result_set.as_deref(), Some(&[][..]));
    assert_eq!(pt.meta_data.and_then(|m| m.size), Some(1000));

    // The finished task's ProcedureStateChanged event is queued once, after its NewFileUpload.
    let events = pull(api, None).await?;
    let types: Vec<&str> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["NewFileUpload", "ProcedureStateChanged"]);
    let Event::ProcedureStateChanged(p) = events[1].event() else {
        panic!("{:?}", events[1])
    };
    assert_eq!(p.task_id.as_deref(), Some(task_id.as_str()));
    assert_eq!(p.status.as_deref(), Some("FINISH"));
    assert_eq!(p.file_id.as_deref(), Some(up.file_id.as_str()));
    assert_eq!(p.session_context.as_deref(), Some("session-ctx"));
    assert_eq!(events[1].procedure_task_id(), Some(task_id.as_str()));
    let handles: Vec<String> = events.iter().map(handle_of).collect();
    api.confirm_events(&handles, None).await?;
    api.describe_task_detail(&task_id, None).await?;
    assert!(pull(api, None).await?.is_empty(), "queued only once");

    // Unknown task; a task of another application.
    let e = api
        .describe_task_detail(
            "1250000000-procedurev2-00000000000000000000000000000000t0",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.TaskId"));
    let e = api
        .describe_task_detail(&task_id, Some(1500000001))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.TaskId"));
    Ok(())
}

fn quick_wait() -> WaitOptions {
    WaitOptions::new(Duration::from_secs(60))
        .with_intervals(Duration::from_millis(50), Duration::from_millis(200))
}

#[tokio::test]
async fn wait_for_task_and_find_procedure_task_id_against_the_mock() -> R {
    let server = MockServer::start().await?; // default durations: 200 ms + 500 ms
    let client = server
        .client_builder()
        .with_sub_app_id(1500000009)
        .build()?;
    let api = client.api();
    let up = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4")
            .with_procedure("P")
            .with_sub_app_id(1500000009),
        10,
    )
    .await?;
    let task_id = up.task_id.clone().unwrap();
    let found = api
        .find_procedure_task_id(&up.file_id, Some(1500000009), quick_wait())
        .await?;
    assert_eq!(found, task_id);
    let done = api
        .wait_for_task(&found, Some(1500000009), quick_wait())
        .await?;
    assert_eq!(done.task_status(), TaskStatus::Finish);
    assert_eq!(
        done.procedure_task.and_then(|p| p.file_id).as_deref(),
        Some(up.file_id.as_str())
    );
    assert_eq!(server.tasks()[0].status, TaskStatus::Finish);

    // No Procedure → no task: the search runs to its deadline.
    let plain = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4").with_sub_app_id(1500000009),
        10,
    )
    .await?;
    let e = api
        .find_procedure_task_id(
            &plain.file_id,
            Some(1500000009),
            WaitOptions::new(Duration::from_millis(300))
                .with_intervals(Duration::from_millis(50), Duration::from_millis(100)),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e:?}");
    Ok(())
}

#[tokio::test]
async fn event_poller_pulls_and_confirms() -> R {
    let server = MockServer::builder()
        .with_event_confirm_timeout(LEASE)
        .with_task_durations(Duration::from_millis(100), Duration::from_millis(100))
        .with_pull_wait(Duration::from_millis(300))
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let mut expected = Vec::new();
    for size in [10, 20] {
        let u = upload(
            &server,
            &client,
            ApplyUploadRequest::new("mp4").with_procedure("P"),
            size,
        )
        .await?;
        expected.push((u.file_id, u.task_id.unwrap()));
    }
    let poller = client
        .event_poller()
        .with_idle_pause(Duration::from_millis(50));

    // A declining handler leaves the events queued (they come back after the confirm timeout). Both uploads'
    // events are there; a task may already have finished on a slow machine.
    let stats = poller.poll_once(|_| async { false }).await?;
    assert!((2..=4).contains(&stats.received), "{stats:?}");
    assert_eq!(stats.declined, stats.received);
    assert_eq!(stats.confirmed, 0);
    // (A task finishing meanwhile adds an undelivered event.)
    let pending = server.events_pending();
    assert_eq!(
        pending.iter().filter(|e| e.deliveries == 1).count(),
        stats.received
    );
    assert!(pending.iter().all(|e| e.deliveries <= 1));

    // The run loop: both uploads (redelivered) and both finished tasks, each confirmed after the handler.
    let seen: Arc<Mutex<Vec<EventContent>>> = Arc::default();
    let done = Arc::new(tokio::sync::Notify::new());
    let run = poller.run(
        {
            let seen = seen.clone();
            let done = done.clone();
            move |ev: EventContent| {
                let mut s = seen.lock().unwrap();
                s.push(ev);
                let distinct: std::collections::HashSet<(String, String)> = s
                    .iter()
                    .map(|e| {
                        (
                            e.event_type().to_string(),
                            e.procedure_task_id().unwrap_or_default().to_string(),
                        )
                    })
                    .collect();
                if distinct.len() >= 4 {
                    done.notify_one();
                }
                async { true }
            }
        },
        {
            let done = done.clone();
            async move { done.notified().await }
        },
    );
    tokio::time::timeout(Duration::from_secs(60), run).await??;
    let seen = seen.lock().unwrap().clone();
    assert!(seen.len() >= 4, "{seen:?}");
    let mut uploads: Vec<(String, String)> = seen
        .iter()
        .filter(|e| e.event_type() == "NewFileUpload")
        .map(|e| {
            (
                e.file_id().unwrap().to_string(),
                e.procedure_task_id().unwrap().to_string(),
            )
        })
        .collect();
    uploads.sort();
    uploads.dedup();
    expected.sort();
    assert_eq!(uploads, expected);
    let mut finished: Vec<String> = seen
        .iter()
        .filter(|e| e.event_type() == "ProcedureStateChanged")
        .filter_map(|e| e.procedure_task_id().map(str::to_string))
        .collect();
    finished.sort();
    finished.dedup();
    let mut tasks: Vec<String> = expected.iter().map(|(_, t)| t.clone()).collect();
    tasks.sort();
    assert_eq!(finished, tasks);
    // The batch is confirmed before the loop looks at the shutdown signal again.
    assert!(server.events_pending().is_empty());
    assert_eq!(server.events_confirmed().len(), 4);
    assert!(server.count("ConfirmEvents") >= 1);
    Ok(())
}

/// An event comes back to the poller when its first handler declined it (after the lease), or accepted it too
/// slowly: VOD then refuses the lapsed handle, which the poller counts (not an error). The next poll confirms it.
#[tokio::test]
async fn event_poller_gets_declined_and_lapsed_events_again() -> R {
    for slow in [false, true] {
        let (server, client) = leased().await?;
        let up = upload(&server, &client, ApplyUploadRequest::new("mp4"), 10).await?;
        let poller = client.event_poller();
        let s = &server;
        let first = poller
            .poll_once(|_| async move {
                // Accept, but only once the lease has lapsed; or decline at once.
                slow && {
                    lease_lapsed(s).await;
                    true
                }
            })
            .await?;
        assert_eq!(
            (
                first.received,
                first.confirmed,
                first.declined,
                first.lapsed
            ),
            (1, 0, usize::from(!slow), usize::from(slow)),
            "slow {slow}"
        );
        lease_lapsed(&server).await;
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let g = got.clone();
        let again = poller
            .poll_once(move |ev| {
                g.lock()
                    .unwrap()
                    .push(ev.file_id().unwrap_or_default().to_string());
                async { true }
            })
            .await?;
        assert_eq!((again.received, again.confirmed, again.lapsed), (1, 1, 0));
        assert_eq!(*got.lock().unwrap(), [up.file_id]);
        assert!(server.events_pending().is_empty());
    }
    Ok(())
}

#[tokio::test]
async fn pull_waits_for_an_event_up_to_the_pull_wait() -> R {
    let server = MockServer::builder()
        .with_pull_wait(Duration::from_secs(20))
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api().clone();
    let pulling = tokio::spawn(async move { pull(&api, None).await });
    eventually("the long poll to arrive", Duration::from_secs(10), || {
        server.count("PullEvents") == 1
    })
    .await;
    let up = upload(&server, &client, ApplyUploadRequest::new("mp4"), 10).await?;
    let events = tokio::time::timeout(Duration::from_secs(30), pulling).await???;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].file_id(), Some(up.file_id.as_str()));

    // With nothing to deliver, the answer is an empty EventSet after the wait.
    let short = MockServer::builder()
        .with_pull_wait(Duration::from_millis(200))
        .start()
        .await?;
    let c = short.client_builder().build()?;
    assert!(pull(c.api(), None).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn hls_upload_event_size_counts_segments() -> R {
    let server = MockServer::builder()
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let applied = api
        .apply_upload(&ApplyUploadRequest::new("m3u8").with_procedure("P"))
        .await?;
    let cert = applied.temp_certificate.clone().unwrap();
    let cos = RawCos::new(
        &server.cos_endpoint(),
        &applied.storage_bucket,
        &cert.credential(),
    );
    let key = &applied.media_storage_path[1..];
    let dir = key.rsplit_once('/').unwrap().0;
    let playlist = b"#EXTM3U\n#EXTINF:1,\nseg0.ts\n#EXTINF:1,\nseg1.ts\n#EXT-X-ENDLIST\n";
    assert_eq!(cos.put(key, playlist).await.status, 200);
    assert_eq!(
        cos.put(&format!("{dir}/seg0.ts"), &[1; 100]).await.status,
        200
    );
    assert_eq!(
        cos.put(&format!("{dir}/seg1.ts"), &[2; 50]).await.status,
        200
    );
    let committed = api
        .commit_upload(&CommitUploadRequest::new(&applied.vod_session_key))
        .await?;
    let events = pull(api, None).await?;
    assert_eq!(events.len(), 1);
    let Event::NewFileUpload(u) = events[0].event() else {
        panic!("{:?}", events[0])
    };
    assert_eq!(u.file_id.as_deref(), Some(committed.file_id.as_str()));
    assert_eq!(
        u.meta_data.and_then(|m| m.size),
        Some(playlist.len() as i64 + 150)
    );
    assert_eq!(
        u.media_basic_info.and_then(|i| i.r#type).as_deref(),
        Some("m3u8")
    );
    Ok(())
}

/// A tiny callback receiver: collects POST bodies.
async fn callback_receiver() -> Result<(String, Arc<Mutex<Vec<String>>>), Box<dyn std::error::Error>>
{
    use axum::routing::post;
    let bodies: Arc<Mutex<Vec<String>>> = Arc::default();
    let b = bodies.clone();
    let app = axum::Router::new().route(
        "/vod/callback",
        post(move |body: String| {
            let b = b.clone();
            async move {
                b.lock().unwrap().push(body);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}/vod/callback"), bodies))
}

#[tokio::test]
async fn callback_posts_parse_with_parse_callback() -> R {
    let (url, bodies) = callback_receiver().await?;
    let server = MockServer::builder()
        .with_callback_url(url)
        .with_task_durations(Duration::from_millis(100), Duration::from_millis(100))
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let up = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4")
            .with_procedure("P")
            .with_source_context("cb"),
        10,
    )
    .await?;
    let task_id = up.task_id.clone().unwrap();
    // The task finishes by itself (timer) and its event is POSTed too.
    tokio::time::timeout(Duration::from_secs(60), async {
        while server.callback_deliveries().len() < 2 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await?;
    let bodies = bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2);
    let parsed: Vec<_> = bodies
        .iter()
        .map(|b| parse_callback(b.as_bytes()))
        .collect::<Result<_, _>>()?;
    assert_eq!(parsed[0].event_type(), "NewFileUpload");
    assert_eq!(parsed[0].file_id(), Some(up.file_id.as_str()));
    assert_eq!(parsed[0].procedure_task_id(), Some(task_id.as_str()));
    assert_eq!(parsed[1].event_type(), "ProcedureStateChanged");
    assert_eq!(parsed[1].procedure_task_id(), Some(task_id.as_str()));
    assert_eq!(parsed[1].file_id(), Some(up.file_id.as_str()));
    for b in &bodies {
        assert!(!b.contains("EventHandle"), "{b}");
    }
    for d in server.callback_deliveries() {
        assert_eq!(d.status, Some(200));
        assert_eq!(d.attempts, 1);
    }
    // The events are pullable as well.
    assert_eq!(pull(client.api(), None).await?.len(), 2);
    Ok(())
}

#[tokio::test]
async fn callback_failures_are_retried_and_recorded() -> R {
    // Nothing listens on this port while the test runs.
    let closed = ClosedPort::new();
    let server = MockServer::builder()
        .with_callback_url(closed.url("/cb"))
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    upload(&server, &client, ApplyUploadRequest::new("mp4"), 10).await?;
    tokio::time::timeout(Duration::from_secs(60), async {
        while server.callback_deliveries().is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await?;
    let d = &server.callback_deliveries()[0];
    assert_eq!(d.attempts, 3);
    assert_eq!(d.status, None);
    assert!(d.error.is_some());
    assert_eq!(d.event_type, "NewFileUpload");
    Ok(())
}

#[tokio::test]
async fn huge_durations_are_clamped_not_a_panic() -> R {
    let server = MockServer::builder()
        .with_task_durations(Duration::MAX, Duration::MAX)
        .with_event_confirm_timeout(Duration::MAX)
        .start()
        .await?;
    let client = server.client_builder().build()?;
    let api = client.api();
    let up = upload(
        &server,
        &client,
        ApplyUploadRequest::new("mp4").with_procedure("P"),
        10,
    )
    .await?;
    let events = pull(api, None).await?;
    assert_eq!(events.len(), 1);
    let d = api
        .describe_task_detail(up.task_id.as_deref().unwrap(), None)
        .await?;
    assert_eq!(d.task_status(), TaskStatus::Waiting);
    api.confirm_events(&[handle_of(&events[0])], None).await?;
    Ok(())
}

#[tokio::test]
async fn v1_signed_requests_work_for_events_and_tasks() -> R {
    let server = MockServer::builder()
        .with_task_durations(LONG, LONG)
        .start()
        .await?;
    let client = server
        .client_builder()
        .with_sign_method(tencent_vod::SignMethod::HmacSha256)
        .build()?;
    let api = client.api();
    let mut ups = Vec::new();
    for _ in 0..2 {
        ups.push(
            upload(
                &server,
                &client,
                ApplyUploadRequest::new("mp4")
                    .with_procedure("P")
                    .with_sub_app_id(1500000002),
                10,
            )
            .await?,
        );
    }
    let events = pull(api, Some(1500000002)).await?;
    assert_eq!(events.len(), 2);
    let handles: Vec<String> = events.iter().map(handle_of).collect();
    api.confirm_events(&handles, Some(1500000002)).await?;
    assert!(server.events_pending().is_empty());
    let page = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_sub_app_id(1500000002)
                .with_limit(1)
                .with_sort(SortBy::asc("CreateTime")),
        )
        .await?;
    assert_eq!(page.task_set.len(), 1);
    assert_eq!(
        page.task_set[0].file_id.as_deref(),
        Some(ups[0].file_id.as_str())
    );
    let next = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_sub_app_id(1500000002)
                .with_limit(1)
                .with_sort(SortBy::asc("CreateTime"))
                .with_scroll_token(page.next_token().expect("token")),
        )
        .await?;
    assert_eq!(
        next.task_set[0].file_id.as_deref(),
        Some(ups[1].file_id.as_str())
    );
    let d = api
        .describe_task_detail(ups[1].task_id.as_deref().unwrap(), Some(1500000002))
        .await?;
    assert_eq!(d.task_status(), TaskStatus::Waiting);
    assert_eq!(server.stats().rejected_signatures, 0);
    Ok(())
}
