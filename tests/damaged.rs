//! Damaged and odd inputs through the binary: a clear error naming the file,
//! the packet number and the byte offset; the readable part still audited;
//! exit code 2 for damage, 0 for valid-but-odd files; never a panic.

mod common;

use std::path::Path;

use common::pcapgen::Pcap;

fn run(path: &Path) -> (Vec<serde_json::Value>, i32, String) {
    let (objs, code, stderr) = common::read_ndjson(&[path], &[]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (objs, code, stderr)
}

fn two_conversations() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("ok.pcap");
    let mut pcap = Pcap::new();
    let (c, s) = ("10.2.0.50".parse().unwrap(), "10.1.0.11".parse().unwrap());
    pcap.conversation(
        c,
        s,
        25,
        &[(b"", b"220 mail ESMTP\r\n"), (b"EHLO x\r\n", b"250 mail\r\n")],
    );
    pcap.conversation(c, s, 443, &[(b"\x16\x03\x01", b"")]);
    pcap.write(&p);
    std::fs::read(&p).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.pcap", b"");
    let (_, code, err) = run(&p);
    assert_eq!(code, 2);
    assert!(err.contains("empty.pcap") && err.contains("empty file"), "{err}");
}

#[test]
fn wrong_magic() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = two_conversations();
    bytes[..4].copy_from_slice(b"\x7fELF");
    let p = write(dir.path(), "elf.pcap", &bytes);
    let (_, code, err) = run(&p);
    assert_eq!(code, 2);
    assert!(err.contains("not a capture file"), "{err}");
}

#[test]
fn truncated_mid_record_keeps_the_readable_part() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = two_conversations();
    let p = write(dir.path(), "cut.pcap", &bytes[..bytes.len() - 30]);
    let (objs, code, err) = run(&p);
    assert_eq!(code, 2);
    assert!(
        err.contains("cut.pcap: packet ")
            && err.contains("byte offset")
            && err.contains("middle of a record"),
        "{err}"
    );
    let flows = common::of_type(&objs, "flow");
    assert_eq!(flows.len(), 2, "both conversations are still audited");
    assert!(flows.iter().any(|f| f["app"]["smtp"].is_object()));
}

#[test]
fn record_claiming_two_gigabytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = two_conversations();
    // Corrupt the caplen of the record after the first 5 packets.
    let mut off = 24;
    for _ in 0..5 {
        let caplen = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    bytes[off + 8..off + 12].copy_from_slice(&0x8000_0000u32.to_le_bytes());
    let p = write(dir.path(), "huge.pcap", &bytes);
    let (objs, code, err) = run(&p);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("packet 6 at byte offset {off}")), "{err}");
    assert!(err.contains("2147483648"), "{err}");
    let s = common::of_type(&objs, "summary")[0];
    assert_eq!(s["packets"], 5, "the five readable packets are audited");
}

#[test]
fn random_bytes_after_a_valid_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = two_conversations()[..24].to_vec();
    let mut x: u32 = 0x1234_5678;
    for _ in 0..100_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        bytes.push(x as u8);
    }
    let p = write(dir.path(), "noise.pcap", &bytes);
    let (_, code, err) = run(&p);
    assert_eq!(code, 2);
    assert!(err.contains("noise.pcap: packet 1 at byte offset 24"), "{err}");
}

#[test]
fn pcapng_with_a_corrupt_block_in_the_middle() {
    // zeek's two-interface pcapng: 6 packets; break the length of the 4th block after the headers.
    let Some(cap) = common::public_capture(
        "pcapng_with_a_corrupt_block_in_the_middle",
        "zeek__pcapng-multi-interface.pcapng",
    ) else {
        return;
    };
    let src = std::fs::read(cap).unwrap();
    let mut off = 0;
    let mut epbs = 0;
    let mut bad_at = 0;
    while off + 12 <= src.len() {
        let kind = u32::from_le_bytes(src[off..off + 4].try_into().unwrap());
        let len = u32::from_le_bytes(src[off + 4..off + 8].try_into().unwrap()) as usize;
        if kind == 6 {
            epbs += 1;
            if epbs == 4 {
                bad_at = off;
                break;
            }
        }
        off += len;
    }
    assert!(bad_at > 0);
    let mut bytes = src.clone();
    bytes[bad_at + 4..bad_at + 8].copy_from_slice(&13u32.to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "broken.pcapng", &bytes);
    let (objs, code, err) = run(&p);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("packet 4 at byte offset {bad_at}")),
        "{err}"
    );
    assert_eq!(common::of_type(&objs, "summary")[0]["packets"], 3);
}

#[test]
fn header_only_and_snaplen_54_are_valid() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = two_conversations();
    let p = write(dir.path(), "header.pcap", &bytes[..24]);
    let (objs, code, _) = run(&p);
    assert_eq!(code, 0);
    assert_eq!(common::of_type(&objs, "summary")[0]["packets"], 0);
    // Re-cut every record to 54 captured bytes, keeping its original length.
    let mut cut = bytes[..24].to_vec();
    cut[16..20].copy_from_slice(&54u32.to_le_bytes());
    let mut off = 24;
    let mut n = 0;
    while off + 16 <= bytes.len() {
        let caplen = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        let keep = caplen.min(54);
        cut.extend_from_slice(&bytes[off..off + 8]);
        cut.extend_from_slice(&(keep as u32).to_le_bytes());
        cut.extend_from_slice(&bytes[off + 12..off + 16]);
        cut.extend_from_slice(&bytes[off + 16..off + 16 + keep]);
        off += 16 + caplen;
        n += 1;
    }
    let p = write(dir.path(), "snap54.pcap", &cut);
    let (objs, code, err) = run(&p);
    assert_eq!(code, 0, "{err}");
    let flows = common::of_type(&objs, "flow");
    assert_eq!(flows.len(), 2);
    let packets: u64 = flows
        .iter()
        .map(|f| f["c2s_packets"].as_u64().unwrap() + f["s2c_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(packets, n);
    assert!(flows.iter().all(|f| f["state"] == "SF"));
}
