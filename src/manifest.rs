//! Pure HLS (`.m3u8`) and DASH (`.mpd`) manifest parsing: which files does a manifest reference?
//!
//! Used by the upload orchestration (to check every segment exists locally before any request), by the mock's
//! `ParseStreamingManifest` and by its `CommitUpload` (to know which segments must have been
//! uploaded next to the manifest). Both functions are total: any input (even binary garbage) gives a list, never a
//! panic. The result keeps the order of first appearance and has no duplicates.
//!
//! - [`parse_m3u8`]: every URI line, and the `URI="…"` attribute of `EXT-X-KEY`, `EXT-X-SESSION-KEY`, `EXT-X-MAP`,
//!   `EXT-X-MEDIA`, `EXT-X-I-FRAME-STREAM-INF`, `EXT-X-PART`, `EXT-X-PRELOAD-HINT` tags (`data:` URIs and
//!   `skd://` style key URIs are ignored).
//! - [`parse_mpd`]: `BaseURL` text (a `BaseURL` ending in `/` is a directory prefix for what is nested below it),
//!   `SegmentURL@media`, `Initialization@sourceURL`, `RepresentationIndex@sourceURL`, and `SegmentTemplate`
//!   `@initialization` / `@media` when the template lists files: without `$Number$`/`$Time$`, or with a
//!   `SegmentTimeline` to expand them (`$RepresentationID$` and `$Bandwidth$` are substituted).

use quick_xml::events::{BytesStart, Event};

/// A cap on the number of segments expanded from one `SegmentTemplate` (defends against `r="1000000000"`).
const MAX_TEMPLATE_SEGMENTS: usize = 100_000;

fn push_unique(out: &mut Vec<String>, seen: &mut std::collections::HashSet<String>, s: String) {
    if !s.is_empty() && seen.insert(s.clone()) {
        out.push(s);
    }
}

/// Tags whose `URI` attribute names a file.
const URI_TAGS: &[&str] = &[
    "EXT-X-KEY",
    "EXT-X-SESSION-KEY",
    "EXT-X-MAP",
    "EXT-X-MEDIA",
    "EXT-X-I-FRAME-STREAM-INF",
    "EXT-X-PART",
    "EXT-X-PRELOAD-HINT",
];

/// Whether a key/segment URI can name an uploaded file (not `data:` / `skd:` style opaque URIs).
fn is_file_uri(uri: &str) -> bool {
    let lower = uri.to_ascii_lowercase();
    !(lower.starts_with("data:") || lower.starts_with("skd:"))
}

/// Splits an HLS attribute list (`A=1,B="x,y",C=z`) into (name, value) with quotes removed.
fn attributes(list: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if rest.is_empty() {
            break;
        }
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_uppercase();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            match q.find('"') {
                Some(end) => (q[..end].to_string(), &q[end + 1..]),
                None => (q.to_string(), ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (after[..end].trim().to_string(), &after[end..]),
                None => (after.trim().to_string(), ""),
            }
        };
        out.push((name, value));
        rest = next;
    }
    out
}

/// Lists the files an HLS playlist references, in order of first appearance, without duplicates.
///
/// ```
/// use tencent_vod::__private::manifest::parse_m3u8;
/// let m = "#EXTM3U\n#EXT-X-KEY:METHOD=AES-128,URI=\"k.key\"\n#EXTINF:9.0,\nfirst.ts\n#EXTINF:9.0,\nsecond.ts\n";
/// assert_eq!(parse_m3u8(m), vec!["k.key", "first.ts", "second.ts"]);
/// ```
pub fn parse_m3u8(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for raw in content.lines() {
        let line = raw.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        if let Some(tag) = line.strip_prefix('#') {
            let (name, attrs) = tag.split_once(':').unwrap_or((tag, ""));
            if URI_TAGS.iter().any(|t| t.eq_ignore_ascii_case(name.trim())) {
                for (k, v) in attributes(attrs) {
                    if k == "URI" && is_file_uri(&v) {
                        push_unique(&mut out, &mut seen, v.trim().to_string());
                    }
                }
            }
            continue;
        }
        push_unique(&mut out, &mut seen, line.to_string());
    }
    out
}

/// Expands a DASH template string: `$RepresentationID$`, `$Bandwidth$`, `$Number[%0Nd]$`, `$Time[%0Nd]$`, `$$`.
/// Returns `None` when it contains an identifier that needs a value we do not have.
fn expand_template(
    template: &str,
    rep_id: &str,
    bandwidth: &str,
    number: Option<u64>,
    time: Option<u64>,
) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(start) = rest.find('$') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = after.find('$')?;
        let ident = &after[..end];
        rest = &after[end + 1..];
        if ident.is_empty() {
            out.push('$');
            continue;
        }
        let (name, fmt) = match ident.find('%') {
            Some(p) => (&ident[..p], Some(&ident[p..])),
            None => (ident, None),
        };
        let value: String = match name {
            "RepresentationID" => rep_id.to_string(),
            "Bandwidth" => bandwidth.to_string(),
            "Number" => number?.to_string(),
            "Time" => time?.to_string(),
            _ => return None,
        };
        let width = fmt
            .and_then(|f| f.strip_prefix("%0"))
            .and_then(|f| f.strip_suffix('d'))
            .and_then(|w| w.parse::<usize>().ok())
            .unwrap_or(0)
            .min(32);
        if value.len() < width && value.bytes().all(|b| b.is_ascii_digit()) {
            for _ in value.len()..width {
                out.push('0');
            }
        }
        out.push_str(&value);
    }
    out.push_str(rest);
    Some(out)
}

#[derive(Default, Clone)]
struct TemplateState {
    initialization: Option<String>,
    media: Option<String>,
    start_number: u64,
    /// `(t, d, r)` entries of the SegmentTimeline.
    timeline: Vec<(Option<u64>, u64, i64)>,
    base: String,
}

#[derive(Default)]
struct MpdState {
    out: Vec<String>,
    seen: std::collections::HashSet<String>,
    /// Element names from the root.
    stack: Vec<String>,
    /// Base-URL prefix per stack depth.
    bases: Vec<String>,
    /// Representation attributes per depth (id, bandwidth) — the innermost applies.
    rep: Vec<(String, String)>,
    /// Templates open per depth.
    templates: Vec<Option<TemplateState>>,
    /// Collecting `BaseURL` text.
    base_text: Option<String>,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        if a.key.local_name().as_ref() == name {
            a.unescape_value().ok().map(|v| v.trim().to_string())
        } else {
            None
        }
    })
}

impl MpdState {
    fn base(&self) -> String {
        self.bases.last().cloned().unwrap_or_default()
    }

    fn add(&mut self, path: &str) {
        let path = path.trim();
        if path.is_empty() {
            return;
        }
        let full = if path.contains("://") || path.starts_with('/') {
            path.to_string()
        } else {
            format!("{}{path}", self.base())
        };
        push_unique(&mut self.out, &mut self.seen, full);
    }

    fn current_rep(&self) -> (String, String) {
        self.rep.last().cloned().unwrap_or_default()
    }

    /// The innermost open SegmentTemplate (inherited from AdaptationSet/Period level).
    fn inherited_template(&self) -> Option<TemplateState> {
        self.templates.iter().rev().flatten().next().cloned()
    }

    fn expand(&mut self, t: &TemplateState) {
        let (rep_id, bw) = self.current_rep();
        let saved = self.bases.last().cloned();
        if let Some(last) = self.bases.last_mut() {
            // Templates resolve against the base in effect where the template was declared or the current one,
            // whichever is deeper (the current one includes the declaring one).
            if last.is_empty() {
                *last = t.base.clone();
            }
        }
        if let Some(init) = &t.initialization
            && let Some(s) = expand_template(init, &rep_id, &bw, None, None)
        {
            self.add(&s);
        }
        if let Some(media) = &t.media {
            let needs_number = media.contains("$Number");
            let needs_time = media.contains("$Time");
            if !needs_number && !needs_time {
                if let Some(s) = expand_template(media, &rep_id, &bw, None, None) {
                    self.add(&s);
                }
            } else if !t.timeline.is_empty() {
                let mut number = t.start_number;
                let mut time = 0u64;
                let mut count = 0usize;
                'outer: for &(tt, d, r) in &t.timeline {
                    if let Some(tt) = tt {
                        time = tt;
                    }
                    let repeats = if r < 0 { 0 } else { r as u64 };
                    for _ in 0..=repeats {
                        if count >= MAX_TEMPLATE_SEGMENTS {
                            break 'outer;
                        }
                        if let Some(s) =
                            expand_template(media, &rep_id, &bw, Some(number), Some(time))
                        {
                            self.add(&s);
                        }
                        number = number.saturating_add(1);
                        time = time.saturating_add(d);
                        count += 1;
                    }
                }
            }
        }
        if let (Some(last), Some(saved)) = (self.bases.last_mut(), saved) {
            *last = saved;
        }
    }
}

/// Lists the files a DASH MPD references, in order of first appearance, without duplicates.
///
/// ```
/// use tencent_vod::__private::manifest::parse_mpd;
/// let m = r#"<MPD><Period><AdaptationSet><Representation id="v1" bandwidth="800000">
///   <SegmentList><Initialization sourceURL="v1/init.mp4"/><SegmentURL media="v1/1.m4s"/></SegmentList>
/// </Representation></AdaptationSet></Period></MPD>"#;
/// assert_eq!(parse_mpd(m), vec!["v1/init.mp4", "v1/1.m4s"]);
/// ```
pub fn parse_mpd(content: &str) -> Vec<String> {
    let mut reader = quick_xml::Reader::from_str(content);
    let mut st = MpdState::default();
    while let Ok(ev) = reader.read_event() {
        match ev {
            Event::Eof => break,
            Event::Start(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                open(&mut st, &name, &e);
                st.stack.push(name);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                open(&mut st, &name, &e);
                st.stack.push(name.clone());
                close(&mut st, &name);
                st.stack.pop();
            }
            Event::Text(t) => {
                if let Some(buf) = st.base_text.as_mut()
                    && let Ok(s) = t.decode()
                {
                    buf.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(buf) = st.base_text.as_mut() {
                    buf.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                if let Some(buf) = st.base_text.as_mut()
                    && let Ok(name) = r.decode()
                {
                    let c = match name.as_ref() {
                        "amp" => "&",
                        "lt" => "<",
                        "gt" => ">",
                        "quot" => "\"",
                        "apos" => "'",
                        _ => "",
                    };
                    buf.push_str(c);
                }
            }
            Event::End(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                close(&mut st, &name);
                st.stack.pop();
            }
            _ => {}
        }
    }
    st.out
}

fn open(st: &mut MpdState, name: &str, e: &BytesStart<'_>) {
    // Every element gets a base (inherited), a representation context and a template slot.
    let base = st.base();
    st.bases.push(base);
    let rep = if name == "Representation" {
        let (_, parent_bw) = st.current_rep();
        (
            attr(e, b"id").unwrap_or_default(),
            attr(e, b"bandwidth").unwrap_or(parent_bw),
        )
    } else {
        st.current_rep()
    };
    st.rep.push(rep);
    let mut template = None;
    match name {
        "BaseURL" => st.base_text = Some(String::new()),
        "SegmentURL" => {
            if let Some(m) = attr(e, b"media") {
                st.add(&m);
            }
        }
        "Initialization" | "RepresentationIndex" => {
            if let Some(s) = attr(e, b"sourceURL") {
                st.add(&s);
            }
        }
        "SegmentTemplate" => {
            let mut t = st.inherited_template().unwrap_or_default();
            if let Some(v) = attr(e, b"initialization") {
                t.initialization = Some(v);
            }
            if let Some(v) = attr(e, b"media") {
                t.media = Some(v);
            }
            t.start_number = attr(e, b"startNumber")
                .and_then(|v| v.parse().ok())
                .unwrap_or(if t.start_number == 0 {
                    1
                } else {
                    t.start_number
                });
            t.timeline.clear();
            t.base = st.base();
            template = Some(t);
        }
        "S" => {
            // A SegmentTimeline entry of the innermost template.
            if let Some(t) = st.templates.iter_mut().rev().find_map(|t| t.as_mut()) {
                let tt = attr(e, b"t").and_then(|v| v.parse().ok());
                let d = attr(e, b"d").and_then(|v| v.parse().ok()).unwrap_or(0);
                let r = attr(e, b"r").and_then(|v| v.parse().ok()).unwrap_or(0);
                t.timeline.push((tt, d, r));
            }
        }
        _ => {}
    }
    st.templates.push(template);
}

fn close(st: &mut MpdState, name: &str) {
    match name {
        "BaseURL" => {
            let text = st.base_text.take().unwrap_or_default();
            let text = text.trim();
            // Pop this element's own base slot first; BaseURL modifies its parent's base.
            st.bases.pop();
            st.rep.pop();
            st.templates.pop();
            if text.ends_with('/') {
                let joined = if text.contains("://") || text.starts_with('/') {
                    text.to_string()
                } else {
                    format!("{}{text}", st.base())
                };
                if let Some(last) = st.bases.last_mut() {
                    *last = joined;
                }
            } else {
                st.add(text);
            }
            return;
        }
        "SegmentTemplate" => {
            // A template placed directly in a Representation is expanded there; one at AdaptationSet/Period level
            // is expanded for each Representation below it (or here if there are none).
            let t = st.templates.last().cloned().flatten();
            let parent = st
                .stack
                .len()
                .checked_sub(2)
                .and_then(|i| st.stack.get(i))
                .cloned()
                .unwrap_or_default();
            if let Some(t) = t.clone()
                && parent == "Representation"
            {
                st.expand(&t);
                // Already expanded: do not expand again at the Representation end.
                st.bases.pop();
                st.rep.pop();
                st.templates.pop();
                if let Some(slot) = st.templates.last_mut() {
                    *slot = Some(TemplateState {
                        media: None,
                        initialization: None,
                        ..t
                    });
                }
                return;
            }
            // Keep the template for descendants: move it to the parent's slot.
            st.bases.pop();
            st.rep.pop();
            st.templates.pop();
            if let (Some(slot), Some(t)) = (st.templates.last_mut(), t) {
                *slot = Some(t);
            }
            return;
        }
        "Representation" => {
            // A Representation without its own SegmentTemplate uses the inherited one.
            let own = st.templates.last().cloned().flatten();
            match own {
                Some(_) => {}
                None => {
                    let inherited = st.templates.iter().rev().skip(1).flatten().next().cloned();
                    if let Some(t) = inherited {
                        st.expand(&t);
                    }
                }
            }
        }
        _ => {}
    }
    st.bases.pop();
    st.rep.pop();
    st.templates.pop();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn m3u8_uris_and_attributes() {
        let m = "#EXTM3U\n\
#EXT-X-VERSION:7\n\
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aud\",NAME=\"en\",URI=\"audio/en.m3u8\"\n\
#EXT-X-STREAM-INF:BANDWIDTH=1280000,AUDIO=\"aud\"\n\
video/720p.m3u8\n\
#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=86000,URI=\"iframe.m3u8\"\n\
#EXT-X-KEY:METHOD=AES-128,URI=\"keys/k1.key\",IV=0x1234\n\
#EXT-X-KEY:METHOD=NONE\n\
#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://abc\",KEYFORMAT=\"com.apple.streamingkeydelivery\"\n\
#EXT-X-MAP:URI=\"init.mp4\",BYTERANGE=\"720@0\"\n\
#EXTINF:9.009,\n\
seg0.ts\n\
#EXTINF:9.009,\r\n\
seg1.ts\r\n\
seg0.ts\n";
        assert_eq!(
            parse_m3u8(m),
            vec![
                "audio/en.m3u8",
                "video/720p.m3u8",
                "iframe.m3u8",
                "keys/k1.key",
                "init.mp4",
                "seg0.ts",
                "seg1.ts"
            ]
        );
    }

    #[test]
    fn m3u8_garbage_never_panics() {
        for s in [
            "",
            "#",
            "#EXT-X-KEY:",
            "#EXT-X-KEY:URI=\"",
            "#EXT-X-KEY:URI=",
            "#EXT-X-MAP:=,=,\"",
            "\u{feff}a.ts",
        ] {
            let _ = parse_m3u8(s);
        }
        assert_eq!(parse_m3u8("\u{feff}a.ts"), vec!["a.ts"]);
    }

    #[test]
    fn mpd_segment_template_with_timeline() {
        let m = r#"<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"><Period>
 <AdaptationSet>
  <SegmentTemplate initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/seg-$Number%03d$.m4s" startNumber="1">
   <SegmentTimeline><S t="0" d="10" r="2"/><S d="5"/></SegmentTimeline>
  </SegmentTemplate>
  <Representation id="v1" bandwidth="100"/>
  <Representation id="v2" bandwidth="200"/>
 </AdaptationSet>
 <AdaptationSet>
  <Representation id="a1"><BaseURL>audio/</BaseURL>
   <SegmentTemplate initialization="init-$Bandwidth$.mp4" media="t$Time$.m4s" timescale="1">
    <SegmentTimeline><S t="100" d="7" r="1"/></SegmentTimeline>
   </SegmentTemplate>
  </Representation>
  <Representation id="a2" bandwidth="64"><BaseURL>a2.mp4</BaseURL></Representation>
  <Representation id="a3"><SegmentTemplate media="live-$Number$.m4s"/></Representation>
 </AdaptationSet>
</Period></MPD>"#;
        assert_eq!(
            parse_mpd(m),
            vec![
                "v1/init.mp4",
                "v1/seg-001.m4s",
                "v1/seg-002.m4s",
                "v1/seg-003.m4s",
                "v1/seg-004.m4s",
                "v2/init.mp4",
                "v2/seg-001.m4s",
                "v2/seg-002.m4s",
                "v2/seg-003.m4s",
                "v2/seg-004.m4s",
                "audio/init-.mp4",
                "audio/t100.m4s",
                "audio/t107.m4s",
                "a2.mp4",
            ]
        );
    }

    #[test]
    fn mpd_segment_list_and_base_url_prefix() {
        let m = r#"<MPD><BaseURL>media/</BaseURL><Period><AdaptationSet><Representation id="x">
<SegmentList><Initialization sourceURL="init.mp4"/><SegmentURL media="1.m4s"/><SegmentURL media="2.m4s"/></SegmentList>
</Representation></AdaptationSet></Period></MPD>"#;
        assert_eq!(
            parse_mpd(m),
            vec!["media/init.mp4", "media/1.m4s", "media/2.m4s"]
        );
        assert!(parse_mpd("<MPD><<<").is_empty());
        assert!(parse_mpd("").is_empty());
    }
}
