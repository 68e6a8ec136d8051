//! Findings rest only on evidence that holds: a bogus timestamp neither ends
//! nor splits a flow, a guessed direction raises no direction-dependent
//! finding, a finding's kind agrees with its summary.

mod common;

use std::path::{Path, PathBuf};

use common::{of_type, read_ndjson};

/// Classic little-endian pcap records: (offset of the record header, ts_sec).
fn records(d: &[u8]) -> Vec<(usize, u32)> {
    assert_eq!(&d[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "a little-endian µs pcap");
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= d.len() {
        let sec = u32::from_le_bytes(d[off..off + 4].try_into().unwrap());
        let cap = u32::from_le_bytes(d[off + 8..off + 12].try_into().unwrap()) as usize;
        out.push((off, sec));
        off += 16 + cap;
    }
    out
}

/// `captures/NAME` with the seconds of the chosen records changed by `f`
/// (record number from 1, seconds) -> seconds, written to a temporary file.
fn retimed(name: &str, f: impl Fn(usize, u32) -> u32) -> (tempfile::TempDir, PathBuf) {
    let mut d = std::fs::read(common::capture(name)).unwrap();
    for (i, (off, sec)) in records(&d.clone()).into_iter().enumerate() {
        d[off..off + 4].copy_from_slice(&f(i + 1, sec).to_le_bytes());
    }
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, d).unwrap();
    (dir, p)
}

fn flows_of(objs: &[serde_json::Value]) -> Vec<(String, u64, u64)> {
    of_type(objs, "flow")
        .iter()
        .map(|f| {
            (
                format!("{}:{} {}", f["client_port"], f["server_port"], f["state"]),
                f["c2s_packets"].as_u64().unwrap(),
                f["s2c_packets"].as_u64().unwrap(),
            )
        })
        .collect()
}

const FORTY_EIGHT_YEARS: u32 = 48 * 365 * 86_400;

#[test]
fn a_bogus_timestamp_neither_ends_nor_splits_a_flow() {
    let clean = common::capture("smtp-plain.pcap");
    let (before, _, _) = read_ndjson(&[&clean], &[]);
    // The SYN-ACK 48 years late, as in the Wireshark wiki's smtp-ssl capture.
    let (_dir, glitched) = retimed(
        "smtp-plain.pcap",
        |n, s| if n == 2 { s + FORTY_EIGHT_YEARS } else { s },
    );
    let (after, code, stderr) = read_ndjson(&[&glitched], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(flows_of(&after), flows_of(&before));
    let flow = of_type(&after, "flow")[0];
    assert_eq!(flow["state"], "SF");
    assert_eq!(flow["history"], of_type(&before, "flow")[0]["history"]);
    assert!(flow["last_ts"].as_str().unwrap().starts_with("2026"), "{flow}");
    let summary = of_type(&after, "summary")[0];
    assert_eq!(summary["clock_jumps"], 1);
    assert_eq!(summary["inputs"][0]["clock_jumps"], 1);
    assert_eq!(summary["expired"], 0);
    assert!(
        summary["last_ts"].as_str().unwrap().starts_with("2026"),
        "{summary}"
    );
    assert!(
        stderr.contains("smtp-plain.pcap: 1 packets have a timestamp off the capture's clock")
            && stderr.contains("packet 2 says 2074-"),
        "{stderr}"
    );
    let kinds: Vec<&str> = of_type(&after, "finding")
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(!kinds.contains(&"internal-restriction"), "{kinds:?}");
    // A timestamp from 1970 in the middle is a glitch too.
    let (_dir, back) = retimed("smtp-plain.pcap", |n, s| if n == 10 { 7 } else { s });
    let (after, _, _) = read_ndjson(&[&back], &[]);
    assert_eq!(flows_of(&after), flows_of(&before));
    assert_eq!(of_type(&after, "summary")[0]["clock_jumps"], 1);
}

#[test]
fn a_lasting_jump_is_time_passing_and_expires_flows() {
    let clean = common::capture("smtp-plain.pcap");
    let (before, _, _) = read_ndjson(&[&clean], &[]);
    // The capture resumed the next day from packet 10 on: the session was
    // idle for a day, longer than the TCP timeout, so it is two flows.
    let (_dir, later) = retimed("smtp-plain.pcap", |n, s| if n >= 10 { s + 86_400 } else { s });
    let (after, _, stderr) = read_ndjson(&[&later], &[]);
    assert_eq!(of_type(&before, "flow").len(), 1);
    assert_eq!(of_type(&after, "flow").len(), 2, "{stderr}");
    let summary = of_type(&after, "summary")[0];
    assert_eq!(summary["clock_jumps"], 0);
    assert_eq!(summary["expired"], 1);
    assert!(!stderr.contains("clock"), "{stderr}");
}

/// The corpus's captures whose timestamps jump, against tshark's conversations.
fn corpus(name: &str) -> Option<PathBuf> {
    let Some(dir) = common::shared_corpus() else {
        common::skip("corpus test", "corpus");
        return None;
    };
    Some(dir.join("captures").join(name))
}

fn tshark_conversations(p: &Path) -> Option<Vec<String>> {
    let out = std::process::Command::new("python3")
        .arg(common::repo().join("scripts/tshark-conv.py"))
        .arg(p)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && std::process::Command::new("tshark").arg("-v").output().is_ok())
        .then(|| text.lines().map(str::to_string).collect())
}

#[test]
fn smtp_ssl_with_a_2063_syn_ack_is_one_session_without_a_restriction_finding() {
    let Some(p) = corpus("wswiki__SampleCaptures__smtp-ssl.pcapng") else {
        return;
    };
    let (objs, code, stderr) = read_ndjson(&[&p], &[]);
    assert_eq!(code, 0, "{stderr}");
    let flows = of_type(&objs, "flow");
    assert_eq!(flows.len(), 1, "{flows:?}");
    assert_eq!(flows[0]["state"], "SF");
    assert_eq!(flows[0]["history"], "ShAdDafF");
    assert_eq!(
        (flows[0]["c2s_packets"].as_u64(), flows[0]["s2c_packets"].as_u64()),
        (Some(18), Some(20))
    );
    assert_eq!(of_type(&objs, "summary")[0]["clock_jumps"], 1);
    assert!(stderr.contains("packet 2 says 2063-05-01"), "{stderr}");
    assert!(of_type(&objs, "finding")
        .iter()
        .all(|f| f["kind"] != "internal-restriction"));
    match tshark_conversations(&p) {
        // tshark: one TCP conversation, 18 packets one way and 20 the other.
        Some(rows) => {
            assert_eq!(rows.len(), 1, "{rows:?}");
            assert!(
                rows[0].ends_with(" 18 20") || rows[0].ends_with(" 20 18"),
                "{rows:?}"
            );
        }
        None => eprintln!("tshark not installed: the tshark comparison is skipped"),
    }
}

/// (capture, topology or "-", kind, severity, client, server, service, flows)
type Key = [String; 8];

/// One run over `path` (with the lab topology when `topology` is given):
/// the findings as review keys, and their summaries.
fn findings_of(path: &Path, topology: Option<&Path>) -> Vec<(Key, String)> {
    let mut extra: Vec<&str> = Vec::new();
    let topo_text;
    if let Some(t) = topology {
        topo_text = t.display().to_string();
        extra.extend(["--topology", &topo_text]);
    }
    let (objs, _, _) = read_ndjson(&[path], &extra);
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let topo = topology.map_or("-".to_string(), |t| {
        t.file_name().unwrap().to_string_lossy().to_string()
    });
    of_type(&objs, "finding")
        .iter()
        .map(|f| {
            let e = &f["evidence"];
            let text = |v: &serde_json::Value| v.as_str().map_or(v.to_string(), str::to_string);
            (
                [
                    name.clone(),
                    topo.clone(),
                    text(&f["kind"]),
                    text(&f["severity"]),
                    text(&e["client"]),
                    text(&e["server"]),
                    text(&e["service"]),
                    e["flow_count"].to_string(),
                ],
                text(&f["summary"]),
            )
        })
        .collect()
}

/// The kind and the summary of a finding say the same thing (the summary's
/// own words, before the rule id and the rule's note).
fn kind_agrees_with_summary(kind: &str, full: &str) -> Result<(), String> {
    // Cut at " rule <id>" (an id has a '-'): the note after it is the rule's.
    let mut summary = full;
    let mut from = 0;
    while let Some(i) = full[from..].find(" rule ") {
        let at = from + i;
        let next = full[at + 6..].split([' ', ':', ',']).next().unwrap_or("");
        if next.contains('-') {
            summary = &full[..at];
            break;
        }
        from = at + 6;
    }
    let documented = summary.contains("is documented");
    let bad = match kind {
        "internal-restriction" | "edge-bypass" | "perimeter-exposure" | "undocumented-flow" => documented,
        "configuration-note" => !summary.contains("configuration condition"),
        "disabled-by-default" => !summary.contains("disabled by default"),
        "unknown-service" => !summary.contains("no rule"),
        _ => false,
    } || summary.contains("documented but noted");
    if bad {
        Err(format!("kind {kind} contradicts its summary: {full}"))
    } else {
        Ok(())
    }
}

#[test]
fn every_finding_on_every_capture_is_reviewed() {
    let review = common::repo().join("tests/expected/findings-review.tsv");
    assert!(review.exists(), "{} is missing", review.display());
    let mut expected: std::collections::BTreeMap<Key, String> = std::collections::BTreeMap::new();
    for (n, cols) in common::tsv_rows(&review, 9) {
        assert!(
            cols[8].len() >= 40,
            "findings-review.tsv line {n}: the evidence column must say why the finding is true"
        );
        let key: Key = std::array::from_fn(|i| cols[i].clone());
        assert!(
            expected.insert(key, cols[8].clone()).is_none(),
            "findings-review.tsv line {n}: listed twice"
        );
    }
    // The inputs: the project's captures twice (no topology, the lab's),
    // the shared ones when they are beside the project.
    let lab = common::repo().join("captures/site-edge.toml");
    let mut runs: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for p in common::capture_files(&common::repo().join("captures")) {
        runs.push((p.clone(), None));
        runs.push((p, Some(lab.clone())));
    }
    let mut shared_present = true;
    match (common::shared_public(), common::shared_corpus()) {
        (Some(public), Some(corpus)) => {
            runs.extend(common::capture_files(&public).into_iter().map(|p| (p, None)));
            runs.extend(
                common::capture_files(&corpus.join("captures"))
                    .into_iter()
                    .map(|p| (p, None)),
            );
        }
        _ => {
            shared_present = false;
            common::skip(
                "the shared part of every_finding_on_every_capture_is_reviewed",
                "public and corpus",
            );
        }
    }
    let ran: std::collections::BTreeSet<String> = runs
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    // Two at a time: the machine has two cores.
    let half = runs.len().div_ceil(2);
    let got: Vec<(Key, String)> = std::thread::scope(|s| {
        let parts: Vec<_> = runs
            .chunks(half.max(1))
            .map(|part| {
                s.spawn(move || {
                    part.iter()
                        .flat_map(|(p, t)| findings_of(p, t.as_deref()))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut problems = Vec::new();
    for (key, summary) in &got {
        if let Err(e) = kind_agrees_with_summary(&key[2], summary) {
            problems.push(format!("{}: {e}", key[0]));
        }
    }
    let got_keys: std::collections::BTreeSet<&Key> = got.iter().map(|(k, _)| k).collect();
    for (key, summary) in &got {
        if !expected.contains_key(key) {
            problems.push(format!(
                "new finding, not reviewed (add it with its evidence, or fix it):\n{}\t\n  summary: {summary}",
                key.join("\t")
            ));
        }
    }
    for key in expected.keys() {
        let available = ran.contains(&key[0]);
        if available && !got_keys.contains(key) {
            problems.push(format!(
                "reviewed finding no longer raised (remove it, or find what lost it):\n{}",
                key.join("\t")
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    let checked = expected.keys().filter(|k| ran.contains(&k[0])).count();
    assert!(checked > 0);
    if !shared_present {
        eprintln!("checked the {checked} reviewed findings of captures/ only");
    }
}

#[test]
fn kinds_and_summaries_are_checked_against_each_other() {
    assert!(kind_agrees_with_summary(
        "undocumented-flow",
        "a -> b:25 is documented but noted by rule e19-smtp-client-25"
    )
    .is_err());
    assert!(kind_agrees_with_summary(
        "configuration-note",
        "a -> b:25 is documented only under a configuration condition, rule x"
    )
    .is_ok());
    assert!(kind_agrees_with_summary("perimeter-exposure", "a -> b:1190 violates rule e19-g3").is_ok());
}

#[test]
fn a_guessed_direction_raises_no_direction_dependent_finding_on_mapi_pcap() {
    let Some(p) = common::public_capture("mapi guessed direction", "zeek__dce-rpc__mapi.pcap") else {
        return;
    };
    let (objs, _, _) = read_ndjson(&[&p], &[]);
    let flows = of_type(&objs, "flow");
    let oth = flows
        .iter()
        .find(|f| {
            let ends = [f["client_port"].as_u64(), f["server_port"].as_u64()];
            ends.contains(&Some(1031)) && ends.contains(&Some(1190))
        })
        .expect("the 1031 <-> 1190 flow");
    assert_eq!(oth["state"], "OTH");
    assert_eq!(oth["direction"], "guessed");
    let id = oth["id"].as_u64().unwrap();
    for f in of_type(&objs, "finding") {
        let on_it = f["flows"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x.as_u64() == Some(id));
        assert!(
            !(on_it && matches!(f["severity"].as_str(), Some("medium" | "high"))),
            "{f}"
        );
    }
    let s = of_type(&objs, "summary")[0];
    let listed = s["direction_unknown_flows"].as_array().unwrap();
    assert!(
        listed.iter().any(
            |d| d["flow"].as_u64() == Some(id) && d["as_recorded_would_raise"][0] == "perimeter-exposure"
        ),
        "{listed:?}"
    );
    // The table says so too.
    let out = common::exaudit(&["read", p.to_str().unwrap(), "-f", "table"]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("Direction unknown"), "{table}");
    // Directions: handshakes seen, ports or content inferred, the rest guessed.
    for f in &flows {
        assert!(
            matches!(f["direction"].as_str(), Some("seen" | "inferred" | "guessed")),
            "{f}"
        );
        if f["history"].as_str().unwrap_or("").contains('S') {
            assert_eq!(f["direction"], "seen", "{f}");
        }
    }
    // Connections to 1032 opened before the endpoint-mapper answer (flow 28)
    // naming 1032 for EMSMDB are MAPI, documented for the 2010 the evidence names.
    for f in flows.iter().filter(|f| f["server_port"] == 1032) {
        assert_eq!(f["purpose"], "rpc-dynamic", "{f}");
        assert!(f["purpose_detail"].as_str().unwrap().starts_with("emsmdb"), "{f}");
        assert_eq!(f["verdict"], "documented", "{f}");
    }
}

#[test]
fn pppoe_capture_shows_its_smtp_sessions_and_matches_tshark() {
    let Some(p) = corpus("wswiki__SampleCaptures__sldy.pcap") else {
        return;
    };
    let day = "86400";
    let (objs, _, _) = read_ndjson(
        &[&p],
        &[
            "--tcp-timeout",
            day,
            "--tcp-closed-timeout",
            day,
            "--udp-timeout",
            day,
        ],
    );
    let s = of_type(&objs, "summary")[0];
    // 2,364 of its 2,370 frames are PPPoE sessions: none is "not IP" now.
    assert_eq!(s["encapsulations"]["pppoe"], 2364, "{s}");
    assert!(s["decode_errors"].get("not_ip").is_none(), "{s}");
    let smtp: Vec<_> = of_type(&objs, "flow")
        .into_iter()
        .filter(|f| f["server_port"] == 25 && f["app"]["smtp"].is_object())
        .collect();
    assert!(smtp.len() >= 5, "{} SMTP sessions", smtp.len());
    match tshark_conversations(&p) {
        Some(rows) => {
            let mut ours: Vec<String> = of_type(&objs, "flow")
                .into_iter()
                .filter_map(common::conversation)
                .map(|(proto, lo, hi, a, b)| format!("{proto} {} {} {} {} {a} {b}", lo.0, lo.1, hi.0, hi.1))
                .collect();
            ours.sort();
            let mut theirs = rows;
            theirs.sort();
            assert_eq!(
                ours, theirs,
                "flows inside PPPoE differ from tshark's conversations"
            );
        }
        None => eprintln!("tshark not installed: the tshark comparison is skipped"),
    }
}
