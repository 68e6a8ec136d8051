//! The policy engine as a reviewer sees it: purposes, findings, evidence,
//! inferred roles, --fail-on. Each finding kind fires on a capture made to
//! contain it and stays silent on a clean capture of the same traffic.

mod common;

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use common::pcapgen::Pcap;
use serde_json::Value;

fn site() -> PathBuf {
    common::repo().join("captures/site-edge.toml")
}

fn audit(files: &[&Path], topology: Option<&Path>) -> Vec<Value> {
    let mut extra: Vec<&str> = Vec::new();
    let t;
    if let Some(p) = topology {
        t = p.display().to_string();
        extra.extend(["--topology", t.as_str()]);
    }
    let (objs, code, stderr) = common::read_ndjson(files, &extra);
    assert_eq!(code, 0, "{stderr}");
    objs
}

fn kinds(objs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = common::of_type(objs, "finding")
        .iter()
        .map(|f| f["kind"].as_str().unwrap().to_string())
        .collect();
    k.sort();
    k
}

fn findings_of<'a>(objs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    common::of_type(objs, "finding")
        .into_iter()
        .filter(|f| f["kind"] == kind)
        .collect()
}

#[test]
fn documented_edge_topology_has_no_finding() {
    let objs = audit(&[&common::capture("edge-topology.pcap")], Some(&site()));
    assert_eq!(kinds(&objs), Vec::<String>::new());
    let flows = common::of_type(&objs, "flow");
    assert!(flows.len() >= 6);
    let mut purposes: Vec<&str> = flows.iter().map(|f| f["purpose"].as_str().unwrap()).collect();
    purposes.sort();
    purposes.dedup();
    assert_eq!(
        purposes,
        [
            "dns",
            "edgesync",
            "smtp-edge-inbound",
            "smtp-edge-outbound",
            "smtp-inbound"
        ]
    );
    for f in flows {
        assert!(f["rule"].is_string(), "every flow documented: {f}");
    }
    let edgesync = common::of_type(&objs, "flow")
        .into_iter()
        .find(|f| f["purpose"] == "edgesync")
        .unwrap();
    assert_eq!(edgesync["client_role"], "mailbox");
    assert_eq!(edgesync["server_role"], "edge");
    assert_eq!(edgesync["server_port"], 50636);
}

#[test]
fn edge_bypass_and_internet_rpc_give_exactly_two_findings() {
    let objs = audit(&[&common::capture("edge-bypass.pcap")], Some(&site()));
    assert_eq!(kinds(&objs), ["edge-bypass", "perimeter-exposure"]);
    let bypass = &findings_of(&objs, "edge-bypass")[0];
    assert_eq!(bypass["severity"], "high");
    assert!(
        bypass["reference"].as_str().unwrap().contains("DOMAIN.md §4"),
        "{}",
        bypass["reference"]
    );
    assert_eq!(bypass["evidence"]["server"], "127.1.0.11");
    let exposure = &findings_of(&objs, "perimeter-exposure")[0];
    assert!(exposure["evidence"]["service"]
        .as_str()
        .unwrap()
        .starts_with("tcp/135"));
    // The finding's flows carry its id back.
    let fid = exposure["id"].as_str().unwrap();
    let flow_id = exposure["flows"][0].as_u64().unwrap();
    let flow = common::of_type(&objs, "flow")
        .into_iter()
        .find(|f| f["id"] == flow_id)
        .unwrap();
    assert!(flow["findings"].as_array().unwrap().iter().any(|v| v == fid));
}

#[test]
fn internal_restriction_on_refused_and_dropped_paths() {
    let objs = audit(&[&common::capture("refused-and-dropped.pcap")], Some(&site()));
    let f = findings_of(&objs, "internal-restriction");
    assert_eq!(f.len(), 2, "{f:?}");
    let states: Vec<String> = f
        .iter()
        .flat_map(|x| x["evidence"]["states"].as_object().unwrap().keys().cloned())
        .collect();
    assert!(
        states.contains(&"S0".to_string()) && states.contains(&"REJ".to_string()),
        "{states:?}"
    );
    // The same Mailbox <-> DC traffic, answered, is silent.
    let objs = audit(&[&common::capture("ldap-simple-bind.pcap")], Some(&site()));
    assert!(findings_of(&objs, "internal-restriction").is_empty());
}

#[test]
fn endpoint_mapper_follow_ups_are_linked_and_blocked_ones_cite_both_flows() {
    let objs = audit(&[&common::capture("epm-map-followup.pcap")], Some(&site()));
    let flows = common::of_type(&objs, "flow");
    let dynamic: Vec<_> = flows.iter().filter(|f| f["purpose"] == "rpc-dynamic").collect();
    assert!(dynamic.len() >= 2);
    for d in &dynamic {
        let by = d["app"]["dcerpc"]["announced_by"].as_u64().expect("announced_by");
        let epm = flows.iter().find(|f| f["id"] == by).unwrap();
        assert_eq!(epm["purpose"], "rpc-epm");
        assert_eq!(epm["server_port"], 135);
        let ports: Vec<u64> = epm["app"]["dcerpc"]["epm_answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["port"].as_u64().unwrap())
            .collect();
        assert!(ports.contains(&d["server_port"].as_u64().unwrap()));
    }
    let names: Vec<&str> = dynamic
        .iter()
        .map(|d| d["app"]["dcerpc"]["announced_interface"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"netlogon") && names.contains(&"drsuapi"),
        "{names:?}"
    );
    assert!(findings_of(&objs, "internal-restriction").is_empty());

    let objs = audit(&[&common::capture("epm-followup-blocked.pcap")], Some(&site()));
    let f = findings_of(&objs, "internal-restriction");
    assert!(!f.is_empty());
    for x in &f {
        let summary = x["summary"].as_str().unwrap();
        assert!(summary.contains("endpoint mapper"), "{summary}");
        let related = x["evidence"]["related_flows"].as_array().unwrap();
        assert_eq!(related.len(), 1, "cites the endpoint-mapper flow");
        assert_eq!(
            x["flows"].as_array().unwrap().len(),
            1,
            "and the blocked follow-up"
        );
    }
}

#[test]
fn public_exchange_rpc_capture_links_emsmdb_and_nspi() {
    // Outlook <-> Exchange 2003 MAPI: the mapper answers NSPI on 4997 and EMSMDB on 1032.
    let Some(cap) = common::public_capture(
        "public_exchange_rpc_capture_links_emsmdb_and_nspi",
        "zeek__dce-rpc__mapi.pcap",
    ) else {
        return;
    };
    let (objs, _, _) = common::read_ndjson(&[&cap], &["--exchange", "2010"]);
    let flows = common::of_type(&objs, "flow");
    let linked: Vec<(u64, String)> = flows
        .iter()
        .filter_map(|f| {
            Some((
                f["server_port"].as_u64()?,
                f["app"]["dcerpc"]["announced_interface"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert!(linked.contains(&(4997, "nspi".into())), "{linked:?}");
    assert!(linked.contains(&(1032, "emsmdb".into())), "{linked:?}");
}

#[test]
fn inferred_topology_is_announced_and_sensible() {
    let cap = common::capture("edge-topology.pcap");
    let objs = audit(&[&cap], None);
    let s = common::of_type(&objs, "summary")[0];
    assert_eq!(s["topology"], "inferred");
    let hosts = s["topology_info"]["hosts"].as_array().unwrap();
    let role_of = |a: &str| {
        hosts
            .iter()
            .find(|h| h["addr"] == a)
            .map(|h| h["roles"].as_str().unwrap().to_string())
    };
    assert_eq!(role_of("127.16.0.10").as_deref(), Some("edge"), "{hosts:?}");
    assert!(role_of("127.1.0.20").unwrap().contains("dns"), "{hosts:?}");
    let out = common::exaudit(&["read", cap.to_str().unwrap(), "-f", "table"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("INFERRED"), "{text}");
    assert!(text.contains("Inferred roles"), "{text}");
    // And the inferred file can be written, corrected and read back.
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("site.toml");
    let out = common::exaudit(&[
        "topology",
        "infer",
        cap.to_str().unwrap(),
        "-o",
        t.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let objs = audit(&[&cap], Some(&t));
    assert_eq!(common::of_type(&objs, "summary")[0]["topology"], "file");
}

#[test]
fn fail_on_sets_exit_code_one() {
    let cap = common::capture("edge-bypass.pcap");
    let site = site();
    let args = [
        "read",
        cap.to_str().unwrap(),
        "--topology",
        site.to_str().unwrap(),
        "-f",
        "ndjson",
    ];
    let mut with = args.to_vec();
    with.extend(["--fail-on", "high"]);
    assert_eq!(common::exaudit(&with).status.code(), Some(1));
    assert_eq!(common::exaudit(&args).status.code(), Some(0));
    let clean = common::capture("edge-topology.pcap");
    let out = common::exaudit(&[
        "read",
        clean.to_str().unwrap(),
        "--topology",
        site.to_str().unwrap(),
        "--fail-on",
        "info",
        "-f",
        "ndjson",
    ]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn cleartext_credentials_are_reported_never_printed() {
    // The lab's passwords: "secret" (slapd), "dXNlcjpzZWNyZXQ=" (curl -u user:secret,
    // Basic), "alicepw" (Dovecot).
    for (cap, secret) in [
        ("ldap-simple-bind.pcap", "secret"),
        ("http-exchange-paths.pcap", "dXNlcjpzZWNyZXQ"),
        ("pop3-imap.pcap", "alicepw"),
    ] {
        let path = common::capture(cap);
        let out = common::exaudit(&[
            "read",
            path.to_str().unwrap(),
            "--topology",
            site().to_str().unwrap(),
            "-f",
            "json",
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let f: Vec<&Value> = doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "cleartext-credentials")
            .collect();
        assert!(!f.is_empty(), "{cap}: no cleartext-credentials finding");
        let raw = std::fs::read(&path).unwrap();
        assert!(
            raw.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{cap} must hold {secret} on the wire"
        );
        assert!(
            !text.contains(secret),
            "{cap}: the password appears in the output"
        );
        for fmt in ["table", "markdown", "csv"] {
            let out = common::exaudit(&["read", path.to_str().unwrap(), "-f", fmt]);
            assert!(
                !String::from_utf8_lossy(&out.stdout).contains(secret),
                "{cap} {fmt}"
            );
        }
    }
    // The LDAP StartTLS session of the same capture has no such finding.
    let objs = audit(&[&common::capture("ldap-simple-bind.pcap")], Some(&site()));
    let flagged: Vec<u64> = findings_of(&objs, "cleartext-credentials")
        .iter()
        .flat_map(|f| f["flows"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()))
        .collect();
    let starttls = common::of_type(&objs, "flow")
        .into_iter()
        .find(|f| f["app"]["ldap"]["starttls"] == true)
        .expect("StartTLS flow");
    assert!(!flagged.contains(&starttls["id"].as_u64().unwrap()));
}

#[test]
fn weak_tls_only_on_the_tls_1_0_connection() {
    let objs = audit(&[&common::capture("http-exchange-paths.pcap")], Some(&site()));
    let weak = findings_of(&objs, "weak-tls");
    assert_eq!(weak.len(), 1);
    assert_eq!(weak[0]["flows"].as_array().unwrap().len(), 1);
    let tls: Vec<_> = common::of_type(&objs, "flow")
        .into_iter()
        .filter(|f| f["app"]["tls"].is_object())
        .collect();
    assert!(tls.len() >= 3);
    for f in tls {
        let v = f["app"]["tls"]["version"].as_str().unwrap();
        assert_eq!(
            f["findings"].as_array().unwrap().is_empty(),
            v != "1.0",
            "TLS {v}"
        );
    }
}

#[test]
fn disabled_by_default_pop3_imap_in_use() {
    let objs = audit(&[&common::capture("pop3-imap.pcap")], Some(&site()));
    let d = findings_of(&objs, "disabled-by-default");
    assert_eq!(d.len(), 2);
    let objs = audit(&[&common::capture("smtp-starttls.pcap")], Some(&site()));
    assert!(findings_of(&objs, "disabled-by-default").is_empty());
}

fn ip(a: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(a)
}

const INTERNET: [u8; 4] = [127, 200, 0, 1];
const EDGE: [u8; 4] = [127, 16, 0, 10];
const MBX: [u8; 4] = [127, 1, 0, 11];
const MBX2: [u8; 4] = [127, 1, 0, 12];
const DC: [u8; 4] = [127, 1, 0, 20];
const CLIENT: [u8; 4] = [127, 2, 0, 50];

fn synthetic(name: &str, build: impl FnOnce(&mut Pcap)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    let mut pcap = Pcap::new();
    build(&mut pcap);
    pcap.write(&p);
    (dir, p)
}

const EHLO: &[u8] = b"EHLO mbx2.lab.test\r\n";

/// A Mailbox -> Mailbox SMTP session through a firewall whose ESMTP inspection
/// masks the banner and the Exchange verbs (Cisco ASA's default policy, as
/// DOMAIN.md describes it; no lab program rewrites SMTP this way, so the
/// bytes are synthetic).
#[test]
fn wire_alteration_on_masked_smtp_and_not_on_clean_smtp() {
    let masked: &[(&[u8], &[u8])] = &[
        (b"", b"220 ****************************************2***0*0****0***0*0\r\n"),
        (EHLO, b"250-mbx1.lab.test Hello\r\n250-SIZE 37748736\r\n250-XXXXXXXA\r\n250-XXXXXXXXXXXXX\r\n250-8BITMIME\r\n250 XXXXXXXB\r\n"),
        (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
    ];
    let clean: &[(&[u8], &[u8])] = &[
        (b"", b"220 mbx1.lab.test Microsoft ESMTP MAIL Service ready\r\n"),
        (EHLO, b"250-mbx1.lab.test Hello\r\n250-SIZE 37748736\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-8BITMIME\r\n250 XEXCH50\r\n"),
        (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
    ];
    let (_d1, bad) = synthetic("masked.pcap", |p| p.conversation(ip(MBX2), ip(MBX), 25, masked));
    let (_d2, good) = synthetic("clean.pcap", |p| p.conversation(ip(MBX2), ip(MBX), 25, clean));
    let objs = audit(&[&bad], Some(&site()));
    let w = findings_of(&objs, "wire-alteration");
    assert_eq!(w.len(), 1, "{:?}", kinds(&objs));
    assert_eq!(w[0]["severity"], "high", "between internal Exchange servers");
    assert!(w[0]["summary"].as_str().unwrap().contains("masked"));
    let objs = audit(&[&good], Some(&site()));
    assert!(kinds(&objs).is_empty(), "{:?}", kinds(&objs));
}

#[test]
fn undocumented_edge_flows_and_not_documented_ones() {
    // Edge -> DC LDAP, and an Edge-initiated EdgeSync connection.
    let (_d1, bad) = synthetic("edge-bad.pcap", |p| {
        p.conversation(
            ip(EDGE),
            ip(DC),
            389,
            &[(b"\x30\x0c\x02\x01\x01\x60\x07\x02\x01\x03\x04\x00\x80\x00", b"")],
        );
        p.conversation(ip(EDGE), ip(MBX), 50636, &[(b"\x16\x03\x01", b"")]);
    });
    let (_d2, good) = synthetic("edge-good.pcap", |p| {
        p.conversation(ip(MBX), ip(EDGE), 50636, &[(b"\x16\x03\x01", b"")]);
        p.conversation(
            ip(EDGE),
            ip(MBX),
            25,
            &[(b"", b"220 mbx1 ESMTP\r\n"), (EHLO, b"250 mbx1\r\n")],
        );
    });
    let objs = audit(&[&bad], Some(&site()));
    assert_eq!(
        findings_of(&objs, "undocumented-flow").len(),
        2,
        "{:?}",
        kinds(&objs)
    );
    let objs = audit(&[&good], Some(&site()));
    assert!(kinds(&objs).is_empty(), "{:?}", kinds(&objs));
}

#[test]
fn cleartext_protocol_on_80_unless_it_only_redirects() {
    let (_d1, content) = synthetic("http-content.pcap", |p| {
        p.conversation(
            ip(CLIENT),
            ip(MBX),
            80,
            &[(
                b"GET /EWS/Exchange.asmx HTTP/1.1\r\nHost: mail\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            )],
        );
    });
    let (_d2, redirect) =
        synthetic("http-redirect.pcap", |p| {
            p.conversation(ip(CLIENT), ip(MBX), 80, &[(
            b"GET /owa/ HTTP/1.1\r\nHost: mail\r\n\r\n",
            b"HTTP/1.1 301 Moved Permanently\r\nLocation: https://mail/owa/\r\nContent-Length: 0\r\n\r\n",
        )]);
        });
    let objs = audit(&[&content], Some(&site()));
    assert_eq!(
        findings_of(&objs, "cleartext-protocol").len(),
        1,
        "{:?}",
        kinds(&objs)
    );
    let objs = audit(&[&redirect], Some(&site()));
    assert!(
        findings_of(&objs, "cleartext-protocol").is_empty(),
        "{:?}",
        kinds(&objs)
    );
}

#[test]
fn unknown_service_on_an_exchange_server() {
    let (_d1, odd) = synthetic("odd.pcap", |p| {
        p.conversation(ip(CLIENT), ip(MBX), 8443, &[(b"hello", b"world")])
    });
    let (_d2, known) = synthetic("known.pcap", |p| {
        p.conversation(ip(CLIENT), ip(MBX), 587, &[(b"", b"220 mbx ESMTP\r\n")])
    });
    let objs = audit(&[&odd], Some(&site()));
    assert_eq!(
        findings_of(&objs, "unknown-service").len(),
        1,
        "{:?}",
        kinds(&objs)
    );
    let f = common::of_type(&objs, "flow");
    assert_eq!(f[0]["purpose"], "unknown");
    let objs = audit(&[&known], Some(&site()));
    assert!(
        findings_of(&objs, "unknown-service").is_empty(),
        "{:?}",
        kinds(&objs)
    );
}

#[test]
fn a_syn_flood_from_the_internet_is_a_handful_of_findings() {
    let (_d, flood) = synthetic("flood.pcap", |p| {
        for i in 0..5000u32 {
            let src = Ipv4Addr::new(198, 51, (i >> 8) as u8, i as u8);
            p.tcp(src, 1024 + (i % 60000) as u16, ip(MBX), 25, 0x02, i, 0, b"");
            p.tcp(ip(MBX), 25, src, 1024 + (i % 60000) as u16, 0x12, 9, i + 1, b"");
        }
        let _ = INTERNET;
    });
    let objs = audit(&[&flood], Some(&site()));
    let f = common::of_type(&objs, "finding");
    assert!(f.len() <= 3, "{} findings", f.len());
    let bypass = findings_of(&objs, "edge-bypass");
    assert_eq!(bypass[0]["evidence"]["flow_count"], 5000);
    assert_eq!(bypass[0]["evidence"]["clients_distinct"], 5000);
    assert!(bypass[0]["flows"].as_array().unwrap().len() <= 20);
}

#[test]
fn readme_example_audit_is_current() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .current_dir(common::repo())
        .args([
            "read",
            "captures/edge-bypass.pcap",
            "--topology",
            "captures/site-edge.toml",
            "-f",
            "markdown",
        ])
        .output()
        .unwrap();
    let now = String::from_utf8(out.stdout).unwrap();
    let committed = std::fs::read_to_string(common::repo().join("docs/example-audit.md")).unwrap();
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.contains("packets/s"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&now),
        strip(&committed),
        "regenerate docs/example-audit.md (see README)"
    );
    // The README embeds the same report (headings demoted by three levels).
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let start = readme.find("<!-- example-audit:start -->").unwrap();
    let end = readme.find("<!-- example-audit:end -->").unwrap();
    let got: Vec<String> = readme[start..end]
        .lines()
        .skip(1)
        .map(|l| {
            l.strip_prefix("###")
                .map(str::to_string)
                .unwrap_or_else(|| l.to_string())
        })
        .filter(|l| !l.contains("packets/s") && !l.is_empty())
        .collect();
    let want: Vec<String> = strip(&committed).into_iter().filter(|l| !l.is_empty()).collect();
    assert_eq!(
        got, want,
        "README's example audit differs from docs/example-audit.md"
    );
}

#[test]
fn each_exchange_http_path_gets_its_purpose() {
    // curl against nginx: one cleartext request per Exchange path, and HTTPS with SNI.
    let objs = audit(&[&common::capture("http-exchange-paths.pcap")], Some(&site()));
    let flows = common::of_type(&objs, "flow");
    let purpose_of = |path: &str| -> Vec<String> {
        flows
            .iter()
            .filter(|f| {
                f["app"]["http"]["requests"][0]["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with(path))
            })
            .map(|f| f["purpose"].as_str().unwrap().to_string())
            .collect()
    };
    for (path, purpose) in [
        ("/owa/", "owa"),
        ("/EWS/", "ews"),
        ("/mapi/", "mapi-http"),
        ("/Microsoft-Server-ActiveSync", "activesync"),
        ("/autodiscover/", "autodiscover"),
        ("/OAB/", "oab"),
        ("/rpc/rpcproxy.dll", "outlook-anywhere"),
    ] {
        let p = purpose_of(path);
        assert!(!p.is_empty() && p.iter().all(|x| x == purpose), "{path}: {p:?}");
    }
    let rpc_in = flows
        .iter()
        .find(|f| f["app"]["http"]["requests"][0]["method"] == "RPC_IN_DATA")
        .unwrap();
    assert_eq!(rpc_in["purpose"], "outlook-anywhere");
    let tls: Vec<_> = flows.iter().filter(|f| f["server_port"] == 443).collect();
    assert!(tls.iter().all(|f| f["app"]["tls"]["sni"] == "mail.lab.test"));
    // The OWA request on 80 answered by a redirect to https is not cleartext content.
    let owa = flows.iter().find(|f| f["purpose"] == "owa").unwrap();
    assert_eq!(owa["app"]["http"]["redirect_to_https"], true);
    assert!(owa["findings"].as_array().unwrap().is_empty(), "{owa}");
}

#[test]
fn smtp_starttls_used_versus_plain() {
    // swaks --tls to Postfix with a certificate, and swaks to Postfix without TLS.
    let objs = audit(&[&common::capture("smtp-starttls.pcap")], Some(&site()));
    let f = common::of_type(&objs, "flow")[0];
    assert_eq!(f["app"]["smtp"]["starttls_offered"], true);
    assert_eq!(f["app"]["smtp"]["starttls"], true);
    assert!(
        f["app"]["tls"]["version"].is_string(),
        "the handshake after STARTTLS is read: {f}"
    );
    let objs = audit(&[&common::capture("smtp-plain.pcap")], Some(&site()));
    let f = common::of_type(&objs, "flow")[0];
    assert!(f["app"]["smtp"]["banner"].is_string());
    assert!(f["app"]["smtp"].get("starttls").is_none(), "{f}");
    assert!(f["app"]["smtp"].get("starttls_offered").is_none(), "{f}");
    assert!(f["app"].get("tls").is_none());
}

#[test]
fn endpoint_mapper_lookup_answer_in_two_fragments_is_read() {
    // impacket rpcdump against Samba: one ept_lookup answer of 53 entries in
    // two DCE/RPC fragments (6.8 KB), more than the default 4 KiB per direction.
    let objs = audit(&[&common::capture("epm-rpcdump.pcap")], Some(&site()));
    let epm = common::of_type(&objs, "flow")
        .into_iter()
        .find(|f| f["server_port"] == 135)
        .unwrap();
    let answers = epm["app"]["dcerpc"]["epm_answers"].as_array().expect("answers");
    let ports: std::collections::BTreeSet<u64> =
        answers.iter().map(|a| a["port"].as_u64().unwrap()).collect();
    for p in [49152, 49153, 49154] {
        assert!(ports.contains(&p), "{ports:?}");
    }
}

#[test]
fn many_internal_clients_doing_the_same_are_one_finding_with_exact_counts() {
    // 300 workstations each try an undocumented port on a Mailbox server
    // twice: one finding for the group, 600 flows, 300 distinct clients.
    let (_d, cap) = synthetic("clients.pcap", |p| {
        for i in 0..600u32 {
            let c = i % 300;
            let src = Ipv4Addr::new(127, 2, (c / 200) as u8, 1 + (c % 200) as u8);
            let sport = 40000 + i as u16;
            p.tcp(src, sport, ip(MBX), 7777, 0x02, i, 0, b"");
            p.tcp(ip(MBX), 7777, src, sport, 0x12, 9, i + 1, b"");
        }
    });
    let objs = audit(&[&cap], Some(&site()));
    let f = common::of_type(&objs, "finding");
    assert_eq!(f.len(), 1, "{:?}", kinds(&objs));
    let e = &f[0]["evidence"];
    assert_eq!(e["client"], "internal_clients");
    assert_eq!(e["flow_count"], 600);
    assert_eq!(e["clients_distinct"], 300);
    let summary = f[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("300 hosts, e.g. 127.2.0.1 (internal_clients)"),
        "{summary}"
    );
}

#[test]
fn unexplained_dynamic_ports_of_one_server_are_one_finding() {
    // Connections to 40 different ports of the dynamic range of a Mailbox
    // server, none announced by an endpoint-mapper answer in the capture.
    let (_d, cap) = synthetic("dynamic.pcap", |p| {
        for i in 0..40u16 {
            p.conversation(ip(CLIENT), ip(MBX), 50000 + 97 * i, &[(b"\x01\x02", b"\x03\x04")]);
        }
    });
    let objs = audit(&[&cap], Some(&site()));
    let f = findings_of(&objs, "unknown-service");
    assert_eq!(f.len(), 1, "{:?}", kinds(&objs));
    let e = &f[0]["evidence"];
    assert_eq!(e["service"], "tcp/49152-65535");
    assert_eq!(e["flow_count"], 40);
    assert_eq!(
        e["details"].as_array().unwrap().len(),
        8,
        "the first ports, capped"
    );
    assert_eq!(e["details"][0], "port 50000");
    let summary = f[0]["summary"].as_str().unwrap();
    assert!(summary.contains(":49152-65535 (mailbox)"), "{summary}");
}

#[test]
fn unanswered_attempts_are_one_finding_per_server_naming_the_port_or_the_count() {
    // A workstation tries RDP on the Edge once (never answered) and reaches
    // port 7777 of a Mailbox server, which answers; the other Mailbox server
    // tries 30 ports of the first (none answered: a restricted G1 path).
    let (_d, cap) = synthetic("attempts.pcap", |p| {
        p.tcp(ip(CLIENT), 40000, ip(EDGE), 3389, 0x02, 1, 0, b"");
        for i in 0..30u16 {
            p.tcp(ip(MBX2), 41000 + i, ip(MBX), 1000 + 7 * i, 0x02, 1, 0, b"");
        }
        p.conversation(ip(CLIENT), ip(MBX), 7777, &[(b"\x01\x02", b"\x03\x04")]);
    });
    let objs = audit(&[&cap], Some(&site()));
    let by_server = |server: &str| -> Vec<&Value> {
        common::of_type(&objs, "finding")
            .into_iter()
            .filter(|f| f["evidence"]["server"] == server)
            .collect()
    };
    // One attempt: the finding names its port, as for any other flow.
    let edge = by_server("127.16.0.10");
    assert_eq!(edge.len(), 1, "{edge:#?}");
    assert_eq!(edge[0]["evidence"]["service"], "tcp/3389");
    let summary = edge[0]["summary"].as_str().unwrap();
    assert!(summary.contains("127.16.0.10:3389 (edge)"), "{summary}");
    // The scan: one finding for 30 ports; the answered service stays apart.
    let mbx = by_server("127.1.0.11");
    let services: Vec<&str> = mbx
        .iter()
        .map(|f| f["evidence"]["service"].as_str().unwrap())
        .collect();
    assert!(services.contains(&"tcp/7777"), "{services:?}");
    let scan: Vec<_> = mbx
        .iter()
        .filter(|f| f["evidence"]["service"] == "tcp/30 ports in 1000-1203 (unanswered)")
        .collect();
    assert_eq!(scan.len(), 1, "{services:?}");
    assert_eq!(scan[0]["evidence"]["flow_count"], 30);
    assert_eq!(scan[0]["evidence"]["details"][0], "port 1000");
    let summary = scan[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(":1000 and 29 other ports (mailbox)"),
        "{summary}"
    );
}
