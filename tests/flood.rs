//! A SYN flood / scan from random internet sources and internal clients, as
//! seen on a SPAN port: the flow table stays under its cap, evictions are
//! counted and reported, and the findings are a handful with counts, not one
//! per source or per port.

mod common;

use std::net::Ipv4Addr;

use common::pcapgen::Pcap;

const SYNS: u32 = 1_000_000;
const CAP: u64 = 50_000;

#[test]
fn syn_flood_stays_under_the_flow_cap_with_aggregated_findings() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("flood.pcap");
    let mut p = Pcap::new();
    let mailbox = Ipv4Addr::new(127, 1, 0, 11);
    let edge = Ipv4Addr::new(127, 16, 0, 10);
    let mut x: u32 = 0x9e37_79b9;
    for i in 0..SYNS {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Random public sources (TEST-NET and benchmark ranges are just bytes in a file).
        // Half from the internet, half from the site's internal clients
        // (127.2.0.0/16), whose unanswered attempts are failed paths.
        let src = if i % 2 == 0 {
            Ipv4Addr::new(198, 18 + (x >> 31) as u8, (x >> 8) as u8, x as u8)
        } else {
            Ipv4Addr::new(127, 2, (x >> 8) as u8, x as u8)
        };
        let (dst, port) = match i % 4 {
            1 => (mailbox, 443),
            3 => (edge, 1 + (x >> 7) as u16 % 65535),
            _ => (mailbox, 25),
        };
        p.tcp(src, 1024 + (x >> 16) as u16 % 60000, dst, port, 0x02, i, 0, b"");
    }
    p.write(&cap);
    let site = common::repo().join("captures/site-edge.toml");
    let out = dir.path().join("flood.ndjson");
    let run = common::exaudit(&[
        "read",
        cap.to_str().unwrap(),
        "-f",
        "ndjson",
        "-o",
        out.to_str().unwrap(),
        "--max-flows",
        &CAP.to_string(),
        "--topology",
        site.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("evicted"),
        "the eviction warning is printed: {stderr}"
    );
    // A million flow records: count them line by line, parse only the rest.
    let text = std::fs::read_to_string(&out).unwrap();
    let mut flow_records = 0u64;
    let mut findings = Vec::new();
    let mut summary = None;
    for line in text.lines() {
        if line.starts_with("{\"type\":\"flow\"") {
            flow_records += 1;
            continue;
        }
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["type"].as_str() {
            Some("finding") => findings.push(v),
            Some("summary") => summary = Some(v),
            _ => panic!("unexpected record {line}"),
        }
    }
    let s = summary.expect("a summary record");
    assert_eq!(s["packets"].as_u64().unwrap(), u64::from(SYNS));
    assert_eq!(
        s["peak_flows"].as_u64().unwrap(),
        CAP,
        "the table never grew past its cap"
    );
    let flows = s["flows"].as_u64().unwrap();
    assert!(flows > 900_000, "{flows} flows");
    // Every flow but those still tracked at the end left the table by
    // eviction, idle timeout, or a new SYN reusing its 5-tuple (the random
    // internal sources repeat now and then).
    let left: u64 = ["evictions", "expired", "reused_tuples"]
        .iter()
        .map(|k| s[*k].as_u64().unwrap())
        .sum();
    assert_eq!(left, flows - CAP);
    assert!(s["evictions"].as_u64().unwrap() > 900_000);
    assert_eq!(flow_records, flows, "every flow is still reported");
    // Unanswered SYNs to a Mailbox are attempts, not exposure: no finding per source.
    // The internal clients' scan of the Edge (a quarter of the SYNs, on
    // random ports) is one finding with counts, not one per port.
    assert_eq!(findings.len(), 1, "{findings:#?}");
    let scan = &findings[0];
    let e = &scan["evidence"];
    assert_eq!(scan["kind"], "undocumented-flow");
    assert_eq!(e["server"], "127.16.0.10");
    assert_eq!(e["flow_count"], u64::from(SYNS / 4));
    assert_eq!(e["states"]["S0"], u64::from(SYNS / 4));
    assert!(e["clients_distinct"].as_u64().unwrap() > 60_000, "{e}");
    let service = e["service"].as_str().unwrap();
    assert!(
        service.starts_with("tcp/") && service.ends_with(" ports in 1-65535 (unanswered)"),
        "{service}"
    );
    let ports: u64 = service[4..].split(' ').next().unwrap().parse().unwrap();
    assert!(ports > 60_000, "{service}");
    assert_eq!(
        e["details"].as_array().unwrap().len(),
        8,
        "the first ports, capped"
    );
    let summary = scan["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("and {} other ports (edge)", ports - 1)),
        "{summary}"
    );
}

#[test]
fn a_scan_does_not_use_up_the_inspection_slots() {
    // 5,000 unanswered SYNs stay in the table (no timeout passes), then one
    // SMTP session: with room for only 100 inspections at once, the session
    // is still inspected, since flows without payload take no slot.
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("scan-then-smtp.pcap");
    let mut p = Pcap::new();
    let mailbox = Ipv4Addr::new(127, 1, 0, 11);
    for i in 0..5000u32 {
        let src = Ipv4Addr::new(198, 18, (i >> 8) as u8, i as u8);
        p.tcp(src, 40000, mailbox, 25, 0x02, i, 0, b"");
    }
    p.conversation(
        Ipv4Addr::new(127, 1, 0, 12),
        mailbox,
        25,
        &[
            (b"", b"220 mbx.lab.test ESMTP ready\r\n"),
            (b"EHLO mbx2.lab.test\r\n", b"250-mbx.lab.test\r\n250 STARTTLS\r\n"),
            (b"QUIT\r\n", b"221 bye\r\n"),
        ],
    );
    p.write(&cap);
    let (objs, code, stderr) = common::read_ndjson(&[&cap], &["--max-inspecting", "100"]);
    assert_eq!(code, 0, "{stderr}");
    let smtp: Vec<_> = common::of_type(&objs, "flow")
        .into_iter()
        .filter(|f| f["app"]["smtp"].is_object())
        .collect();
    assert_eq!(smtp.len(), 1, "the SMTP session was inspected");
    assert_eq!(smtp[0]["app"]["smtp"]["ehlo"], true);
    let s = common::of_type(&objs, "summary")[0];
    assert_eq!(s["not_inspected"], 0);
}
