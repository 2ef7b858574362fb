//! `tvod ingest` end to end: the built binary against an in-process mock (so the tests can count commits per
//! source and bytes received), killed and interrupted mid-way, re-run, with changed files, JSON and human output,
//! dry runs, exit codes, and journals that must be refused.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use support::*;
use tencent_vod::error::CosOperation;
use tencent_vod_mock::{Fault, FaultRule, MockServer, Target};

/// The 300-item tree: 280 small files in nested directories, 6 multipart-sized files (1 MiB parts), two HLS
/// folders (one with a master playlist), and 12 files listed in a CSV with covers and names.
struct Tree {
    root: tempfile::TempDir,
    /// Every item: (path, SHA-256 of the media object, bytes of all its objects).
    items: Vec<(PathBuf, String, u64)>,
    /// CSV items: media SHA-256 → cover SHA-256.
    covers: HashMap<String, String>,
    big: usize,
}

const PART: usize = MIB;
const CONCURRENCY: u64 = 4;

fn build_tree() -> Tree {
    let root = tempfile::tempdir().unwrap();
    let r = root.path();
    let mut items = Vec::new();
    let mut add = |p: PathBuf, body: &[u8], total: u64| items.push((p, sha256_hex(body), total));
    let exts = ["mp4", "mov", "mp3", "mkv", "flv"];
    for i in 0..280u64 {
        let len = 512 + (i as usize * 733) % 30_000;
        let body = data(len, i);
        let rel = format!(
            "tree/a{}/b{}/f{i:03}.{}",
            i % 7,
            i % 3,
            exts[i as usize % exts.len()]
        );
        let p = write(r, &rel, &body);
        add(p, &body, len as u64);
    }
    // Multipart files sort in the middle of the walk (tree/a3/big/…).
    let big = 6;
    for i in 0..big as u64 {
        let len = 3 * PART + 1000 * (i as usize + 1);
        let body = data(len, 1000 + i);
        let p = write(r, &format!("tree/a3/big/m{i}.mp4"), &body);
        add(p, &body, len as u64);
    }
    // HLS: a flat one and one with a master playlist; their segments are not items.
    let mut hls_total = 0u64;
    let segs: Vec<Vec<u8>> = (0..3).map(|i| data(4000 + i, 2000 + i as u64)).collect();
    for (i, s) in segs.iter().enumerate() {
        write(r, &format!("tree/hls1/seg{i}.ts"), s);
        hls_total += s.len() as u64;
    }
    let m1 = b"#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2,\nseg0.ts\n#EXTINF:2,\nseg1.ts\n#EXTINF:2,\nseg2.ts\n#EXT-X-ENDLIST\n";
    let p = write(r, "tree/hls1/index.m3u8", m1);
    add(p, m1, hls_total + m1.len() as u64);
    let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\nlow/prog.m3u8\n";
    let prog = b"#EXTM3U\n#EXTINF:2,\nl0.ts\n#EXTINF:2,\nl1.ts\n#EXT-X-ENDLIST\n";
    let l0 = data(3000, 3000);
    let l1 = data(3100, 3001);
    write(r, "tree/hls2/low/prog.m3u8", prog);
    write(r, "tree/hls2/low/l0.ts", &l0);
    write(r, "tree/hls2/low/l1.ts", &l1);
    let p = write(r, "tree/hls2/master.m3u8", master);
    add(
        p,
        master,
        (master.len() + prog.len() + l0.len() + l1.len()) as u64,
    );
    // CSV items with covers and names; outside the tree, so only the CSV names them.
    let mut csv = String::from("path,media_name,cover,class_id\n");
    let mut covers = HashMap::new();
    for i in 0..12u64 {
        let body = data(2000 + i as usize * 10, 4000 + i);
        let cover = data(700 + i as usize, 5000 + i);
        let p = write(r, &format!("listed/clip{i}.mp4"), &body);
        write(r, &format!("listed/covers/clip{i}.jpg"), &cover);
        csv.push_str(&format!(
            "clip{i}.mp4,Clip number {i},covers/clip{i}.jpg,{}\n",
            i % 3
        ));
        covers.insert(sha256_hex(&body), sha256_hex(&cover));
        add(p, &body, (body.len() + cover.len()) as u64);
    }
    write(r, "listed/list.csv", csv.as_bytes());
    assert_eq!(items.len(), 300);
    Tree {
        root,
        items,
        covers,
        big,
    }
}

impl Tree {
    fn ingest(&self, server: &MockServer, extra: &[&str]) -> std::process::Command {
        let mut c = tvod_at(server, "ingest");
        c.args(extra);
        c.current_dir(self.root.path())
            .args([
                "--jobs",
                "4",
                "--concurrency",
                "4",
                "--part-size",
                "1M",
                "--multipart-threshold",
                "1M",
            ])
            .args([
                "--journal",
                "state/journal.db",
                "--csv",
                "listed/list.csv",
                "tree",
            ]);
        c
    }

    fn journal(&self) -> PathBuf {
        self.root.path().join("state/journal.db")
    }
}

/// Checkpoints left in the journal that do not record a commit: uploads that were interrupted.
fn interrupted_checkpoints(journal: &Path) -> usize {
    journal_checkpoints(journal)
        .iter()
        .filter(|(_, v)| v["committed"] != true)
        .count()
}

fn assert_each_committed_once(server: &MockServer, tree: &Tree, extra: &[&str]) {
    let counts = commits_by_content(server);
    for (p, sha, _) in &tree.items {
        assert_eq!(
            counts.get(sha),
            Some(&1),
            "{} committed {:?} times",
            p.display(),
            counts.get(sha)
        );
    }
    for sha in extra {
        assert_eq!(counts.get(*sha), Some(&1), "extra content {sha}");
    }
    assert_eq!(server.commits().len(), tree.items.len() + extra.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_batch_resumes_and_commits_every_file_exactly_once() {
    let server = MockServer::start().await.unwrap();
    let tree = build_tree();
    // Slow parts down so the kill lands while multipart uploads are in flight.
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .fault(Fault::Delay(Duration::from_millis(60))),
    );

    // Run 1: SIGKILL once ≥ 100 commits are in and a multipart upload has parts on COS.
    let mut child = tree
        .ingest(&server, &["--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let at_kill = poll_until(
        "100 commits and multipart parts in flight",
        Duration::from_secs(120),
        || {
            let commits = server.commits().len();
            (commits >= 100
                && !server.multipart_uploads().is_empty()
                && server.count("UploadPart") >= 6)
                .then_some(commits)
        },
    )
    .await;
    signal(pid, "KILL");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(!status.success());
    let interrupted = interrupted_checkpoints(&tree.journal());
    assert!(interrupted >= 1, "no interrupted upload left a checkpoint");
    let commits_run1 = server.commits().len();
    server.clear_faults();

    // Run 2: the same command finishes the batch.
    let out = output(tree.ingest(&server, &["--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut lines = json_lines(&out);
    let summary = lines.pop().unwrap();
    assert_eq!(lines.len(), 300, "one line per item");
    let ok = lines.iter().filter(|l| l["Status"] == "ok").count();
    let skipped = lines.iter().filter(|l| l["Status"] == "skipped").count();
    let recovered = lines.iter().filter(|l| l["Recovered"].is_string()).count();
    assert_eq!(ok + skipped, 300, "{summary}");
    assert_eq!(summary["Summary"]["Ok"].as_u64(), Some(ok as u64));
    assert_eq!(summary["Summary"]["Skipped"].as_u64(), Some(skipped as u64));
    assert_eq!(summary["Summary"]["Failed"], 0);
    assert_each_committed_once(&server, &tree, &[]);

    // Covers from the CSV went with their media.
    let objects: HashMap<String, String> = server
        .objects()
        .into_iter()
        .map(|o| (o.key, o.sha256))
        .collect();
    let key_of = |u: &str| url::Url::parse(u).unwrap().path()[1..].to_string();
    let mut with_cover = 0;
    for c in server.commits() {
        let media = &objects[&key_of(&c.media_url)];
        if let Some(cover_sha) = tree.covers.get(media) {
            let cover = c.cover_url.as_deref().expect("a CSV item has a cover");
            assert_eq!(&objects[&key_of(cover)], cover_sha);
            with_cover += 1;
        }
    }
    assert_eq!(with_cover, 12);
    // Names and class ids from the CSV reached ApplyUpload.
    let applied = server.apply_requests();
    assert!(
        applied
            .iter()
            .any(|a| a["MediaName"] == "Clip number 7" && a["ClassId"] == 1),
        "{applied:?}"
    );

    // Bytes sent more than once: at most `concurrency` parts per interrupted upload.
    let needed: u64 = tree.items.iter().map(|(_, _, n)| n).sum();
    let received = server.bytes_received();
    let resent = received.saturating_sub(needed);
    let bound = interrupted as u64 * CONCURRENCY * PART as u64;
    eprintln!(
        "figures: killed after {at_kill} commits (run 1 total {commits_run1}); {interrupted} interrupted uploads; \
         run 2: {ok} ok ({recovered} recovered from checkpoints), {skipped} skipped; {needed} bytes needed, {received} received, {resent} re-sent \
         (bound {bound}); {} multipart files",
        tree.big
    );
    assert!(resent <= bound, "re-sent {resent} bytes > {bound}");
    assert!(
        journal_rows(&tree.journal())
            .iter()
            .all(|(_, s, f)| s == "committed" && f.is_some())
    );
    assert_eq!(
        journal_checkpoints(&tree.journal()).len(),
        0,
        "checkpoints of committed items are removed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(tree.journal())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o777,
            0o600,
            "the journal holds credentials: {mode:o}"
        );
    }

    // Run 3: nothing to do, and it says so; no request reaches VOD or COS.
    let before = server.stats().counts;
    let out = output(tree.ingest(&server, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing to upload: 300 item(s) already committed"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "{}", show(&out));
    assert_eq!(server.stats().counts, before);

    // Run 4: one file changed (new content), one only touched (same content): only the changed one goes.
    let (changed, old_sha, _) = tree.items[10].clone();
    let mut body = std::fs::read(&changed).unwrap();
    body.extend_from_slice(b"new ending");
    std::fs::write(&changed, &body).unwrap();
    let (touched, _, _) = &tree.items[11];
    let f = std::fs::File::options().write(true).open(touched).unwrap();
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    drop(f);
    let out = output(tree.ingest(&server, &["--json"])).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let lines = json_lines(&out);
    let uploaded: Vec<&serde_json::Value> = lines.iter().filter(|l| l["Status"] == "ok").collect();
    assert_eq!(uploaded.len(), 1, "{lines:?}");
    let shown = uploaded[0]["Path"].as_str().unwrap();
    assert_eq!(Path::new(shown).file_name(), changed.file_name(), "{shown}");
    assert_each_committed_once(&server, &tree, &[&sha256_hex(&body)]);
    assert_eq!(commits_by_content(&server)[&old_sha], 1);
    let rows = journal_rows(&tree.journal());
    assert_eq!(rows.len(), 301, "the changed file is a new item");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_lines_cover_every_item_failures_included() {
    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..4 {
        write(d, &format!("in/ok{i}.mp4"), &data(1000 + i, i as u64));
    }
    write(d, "in/empty.mp4", b"");
    write(d, "in/class.mp4", &data(500, 99));
    write(
        d,
        "list.csv",
        b"path,class_id\nin/class.mp4,77\nin/missing.mp4,\n",
    );
    // A non-retryable answer for the item with ClassId 77 is not enough to target it; fail the 5th ApplyUpload.
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload"))
            .nth(5)
            .fault(Fault::VodError("InvalidParameterValue.ClassId".into())),
    );
    let out = run_at(
        &server,
        d,
        "ingest",
        &[
            "--json",
            "--jobs",
            "1",
            "--journal",
            "j.db",
            "--csv",
            "list.csv",
            "in",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let mut lines = json_lines(&out);
    let summary = lines.pop().unwrap()["Summary"].clone();
    // 4 good files, the CSV's class.mp4, empty.mp4 (refused locally), missing.mp4 (refused locally).
    assert_eq!(lines.len(), 7, "{lines:#?}");
    let failed: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["Status"] == "failed").collect();
    assert_eq!(failed.len(), 3, "{lines:#?}");
    for f in &failed {
        for field in ["Path", "ErrorCode", "Message", "Retryable", "Attempts"] {
            assert!(f.get(field).is_some(), "{field} missing in {f}");
        }
    }
    let remote = failed
        .iter()
        .find(|f| f["ErrorCode"] == "InvalidParameterValue.ClassId")
        .expect("the VOD error");
    assert!(
        remote["RequestId"].as_str().is_some_and(|r| !r.is_empty()),
        "{remote}"
    );
    assert_eq!(remote["Retryable"], false);
    assert_eq!(remote["Attempts"], 1);
    assert!(
        failed
            .iter()
            .any(|f| f["Path"].as_str().unwrap().ends_with("empty.mp4")
                && f["ErrorCode"] == "InvalidInput")
    );
    assert!(
        failed
            .iter()
            .any(|f| f["Path"].as_str().unwrap().ends_with("missing.mp4"))
    );
    assert_eq!(lines.iter().filter(|l| l["Status"] == "ok").count(), 4);
    assert_eq!(
        (summary["Ok"].as_u64(), summary["Failed"].as_u64()),
        (Some(4), Some(3)),
        "{summary}"
    );
    for k in ["Bytes", "Seconds", "MBps", "Retries", "Skipped"] {
        assert!(summary[k].is_number(), "{k} in {summary}");
    }
    // The failed item is retried by the next run (the fault fired once) and the journal's report shows it all.
    let out = run_at(
        &server,
        d,
        "ingest",
        &[
            "--json",
            "--journal",
            "j.db",
            "--csv",
            "list.csv",
            "in",
            "--report",
            "report.csv",
        ],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "local refusals remain: {}",
        show(&out)
    );
    let lines = json_lines(&out);
    assert_eq!(
        lines.iter().filter(|l| l["Status"] == "ok").count(),
        1,
        "{lines:#?}"
    );
    let report = std::fs::read_to_string(d.join("report.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(report.as_bytes());
    let headers = rows.headers().unwrap().clone();
    assert_eq!(&headers[0], "Path");
    let recs: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(recs.len(), 5);
    assert!(
        recs.iter()
            .all(|r| &r[2] == "committed" && !r[3].is_empty()),
        "{report}"
    );
}

/// A crash between CommitUpload and the journal write: the checkpoint is what the next run finds. Kept after the
/// commit with its answer: answered from it. Complete, commit refused: committed now. Complete, committed by a
/// run whose answer was lost: found by the SDK's reconciliation. Each case: exactly one commit, nothing
/// uploaded again, and the FileId recorded. Every home of checkpoints: the journal (the default),
/// `--checkpoint-dir`, and the files an older tvod kept beside a version-1 journal (moved into it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_commit_and_journal_is_recovered_without_a_second_upload() {
    use tencent_vod::UploadRequest;
    use tencent_vod::upload::{CheckpointStore, JsonFileCheckpointStore, MemoryCheckpointStore};
    use tencent_vod::vod::CommitUploadRequest;

    let server = MockServer::start().await.unwrap();
    let client = server.client_builder().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("kept", Some("checkpoint")),
        ("unsent", None),
        ("lost", Some("reconciled")),
    ];
    for (h, home) in ["journal", "files", "legacy"].into_iter().enumerate() {
        let in_journal = home == "journal";
        let journal = format!("{home}.db");
        // `files`: the --checkpoint-dir given; `legacy`: where an older tvod kept them, beside the journal.
        let files_dir = if home == "files" {
            "cps".to_string()
        } else {
            format!("{journal}.checkpoints")
        };
        let files = JsonFileCheckpointStore::new(d.join(&files_dir));
        // What the crashed run's upload wrote through: the file store itself, or (journal) a store whose
        // checkpoints the test then puts into the journal, where that run kept them.
        let memory = MemoryCheckpointStore::new();
        let mut flags = vec!["--journal", journal.as_str()];
        if home == "files" {
            flags.extend(["--checkpoint-dir", files_dir.as_str()]);
        } else {
            // A journal made by an earlier run (for `legacy`, turned back into a version-1 journal, whose
            // checkpoints were files beside it).
            let seed = write(
                d,
                &format!("seed-{home}/first.mp4"),
                &data(300, 99 + h as u64),
            );
            let out = output({
                let mut c = tvod_at(&server, "ingest");
                c.current_dir(d).args(&flags).arg(&seed);
                c
            })
            .await;
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            if home == "legacy" {
                downgrade_journal_to_v1(&d.join(&journal));
            }
        }
        let stored = |key: &str| -> Option<serde_json::Value> {
            let in_table = || {
                journal_checkpoints(&d.join(&journal))
                    .into_iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v)
            };
            let in_file = || {
                std::fs::read(files.path_for(key))
                    .ok()
                    .map(|b| serde_json::from_slice(&b).unwrap())
            };
            match home {
                "journal" => in_table(),
                "files" => in_file(),
                // Before the re-run the journal has no table; after it, the file is gone and the row too.
                _ if !d.join(&journal).exists() || journal_version(&d.join(&journal)) == 1 => {
                    in_file()
                }
                _ => in_file().or_else(in_table),
            }
        };
        for (n, (case, how)) in cases.into_iter().enumerate() {
            let case_dir = format!("{home}-{case}");
            let media = write(
                d,
                &format!("{case_dir}/clip.mp4"),
                &data(5000, 100 + n as u64 + 10 * h as u64),
            );
            // The checkpoint key the ingest will use for this file.
            let out = output({
                let mut c = tvod_at(&server, "ingest");
                c.current_dir(d)
                    .args(["--dry-run", "--json"])
                    .args(&flags)
                    .arg(&media);
                c
            })
            .await;
            assert_eq!(out.status.code(), Some(0), "{}", show(&out));
            let key = json_lines(&out)[0]["CheckpointKey"]
                .as_str()
                .unwrap()
                .to_string();
            let req = UploadRequest::from_path(&media).with_checkpoint_key(key.clone());
            let req = if in_journal {
                req.with_checkpoint(memory.clone())
            } else {
                req.with_checkpoint(files.clone())
            };
            let expect_file_id = match case {
                // The upload committed and recorded its outcome; the journal never heard of it.
                "kept" => {
                    client
                        .upload(req.with_keep_committed_checkpoint(true))
                        .await
                        .unwrap()
                        .file_id
                }
                // Every object is on COS but the commit never reached VOD.
                _ => {
                    server.add_fault(
                        FaultRule::new(Target::Vod("CommitUpload"))
                            .nth(1)
                            .fault(Fault::VodError("InvalidParameter".into())),
                    );
                    client.upload(req).await.unwrap_err();
                    server.clear_faults();
                    let cp = if in_journal {
                        memory.load(&key).await.unwrap().unwrap()
                    } else {
                        files.load(&key).await.unwrap().unwrap()
                    };
                    assert!(cp.objects.iter().all(|o| o.completed.is_some()) && !cp.committed);
                    if case == "lost" {
                        // The commit reached VOD; only its answer was lost.
                        client
                            .api()
                            .commit_upload(&CommitUploadRequest::new(&cp.apply.vod_session_key))
                            .await
                            .unwrap()
                            .file_id
                    } else {
                        String::new()
                    }
                }
            };
            if in_journal {
                put_journal_checkpoint(&d.join(&journal), &key, &memory.get(&key).unwrap());
            }
            assert!(
                stored(&key).is_some(),
                "{home} {case}: the crashed run's checkpoint"
            );
            let commits_before = server.commits().len();
            let puts_before = server.count("PutObject");
            let out = output({
                let mut c = tvod_at(&server, "ingest");
                c.current_dir(d).arg("--json").args(&flags).arg(&media);
                c
            })
            .await;
            assert_eq!(out.status.code(), Some(0), "{case}: {}", show(&out));
            if home == "legacy" {
                assert_eq!(journal_version(&d.join(&journal)), 2, "upgraded by the run");
                assert!(
                    !files.dir().exists(),
                    "the legacy checkpoint files were moved into the journal"
                );
                // The next case is a crash of an older tvod again.
                downgrade_journal_to_v1(&d.join(&journal));
            }
            let line = &json_lines(&out)[0];
            assert_eq!(line["Status"], "ok", "{line}");
            assert_eq!(
                line["Recovered"].as_str(),
                how,
                "{home} {case}: {line} {}",
                show(&out)
            );
            if !expect_file_id.is_empty() {
                assert_eq!(line["FileId"], expect_file_id.as_str(), "{case}");
            }
            assert_eq!(
                server.count("PutObject"),
                puts_before,
                "{case}: nothing uploaded again"
            );
            let commits_now = server.commits().len();
            assert_eq!(
                commits_now - commits_before,
                usize::from(case == "unsent"),
                "{case}"
            );
            assert_eq!(
                commits_by_content(&server).get(&sha256_hex(&std::fs::read(&media).unwrap())),
                Some(&1),
                "{case}"
            );
            assert!(
                stored(&key).is_none(),
                "{home} {case}: checkpoint removed once journaled"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_sends_nothing_and_checks_everything_locally() {
    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in/a.mp4", &data(100, 1));
    write(
        d,
        "in/hls/index.m3u8",
        b"#EXTM3U\n#EXTINF:1,\ns.ts\n#EXTINF:1,\ngone.ts\n",
    );
    write(d, "in/hls/s.ts", b"x");
    let out = run_at(
        &server,
        d,
        "ingest",
        &["--dry-run", "--json", "--journal", "j.db", "in"],
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "a refused manifest: {}",
        show(&out)
    );
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l["Action"] == "upload" && l["Path"].as_str().unwrap().ends_with("a.mp4"))
    );
    let bad = lines.iter().find(|l| l["Action"] == "invalid").unwrap();
    assert!(bad["Error"].as_str().unwrap().contains("gone.ts"), "{bad}");
    assert_eq!(lines.last().unwrap()["Summary"]["DryRun"], true);
    assert!(
        server.stats().counts.is_empty(),
        "requests: {:?}",
        server.stats().counts
    );
    assert!(!d.join("j.db").exists(), "a dry run writes no journal");
    std::fs::remove_dir_all(d.join("in/hls")).unwrap();
    let out = run_at(
        &server,
        d,
        "ingest",
        &["--dry-run", "--journal", "j.db", "in"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("upload\tin/a.mp4"),
        "{}",
        show(&out)
    );
    assert!(server.stats().counts.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_errors_exit_2_before_any_request() {
    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "a.mp4", &data(10, 1));
    write(d, "bad.csv", b"path,colour\na.mp4,red\n");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec![], "nothing to ingest"),
        (vec!["missing-dir"], "missing-dir: no such file"),
        (vec!["--csv", "bad.csv"], "unknown column \"colour\""),
        (vec!["--csv", "nope.csv"], "nope.csv"),
        (vec!["--include", "a[", "."], "--include \"a[\""),
        (vec!["--jobs", "0", "."], "--jobs"),
        (vec!["--api-rate", "0", "."], "--api-rate"),
        (vec!["--part-size", "8Q", "."], "unknown unit"),
        (vec!["--part-size", "64K", "a.mp4"], "part_size"),
        (vec!["--report", "r.csv"], "no such file"),
    ];
    for (args, says) in cases {
        let out = output({
            let mut c = tvod_at(&server, "ingest");
            c.current_dir(d).args(["--journal", "j.db"]).args(&args);
            c
        })
        .await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            stderr.lines().filter(|l| l.starts_with("error")).count() == 1,
            "one error line: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // No region: uploads cannot work, one clear error instead of one per file.
    let out = output({
        let mut c = tvod_at(&server, "ingest");
        c.current_dir(d)
            .env_remove("TENCENTCLOUD_REGION")
            .args(["--journal", "j3.db", "a.mp4"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no region"),
        "{}",
        show(&out)
    );
    assert!(!d.join("j3.db").exists());
    // Missing credentials are a configuration error too.
    let out = output({
        let mut c = tvod_at(&server, "ingest");
        c.current_dir(d)
            .env_remove("TENCENTCLOUD_SECRET_KEY")
            .args(["--journal", "j2.db", "a.mp4"]);
        c
    })
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(
        server.stats().counts.is_empty(),
        "{:?}",
        server.stats().counts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_corrupt_and_locked_journals_are_refused_untouched() {
    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write(d, "in/a.mp4", &data(1000, 1));
    // A real journal, then a copy with a damaged page.
    let out = run_at(&server, d, "ingest", &["--journal", "good.db", "in"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let mut corrupt = std::fs::read(d.join("good.db")).unwrap();
    assert!(corrupt.len() >= 8192, "{}", corrupt.len());
    for b in &mut corrupt[4096..4096 + 200] {
        *b = 0xA5;
    }
    std::fs::write(d.join("corrupt.db"), &corrupt).unwrap();
    {
        let c = rusqlite::Connection::open(d.join("other.db")).unwrap();
        c.execute_batch("CREATE TABLE photos (id INTEGER); INSERT INTO photos VALUES (1);")
            .unwrap();
    }
    write(d, "notes.txt", &[b'x'; 500]);
    for (name, says) in [
        ("corrupt.db", "is corrupt"),
        ("other.db", "another application"),
        ("notes.txt", "not an SQLite database"),
    ] {
        let path = d.join(name);
        let before = std::fs::read(&path).unwrap();
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        let out = run_at(&server, d, "ingest", &["--journal", name, "in"]).await;
        assert_eq!(out.status.code(), Some(2), "{name}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(says) && stderr.contains(name) && stderr.contains("not modified"),
            "{name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(std::fs::read(&path).unwrap(), before, "{name} was modified");
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime);
        for suffix in ["-wal", "-shm"] {
            assert!(
                !d.join(format!("{name}{suffix}")).exists(),
                "{name}{suffix} created"
            );
        }
    }
    assert_eq!(server.commits().len(), 1);

    // Locked: a second ingest while the first runs. The first is slowed by the mock until it is seen working
    // (it holds the journal by then), then stopped (SIGSTOP) so it still holds it however long the second one
    // takes to start on a loaded machine, and resumed afterwards.
    let before = server.count("ApplyUpload");
    for i in 0..3 {
        write(d, &format!("slow/s{i}.mp4"), &data(3000, 10 + i));
    }
    server.add_fault(
        FaultRule::new(Target::Vod("ApplyUpload")).fault(Fault::Delay(Duration::from_secs(1))),
    );
    let mut first = {
        let mut c = tvod_at(&server, "ingest");
        c.current_dir(d)
            .args(["--journal", "busy.db", "--jobs", "1", "slow"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c.spawn().unwrap()
    };
    poll_until("the first ingest to start", Duration::from_secs(30), || {
        (server.count("ApplyUpload") > before).then_some(())
    })
    .await;
    signal(first.id(), "STOP");
    let out = run_at(&server, d, "ingest", &["--journal", "busy.db", "slow"]).await;
    signal(first.id(), "CONT");
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("busy.db is locked by another running `tvod ingest`"),
        "{stderr}"
    );
    let status = tokio::task::spawn_blocking(move || first.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success());
    server.clear_faults();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_exits_130_with_a_consistent_journal_and_a_rerun_completes() {
    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut shas = Vec::new();
    for i in 0..12 {
        let body = data(
            if i % 4 == 0 { 2 * MIB + 10 } else { 2000 + i },
            50 + i as u64,
        );
        shas.push(sha256_hex(&body));
        write(d, &format!("in/v{i:02}.mp4"), &body);
    }
    server.add_fault(
        FaultRule::new(Target::Cos(CosOperation::UploadPart))
            .fault(Fault::Delay(Duration::from_millis(100))),
    );
    let ingest = || {
        let mut c = tvod_at(&server, "ingest");
        c.current_dir(d).args([
            "--journal",
            "j.db",
            "--jobs",
            "3",
            "--part-size",
            "1M",
            "--multipart-threshold",
            "1M",
            "in",
        ]);
        c
    };
    let child = ingest()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    poll_until(
        "a multipart upload in flight",
        Duration::from_secs(60),
        || (server.count("UploadPart") >= 1 && server.commits().len() >= 2).then_some(()),
    )
    .await;
    signal(child.id(), "INT");
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("interrupted"), "{stderr}");
    // Consistent: every item is committed (with a FileId) or pending; none is left mid-state.
    let rows = journal_rows(&d.join("j.db"));
    assert_eq!(rows.len(), 12);
    let committed = rows
        .iter()
        .filter(|(_, s, f)| s == "committed" && f.is_some())
        .count();
    assert!(
        rows.iter()
            .all(|(_, s, f)| (s == "committed") == f.is_some()
                && (s == "committed" || s == "pending")),
        "{rows:?}"
    );
    assert!(
        committed < 12,
        "the interrupt came too late to test anything"
    );
    assert_eq!(committed, server.commits().len(), "journal and VOD agree");
    server.clear_faults();
    let out = output(ingest()).await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let counts = commits_by_content(&server);
    assert!(shas.iter().all(|s| counts.get(s) == Some(&1)), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_is_honest_without_a_terminal_and_bars_finish_in_one() {
    let server = MockServer::start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..5 {
        write(d, &format!("in/p{i}.mp4"), &data(20_000 + i, 70 + i as u64));
    }
    // No terminal, --progress: plain lines on stderr, results on stdout.
    let out = run_at(
        &server,
        d,
        "ingest",
        &["--journal", "a.db", "--progress", "in"],
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("progress: "))
        .collect();
    assert!(
        progress
            .last()
            .is_some_and(|l| l.contains("5/5 files") && l.contains("(100%)")),
        "{stderr}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
    // Without --progress and without a terminal: no progress at all.
    for i in 0..5 {
        write(
            d,
            &format!("in2/p{i}.mp4"),
            &data(20_000 + i, 80 + i as u64),
        );
    }
    let out = run_at(&server, d, "ingest", &["--journal", "a.db", "in2"]).await;
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("progress"),
        "{}",
        show(&out)
    );

    // In a pseudo-terminal (`script`): live bars, result lines whole, and the overall bar finished.
    for i in 0..5 {
        write(
            d,
            &format!("in3/p{i}.mp4"),
            &data(200_000 + i, 90 + i as u64),
        );
    }
    let c = server.credential();
    let inner = format!("{TVOD} ingest --journal a.db --jobs 2 in3",);
    let out = output({
        let mut cmd = std::process::Command::new("script");
        cmd.current_dir(d)
            .args(["-qfec", &inner, "/dev/null"])
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("TERM", "xterm")
            .env("COLUMNS", "120")
            .env("TENCENTCLOUD_SECRET_ID", c.secret_id())
            .env("TENCENTCLOUD_SECRET_KEY", c.secret_key())
            .env("TENCENTCLOUD_REGION", "ap-guangzhou")
            .env("TENCENTCLOUD_VOD_ENDPOINT", server.vod_endpoint())
            .env("TENCENTCLOUD_COS_ENDPOINT", server.cos_endpoint());
        cmd
    })
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        raw.contains('\u{1b}'),
        "no terminal drawing at all: {raw:?}"
    );
    let text = strip_ansi(&raw);
    let segments: Vec<&str> = text
        .split(['\n', '\r'])
        .map(str::trim_end)
        .filter(|s| !s.is_empty())
        .collect();
    let results: Vec<&&str> = segments.iter().filter(|s| s.starts_with("in3/p")).collect();
    assert_eq!(
        results.len(),
        5,
        "result lines whole and alone: {segments:#?}"
    );
    for r in &results {
        let cols: Vec<&str> = r.split('\t').collect();
        assert_eq!(cols.len(), 3, "{r:?}");
        assert!(cols[2].starts_with("http://"), "{r:?}");
    }
    let last_bar = segments
        .iter()
        .rev()
        .find(|s| s.contains(" files"))
        .unwrap_or_else(|| panic!("no overall bar: {segments:#?}"));
    assert!(last_bar.contains("5/5 files"), "{last_bar:?}");
    assert!(last_bar.contains("[====="), "a full bar: {last_bar:?}");
    assert!(!last_bar.contains("> "), "{last_bar:?}");
    assert!(
        segments.last().unwrap().starts_with("ingest: 5 uploaded"),
        "the summary on a line of its own: {segments:#?}"
    );
}

/// Removes CSI escape sequences (`ESC [ … final`) and other two-byte escapes.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if it.peek() == Some(&'[') {
            it.next();
            for n in it.by_ref() {
                if ('@'..='~').contains(&n) {
                    break;
                }
            }
        } else {
            it.next();
        }
    }
    out
}
