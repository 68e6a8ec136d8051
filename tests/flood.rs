//! A SYN flood / scan from random internet sources, as seen on a SPAN port:
//! the flow table stays under its cap, evictions are counted and reported,
//! and the findings are a handful with counts, not one per source.

mod common;

use std::net::Ipv4Addr;

use common::pcapgen::Pcap;

const SYNS: u32 = 200_000;
const CAP: &str = "20000";

#[test]
fn syn_flood_stays_under_the_flow_cap_with_aggregated_findings() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("flood.pcap");
    let mut p = Pcap::new();
    let mailbox = Ipv4Addr::new(127, 1, 0, 11);
    let mut x: u32 = 0x9e37_79b9;
    for i in 0..SYNS {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        // Random public sources (TEST-NET and benchmark ranges are just bytes in a file).
        let src = Ipv4Addr::new(198, 18 + (x >> 31) as u8, (x >> 8) as u8, x as u8);
        p.tcp(src, 1024 + (x >> 16) as u16 % 60000, mailbox, 25, 0x02, i, 0, b"");
    }
    p.write(&cap);
    let site = common::repo().join("captures/site-edge.toml");
    let (objs, code, stderr) = common::read_ndjson(
        &[&cap],
        &["--max-flows", CAP, "--topology", site.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("evicted"),
        "the eviction warning is printed: {stderr}"
    );
    let s = common::of_type(&objs, "summary")[0];
    assert_eq!(s["peak_flows"].as_u64().unwrap(), 20_000);
    let flows = s["flows"].as_u64().unwrap();
    assert!(flows > 150_000, "{flows} flows");
    assert_eq!(s["evictions"].as_u64().unwrap(), flows - 20_000);
    assert_eq!(
        common::of_type(&objs, "flow").len() as u64,
        flows,
        "every flow is still reported"
    );
    // Unanswered SYNs to a Mailbox are attempts, not exposure: no finding per source.
    let findings = common::of_type(&objs, "finding");
    assert!(findings.len() <= 3, "{} findings", findings.len());
}
