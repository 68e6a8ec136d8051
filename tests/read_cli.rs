//! `exaudit read` as a user runs it: formats, output file, errors, exit codes.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

const FLOW_FIELDS: &[&str] = &[
    "type",
    "id",
    "proto",
    "client",
    "client_port",
    "server",
    "server_port",
    "client_role",
    "server_role",
    "first_ts",
    "last_ts",
    "state",
    "history",
    "direction",
    "c2s_packets",
    "c2s_bytes",
    "s2c_packets",
    "s2c_bytes",
    "purpose",
    "rule",
    "app",
    "findings",
];

#[test]
fn ndjson_flow_records_follow_the_contract() {
    let cap = common::capture("smtp-plain.pcap");
    let (objs, code, stderr) = common::read_ndjson(&[&cap], &[]);
    assert_eq!(code, 0, "{stderr}");
    let flows = common::of_type(&objs, "flow");
    assert_eq!(flows.len(), 1);
    let f = flows[0];
    for k in FLOW_FIELDS {
        assert!(f.get(k).is_some(), "flow record lacks {k}: {f}");
    }
    // swaks on 127.200.0.1 talked to Postfix on 127.1.0.11:25 and both closed.
    assert_eq!(f["proto"], "tcp");
    assert_eq!(f["client"], "127.200.0.1");
    assert_eq!(f["server"], "127.1.0.11");
    assert_eq!(f["server_port"], 25);
    assert_eq!(f["state"], "SF");
    assert_eq!(f["direction"], "seen", "the SYN was captured");
    assert!(
        f["history"].as_str().unwrap().starts_with("ShA"),
        "{}",
        f["history"]
    );
    let ts = f["first_ts"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-11-22T07:50:00.123456Z".len(), "{ts}");
    assert!(ts.ends_with('Z'));
    let summary = common::of_type(&objs, "summary");
    assert_eq!(summary.len(), 1);
    assert_eq!(objs.last().unwrap()["type"], "summary", "summary comes last");
    let s = summary[0];
    for k in [
        "packets",
        "bytes",
        "decode_errors",
        "flows",
        "evictions",
        "capture_drops",
        "wall_time_s",
        "inputs",
        "clock_jumps",
        "direction_unknown",
        "direction_unknown_flows",
    ] {
        assert!(s.get(k).is_some(), "summary lacks {k}");
    }
    let packets = f["c2s_packets"].as_u64().unwrap() + f["s2c_packets"].as_u64().unwrap();
    assert_eq!(s["packets"].as_u64().unwrap(), packets);
}

#[test]
fn json_csv_and_table_formats() {
    let cap = common::capture("edge-topology.pcap");
    let path = cap.display().to_string();
    let out = common::exaudit(&["read", &path, "-f", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let flows = doc["flows"].as_array().unwrap();
    assert!(flows.len() >= 7, "{} flows", flows.len());
    assert!(doc["findings"].is_array());
    assert_eq!(doc["summary"]["type"], "summary");
    assert_eq!(doc["summary"]["flows"].as_u64().unwrap(), flows.len() as u64);

    let out = common::exaudit(&["read", &path, "-f", "csv"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("id,proto,client,client_port,server,server_port"));
    assert!(text.lines().next().unwrap().contains(",state,history,direction,"));
    assert_eq!(lines.count(), flows.len());

    let out = common::exaudit(&["read", &path, "-f", "table"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("127.16.0.10"), "{text}");
    assert!(text.contains("50636"), "{text}");
}

#[test]
fn output_file_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("audit.ndjson");
    let cap = common::capture("dns.pcap");
    let out = common::exaudit(&[
        "read",
        &cap.display().to_string(),
        "-o",
        &target.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty(), "nothing on stdout with -o");
    let text = std::fs::read_to_string(&target).unwrap();
    assert!(text.lines().last().unwrap().contains("\"type\":\"summary\""));
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn damaged_file_reports_and_still_audits_the_readable_part() {
    let Some(bad) = common::public_capture(
        "damaged_file_reports_and_still_audits_the_readable_part",
        "sv__smtp-to-comma__10.7.29.101_49898-178.63.41.150_25.pcap",
    ) else {
        return;
    };
    let good = common::capture("dns.pcap");
    let (objs, code, stderr) = common::read_ndjson(&[&bad, &good], &[]);
    assert_eq!(code, 2, "an input error exits 2");
    assert!(stderr.contains("packet 19 at byte offset 3695"), "{stderr}");
    assert!(stderr.contains("3925868813"), "{stderr}");
    let flows = common::of_type(&objs, "flow");
    assert!(
        flows.iter().any(|f| f["server_port"] == 25),
        "readable SMTP part audited"
    );
    assert!(
        flows.iter().any(|f| f["server_port"] == 53),
        "the next file is still read"
    );
    let s = common::of_type(&objs, "summary")[0];
    assert!(s["inputs"][0]["error"].as_str().unwrap().contains("packet 19"));
}

#[test]
fn missing_file_and_non_capture_exit_2_with_a_message() {
    let (_, code, stderr) = common::read_ndjson(&[std::path::Path::new("/no/such/case.pcap")], &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("/no/such/case.pcap") && stderr.contains("cannot open"),
        "{stderr}"
    );
    let readme = common::repo().join("README.md");
    let (_, code, stderr) = common::read_ndjson(&[&readme], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not a capture file"), "{stderr}");
}

#[test]
fn header_only_capture_is_a_clean_empty_audit() {
    let Some(cap) = common::public_capture("header_only_capture_is_a_clean_empty_audit", "zeek__empty.pcap")
    else {
        return;
    };
    let (objs, code, _) = common::read_ndjson(&[&cap], &[]);
    assert_eq!(code, 0);
    assert_eq!(common::of_type(&objs, "flow").len(), 0);
    assert_eq!(common::of_type(&objs, "summary")[0]["packets"], 0);
}

#[test]
fn gzip_input_gives_the_same_flows() {
    let cap = common::capture("edge-topology.pcap");
    let dir = tempfile::tempdir().unwrap();
    let gz = dir.path().join("edge-topology.pcap.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    std::io::copy(&mut std::fs::File::open(&cap).unwrap(), &mut enc).unwrap();
    enc.finish().unwrap();
    let strip = |objs: Vec<serde_json::Value>| -> Vec<serde_json::Value> {
        objs.into_iter().filter(|o| o["type"] == "flow").collect()
    };
    let (a, _, _) = common::read_ndjson(&[&cap], &[]);
    let (b, code, _) = common::read_ndjson(&[&gz], &[]);
    assert_eq!(code, 0);
    assert_eq!(strip(a), strip(b));
}

#[test]
fn files_out_of_order_are_read_in_the_given_order_with_a_warning() {
    let Some(older) = common::public_capture(
        "files_out_of_order_are_read_in_the_given_order_with_a_warning",
        "zeek__smtp-multi-addr.pcap", // 2015
    ) else {
        return;
    };
    let newer = common::capture("dns.pcap"); // 2026
    let (_, code, stderr) = common::read_ndjson(&[&newer, &older], &[]);
    assert_eq!(code, 0);
    assert!(stderr.contains("starts before"), "{stderr}");
}

#[test]
fn closed_pipe_is_not_an_error() {
    let Some(cap) = common::public_capture("closed_pipe_is_not_an_error", "zeek__dce-rpc__mapi.pcap") else {
        return;
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .args(["read", &cap.display().to_string(), "-f", "ndjson"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn flow_cap_evicts_and_counts() {
    let Some(cap) = common::public_capture("flow_cap_evicts_and_counts", "ndpi__synscan.pcap") else {
        return;
    };
    let (objs, code, _) = common::read_ndjson(&[&cap], &["--max-flows", "50"]);
    assert_eq!(code, 0);
    let s = common::of_type(&objs, "summary")[0];
    assert!(s["evictions"].as_u64().unwrap() > 0);
    assert_eq!(s["peak_flows"], 50);
    // Every flow is still reported, evicted or not.
    assert_eq!(
        s["flows"].as_u64().unwrap(),
        common::of_type(&objs, "flow").len() as u64
    );
}

#[test]
fn each_link_type_yields_flows() {
    for (name, min_flows) in [
        ("sv__decode-sll2-01__input.pcap", 1),      // Linux cooked v2
        ("tcpdump__tcp-handshake-nano.pcap", 1),    // Linux cooked v1, nanoseconds
        ("zeek__tls__pop3-starttls.pcap", 1),       // BSD null/loopback
        ("zeek__http-qinq-0.pcap", 1),              // two stacked 802.1Q tags
        ("tcpdump__pptp.pcap", 1),                  // big-endian pcap
        ("zeek__pcapng-multi-interface.pcapng", 1), // pcapng, two interfaces
        ("zeek__ldap__issue-32.pcapng", 1),         // pcapng nanosecond SLL
    ] {
        let Some(cap) = common::public_capture("each_link_type_yields_flows", name) else {
            return;
        };
        let (objs, code, stderr) = common::read_ndjson(&[&cap], &[]);
        assert_eq!(code, 0, "{name}: {stderr}");
        let n = common::of_type(&objs, "flow").len();
        assert!(n >= min_flows, "{name}: {n} flows");
    }
}

#[test]
fn snaplen_truncated_packets_count_their_real_length() {
    // Every frame of this capture was cut to 68 bytes or less by the snaplen.
    let Some(cap) = common::public_capture(
        "snaplen_truncated_packets_count_their_real_length",
        "zeek__tcp__truncated-header.pcap",
    ) else {
        return;
    };
    let (objs, _, _) = common::read_ndjson(&[&cap], &[]);
    let f = common::of_type(&objs, "flow")[0];
    let bytes = f["c2s_bytes"].as_u64().unwrap() + f["s2c_bytes"].as_u64().unwrap();
    let packets = f["c2s_packets"].as_u64().unwrap() + f["s2c_packets"].as_u64().unwrap();
    assert_eq!(packets, 24);
    // tshark: sum(ip.len) = 1589, while only 1314 bytes of frames were captured.
    assert_eq!(
        bytes, 1589,
        "IP bytes must come from the IP headers, not the captured length"
    );
}

#[test]
fn output_to_dev_null_leaves_the_device_alone() {
    // Atomic replacement is for regular files; /dev/null must stay a device.
    let cap = common::capture("dns.pcap");
    let out = common::exaudit(&["read", cap.to_str().unwrap(), "-o", "/dev/null"]);
    assert_eq!(out.status.code(), Some(0));
    let meta = std::fs::metadata("/dev/null").unwrap();
    assert!(!meta.is_file(), "/dev/null was replaced by a regular file");
}

/// Runs `exaudit read ARGS -f ndjson` with `input` on standard input.
fn read_stdin(args: &[&str], input: &[u8]) -> (Vec<serde_json::Value>, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .arg("read")
        .args(args)
        .args(["-f", "ndjson"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let objs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (objs, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn flow_rows(objs: &[serde_json::Value]) -> Vec<String> {
    common::of_type(objs, "flow")
        .iter()
        .map(|f| {
            format!(
                "{}:{} {}:{} {} {}/{}",
                f["client"],
                f["client_port"],
                f["server"],
                f["server_port"],
                f["history"],
                f["c2s_packets"],
                f["s2c_packets"]
            )
        })
        .collect()
}

#[test]
fn standard_input_and_zstd_are_read_by_content() {
    let cap = common::capture("smtp-plain.pcap");
    let (plain, _, _) = common::read_ndjson(&[&cap], &[]);
    let bytes = std::fs::read(&cap).unwrap();
    // `tcpdump -w - | exaudit read -`: plain, gzip and zstd on standard input.
    let (objs, err) = read_stdin(&["-"], &bytes);
    assert_eq!(flow_rows(&objs), flow_rows(&plain), "{err}");
    assert_eq!(common::of_type(&objs, "summary")[0]["inputs"][0]["file"], "-");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &bytes).unwrap();
    let (objs, err) = read_stdin(&["-"], &gz.finish().unwrap());
    assert_eq!(flow_rows(&objs), flow_rows(&plain), "{err}");
    let zst = zstd::encode_all(&bytes[..], 3).unwrap();
    let (objs, err) = read_stdin(&["-"], &zst);
    assert_eq!(flow_rows(&objs), flow_rows(&plain), "{err}");
    // A .zst file, and one whose name says nothing: the content decides.
    let dir = tempfile::tempdir().unwrap();
    for name in ["case.pcap.zst", "case.bin"] {
        let p = dir.path().join(name);
        std::fs::write(&p, &zst).unwrap();
        let (objs, code, err) = common::read_ndjson(&[&p], &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(flow_rows(&objs), flow_rows(&plain), "{name}");
    }
}

#[test]
fn a_directory_reads_every_capture_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = std::fs::read(common::capture("smtp-plain.pcap")).unwrap();
    let dns = std::fs::read(common::capture("dns.pcap")).unwrap();
    std::fs::write(dir.path().join("a-smtp.pcap"), &smtp).unwrap();
    std::fs::write(
        dir.path().join("b-dns.pcap.zst"),
        zstd::encode_all(&dns[..], 3).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("notes.txt"),
        "case 123: customer says mail is slow\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("old")).unwrap();
    let (objs, code, err) = common::read_ndjson(&[dir.path()], &[]);
    assert_eq!(code, 0, "{err}");
    let inputs: Vec<String> = common::of_type(&objs, "summary")[0]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["file"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(inputs, vec!["a-smtp.pcap", "b-dns.pcap.zst"]);
    assert!(
        err.contains("1 files are not captures and were skipped (notes.txt)"),
        "{err}"
    );
    let (a, _, _) = common::read_ndjson(
        &[&common::capture("smtp-plain.pcap"), &common::capture("dns.pcap")],
        &[],
    );
    assert_eq!(
        common::of_type(&objs, "flow").len(),
        common::of_type(&a, "flow").len()
    );
}

#[test]
fn filter_means_what_tcpdump_r_means() {
    // A bad expression is an error before anything is read.
    let cap = common::capture("edge-bypass.pcap");
    let out = common::exaudit(&["read", cap.to_str().unwrap(), "--filter", "tcp port"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--filter \"tcp port\": "));
    let have_tcpdump = std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok();
    for (name, expr) in [
        ("edge-bypass.pcap", "tcp port 25"),
        ("edge-bypass.pcap", "not host 127.1.0.11"),
        ("dns.pcap", "udp and dst port 53"),
        (
            "epm-map-followup.pcap",
            "tcp[tcpflags] & tcp-syn != 0 or port 135",
        ),
    ] {
        let cap = common::capture(name);
        let (all, _, _) = common::read_ndjson(&[&cap], &[]);
        let (objs, code, err) = common::read_ndjson(&[&cap], &["--filter", expr]);
        assert_eq!(code, 0, "{err}");
        let s = common::of_type(&objs, "summary")[0];
        let total = common::of_type(&all, "summary")[0]["packets"].as_u64().unwrap();
        let kept = s["packets"].as_u64().unwrap();
        assert!(kept > 0 && kept < total, "{name} {expr}: {kept} of {total}");
        assert_eq!(s["filtered_out"].as_u64().unwrap(), total - kept);
        if !have_tcpdump {
            eprintln!("tcpdump not installed: the comparison with tcpdump -r is skipped");
            continue;
        }
        // tcpdump -r FILE -w OUT EXPR, then exaudit on OUT: the same flows.
        let dir = tempfile::tempdir().unwrap();
        let outp = dir.path().join("filtered.pcap");
        let st = std::process::Command::new("tcpdump")
            .args(["-r", cap.to_str().unwrap(), "-w", outp.to_str().unwrap(), expr])
            .output()
            .unwrap();
        assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
        let (theirs, _, _) = common::read_ndjson(&[&outp], &[]);
        assert_eq!(flow_rows(&objs), flow_rows(&theirs), "{name} {expr}");
        assert_eq!(
            common::of_type(&theirs, "summary")[0]["packets"]
                .as_u64()
                .unwrap(),
            kept
        );
    }
}
