//! exaudit's TCP and UDP flows match tshark's conversation tables
//! (`tshark -q -z conv,tcp -z conv,udp`, kept in tests/expected/*.conv by
//! scripts/make-expected.sh) on every capture in captures/ and
//! ../shared/captures/public/: the same conversations, the same packet counts
//! per direction.
//!
//! The one deliberate difference: tshark folds the fragments of an IP
//! datagram into one reassembled packet, exaudit counts every IP packet. For a
//! capture with fragments the conversations must still be the same and the
//! packet total must exceed tshark's by exactly the number of fragments that
//! tshark folded (recorded as `# fragments N` in the expected file).
//!
//! tshark has no idle timeouts, so the comparison runs with timeouts longer
//! than any capture; `idle_timeout_splits_a_long_udp_conversation` checks the
//! default behaviour. Where tshark's conversation tap skips a packet it cannot
//! dissect, the difference is listed in `KNOWN_DIFFERENCES` with its reason.

/// (capture, conversation "proto lo lo_port hi hi_port", extra packets exaudit
/// counts lo->hi and hi->lo, why).
const KNOWN_DIFFERENCES: &[(&str, &str, (u64, u64), &str)] = &[(
    "zeek__tcp__truncated-header.pcap",
    "tcp 128.3.26.249 25 201.186.157.67 60827",
    (0, 1),
    "frame 1 is a SYN whose TCP option length is malformed: tshark's conversation tap never sees it, exaudit counts it",
)];

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

/// (proto, lo, lo_port, hi, hi_port) -> list of (lo->hi packets, hi->lo packets)
type Convs = BTreeMap<(String, String, u16, String, u16), Vec<(u64, u64)>>;

fn exaudit_convs(flows: &[&serde_json::Value]) -> Convs {
    let mut m = Convs::new();
    for f in flows {
        if let Some((proto, lo, hi, lohi, hilo)) = common::conversation(f) {
            m.entry((proto, lo.0, lo.1, hi.0, hi.1))
                .or_default()
                .push((lohi, hilo));
        }
    }
    for v in m.values_mut() {
        v.sort();
    }
    m
}

fn expected_convs(text: &str) -> (Convs, u64) {
    let mut m = Convs::new();
    let mut frags = 0;
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("# fragments ") {
            frags = n.trim().parse().unwrap();
            continue;
        }
        let p: Vec<&str> = line.split_whitespace().collect();
        if p.len() != 7 {
            continue;
        }
        // Normalise the address text the way exaudit prints it.
        let a: IpAddr = p[1].parse().unwrap();
        let b: IpAddr = p[3].parse().unwrap();
        m.entry((
            p[0].to_string(),
            a.to_string(),
            p[2].parse().unwrap(),
            b.to_string(),
            p[4].parse().unwrap(),
        ))
        .or_default()
        .push((p[5].parse().unwrap(), p[6].parse().unwrap()));
    }
    for v in m.values_mut() {
        v.sort();
    }
    (m, frags)
}

fn total(c: &Convs) -> u64 {
    c.values().flatten().map(|(a, b)| a + b).sum()
}

#[test]
fn flows_match_tshark_conversations_on_every_capture() {
    let dir = common::repo().join("tests/expected");
    let public = common::shared_public();
    let mut checked = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".conv"))
        else {
            continue;
        };
        let local = common::repo().join("captures").join(name);
        let capture = match &public {
            _ if local.exists() => local,
            Some(dir) => dir.join(name),
            None => {
                skipped.push(name.to_string());
                continue;
            }
        };
        assert!(capture.exists(), "{} is missing", capture.display());
        let day = "86400";
        let (objs, _code, _stderr) = common::read_ndjson(
            &[&capture],
            &[
                "--tcp-timeout",
                day,
                "--tcp-closed-timeout",
                day,
                "--udp-timeout",
                day,
                "--icmp-timeout",
                day,
            ],
        );
        let ours = exaudit_convs(&common::of_type(&objs, "flow"));
        let (mut theirs, frags) = expected_convs(&std::fs::read_to_string(&path).unwrap());
        for (cap, conv, (d1, d2), _why) in KNOWN_DIFFERENCES {
            if *cap != name {
                continue;
            }
            let p: Vec<&str> = conv.split_whitespace().collect();
            let key = (
                p[0].to_string(),
                p[1].to_string(),
                p[2].parse().unwrap(),
                p[3].to_string(),
                p[4].parse().unwrap(),
            );
            let v = theirs
                .get_mut(&key)
                .expect("known difference names a real conversation");
            v[0].0 += d1;
            v[0].1 += d2;
        }
        checked += 1;
        if frags == 0 {
            if ours != theirs {
                let only_ours: Vec<_> = ours
                    .iter()
                    .filter(|(k, v)| theirs.get(*k) != Some(v))
                    .take(5)
                    .collect();
                let only_theirs: Vec<_> = theirs
                    .iter()
                    .filter(|(k, v)| ours.get(*k) != Some(v))
                    .take(5)
                    .collect();
                failures.push(format!(
                    "{name}:\n  exaudit: {only_ours:?}\n  tshark:  {only_theirs:?}"
                ));
            }
        } else {
            let ours_keys: Vec<_> = ours.keys().collect();
            let theirs_keys: Vec<_> = theirs.keys().collect();
            if ours_keys != theirs_keys || total(&ours) != total(&theirs) + frags {
                failures.push(format!(
                    "{name}: conversations or fragment-adjusted totals differ: exaudit {} packets in {} conversations, tshark {} + {frags} fragments in {}",
                    total(&ours),
                    ours.len(),
                    total(&theirs),
                    theirs.len()
                ));
            }
        }
    }
    if !skipped.is_empty() {
        eprintln!(
            "skipping flows_match_tshark_conversations_on_every_capture for {} public captures \
             (checked the {checked} in captures/): ../shared/captures/public not found",
            skipped.len()
        );
    }
    assert!(
        checked + skipped.len() >= 30 && checked > 0,
        "only {checked} expected files found in {}",
        dir.display()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} captures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn idle_timeout_splits_a_long_udp_conversation() {
    // SIP over UDP 5060<->5060 with pauses longer than the 60 s UDP timeout:
    // tshark shows one conversation of 63 packets; exaudit, like Zeek, ends the
    // flow when idle and starts a new one, so the same packets form several flows.
    let Some(capture) = common::public_capture(
        "idle_timeout_splits_a_long_udp_conversation",
        "zeek__sip__wireshark.pcap",
    ) else {
        return;
    };
    let (objs, code, _) = common::read_ndjson(&[&capture], &[]);
    assert_eq!(code, 0);
    let sip: Vec<_> = common::of_type(&objs, "flow")
        .into_iter()
        .filter(|f| f["client_port"] == 5060 && f["server_port"] == 5060)
        .filter(|f| {
            let mut hosts = [f["client"].as_str().unwrap(), f["server"].as_str().unwrap()];
            hosts.sort();
            hosts == ["192.168.1.2", "212.242.33.35"]
        })
        .collect();
    assert!(
        sip.len() > 1,
        "expected the idle conversation to be split, got {} flow(s)",
        sip.len()
    );
    let total: u64 = sip
        .iter()
        .map(|f| f["c2s_packets"].as_u64().unwrap() + f["s2c_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 63);
    let summary = common::of_type(&objs, "summary")[0];
    assert!(summary["expired"].as_u64().unwrap() >= sip.len() as u64 - 1);
}
