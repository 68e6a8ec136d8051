//! Helpers shared by the integration tests: locate captures, run the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/captures/<sub>` beside the project, or `None` when it is not
/// there (a fresh clone elsewhere): tests that need it then skip.
fn shared(sub: &str) -> Option<PathBuf> {
    let p = repo().join("../shared/captures").join(sub);
    p.is_dir().then_some(p)
}

/// The third-party captures beside the project (`../shared/captures/public`).
pub fn shared_public() -> Option<PathBuf> {
    shared("public")
}

/// The peer-tool corpus beside the project (`../shared/captures/corpus`).
pub fn shared_corpus() -> Option<PathBuf> {
    shared("corpus")
}

/// Prints why `test` is skipped: `what` (a folder under ../shared) is absent.
pub fn skip(test: &str, what: &str) {
    eprintln!("skipping {test}: ../shared/captures/{what} not found");
}

pub mod pcapgen;

/// A capture of the project's own `captures/` folder.
pub fn capture(name: &str) -> PathBuf {
    let local = repo().join("captures").join(name);
    assert!(local.exists(), "capture {name} not found in captures/");
    local
}

/// A capture from `captures/` or, failing that, `../shared/captures/public`.
/// `None` (with the skip message for `test` printed) when it is not in
/// `captures/` and the public captures are absent; a capture missing from
/// a public folder that is there is an error.
pub fn public_capture(test: &str, name: &str) -> Option<PathBuf> {
    let local = repo().join("captures").join(name);
    if local.exists() {
        return Some(local);
    }
    let Some(dir) = shared_public() else {
        skip(test, "public");
        return None;
    };
    let p = dir.join(name);
    assert!(
        p.exists(),
        "capture {name} not found in captures/ nor {}",
        dir.display()
    );
    Some(p)
}

pub fn exaudit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_exaudit"))
        .args(args)
        .output()
        .expect("run exaudit")
}

/// Runs `exaudit read FILE -f ndjson` and returns (objects, exit code, stderr).
pub fn read_ndjson(files: &[&Path], extra: &[&str]) -> (Vec<serde_json::Value>, i32, String) {
    let mut args: Vec<String> = vec!["read".into()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["-f".to_string(), "ndjson".to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
    let out = exaudit(&refs);
    let stdout = String::from_utf8(out.stdout).expect("utf-8 output");
    let objs = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad ndjson line {l:?}: {e}")))
        .collect();
    (
        objs,
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The rows of a tab-separated expectation file (`#` comments and blank
/// lines skipped), each with its line number; every row must have
/// `columns` columns.
pub fn tsv_rows(path: &Path, columns: usize) -> Vec<(usize, Vec<String>)> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut rows = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<String> = line.split('\t').map(str::to_string).collect();
        assert_eq!(
            cols.len(),
            columns,
            "{} line {}: {columns} tab-separated columns",
            path.display(),
            n + 1
        );
        rows.push((n + 1, cols));
    }
    rows
}

pub fn of_type<'a>(objs: &'a [serde_json::Value], t: &str) -> Vec<&'a serde_json::Value> {
    objs.iter().filter(|o| o["type"] == t).collect()
}

/// The captures in `dir` (pcap, pcapng, gzip-compressed), in name order.
pub fn capture_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            p.is_file() && (n.contains(".pcap") || n.ends_with(".gz"))
        })
        .collect();
    v.sort();
    v
}

/// One side of a conversation: address text and port.
pub type End = (String, u16);

/// A TCP or UDP flow record as tshark's conversation tables orient it:
/// (proto, lower end, higher end, packets lower -> higher, higher -> lower),
/// the ends compared as IPv4-mapped IPv6 addresses then ports (as
/// scripts/tshark-conv.py does); `None` for other protocols.
pub fn conversation(f: &serde_json::Value) -> Option<(String, End, End, u64, u64)> {
    let proto = f["proto"].as_str()?.to_string();
    if proto != "tcp" && proto != "udp" {
        return None;
    }
    let end = |addr: &str, port: &str| -> End {
        (
            f[addr].as_str().unwrap().to_string(),
            u16::try_from(f[port].as_u64().unwrap()).unwrap(),
        )
    };
    let canon = |e: &End| {
        let octets = match e.0.parse::<std::net::IpAddr>().expect("address") {
            std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(a) => a.octets(),
        };
        (octets, e.1)
    };
    let (c, s) = (end("client", "client_port"), end("server", "server_port"));
    let (cp, sp) = (f["c2s_packets"].as_u64()?, f["s2c_packets"].as_u64()?);
    Some(if canon(&c) <= canon(&s) {
        (proto, c, s, cp, sp)
    } else {
        (proto, s, c, sp, cp)
    })
}
