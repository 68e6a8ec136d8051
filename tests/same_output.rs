//! The streaming engine must not change what a user sees: every capture in
//! `captures/` (without a topology and with `captures/site-edge.toml`) and,
//! when they are beside the project, every capture in
//! `../shared/captures/public` and `../shared/captures/corpus`, read to
//! ndjson and to the table, must give the output recorded in
//! `tests/expected/outputs.tsv` at commit 221c32a (the last commit before the
//! streaming engine) or a difference listed, with its reason, in
//! `tests/expected/outputs-differences.tsv`.
//!
//! The comparison is made on a normal form that leaves out what is not
//! output but circumstance: the order of flow records (NDJSON records come
//! out in the order flows end, README "Output contract"), the numbering of
//! finding ids (a finding is named by kind, client, server and service), wall
//! time, throughput, back-pressure waits and the folder of the input files.
//!
//! To see a difference: `EXAUDIT_DUMP_DIR=/tmp/new cargo test --release
//! --test same_output`, the same at the old commit into `/tmp/old`, then
//! `diff -r /tmp/old /tmp/new`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// 64-bit FNV-1a: a digest that does not change with the Rust version.
fn digest(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// A finding's name, independent of its id.
fn finding_name(f: &Value) -> String {
    let e = &f["evidence"];
    format!(
        "{}|{}|{}|{}",
        f["kind"].as_str().unwrap_or(""),
        e["client"].as_str().unwrap_or(""),
        e["server"].as_str().unwrap_or(""),
        e["service"].as_str().unwrap_or("")
    )
}

/// The normal form of one ndjson output: (flows, findings, summary) as text.
fn normal_ndjson(stdout: &str, folders: &[String]) -> [String; 3] {
    let objs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad ndjson line {l:?}: {e}")))
        .collect();
    let names: BTreeMap<String, String> = objs
        .iter()
        .filter(|o| o["type"] == "finding")
        .map(|f| (f["id"].as_str().unwrap_or("").to_string(), finding_name(f)))
        .collect();
    let mut flows: Vec<(u64, String)> = objs
        .iter()
        .filter(|o| o["type"] == "flow")
        .map(|f| {
            let mut f = f.clone();
            if let Some(ids) = f.get_mut("findings").and_then(Value::as_array_mut) {
                let mut named: Vec<String> = ids
                    .iter()
                    .map(|i| names.get(i.as_str().unwrap_or("")).cloned().unwrap_or_default())
                    .collect();
                named.sort();
                *ids = named.into_iter().map(Value::String).collect();
            }
            (f["id"].as_u64().unwrap_or(0), f.to_string())
        })
        .collect();
    flows.sort();
    let mut findings: Vec<String> = objs
        .iter()
        .filter(|o| o["type"] == "finding")
        .map(|f| {
            let mut f = f.clone();
            if let Some(m) = f.as_object_mut() {
                m.remove("id");
            }
            format!("{}\t{}", finding_name(&f), f)
        })
        .collect();
    findings.sort();
    let summary = objs
        .iter()
        .filter(|o| o["type"] == "summary")
        .map(|s| {
            let mut s = s.clone();
            if let Some(m) = s.as_object_mut() {
                for k in ["wall_time_s", "packets_per_s", "backpressure_waits"] {
                    m.remove(k);
                }
                if let Some(inputs) = m.get_mut("inputs").and_then(Value::as_array_mut) {
                    for i in inputs {
                        let base = i["file"]
                            .as_str()
                            .and_then(|p| Path::new(p).file_name())
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default();
                        i["file"] = Value::String(base);
                    }
                }
                if let Some(t) = m.get_mut("topology_info") {
                    if let Some(file) = t.get("file").and_then(Value::as_str) {
                        let base = Path::new(file)
                            .file_name()
                            .map(|n| n.to_string_lossy().to_string())
                            .unwrap_or_default();
                        t["file"] = Value::String(base);
                    }
                }
            }
            // The topology's folder also appears in `exchange_reason`.
            let mut text = s.to_string();
            for f in folders {
                text = text.replace(f.as_str(), "");
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\n");
    let join = |v: Vec<String>| v.join("\n");
    [
        join(flows.into_iter().map(|(_, s)| s).collect()),
        join(findings),
        summary,
    ]
}

/// The normal form of the table: finding ids as `F?`, the time and speed
/// figures of the header left out, folders left out.
fn normal_table(stdout: &str, folders: &[String]) -> String {
    let mut out = Vec::new();
    for line in stdout.lines() {
        if line.contains("packets/s") || line.contains("wall time") {
            continue;
        }
        let mut l = String::with_capacity(line.len());
        let mut chars = line.chars().peekable();
        let mut prev_alnum = false;
        while let Some(c) = chars.next() {
            if c == 'F' && !prev_alnum && chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                    chars.next();
                }
                l.push_str("F?");
                prev_alnum = true;
                continue;
            }
            prev_alnum = c.is_alphanumeric();
            l.push(c);
        }
        for f in folders {
            l = l.replace(f.as_str(), "");
        }
        out.push(l);
    }
    out.join("\n")
}

struct Run {
    /// `captures/x.pcap`, `captures/x.pcap +site-edge.toml`, `public/x`, `corpus/x`.
    name: String,
    file: PathBuf,
    topology: Option<PathBuf>,
}

fn runs() -> (Vec<Run>, bool) {
    let lab = common::repo().join("captures/site-edge.toml");
    let name = |p: &Path| p.file_name().unwrap().to_string_lossy().to_string();
    let mut runs = Vec::new();
    for p in common::capture_files(&common::repo().join("captures")) {
        runs.push(Run {
            name: format!("captures/{}", name(&p)),
            file: p.clone(),
            topology: None,
        });
        runs.push(Run {
            name: format!("captures/{} +site-edge.toml", name(&p)),
            file: p,
            topology: Some(lab.clone()),
        });
    }
    let shared = match (common::shared_public(), common::shared_corpus()) {
        (Some(public), Some(corpus)) => {
            for p in common::capture_files(&public) {
                runs.push(Run {
                    name: format!("public/{}", name(&p)),
                    file: p,
                    topology: None,
                });
            }
            for p in common::capture_files(&corpus.join("captures")) {
                runs.push(Run {
                    name: format!("corpus/{}", name(&p)),
                    file: p,
                    topology: None,
                });
            }
            true
        }
        _ => false,
    };
    (runs, shared)
}

/// (run, part) -> digest for one run; parts: flows, findings, summary, table.
fn outputs(run: &Run, dump: Option<&Path>) -> Vec<((String, String), String)> {
    let mut base: Vec<String> = vec![
        "read".into(),
        run.file.display().to_string(),
        "--no-progress".into(),
    ];
    if let Some(t) = &run.topology {
        base.extend(["-t".into(), t.display().to_string()]);
    }
    let exec = |format: &str| -> String {
        let mut args = base.clone();
        args.extend(["-f".into(), format.into()]);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::exaudit(&refs);
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let folders: Vec<String> = [run.file.parent(), run.topology.as_deref().and_then(Path::parent)]
        .into_iter()
        .flatten()
        .map(|p| format!("{}/", p.display()))
        .collect();
    let [flows, findings, summary] = normal_ndjson(&exec("ndjson"), &folders);
    let table = normal_table(&exec("table"), &folders);
    // The same audit when the flows do not fit the holding budget and the
    // file is read twice (the first read only surveys the hosts).
    let mut args = base.clone();
    args.extend(["-f".into(), "ndjson".into(), "--hold-flows".into(), "0".into()]);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let twice = normal_ndjson(&String::from_utf8_lossy(&common::exaudit(&refs).stdout), &folders);
    for (part, (once, twice)) in ["flows", "findings", "summary"]
        .iter()
        .zip([&flows, &findings, &summary].into_iter().zip(&twice))
    {
        assert!(
            once == twice,
            "{}: the {part} of a second read (--hold-flows 0) differ from one read",
            run.name
        );
    }
    let parts = [
        ("flows", flows),
        ("findings", findings),
        ("summary", summary),
        ("table", table),
    ];
    if let Some(dir) = dump {
        let file = run.name.replace(['/', ' ', '+'], "_");
        for (part, text) in &parts {
            std::fs::write(dir.join(format!("{file}.{part}")), text).unwrap();
        }
    }
    parts
        .into_iter()
        .map(|(part, text)| ((run.name.clone(), part.to_string()), digest(text.as_bytes())))
        .collect()
}

/// Reads `run \t part \t digest [\t reason]` lines (`#` comments).
fn table_of(path: &Path, columns: usize) -> BTreeMap<(String, String), Vec<String>> {
    let mut out = BTreeMap::new();
    for (n, cols) in common::tsv_rows(path, columns) {
        let rest: Vec<String> = cols[2..].to_vec();
        assert!(
            out.insert((cols[0].clone(), cols[1].clone()), rest).is_none(),
            "{} line {n}: listed twice",
            path.display()
        );
    }
    out
}

#[test]
fn standard_input_gives_the_files_flows_and_within_the_budget_its_audit() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let file = common::capture("epm-map-followup.pcap");
    let bytes = std::fs::read(&file).unwrap();
    let run = |args: &[&str]| -> String {
        let mut child = Command::new(env!("CARGO_BIN_EXE_exaudit"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let data = bytes.clone();
        let feeder = std::thread::spawn(move || stdin.write_all(&data));
        let out = child.wait_with_output().unwrap();
        feeder.join().unwrap().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let from_file =
        String::from_utf8(common::exaudit(&["read", file.to_str().unwrap(), "-f", "ndjson"]).stdout).unwrap();
    let [file_flows, file_findings, _] = normal_ndjson(&from_file, &[]);
    let [flows, findings, _] = normal_ndjson(&run(&["read", "-", "-f", "ndjson"]), &[]);
    assert_eq!(
        flows, file_flows,
        "standard input within the budget: the file's flow records"
    );
    assert_eq!(
        findings, file_findings,
        "standard input within the budget: the file's findings"
    );
    // Past the budget: learnt roles; the traffic facts of every flow are the file's.
    let learnt = run(&["read", "-", "-f", "ndjson", "--hold-flows", "0"]);
    let traffic = |text: &str| -> Vec<String> {
        let mut v: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|o| o["type"] == "flow")
            .map(|f| {
                format!(
                    "{} {} {}:{} {}:{} {} {} {}/{} {}/{} {}",
                    f["id"],
                    f["proto"],
                    f["client"],
                    f["client_port"],
                    f["server"],
                    f["server_port"],
                    f["state"],
                    f["history"],
                    f["c2s_packets"],
                    f["c2s_bytes"],
                    f["s2c_packets"],
                    f["s2c_bytes"],
                    f["app"]
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(traffic(&learnt), traffic(&from_file));
    assert!(learnt
        .lines()
        .last()
        .unwrap()
        .contains("\"topology\":\"inferred\""));
}

#[test]
fn every_capture_gives_the_output_of_the_commit_before_the_streaming_engine() {
    let expected = table_of(&common::repo().join("tests/expected/outputs.tsv"), 3);
    let intended = table_of(&common::repo().join("tests/expected/outputs-differences.tsv"), 4);
    for ((run, part), v) in &intended {
        assert!(
            v[1].len() >= 20,
            "outputs-differences.tsv: {run} {part}: the reason column must say why the output changed"
        );
    }
    let (runs, shared) = runs();
    if !shared {
        common::skip(
            "the shared part of every_capture_gives_the_output_of_the_commit_before_the_streaming_engine",
            "public and corpus",
        );
    }
    let dump = std::env::var_os("EXAUDIT_DUMP_DIR").map(PathBuf::from);
    if let Some(d) = &dump {
        std::fs::create_dir_all(d).unwrap();
    }
    let half = runs.len().div_ceil(2);
    let got: Vec<((String, String), String)> = std::thread::scope(|s| {
        let parts: Vec<_> = runs
            .chunks(half.max(1))
            .map(|part| {
                let dump = dump.as_deref();
                s.spawn(move || part.iter().flat_map(|r| outputs(r, dump)).collect::<Vec<_>>())
            })
            .collect();
        parts.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut problems = Vec::new();
    let mut now = Vec::new();
    for ((run, part), d) in &got {
        now.push(format!("{run}\t{part}\t{d}"));
        let key = (run.clone(), part.clone());
        let before = expected.get(&key).map(|v| v[0].as_str());
        let listed = intended.get(&key);
        match (before, listed) {
            (None, _) => problems.push(format!("{run} {part}: not in outputs.tsv (a new capture? add: {run}\t{part}\t{d})")),
            (Some(b), None) if b != d => problems.push(format!(
                "{run} {part}: the output changed ({b} -> {d}) and outputs-differences.tsv does not list it; if intended, add: {run}\t{part}\t{d}\t<why>"
            )),
            (Some(b), Some(l)) if b == d => problems.push(format!(
                "{run} {part}: listed in outputs-differences.tsv ({}) but the output is as before: remove the line",
                l[0]
            )),
            (Some(_), Some(l)) if l[0] != *d => problems.push(format!(
                "{run} {part}: differs from the listed intended difference ({} -> {d}; listed: {})",
                l[0], l[1]
            )),
            _ => {}
        }
    }
    if shared {
        let ran: std::collections::BTreeSet<&(String, String)> = got.iter().map(|(k, _)| k).collect();
        for key in expected.keys() {
            if !ran.contains(key) {
                problems.push(format!(
                    "{} {}: in outputs.tsv but no such capture was read",
                    key.0, key.1
                ));
            }
        }
    }
    if !problems.is_empty() {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("outputs-now.tsv");
        std::fs::write(&path, now.join("\n") + "\n").unwrap();
        panic!(
            "{} outputs differ from the commit before the streaming engine (the digests now: {}):\n{}",
            problems.len(),
            path.display(),
            problems.join("\n")
        );
    }
}
