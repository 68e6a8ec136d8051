//! Purpose from evidence, verdict from rules, roles and generation from
//! evidence (issue 11), on real captures: the third-party ones beside the
//! project (skipped, saying so, when `../shared` is absent) and the project's
//! own.

mod common;

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A third-party capture under `../shared/captures/<folder>/`, or `None` (and
/// a message) when that folder is not beside the project.
fn shared(folder: &str, name: &str) -> Option<PathBuf> {
    let p = common::repo().join("../shared/captures").join(folder).join(name);
    if p.is_file() {
        Some(p)
    } else {
        eprintln!(
            "skipping: {} not found (../shared is not beside the project)",
            p.display()
        );
        None
    }
}

fn flows(objs: &[Value]) -> Vec<&Value> {
    common::of_type(objs, "flow")
}

fn summary(objs: &[Value]) -> &Value {
    common::of_type(objs, "summary")[0]
}

fn host<'a>(objs: &'a [Value], addr: &str) -> Option<&'a Value> {
    summary(objs)["topology_info"]["hosts"]
        .as_array()?
        .iter()
        .find(|h| h["addr"] == addr)
}

#[test]
fn mapi_capture_without_topology_knows_the_exchange_server_and_its_rpc() {
    let Some(cap) = shared("public", "zeek__dce-rpc__mapi.pcap") else {
        return;
    };
    let (objs, _, _) = common::read_ndjson(&[&cap], &[]);
    // 192.168.0.2 serves EMSMDB and NSPI over direct RPC: an Exchange 2010 (or
    // earlier) server, Mailbox and Client Access, with the evidence.
    let h = host(&objs, "192.168.0.2").expect("192.168.0.2 is inferred");
    assert_eq!(h["roles"], "mailbox+client_access", "{h}");
    let info = &summary(&objs)["topology_info"];
    assert_eq!(
        (info["exchange"].as_str(), info["exchange_from"].as_str()),
        (Some("2010"), Some("evidence"))
    );
    assert!(
        info["exchange_reason"]
            .as_str()
            .unwrap()
            .starts_with("2010 or earlier: 192.168.0.2: serves"),
        "{info}"
    );
    let evidence: Vec<&str> = h["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e.as_str())
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("serves emsmdb over direct RPC (flow")),
        "{evidence:?}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e.starts_with("serves nspi over direct RPC (flow")),
        "{evidence:?}"
    );
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("announces emsmdb on tcp/1032")),
        "{evidence:?}"
    );
    // Its endpoint-mapper flows are rpc-epm by content; the follow-ups the
    // mapper announced are rpc-dynamic naming the interface.
    let to_server: Vec<&Value> = flows(&objs)
        .into_iter()
        .filter(|f| f["server"] == "192.168.0.2")
        .collect();
    let epm: Vec<&Value> = to_server
        .iter()
        .copied()
        .filter(|f| f["server_port"] == 135)
        .collect();
    assert!(!epm.is_empty());
    for f in &epm {
        assert_eq!(f["purpose"], "rpc-epm", "{f}");
        assert_eq!(f["purpose_source"], "content", "{f}");
    }
    let announced: Vec<&Value> = to_server
        .iter()
        .copied()
        .filter(|f| f["app"]["dcerpc"]["announced_interface"].is_string())
        .collect();
    assert!(announced.len() >= 2, "{announced:?}");
    for f in &announced {
        assert_eq!(f["purpose"], "rpc-dynamic", "{f}");
        let iface = f["app"]["dcerpc"]["announced_interface"].as_str().unwrap();
        let detail = f["purpose_detail"].as_str().unwrap_or_default();
        assert!(detail.starts_with(iface), "{iface} not named in {detail:?}");
    }
    // Every flow says where its purpose came from and what the policy says.
    for f in flows(&objs) {
        assert!(
            matches!(f["purpose_source"].as_str(), Some("content" | "port" | "none")),
            "{f}"
        );
        assert!(
            matches!(
                f["verdict"].as_str(),
                Some("documented" | "allowed" | "violation" | "unexplained")
            ),
            "{f}"
        );
        assert_eq!(f["purpose"] == "unknown", f["purpose_source"] == "none", "{f}");
    }
}

#[test]
fn with_a_topology_every_endpoint_mapper_flow_is_rpc_epm_whoever_the_client() {
    let Some(cap) = shared("public", "zeek__dce-rpc__mapi.pcap") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site.toml");
    std::fs::write(
        &site,
        "[site]\nname = \"t\"\nexchange = \"2010\"\n[roles]\nmailbox = [\"192.168.0.2\"]\nclient_access = [\"192.168.0.2\"]\ninternal_clients = [\"192.168.0.0/16\"]\n",
    )
    .unwrap();
    let (objs, _, _) = common::read_ndjson(&[&cap], &["--topology", site.to_str().unwrap()]);
    let epm: Vec<&Value> = flows(&objs)
        .into_iter()
        .filter(|f| f["server_port"] == 135 && f["app"]["dcerpc"].is_object())
        .collect();
    assert!(!epm.is_empty());
    for f in epm {
        assert_eq!(f["client_role"], "internal_clients", "{f}");
        assert_eq!(f["purpose"], "rpc-epm", "{f}");
        // Exchange 2010: MAPI clients -> CAS 135 is a documented path.
        assert_eq!(f["verdict"], "documented", "{f}");
    }
}

#[test]
fn generation_comes_from_the_imap_greeting_of_exchange_5_5() {
    let Some(cap) = shared("corpus/captures", "ark__tests__pcap__imap.pcap") else {
        return;
    };
    let (objs, _, _) = common::read_ndjson(&[&cap], &[]);
    let t = &summary(&objs)["topology_info"];
    assert_eq!(t["exchange"], "5.5", "{t}");
    assert_eq!(t["exchange_from"], "evidence", "{t}");
    assert!(
        t["exchange_reason"]
            .as_str()
            .unwrap()
            .contains("IMAP4rev1 server version 5.5"),
        "{t}"
    );
    for f in flows(&objs).iter().filter(|f| f["app"]["imap"].is_object()) {
        assert_eq!(f["purpose"], "imap4", "{f}");
        assert_eq!(f["server_role"], "mailbox", "{f}");
    }
    // --exchange wins over the evidence.
    let (objs, _, _) = common::read_ndjson(&[&cap], &["--exchange", "2016"]);
    let t = &summary(&objs)["topology_info"];
    assert_eq!(
        (t["exchange"].as_str(), t["exchange_from"].as_str()),
        (Some("2016"), Some("option"))
    );
}

#[test]
fn nothing_names_a_generation_so_2019_is_assumed_with_a_note() {
    let (objs, _, _) = common::read_ndjson(&[&common::capture("epm-rpcdump.pcap")], &[]);
    let t = &summary(&objs)["topology_info"];
    assert_eq!(t["exchange"], "2019");
    assert_eq!(t["exchange_from"], "default");
    assert!(t["exchange_reason"].as_str().unwrap().contains("assumed"), "{t}");
}

#[test]
fn exchange_smtp_banner_and_ehlo_keywords_make_an_exchange_server() {
    let Some(cap) = shared("corpus/captures", "ark__tests__pcap__smtp-decrypted.pcap") else {
        return;
    };
    let (objs, _, _) = common::read_ndjson(&[&cap], &[]);
    let smtp: Vec<&Value> = flows(&objs)
        .into_iter()
        .filter(|f| f["app"]["smtp"].is_object())
        .collect();
    assert!(!smtp.is_empty());
    let server = smtp[0]["server"].as_str().unwrap().to_string();
    let h = host(&objs, &server).expect("the SMTP server is inferred");
    let ev = h["evidence"].to_string();
    assert!(ev.contains("Microsoft ESMTP MAIL Service"), "{ev}");
    assert!(ev.contains("X-ANONYMOUSTLS") || ev.contains("X-EXPS"), "{ev}");
    for f in smtp {
        assert!(f["purpose"].as_str().unwrap().starts_with("smtp-"), "{f}");
        assert_eq!(f["purpose_source"], "content", "{f}");
    }
}

/// On the real third-party corpus, with no topology file, every flow an
/// inspector recognised as SMTP, DCE/RPC, LDAP, POP3 or IMAP4 has a purpose
/// (the issue measured 9 of 293 before purposes came from evidence).
#[test]
fn every_recognised_flow_of_the_corpus_has_a_purpose() {
    let dir = common::repo().join("../shared/captures/corpus/captures");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        eprintln!(
            "skipping: {} not found (../shared is not beside the project)",
            dir.display()
        );
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut recognised = 0;
    let mut missing = Vec::new();
    for p in &paths {
        let (objs, _, _) = common::read_ndjson(&[p as &Path], &["--no-progress"]);
        for f in flows(&objs) {
            let app = &f["app"];
            if ["smtp", "dcerpc", "ldap", "pop3", "imap"]
                .iter()
                .any(|k| app[*k].is_object())
            {
                recognised += 1;
                if f["purpose"] == "unknown" || f["purpose_source"] != "content" {
                    missing.push(format!("{} flow {}: {}", p.display(), f["id"], f["purpose"]));
                }
            }
        }
    }
    assert!(recognised >= 290, "{recognised} flows recognised");
    assert!(
        missing.is_empty(),
        "{} without a purpose from content: {missing:#?}",
        missing.len()
    );
}

#[test]
fn rules_explain_answers_in_exactly_the_documented_keys() {
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--exchange",
        "2013",
        "--from",
        "internet",
        "--to",
        "client_access",
        "tcp/443",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["kind", "purpose", "reference", "rule", "severity", "verdict"]
    );
    assert_eq!(v["purpose"], "https-client-access");
    assert_eq!(v["verdict"], "documented");
    assert!(v["reference"].as_str().unwrap().contains("DOMAIN.md §2"), "{v}");
    // A violation names its kind and severity.
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--edge-subscribed",
        "--from",
        "edge",
        "--to",
        "domain_controller",
        "tcp/389",
        "-f",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "violation");
    assert_eq!(v["kind"], "undocumented-flow");
    assert_eq!(v["severity"], "high");
    assert_eq!(v["rule"], "e19-edge-to-dc");
    // A ground rule's catch-all permits without naming the port.
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--from",
        "mailbox",
        "--to",
        "domain_controller",
        "tcp/5722",
        "-f",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verdict"], "allowed", "{v}");
}

#[test]
fn rules_explain_errors_list_the_valid_values() {
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--from",
        "exchange_box",
        "--to",
        "mailbox",
        "tcp/25",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown role `exchange_box`") && err.contains("unified_messaging"),
        "{err}"
    );
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--from",
        "internet",
        "--to",
        "mailbox",
        "tcp/99999",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORT 0-65535"));
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--exchange",
        "2012",
        "--from",
        "internet",
        "--to",
        "mailbox",
        "tcp/25",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2019, 2016, 2013"));
}

#[test]
fn rules_explain_reviews_a_firewall_export() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("paths.csv");
    std::fs::write(
        &csv,
        "from,to,service\n# a comment\ninternet,edge,tcp/25\nedge,mailbox,tcp/25\ninternet,mailbox,tcp/135\nmailbox+client_access,domain_controller,tcp/dynamic\n",
    )
    .unwrap();
    let out = common::exaudit(&[
        "rules",
        "explain",
        "--edge-subscribed",
        "--paths",
        csv.to_str().unwrap(),
        "-f",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let verdicts: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r["service"].as_str().unwrap(), r["verdict"].as_str().unwrap()))
        .collect();
    assert_eq!(
        verdicts,
        [
            ("tcp/25", "documented"),
            ("tcp/25", "documented"),
            ("tcp/135", "violation"),
            ("tcp/dynamic", "documented"),
        ]
    );
    assert_eq!(rows[2]["kind"], "perimeter-exposure");
    // A bad line names the file and line.
    std::fs::write(&csv, "internet,edge\n").unwrap();
    let out = common::exaudit(&["rules", "explain", "--paths", csv.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("paths.csv:1") && err.contains("3 columns"), "{err}");
}

#[test]
fn the_audit_tables_show_purpose_source_and_verdict() {
    let out = common::exaudit(&[
        "read",
        common::capture("edge-bypass.pcap").to_str().unwrap(),
        "--topology",
        common::repo().join("captures/site-edge.toml").to_str().unwrap(),
        "-f",
        "markdown",
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("| purpose | from | verdict | flows |"), "{text}");
    assert!(
        text.contains("| smtp-inbound | content | violation |"),
        "the Edge bypass is its own row: {text}"
    );
    assert!(text.contains("| smtp-inbound | content | documented |"), "{text}");
}

#[test]
fn x400_over_rfc1006_is_known_by_its_object_identifiers_not_mms_or_s7() {
    let Some(x400) = shared(
        "corpus/captures",
        "wswiki__SampleCaptures__p772-transfer-success.pcap",
    ) else {
        return;
    };
    let (objs, _, _) = common::read_ndjson(&[&x400], &[]);
    let osi: Vec<&Value> = flows(&objs)
        .into_iter()
        .filter(|f| f["app"]["osi"].is_object())
        .collect();
    assert!(!osi.is_empty());
    for f in osi {
        assert_eq!(f["purpose"], "x400-mta", "{f}");
        assert_eq!(f["purpose_source"], "content", "{f}");
        assert!(f["purpose_detail"].as_str().unwrap().contains("2.6."), "{f}");
    }
    // MMS (ISO 9506) and Siemens S7 also run RFC 1006 on port 102.
    for name in ["ndpi__iso9506-1-mms.pcap", "ndpi__s7comm.pcap"] {
        let Some(cap) = shared("public", name) else { return };
        let (objs, _, _) = common::read_ndjson(&[&cap], &[]);
        let osi: Vec<&Value> = flows(&objs)
            .into_iter()
            .filter(|f| f["app"]["osi"].is_object())
            .collect();
        assert!(!osi.is_empty(), "{name}");
        for f in osi {
            assert_ne!(f["purpose"], "x400-mta", "{name}: {f}");
        }
    }
}
