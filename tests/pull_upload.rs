//! `PullUpload` end to end on the mock: the mock fetches from a loopback source, the task is followed through
//! `DescribeTaskDetail` and the `PullComplete` event, and each source fault is a typed error.

mod support;

use std::time::Duration;
use support::app::{Source, gen_crc64};
use support::closed_port::ClosedPort;
use support::eventually;
use tencent_vod::appserver::{PullUploadRequest, PullUploadTask};
use tencent_vod::error::{PullErrorKind, PullFailure};
use tencent_vod::events::{
    DescribeTasksRequest, DescribeTasksResponse, Event, PullEventsRequest, SortBy, TaskStatus,
    WaitOptions,
};
use tencent_vod::{Error, VodClient};
use tencent_vod_mock::MockServer;

type R = Result<(), Box<dyn std::error::Error>>;

fn quick() -> WaitOptions {
    WaitOptions::new(Duration::from_secs(60))
        .with_intervals(Duration::from_millis(20), Duration::from_millis(100))
}

async fn setup() -> (MockServer, VodClient, Source) {
    let server = MockServer::builder()
        .with_task_durations(Duration::from_millis(50), Duration::from_millis(50))
        .start()
        .await
        .unwrap();
    let client = server.client_builder().build().unwrap();
    (server, client, Source::start().await)
}

fn failure(e: Error) -> PullFailure {
    match e {
        Error::PullFailed(f) => *f,
        other => panic!("expected PullFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn pull_with_every_field_ends_with_file_id_urls_and_a_finished_task() -> R {
    let (server, client, source) = setup().await;
    let size = 3 * 1024 * 1024 + 17;
    let req = PullUploadRequest::new(source.media("show.mp4", size))
        .with_media_type("mp4")
        .with_media_name("Show, episode 1")
        .with_cover_url(source.media("cover.jpg", 2048))
        .with_procedure("LongVideoPreset")
        .with_expire_time("2030-01-01T00:00:00Z")
        .with_storage_region("ap-chongqing")
        .with_class_id(7)
        .with_tasks_priority(-3)
        .with_session_context("session ctx")
        .with_session_id("ep1-pull")
        .with_ext_info("reserved")
        .with_source_context("source ctx")
        .with_sub_app_id(1500000001);
    let task = client.pull_upload(req).await?;
    assert!(task.task_id.contains("-Pull-"), "{}", task.task_id);
    let out = client
        .api()
        .wait_for_pull(&task.task_id, Some(1500000001), quick())
        .await?;
    assert_eq!(out.task_id, task.task_id);
    assert!(!out.file_id.is_empty());
    let media_url = out.media_url.clone().unwrap();
    assert!(media_url.ends_with(".mp4"), "{media_url}");
    assert!(out.cover_url.as_deref().unwrap().ends_with("cover.jpg"));
    assert!(
        out.procedure_task_id
            .as_deref()
            .unwrap()
            .contains("-procedurev2-")
    );
    assert_eq!(out.session_context.as_deref(), Some("session ctx"));
    assert_eq!(out.session_id.as_deref(), Some("ep1-pull"));
    let info = out.media_basic_info.as_ref().unwrap();
    assert_eq!(info.name.as_deref(), Some("Show, episode 1"));
    assert_eq!(info.storage_region.as_deref(), Some("ap-chongqing"));
    assert_eq!(info.class_id, Some(7));
    assert_eq!(info.expire_time.as_deref(), Some("2030-01-01T00:00:00Z"));
    // The object holds exactly the source's bytes.
    let key = media_url.splitn(4, '/').nth(3).unwrap();
    let obj = server
        .object("vodapchongqing-1250000000", key)
        .expect("stored object");
    assert_eq!((obj.size, obj.crc64), (size, gen_crc64(size)));
    // Every member went over the wire.
    let sent = &server.pull_requests()[0];
    for name in [
        "MediaUrl",
        "MediaType",
        "MediaName",
        "CoverUrl",
        "Procedure",
        "ExpireTime",
        "StorageRegion",
        "ClassId",
        "TasksPriority",
        "SessionContext",
        "SessionId",
        "ExtInfo",
        "SourceContext",
        "SubAppId",
    ] {
        assert!(sent.get(name).is_some(), "{name} missing from {sent}");
    }
    // The detail says FINISH/100 %, the task list agrees, and the PullComplete event carries the same result.
    let detail = client
        .api()
        .describe_task_detail(&task.task_id, Some(1500000001))
        .await?;
    assert_eq!(detail.task_status(), TaskStatus::Finish);
    assert_eq!(detail.task_type.as_deref(), Some("PullUpload"));
    let t = detail.pull_upload_task.unwrap();
    assert_eq!((t.progress, t.err_code), (Some(100), Some(0)));
    assert_eq!(server.pull_tasks()[0].status, TaskStatus::Finish);
    let events = client
        .api()
        .pull_events(&PullEventsRequest::new().with_sub_app_id(1500000001))
        .await?;
    let pulled: Vec<PullUploadTask> = events
        .iter()
        .filter_map(|e| match e.event() {
            Event::PullComplete(t) => Some(*t),
            _ => None,
        })
        .collect();
    assert_eq!(pulled.len(), 1);
    assert_eq!(pulled[0].clone().into_outcome()?.file_id, out.file_id);
    // A repeated SessionId is refused by VOD (the mock) with its error code.
    let again = client
        .pull_upload(
            PullUploadRequest::new(source.media("show.mp4", 10))
                .with_session_id("ep1-pull")
                .with_sub_app_id(1500000001),
        )
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("InvalidParameterValue.SessionId"));
    Ok(())
}

#[tokio::test]
async fn source_faults_end_the_task_with_typed_errors() -> R {
    let (server, client, source) = setup().await;
    server.set_pull_timeout(Duration::from_millis(300));
    let closed = ClosedPort::new();
    let cases = [
        ("unreachable", closed.url("/a.mp4"), "cannot connect"),
        ("404", format!("{}/missing/a.mp4", source.base), "HTTP 404"),
        (
            "stalled",
            format!("{}/hang/a.mp4", source.base),
            "timed out",
        ),
    ];
    for (what, url, message) in cases {
        let task = client.pull_upload(PullUploadRequest::new(url)).await?;
        let f = failure(
            client
                .wait_for_pull(&task.task_id, quick())
                .await
                .unwrap_err(),
        );
        assert_eq!(f.task_id, task.task_id, "{what}");
        assert_eq!(f.err_code, 60000, "{what}");
        assert_eq!(f.kind(), PullErrorKind::SourceFile, "{what}");
        assert!(f.message.contains(message), "{what}: {}", f.message);
    }
    // A cover that cannot be fetched fails the pull too, and nothing is left behind.
    let task = client
        .pull_upload(
            PullUploadRequest::new(source.media("a.mp4", 100))
                .with_cover_url(format!("{}/missing/c.png", source.base)),
        )
        .await?;
    let f = failure(
        client
            .wait_for_pull(&task.task_id, quick())
            .await
            .unwrap_err(),
    );
    assert!(f.message.contains("cover"), "{}", f.message);
    assert!(server.objects().is_empty(), "{:?}", server.objects());
    // The failures were announced as PullComplete events with the same code.
    let events = client.api().pull_events(&PullEventsRequest::new()).await?;
    let codes: Vec<i64> = events
        .iter()
        .filter_map(|e| match e.event() {
            Event::PullComplete(t) => t.err_code,
            _ => None,
        })
        .collect();
    assert_eq!(codes, [60000; 4]);
    Ok(())
}

#[tokio::test]
async fn bad_requests_are_refused_before_or_by_the_service() -> R {
    let (server, client, source) = setup().await;
    // Checked by the SDK: nothing is sent.
    let cases = [
        (PullUploadRequest::new(""), "MediaUrl"),
        (PullUploadRequest::new("ftp://127.0.0.1/a.mp4"), "MediaUrl"),
        (
            PullUploadRequest::new(source.media("a.mpd", 1)),
            "MediaType",
        ),
        (
            PullUploadRequest::new(format!("{}/noext", source.base)),
            "MediaType",
        ),
        (
            PullUploadRequest::new(source.media("a.exe", 1)),
            "MediaType",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1))
                .with_cover_url(source.media("c.bmp", 1)),
            "CoverUrl",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_tasks_priority(11),
            "TasksPriority",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_session_id("s".repeat(51)),
            "SessionId",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_session_context("s".repeat(1001)),
            "SessionContext",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_source_context("s".repeat(251)),
            "SourceContext",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_expire_time("tomorrow"),
            "ExpireTime",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_storage_region("Mars 1"),
            "StorageRegion",
        ),
        (
            PullUploadRequest::new(source.media("a.mp4", 1)).with_media_storage_path("a/b.mp4"),
            "MediaStoragePath",
        ),
    ];
    for (req, field) in cases {
        match client.pull_upload(req).await {
            Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(server.count("PullUpload"), 0);
    // Checked by the mock: it only pulls from loopback hosts.
    let e = client
        .pull_upload(PullUploadRequest::new("http://198.51.100.7/a.mp4"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.MediaUrl"));
    let e = client
        .pull_upload(
            PullUploadRequest::new(source.media("a.mp4", 1))
                .with_cover_url("https://example.com/c.jpg"),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.CoverUrl"));
    // Waiting on a task that is not a pull, or unknown, is an error; a short deadline is DeadlineExceeded.
    let e = client.wait_for_pull("nope", quick()).await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidParameterValue.TaskId"));
    server.set_pull_timeout(Duration::from_secs(30));
    let task = client
        .pull_upload(PullUploadRequest::new(format!(
            "{}/hang/a.mp4",
            source.base
        )))
        .await?;
    let e = client
        .wait_for_pull(
            &task.task_id,
            WaitOptions::new(Duration::from_millis(200))
                .with_intervals(Duration::from_millis(20), Duration::from_millis(50)),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::DeadlineExceeded(_)), "{e:?}");
    Ok(())
}

/// `DescribeTasks` lists pull tasks (`TaskType` `PullUpload`) beside the Procedure tasks, in one creation order,
/// through every filter; the Procedure lookup by FileId still finds the Procedure task, not the pull.
#[tokio::test]
async fn describe_tasks_lists_pull_tasks_beside_procedure_tasks() -> R {
    let (server, client, source) = setup().await;
    server.set_pull_timeout(Duration::from_secs(30));
    let ok = client
        .pull_upload_and_wait(
            PullUploadRequest::new(source.media("a.mp4", 4096))
                .with_procedure("LongVideoPreset")
                .with_session_id("pull-a")
                .with_session_context("ctx a"),
            quick(),
        )
        .await?;
    let failed = client
        .pull_upload(PullUploadRequest::new(format!(
            "{}/missing/b.mp4",
            source.base
        )))
        .await?;
    failure(
        client
            .wait_for_pull(&failed.task_id, quick())
            .await
            .unwrap_err(),
    );
    let hanging = client
        .pull_upload(PullUploadRequest::new(format!(
            "{}/hang/c.mp4",
            source.base
        )))
        .await?;
    // The hanging pull is WAITING until the mock's fetch task starts, then PROCESSING for good: wait for that, or
    // the listings below could catch it on either side of the change.
    eventually("the hanging pull to start", Duration::from_secs(60), || {
        server
            .pull_tasks()
            .iter()
            .any(|t| t.task_id == hanging.task_id && t.status == TaskStatus::Processing)
    })
    .await;
    let procedure_id = ok.procedure_task_id.clone().unwrap();
    // The Procedure task runs on the mock's clock; wait for it rather than assume it finished with the pull.
    client
        .api()
        .wait_for_task(&procedure_id, None, quick())
        .await?;
    let rows = |resp: DescribeTasksResponse| -> Vec<(String, String, String, String)> {
        resp.task_set
            .into_iter()
            .map(|t| {
                (
                    t.task_id.unwrap_or_default(),
                    t.task_type.unwrap_or_default(),
                    t.status.unwrap_or_default(),
                    t.file_id.unwrap_or_default(),
                )
            })
            .collect()
    };
    let row = |id: &str, ty: &str, status: &str, file_id: &str| {
        (
            id.to_string(),
            ty.to_string(),
            status.to_string(),
            file_id.to_string(),
        )
    };
    let api = client.api();
    // Newest first by default: the hanging pull (no FileId yet), the failed pull, the Procedure, the first pull.
    let all = rows(api.describe_tasks(&DescribeTasksRequest::new()).await?);
    assert_eq!(
        all,
        [
            row(&hanging.task_id, "PullUpload", "PROCESSING", ""),
            row(&failed.task_id, "PullUpload", "FINISH", ""),
            row(&procedure_id, "Procedure", "FINISH", &ok.file_id),
            row(&ok.task_id, "PullUpload", "FINISH", &ok.file_id),
        ]
    );
    // The same rows oldest first, paged two at a time.
    let first = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_sort(SortBy::asc("CreateTime"))
                .with_limit(2),
        )
        .await?;
    let token = first.next_token().unwrap().to_string();
    let second = api
        .describe_tasks(
            &DescribeTasksRequest::new()
                .with_sort(SortBy::asc("CreateTime"))
                .with_limit(2)
                .with_scroll_token(token),
        )
        .await?;
    assert!(second.next_token().is_none());
    let mut asc = rows(first);
    asc.extend(rows(second));
    asc.reverse();
    assert_eq!(asc, all);
    // Filters: FileId (the pull and the Procedure it started), Status, SessionId/Context carried on the row.
    let by_file = api
        .describe_tasks(&DescribeTasksRequest::new().with_file_id(&ok.file_id))
        .await?;
    assert_eq!(rows(by_file.clone()), all[2..].to_vec());
    let pull_row = by_file.task_set.last().unwrap();
    assert_eq!(pull_row.session_id.as_deref(), Some("pull-a"));
    assert_eq!(pull_row.session_context.as_deref(), Some("ctx a"));
    assert!(
        pull_row
            .finish_time
            .as_deref()
            .is_some_and(|t| !t.is_empty())
    );
    let finished = api
        .describe_tasks(&DescribeTasksRequest::new().with_status("FINISH"))
        .await?;
    assert_eq!(rows(finished), all[1..].to_vec());
    let running = api
        .describe_tasks(&DescribeTasksRequest::new().with_status("PROCESSING"))
        .await?;
    assert_eq!(rows(running), all[..1].to_vec());
    // Another SubAppId sees none of them.
    let other = api
        .describe_tasks(&DescribeTasksRequest::new().with_sub_app_id(1500000009))
        .await?;
    assert!(other.task_set.is_empty(), "{other:?}");
    // Looking up the Procedure task of the pulled file skips the PullUpload row of the same FileId.
    let found = api
        .find_procedure_task_id(&ok.file_id, None, quick())
        .await?;
    assert_eq!(found, procedure_id);
    Ok(())
}

#[test]
fn debug_hides_url_credentials_and_query() {
    let req = PullUploadRequest::new("https://user:pw@origin.example.com/a.mp4?sign=SECRETSIG&t=1")
        .with_cover_url("https://origin.example.com/c.jpg?token=SECRETTOKEN");
    let text = format!("{req:?}");
    assert!(
        !text.contains("SECRETSIG") && !text.contains("SECRETTOKEN") && !text.contains("pw@"),
        "{text}"
    );
    assert!(text.contains("origin.example.com/a.mp4"), "{text}");
}
