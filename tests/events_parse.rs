//! Event models and callback parsing: doc fixtures, unknown types and members, legacy v2 bodies, nulls,
//! malformed bodies.

use serde_json::{Value, json};
use tencent_vod::Error;
use tencent_vod::events::{
    Callback, DescribeTaskDetailResponse, DescribeTasksResponse, Event, EventContent,
    PullEventsResponse, TaskStatus, parse_callback,
};

/// `response_fixtures["vod-event-newfileupload-http-callback-v3"].body` of /work/shared/vectors/doc-vectors.json
/// (intl doc 266/33950, null members omitted).
const FIXTURE_CALLBACK_V3: &str = r#"{
 "EventType": "NewFileUpload",
 "FileUploadEvent": {
  "FileId": "5285890784273533167",
  "MediaBasicInfo": {
   "Name": "Animal World", "Description": "", "CreateTime": "2019-01-09T16:36:22Z",
   "UpdateTime": "2019-01-09T16:36:24Z", "ExpireTime": "9999-12-31T23:59:59Z", "ClassId": 0,
   "ClassName": "Other", "ClassPath": "Other", "CoverUrl": "", "Type": "mp4",
   "MediaUrl": "http://125676836723.vod2.myqcloud.com/xxx/xxx/q1BORBPQH1IA.mp4", "TagSet": [],
   "StorageRegion": "ap-guangzhou-2", "SourceInfo": {"SourceType": "Upload", "SourceContext": ""},
   "Vid": "5285890784273533167"
  },
  "ProcedureTaskId": ""
 }
}"#;

/// `response_fixtures["vod-pullevents-newfileupload"].body` of doc-vectors.json.
const FIXTURE_PULL_EVENTS: &str = r#"{"Response": {"EventSet": [{
  "EventHandle": "EventHandle.N", "EventType": "NewFileUpload",
  "FileUploadEvent": {
   "FileId": "5285890784273533167",
   "MediaBasicInfo": {"Name": "Animal World", "Type": "mp4", "StorageRegion": "ap-guangzhou-2",
     "SourceInfo": {"SourceType": "Upload", "SourceContext": ""}},
   "ProcedureTaskId": "1256768367-procedurev2-49dfbaea6786dd78ecf70d6256c7ec20t0",
   "ReviewAudioVideoTaskId": "", "MetaData": null},
  "ProcedureStateChangeEvent": null}],
 "RequestId": "335bdaa3-db0e-46ce-9946-51941d9cb0f5"}}"#;

const TASK_ID: &str = "1256768367-procedurev2-49dfbaea6786dd78ecf70d6256c7ec20t0";

#[test]
fn doc_fixture_v3_callback() {
    let cb = parse_callback(FIXTURE_CALLBACK_V3.as_bytes()).unwrap();
    let Callback::V3(content) = &cb else {
        panic!("expected v3, got {cb:?}")
    };
    assert_eq!(content.event_handle, None);
    assert_eq!(cb.event_type(), "NewFileUpload");
    assert_eq!(cb.file_id(), Some("5285890784273533167"));
    // "" means no Procedure task.
    assert_eq!(cb.procedure_task_id(), None);
    let Event::NewFileUpload(u) = cb.event() else {
        panic!("expected NewFileUpload")
    };
    assert_eq!(u.procedure_task_id.as_deref(), Some(""));
    let b = u.media_basic_info.as_ref().unwrap();
    assert_eq!(b.name.as_deref(), Some("Animal World"));
    assert_eq!(b.class_id, Some(0));
    assert_eq!(b.r#type.as_deref(), Some("mp4"));
    assert_eq!(b.tag_set.as_deref(), Some(&[][..]));
    assert_eq!(b.expire_time.as_deref(), Some("9999-12-31T23:59:59Z"));
    assert_eq!(
        b.media_url.as_deref(),
        Some("http://125676836723.vod2.myqcloud.com/xxx/xxx/q1BORBPQH1IA.mp4")
    );
    let src = b.source_info.as_ref().unwrap();
    assert_eq!(src.source_type.as_deref(), Some("Upload"));
    assert_eq!(src.source_context.as_deref(), Some(""));
    assert_eq!(b.vid.as_deref(), Some("5285890784273533167"));
    assert!(u.meta_data.is_none());
    assert!(
        b.extra.is_empty(),
        "every doc member is modelled: {:?}",
        b.extra
    );
}

#[test]
fn doc_fixture_pull_events_response() {
    let v: Value = serde_json::from_str(FIXTURE_PULL_EVENTS).unwrap();
    let resp: PullEventsResponse = serde_json::from_value(v["Response"].clone()).unwrap();
    assert_eq!(
        resp.request_id.as_deref(),
        Some("335bdaa3-db0e-46ce-9946-51941d9cb0f5")
    );
    assert_eq!(resp.event_set.len(), 1);
    let ev = &resp.event_set[0];
    assert_eq!(ev.event_handle.as_deref(), Some("EventHandle.N"));
    assert!(ev.procedure_state_change_event.is_none());
    assert_eq!(ev.file_id(), Some("5285890784273533167"));
    assert_eq!(ev.procedure_task_id(), Some(TASK_ID));
    let Event::NewFileUpload(u) = ev.event() else {
        panic!("expected NewFileUpload")
    };
    assert_eq!(u.review_audio_video_task_id.as_deref(), Some(""));
    assert!(u.meta_data.is_none());
}

#[test]
fn unknown_event_type_and_members_are_kept() {
    let body = json!({
        "EventType": "EditMediaComplete",
        "EditMediaCompleteEvent": {"FileIdSet": ["1"], "FileId": "1"},
        "FileUploadEvent": null,
        "SomethingNew": {"a": [1, 2]},
    });
    let cb = parse_callback(body.to_string().as_bytes()).unwrap();
    let Callback::V3(c) = &cb else { panic!() };
    assert_eq!(c.extra["SomethingNew"], json!({"a": [1, 2]}));
    assert_eq!(cb.file_id(), Some("1"), "found in an unknown *Event member");
    match cb.event() {
        Event::Other { event_type, raw } => {
            assert_eq!(event_type, "EditMediaComplete");
            assert_eq!(raw["EditMediaCompleteEvent"]["FileIdSet"], json!(["1"]));
            assert_eq!(raw["SomethingNew"]["a"][1], 2);
        }
        other => panic!("expected Other, got {other:?}"),
    }

    // Unknown members inside known bodies are kept too, and survive a round trip.
    let body = json!({
        "EventType": "NewFileUpload",
        "FileUploadEvent": {
            "FileId": "9", "NewMember": true,
            "MediaBasicInfo": {"Name": "n", "FutureField": {"x": 1}},
            "MetaData": {"Size": 10, "Duration": 1.5, "HdrType": "hdr10"}
        }
    });
    let c: EventContent = serde_json::from_value(body.clone()).unwrap();
    let u = c.file_upload_event.as_ref().unwrap();
    assert_eq!(u.extra["NewMember"], json!(true));
    assert_eq!(
        u.media_basic_info.as_ref().unwrap().extra["FutureField"],
        json!({"x": 1})
    );
    let md = u.meta_data.as_ref().unwrap();
    assert_eq!((md.size, md.duration), (Some(10), Some(1.5)));
    assert_eq!(md.extra["HdrType"], json!("hdr10"));
    assert_eq!(serde_json::to_value(&c).unwrap(), body);
}

#[test]
fn procedure_state_changed_sample() {
    // Shaped after the ProcedureStateChanged example of the PullEvents / event-notification docs.
    let body = json!({
        "EventType": "ProcedureStateChanged",
        "FileUploadEvent": null,
        "ProcedureStateChangeEvent": {
            "TaskId": TASK_ID,
            "Status": "FINISH",
            "ErrCode": 0,
            "Message": "",
            "FileId": "5285890784273533167",
            "FileName": "Animal World",
            "FileUrl": "http://125676836723.vod2.myqcloud.com/xxx/xxx/q1BORBPQH1IA.mp4",
            "MetaData": {"Size": 1431982, "Container": "mov,mp4,m4a,3gp,3g2,mj2", "Bitrate": 2004356,
                "Height": 720, "Width": 1280, "Duration": 5.7, "Rotate": 0,
                "VideoStreamSet": [{"Bitrate": 1870000, "Height": 720, "Width": 1280, "Codec": "h264", "Fps": 25}],
                "AudioStreamSet": [{"Bitrate": 134356, "SamplingRate": 44100, "Codec": "aac"}],
                "VideoDuration": 5.7, "AudioDuration": 5.7},
            "AiContentReviewResultSet": [],
            "AiAnalysisResultSet": [],
            "AiRecognitionResultSet": [],
            "MediaProcessResultSet": [{
                "Type": "Transcode",
                "TranscodeTask": {"Status": "SUCCESS", "ErrCode": 0, "Message": "SUCCESS",
                    "Input": {"Definition": 100010}, "Output": {"Url": "http://x/f0.100010.mp4"}}
            }],
            "TasksPriority": 0,
            "TasksNotifyMode": "Finish",
            "SessionContext": "order-42",
            "SessionId": "",
            "Operator": "",
            "OperationType": "Task"
        }
    });
    let cb = parse_callback(body.to_string().as_bytes()).unwrap();
    assert_eq!(cb.procedure_task_id(), Some(TASK_ID));
    assert_eq!(cb.file_id(), Some("5285890784273533167"));
    let Event::ProcedureStateChanged(p) = cb.event() else {
        panic!("expected ProcedureStateChanged")
    };
    assert_eq!(p.status.as_deref(), Some("FINISH"));
    assert_eq!(p.err_code, Some(0));
    assert_eq!(p.session_context.as_deref(), Some("order-42"));
    assert_eq!(p.tasks_notify_mode.as_deref(), Some("Finish"));
    let results = p.media_process_result_set.as_ref().unwrap();
    assert_eq!(results[0]["TranscodeTask"]["Input"]["Definition"], 100010);
    let md = p.meta_data.as_ref().unwrap();
    assert_eq!(md.video_stream_set.as_ref().unwrap()[0]["Codec"], "h264");
    assert_eq!(
        (md.width, md.height, md.rotate),
        (Some(1280), Some(720), Some(0))
    );
    assert!(p.extra.is_empty(), "{:?}", p.extra);
}

#[test]
fn nulls_everywhere_and_odd_types() {
    let body = json!({
        "EventType": "NewFileUpload",
        "EventHandle": null,
        "FileUploadEvent": {
            "FileId": 5285890784273533167u64,
            "MediaBasicInfo": {
                "Name": null, "Description": null, "CreateTime": null, "UpdateTime": null, "ExpireTime": null,
                "ClassId": "7", "ClassName": null, "ClassPath": null, "CoverUrl": null, "Type": null,
                "MediaUrl": null, "TagSet": null, "StorageRegion": null, "SourceInfo": null, "Vid": null,
                "Category": null, "Status": null, "StorageClass": null, "StoragePath": null
            },
            "ProcedureTaskId": null,
            "ReviewAudioVideoTaskId": null,
            "MetaData": {"Size": "not a number", "Duration": "3.25", "VideoStreamSet": null}
        },
        "ProcedureStateChangeEvent": null
    });
    let cb = parse_callback(body.to_string().as_bytes()).unwrap();
    assert_eq!(cb.file_id(), Some("5285890784273533167"), "number coerced");
    assert_eq!(cb.procedure_task_id(), None);
    let Event::NewFileUpload(u) = cb.event() else {
        panic!()
    };
    let b = u.media_basic_info.as_ref().unwrap();
    assert_eq!(b.class_id, Some(7), "numeric string coerced");
    assert!(b.name.is_none() && b.tag_set.is_none() && b.source_info.is_none());
    let md = u.meta_data.as_ref().unwrap();
    assert_eq!(md.size, None, "unusable value is not fatal…");
    assert_eq!(md.extra["Size"], json!("not a number"), "…and not lost");
    assert_eq!(md.duration, Some(3.25));

    // A body member of the wrong type is dropped; the event is still readable.
    let cb = parse_callback(br#"{"EventType":"NewFileUpload","FileUploadEvent":"oops"}"#).unwrap();
    match cb.event() {
        Event::Other { event_type, raw } => {
            assert_eq!(event_type, "NewFileUpload");
            assert_eq!(raw["FileUploadEvent"], "oops");
        }
        other => panic!("{other:?}"),
    }

    // Empty object: no type at all.
    let cb = parse_callback(b"{}").unwrap();
    assert_eq!(cb.event_type(), "");
    assert!(matches!(cb.event(), Event::Other { .. }));
}

#[test]
fn legacy_v2_new_file_upload() {
    let body = br#"{
        "version": "4.0",
        "eventType": "NewFileUpload",
        "data": {
            "status": 0, "message": "", "vodTaskId": "",
            "fileId": "14508071098244931831",
            "fileUrl": "http://125xx.vod2.myqcloud.com/xxx/xxx/f0.mp4",
            "continued": 0, "author": "", "sourceType": "ClientUpload", "sourceContext": "ctx",
            "streamId": "", "procedureTaskId": "125xx-procedurev2-abc", "transcodeTaskId": "",
            "coverUrl": "", "metaData": {"size": 1024, "duration": 5}
        }
    }"#;
    let cb = parse_callback(body).unwrap();
    let Callback::Legacy(l) = &cb else {
        panic!("expected legacy, got {cb:?}")
    };
    assert_eq!(l.version.as_deref(), Some("4.0"));
    let d = l.data.as_ref().unwrap();
    assert_eq!(d.status.as_deref(), Some("0"));
    assert_eq!(d.extra["author"], json!(""));
    assert_eq!(d.meta_data.as_ref().unwrap()["size"], 1024);
    assert_eq!(cb.event_type(), "NewFileUpload");
    assert_eq!(cb.file_id(), Some("14508071098244931831"));
    assert_eq!(cb.procedure_task_id(), Some("125xx-procedurev2-abc"));
    let Event::NewFileUpload(u) = cb.event() else {
        panic!("legacy upload maps to the v3 view")
    };
    assert_eq!(u.file_id.as_deref(), Some("14508071098244931831"));
    let b = u.media_basic_info.as_ref().unwrap();
    assert_eq!(
        b.media_url.as_deref(),
        Some("http://125xx.vod2.myqcloud.com/xxx/xxx/f0.mp4")
    );
    assert_eq!(
        b.source_info.as_ref().unwrap().source_context.as_deref(),
        Some("ctx")
    );
}

#[test]
fn legacy_v2_procedure_and_other() {
    let body = json!({"version": "4.0", "eventType": "ProcedureStateChanged",
        "data": {"vodTaskId": "125xx-procedurev2-def", "status": "FINISH", "errCode": 0, "message": "",
                 "fileId": "145", "processTaskList": [{"taskType": "Transcode"}]}});
    let cb = parse_callback(body.to_string().as_bytes()).unwrap();
    assert!(matches!(cb, Callback::Legacy(_)));
    assert_eq!(cb.procedure_task_id(), Some("125xx-procedurev2-def"));
    let Event::ProcedureStateChanged(p) = cb.event() else {
        panic!()
    };
    assert_eq!(p.task_id.as_deref(), Some("125xx-procedurev2-def"));
    assert_eq!(p.status.as_deref(), Some("FINISH"));
    assert_eq!(p.file_id.as_deref(), Some("145"));

    let body =
        json!({"version": "4.0", "eventType": "FileDeleted", "data": {"fileId": ["1", "2"]}});
    let cb = parse_callback(body.to_string().as_bytes()).unwrap();
    assert_eq!(cb.file_id(), None, "a list is not a FileId");
    match cb.event() {
        Event::Other { event_type, raw } => {
            assert_eq!(event_type, "FileDeleted");
            assert_eq!(raw["data"]["fileId"], json!(["1", "2"]), "kept verbatim");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_bodies_are_typed_errors() {
    let cases: &[&[u8]] = &[
        b"",
        b"   ",
        b"{\"EventType\":\"NewFileUpload\",\"FileUploadEvent\":{\"FileId\":\"52",
        b"<html>502</html>",
        b"[1,2]",
        b"\"NewFileUpload\"",
        b"null",
        &[0xff, 0xfe, 0x00],
    ];
    for body in cases {
        let e = parse_callback(body).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidInput { field, .. } if field == "callback body"),
            "{body:?}: {e:?}"
        );
        assert!(!e.is_retryable());
    }
    let e = parse_callback(b"{\"a\":").unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    // A UTF-8 BOM is tolerated.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(FIXTURE_CALLBACK_V3.as_bytes());
    assert_eq!(
        parse_callback(&bom).unwrap().file_id(),
        Some("5285890784273533167")
    );
}

#[test]
fn task_responses_parse_leniently() {
    let r: DescribeTasksResponse = serde_json::from_value(json!({
        "TaskSet": [
            {"TaskId": "t1", "Status": "PROCESSING", "FileId": "f", "TaskType": "Procedure",
             "CreateTime": "2024-01-01T00:00:00Z", "BeginProcessTime": "", "FinishTime": "",
             "SessionId": "", "SessionContext": "", "NewThing": 1},
            "garbage-row"
        ],
        "ScrollToken": "",
        "RequestId": "r"
    }))
    .unwrap();
    assert_eq!(r.task_set.len(), 1, "unreadable rows skipped");
    assert_eq!(r.task_set[0].task_status(), TaskStatus::Processing);
    assert_eq!(r.task_set[0].extra["NewThing"], 1);
    assert_eq!(r.next_token(), None);

    let r: DescribeTasksResponse = serde_json::from_value(json!({"TaskSet": null})).unwrap();
    assert!(r.task_set.is_empty());

    let d: DescribeTaskDetailResponse = serde_json::from_value(json!({
        "TaskType": "Procedure", "Status": "ABORTED", "CreateTime": "2024-01-01T00:00:00Z",
        "BeginProcessTime": null, "FinishTime": null,
        "ProcedureTask": {"TaskId": TASK_ID, "Status": "FINISH", "FileId": "f", "MediaProcessResultSet": null},
        "EditMediaTask": null,
        "RequestId": "r2"
    }))
    .unwrap();
    assert_eq!(d.task_status(), TaskStatus::Aborted);
    assert!(d.task_status().is_terminal());
    assert_eq!(
        d.procedure_task.as_ref().unwrap().task_id.as_deref(),
        Some(TASK_ID)
    );
    assert_eq!(d.extra["EditMediaTask"], Value::Null);
    assert_eq!(TaskStatus::parse("finish"), TaskStatus::Finish);
    assert_eq!(
        TaskStatus::parse("SOMETHING"),
        TaskStatus::Other("SOMETHING".into())
    );
}
