//! `exaudit live` on real interfaces: loopback with real servers and clients,
//! stop by signal and by --duration, the permission error, and drop counters
//! against libpcap and tcpreplay on a veth pair in a namespace.
//!
//! Every test is skipped, with the reason printed, when the process cannot
//! capture (not root) or a tool is missing. CI runs as root.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_exaudit");

fn skip(reason: &str) -> bool {
    eprintln!("SKIPPED: {reason}");
    true
}

fn no_capture_rights() -> bool {
    if !nix::unistd::geteuid().is_root() {
        return skip("not root: live capture needs CAP_NET_RAW/CAP_NET_ADMIN (CI runs as root)");
    }
    false
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A running `exaudit live` with its stderr collected.
struct Live {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Live {
    fn start(args: &[&str]) -> Live {
        let mut child = Command::new(BIN)
            .arg("live")
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start exaudit live");
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().expect("stderr");
        let buf = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut b = buf.lock().unwrap();
                b.push_str(&line);
                b.push('\n');
            }
        });
        let live = Live { child, stderr };
        live.wait_for("capturing on", Duration::from_secs(10));
        live
    }

    fn text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_for(&self, what: &str, limit: Duration) {
        let t = Instant::now();
        while !self.text().contains(what) {
            assert!(
                t.elapsed() < limit,
                "exaudit never printed {what:?}:\n{}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, sig).expect("signal exaudit");
    }

    /// Waits for the exit (at most `limit`); returns the code and stderr.
    fn wait(mut self, limit: Duration) -> (i32, String, Duration) {
        let t = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                // Let the reader thread take the last lines.
                std::thread::sleep(Duration::from_millis(100));
                return (st.code().unwrap_or(-1), self.text(), t.elapsed());
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                panic!("exaudit live did not stop within {limit:?}:\n{}", self.text());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn ndjson(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("read ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn free_port(addr: &str) -> u16 {
    TcpListener::bind((addr, 0)).unwrap().local_addr().unwrap().port()
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "--interface", "127.3.0.2"])
        .args(args)
        .output()
        .expect("run curl");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn loopback_http_and_rejected_connection_are_streamed_and_audited() {
    if no_capture_rights() {
        return;
    }
    if !have("curl") || !have("python3") {
        skip("curl or python3 missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = free_port("127.3.0.1");
    let closed = free_port("127.3.0.1");
    // The web server, ready before the capture starts so its probes are not captured.
    let mut server = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.3.0.1", &port.to_string()])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start python http.server");
    std::fs::create_dir_all(dir.path().join("owa")).unwrap();
    std::fs::write(dir.path().join("owa/index.html"), "hello").unwrap();
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.3.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let flows = dir.path().join("flows.ndjson");
    let evidence = dir.path().join("evidence.pcap");
    let live = Live::start(&[
        "-i",
        "lo",
        "--filter",
        "host 127.3.0.1 or host 127.3.0.2",
        "-o",
        flows.to_str().unwrap(),
        "--interval",
        "1s",
        "--evidence",
        evidence.to_str().unwrap(),
    ]);
    let body = curl(&[&format!("http://127.3.0.1:{port}/owa/index.html?q=1")]);
    assert_eq!(body, "hello");
    // Basic credentials over cleartext HTTP: a finding, so its packets are evidence.
    curl(&[
        "-u",
        "alice:Sup3rSecret",
        &format!("http://127.3.0.1:{port}/login"),
    ]);
    // A closed port: reset (REJ).
    curl(&[&format!("http://127.3.0.1:{closed}/")]);
    // A periodic report comes out while running.
    live.wait_for("packets (", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(500));
    live.signal(nix::sys::signal::Signal::SIGINT);
    let (code, err, _) = live.wait(Duration::from_secs(15));
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("=== final audit (lo) ==="), "{err}");
    assert!(
        err.contains("Findings") && err.contains("cleartext-credentials"),
        "{err}"
    );
    assert!(err.contains("drops: kernel 0, interface 0, pipeline 0"), "{err}");
    assert!(!err.contains("WARNING"), "{err}");

    let objs = ndjson(&flows);
    let text = std::fs::read_to_string(&flows).unwrap();
    assert!(
        !text.contains("Sup3rSecret") && !err.contains("Sup3rSecret"),
        "a secret was printed"
    );
    let flow_recs: Vec<&Value> = objs.iter().filter(|o| o["type"] == "flow").collect();
    let to_port = |p: u16| -> Vec<&Value> {
        flow_recs
            .iter()
            .copied()
            .filter(|f| f["server_port"] == p && f["server"] == "127.3.0.1" && f["client"] == "127.3.0.2")
            .collect()
    };
    let web = to_port(port);
    assert_eq!(web.len(), 2, "two HTTP connections: {web:#?}");
    let paths: Vec<&str> = web
        .iter()
        .filter_map(|f| f["app"]["http"]["requests"][0]["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"/owa/index.html") && paths.contains(&"/login"),
        "{paths:?}"
    );
    for f in &web {
        assert_eq!(f["state"], "SF", "{f}");
        assert_eq!(f["proto"], "tcp");
        assert!(f["client_port"].as_u64().unwrap() >= 1024);
        assert!(f["c2s_packets"].as_u64().unwrap() >= 3 && f["s2c_packets"].as_u64().unwrap() >= 3);
    }
    let login = web
        .iter()
        .find(|f| f["app"]["http"]["requests"][0]["path"] == "/login")
        .unwrap();
    assert!(!login["findings"].as_array().unwrap().is_empty(), "{login}");
    let rej = to_port(closed);
    assert_eq!(rej.len(), 1, "{rej:#?}");
    assert_eq!(rej[0]["state"], "REJ");
    assert_eq!(flow_recs.len(), 3, "only the traffic sent: {flow_recs:#?}");
    // Findings, then the summary last.
    let finding = objs
        .iter()
        .find(|o| o["type"] == "finding" && o["kind"] == "cleartext-credentials")
        .expect("cleartext-credentials finding");
    assert_eq!(login["findings"][0], finding["id"]);
    let summary = objs.last().unwrap();
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["flows"], 3);
    assert_eq!(summary["capture_drops"]["kernel"], 0);
    assert_eq!(summary["capture_drops"]["pipeline"], 0);
    assert_eq!(summary["inputs"][0]["file"], "live:lo");
    let packets: u64 = flow_recs
        .iter()
        .map(|f| f["c2s_packets"].as_u64().unwrap() + f["s2c_packets"].as_u64().unwrap())
        .sum();
    assert_eq!(summary["packets"].as_u64().unwrap(), packets);
    assert_eq!(summary["evidence"]["flows_written"], 1, "{summary}");

    // The evidence file is a pcap exaudit (and Wireshark) reads: the login flow.
    let (ev, code, e) = common::read_ndjson(&[evidence.as_path()], &[]);
    assert_eq!(code, 0, "{e}");
    let ev_flows: Vec<&Value> = ev.iter().filter(|o| o["type"] == "flow").collect();
    assert_eq!(ev_flows.len(), 1, "{ev_flows:#?}");
    assert_eq!(ev_flows[0]["server_port"], port);
    assert_eq!(ev_flows[0]["app"]["http"]["requests"][0]["path"], "/login");
    assert_eq!(ev_flows[0]["state"], "SF");
}

#[test]
fn quiet_interface_stops_promptly_on_sigint_and_duration() {
    if no_capture_rights() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.ndjson");
    let live = Live::start(&[
        "-i",
        "lo",
        "--filter",
        "host 127.3.9.9",
        "-o",
        out.to_str().unwrap(),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let sent = Instant::now();
    live.signal(nix::sys::signal::Signal::SIGINT);
    let (code, err, _) = live.wait(Duration::from_secs(5));
    assert_eq!(code, 0, "{err}");
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "slow stop: {:?}",
        sent.elapsed()
    );
    assert!(
        err.contains("=== final audit (lo) ===") && err.contains("0 packets"),
        "{err}"
    );
    let objs = ndjson(&out);
    assert_eq!(objs.len(), 1);
    assert_eq!(objs[0]["type"], "summary");

    // SIGTERM too.
    let live = Live::start(&[
        "-i",
        "lo",
        "--filter",
        "host 127.3.9.9",
        "-o",
        out.to_str().unwrap(),
    ]);
    live.signal(nix::sys::signal::Signal::SIGTERM);
    let (code, err, _) = live.wait(Duration::from_secs(5));
    assert_eq!(code, 0, "{err}");

    // --duration on a quiet interface.
    let t = Instant::now();
    let out = Command::new(BIN)
        .args([
            "live",
            "-i",
            "lo",
            "--filter",
            "host 127.3.9.9",
            "--duration",
            "1s",
            "-o",
        ])
        .arg(dir.path().join("g.ndjson"))
        .output()
        .unwrap();
    let took = t.elapsed();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(4),
        "took {took:?}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("stopped after"));
}

#[test]
fn without_capture_rights_the_error_names_the_capabilities() {
    if no_capture_rights() {
        return;
    }
    if !have("setpriv") {
        skip("setpriv missing");
        return;
    }
    // The test binary must be reachable by nobody.
    let probe = Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            BIN,
            "--version",
        ])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        skip("nobody cannot run the test binary here");
        return;
    }
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .args([BIN, "live", "-i", "lo", "--duration", "1s", "-o", "/dev/null"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("CAP_NET_RAW") && err.contains("CAP_NET_ADMIN"),
        "{err}"
    );
    assert!(
        err.contains("sudo setcap cap_net_raw,cap_net_admin=eip $(command -v exaudit)"),
        "{err}"
    );
    assert!(err.contains("root"), "{err}");
}

#[test]
fn replayed_drop_counters_agree_with_libpcap_and_tcpreplay() {
    if no_capture_rights() {
        return;
    }
    if !have("tcpreplay") || !have("ip") || !have("python3") {
        skip("tcpreplay, ip or python3 missing");
        return;
    }
    let out = Command::new("bash")
        .arg(common::repo().join("scripts/replay-drops.sh"))
        .args(["--bin", BIN, "--small"])
        .current_dir(common::repo())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        skip(&format!("replay-drops.sh: {err}"));
        return;
    }
    assert!(
        out.status.success(),
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let results: Vec<&str> = err.lines().filter(|l| l.starts_with("RESULT ")).collect();
    assert_eq!(results.len(), 2, "{err}");
    for r in results {
        let field = |k: &str| -> u64 {
            r.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("no {k} in {r}"))
        };
        let sent = field("sent");
        assert!(sent > 500, "{r}");
        // exaudit reports libpcap's drops as they are ...
        assert_eq!(field("kernel"), field("libpcap_dropped"), "{r}");
        assert_eq!(field("interface"), field("libpcap_if_dropped"), "{r}");
        // ... and everything tcpreplay sent is either read or counted as dropped.
        assert_eq!(field("received"), sent, "{r}");
        assert_eq!(field("packets") + field("kernel"), sent, "{r}");
    }
}
