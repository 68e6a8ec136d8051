//! exaudit against peer tools on real third-party captures.
//!
//! `../shared/captures/corpus/` holds captures made by real software together
//! with what other tools expect of them (see its README.md and SOURCES.md):
//! Zeek's logs (`baselines/<stem>/zeek/<test>/*.log`) and the EVE records
//! suricata-verify requires (`baselines/<stem>/suricata-verify/<test>/test.yaml`).
//! For every capture with such a baseline this test runs the real binary
//! (`exaudit read CAPTURE -f ndjson`), matches connections by 5-tuple in
//! either direction, and compares:
//!
//! - Zeek `dce_rpc.log`: the operations (endpoint + operation, turned into
//!   interface UUID + opnum) per connection, the endpoint names and the named
//!   pipe / bind_ack secondary address;
//! - Zeek `smtp.log`: HELO/EHLO, MAIL FROM, the number of RCPT TO, STARTTLS;
//! - Zeek `ntlm.log`: NTLM seen on the connection, with its CHALLENGE and
//!   AUTHENTICATE when Zeek logs fields taken from them;
//! - Zeek `ssl.log`: server name, version and cipher;
//! - Zeek `conn.log`: `conn_state`, history, packets and IP bytes per side;
//! - suricata-verify `dcerpc` records: bound interfaces and their ack result,
//!   calls (UUID / service + opnum / procedure), opnums; `smtp` records:
//!   HELO, MAIL FROM, RCPT TO; `pop3` records: greeting, USER/PASS login;
//! - for every connection, who the client is (the peer's originator).
//!
//! Every difference must be listed in [`KNOWN`] with its reason; the test
//! fails on a difference not listed, and on a listed one that no longer
//! occurs. Peer names of DCE/RPC operations are turned into opnums with
//! [`PEER_OPS`], taken from the protocol specifications (not from exaudit).
//!
//! Without `../shared/captures/corpus` (a fresh clone elsewhere) the corpus
//! tests print why and pass; the parser and comparison self-tests always run.

mod common;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

// ------------------------------------------------------------ deliberate differences

/// A deliberate difference: where exaudit legitimately disagrees with a peer.
/// `conn` is the peer's view (`orig -> resp`, `*` for "any connection of the
/// capture"); `field` is `<zeek log>.<field>` or `eve.<event type>.<field>`.
struct Known {
    capture: &'static str,
    conn: &'static str,
    field: &'static str,
    exaudit: &'static str,
    peer: &'static str,
    reason: &'static str,
}

const KNOWN: &[Known] = &[
    // ---- Zeek
    Known {
        capture: "zeek__dce-rpc__dce_rpc_ntlm",
        conn: "10.10.10.121:58772 -> 10.10.10.120:54784",
        field: "ntlm.direction",
        exaudit: "10.10.10.120:54784 -> 10.10.10.121:58772",
        peer: "10.10.10.121:58772 -> 10.10.10.120:54784",
        reason: "every packet of 10.10.10.120 has a bad TCP checksum (captured on .120 with checksum \
                 offload) and Zeek's dce_rpc_ntlm btest runs without -C, so Zeek drops them and first sees \
                 .121's bind_ack; exaudit does not verify checksums and takes the sender of the first packet, \
                 the bind (ptype 11) from .120, as the client, as the bind_ack's secondary address 58772 \
                 confirms. (Zeek's own dce-rpc auth btest, run with -C, also has .120 as originator.)",
    },
    Known {
        capture: "zeek__smb__dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation",
        conn: "205.227.227.226:49467 -> 205.227.227.243:445",
        field: "dce_rpc",
        exaudit: "no DCE/RPC facts",
        peer: "dssetup DsRolerGetPrimaryDomainInformation",
        reason: "DCE/RPC over an SMB1 named pipe (\\PIPE\\lsass, SMB transaction): exaudit has no SMB \
                 inspector and reads DCE/RPC only straight over TCP (ncacn_ip_tcp) and RPC over HTTP",
    },
    Known {
        capture: "zeek__smtp-one-side-only",
        conn: "192.150.187.22:57722 -> 192.150.186.11:25",
        field: "smtp",
        exaudit: "no SMTP facts",
        peer: "2 transactions",
        reason: "only the client's side was captured: exaudit recognises SMTP by content, starting from \
                 the server's 220 greeting (src/inspect/smtp.rs), and reports nothing without it; Zeek \
                 decodes the client's commands alone",
    },
    Known {
        capture: "zeek__tls__imap-starttls",
        conn: "192.168.17.53:49640 -> 212.227.17.186:143",
        field: "conn.conn_state",
        exaudit: "RSTR",
        peer: "SF",
        reason: "history ShAdDafFr: the server resets after both FINs. Zeek's TCP analyzer ignores a RST \
                 once both sides are closed (UpdateClosedState: 'this connection has already seen a FIN \
                 exchange') and keeps SF; exaudit's tracker reports the RST it saw (RSTR)",
    },
    // ---- suricata-verify
    Known {
        capture: "sv__dcerpc__dcerpc-ctxids__input",
        conn: "*",
        field: "eve.dcerpc.interface_name",
        exaudit: "isystemactivator",
        peer: "iremotescmactivator",
        reason: "same interface 000001a0-0000-0000-c000-000000000046: [MS-DCOM] calls it both \
                 ISystemActivator and IRemoteSCMActivator; exaudit's table (rules/dcerpc-interfaces.toml) \
                 names it isystemactivator",
    },
    Known {
        capture: "sv__dcerpc__dcerpc-dce-iface-02__input",
        conn: "*",
        field: "eve.dcerpc.interface_name",
        exaudit: "(unnamed)",
        peer: "mgmt",
        reason: "the DCE/RPC management interface (afa8bd80-7d8a-11c9-bef4-08002b102989, C706 appendix Q) \
                 is not an Exchange or AD interface and is not in rules/dcerpc-interfaces.toml; exaudit \
                 reports its UUID and opnum (4 = inq_princ_name) without a name",
    },
    Known {
        capture: "sv__smtp-rset-starttls__input",
        conn: "*",
        field: "eve.smtp",
        exaudit: "no SMTP facts",
        peer: "smtp record",
        reason: "an oss-fuzz reproducer: the server never sends a 220 greeting (its first line is '250'); \
                 exaudit recognises SMTP by the greeting, Suricata by the port and the client's EHLO",
    },
];

// ------------------------------------------------------------ DCE/RPC operation names

const DRSUAPI: &str = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";
const NETLOGON: &str = "12345678-1234-abcd-ef00-01234567cffb";
const DSSETUP: &str = "3919286a-b10c-11d0-9ba8-00c04fd92ef5";
const SVCCTL: &str = "367abb81-9844-35f1-ad32-98f038001003";
const IREMUNKNOWN2: &str = "00000143-0000-0000-c000-000000000046";
const IREMOTESCMACTIVATOR: &str = "000001a0-0000-0000-c000-000000000046";
const MGMT: &str = "afa8bd80-7d8a-11c9-bef4-08002b102989";

/// (interface name as peers print it, UUID, operation name as peers print
/// it, opnum), from the specifications: [MS-DRSR] 4.1 (Zeek drops `IDL_`),
/// [MS-NRPC] 3.5.4, [MS-DSSP] 3.2.5, [MS-SCMR] 3.1.4 (Suricata drops the `R`
/// prefix), [MS-DCOM] 3.1.1.5.6 / 3.1.2.5.2.3, C706 appendix Q (mgmt).
const PEER_OPS: &[(&str, &str, &str, u16)] = &[
    ("drsuapi", DRSUAPI, "DRSBind", 0),
    ("drsuapi", DRSUAPI, "DRSUnbind", 1),
    ("drsuapi", DRSUAPI, "DRSReplicaSync", 2),
    ("drsuapi", DRSUAPI, "DRSGetNCChanges", 3),
    ("drsuapi", DRSUAPI, "DRSCrackNames", 12),
    ("drsuapi", DRSUAPI, "DRSDomainControllerInfo", 16),
    ("netlogon", NETLOGON, "NetrServerReqChallenge", 4),
    ("netlogon", NETLOGON, "NetrServerAuthenticate3", 26),
    ("netlogon", NETLOGON, "NetrLogonSamLogonWithFlags", 45),
    ("dssetup", DSSETUP, "DsRolerGetPrimaryDomainInformation", 0),
    ("svcctl", SVCCTL, "CloseServiceHandle", 0),
    ("svcctl", SVCCTL, "ControlService", 1),
    ("svcctl", SVCCTL, "DeleteService", 2),
    ("svcctl", SVCCTL, "QueryServiceStatus", 6),
    ("svcctl", SVCCTL, "CreateServiceW", 12),
    ("svcctl", SVCCTL, "OpenSCManagerW", 15),
    ("svcctl", SVCCTL, "OpenServiceW", 16),
    ("svcctl", SVCCTL, "StartServiceW", 19),
    ("svcctl", SVCCTL, "CreateServiceWOW64W", 45),
    ("IRemUnknown2", IREMUNKNOWN2, "RemQueryInterface", 3),
    ("IRemUnknown2", IREMUNKNOWN2, "RemAddRef", 4),
    ("IRemUnknown2", IREMUNKNOWN2, "RemRelease", 5),
    ("IRemUnknown2", IREMUNKNOWN2, "RemQueryInterface2", 6),
    (
        "IRemoteSCMActivator",
        IREMOTESCMACTIVATOR,
        "RemoteGetClassObject",
        3,
    ),
    (
        "IRemoteSCMActivator",
        IREMOTESCMACTIVATOR,
        "RemoteCreateInstance",
        4,
    ),
    ("mgmt", MGMT, "inq_if_ids", 0),
    ("mgmt", MGMT, "inq_stats", 1),
    ("mgmt", MGMT, "is_server_listening", 2),
    ("mgmt", MGMT, "stop_server_listening", 3),
    ("mgmt", MGMT, "inq_princ_name", 4),
];

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The UUID of an interface as a peer names it (or a UUID as is).
fn peer_interface(name: &str) -> String {
    if is_uuid(name) {
        return name.to_ascii_lowercase();
    }
    PEER_OPS
        .iter()
        .find(|(i, ..)| i.eq_ignore_ascii_case(name))
        .map(|(_, u, ..)| u.to_string())
        .unwrap_or_else(|| {
            panic!("peer interface {name:?} is not in PEER_OPS: add it from its specification")
        })
}

/// The opnum of a peer's operation name on `uuid` (Zeek prints unknown ones
/// as `unknown-N`, some peers as `opnum_N`).
fn peer_opnum(uuid: &str, op: &str) -> u16 {
    for prefix in ["unknown-", "opnum_", "opnum "] {
        if let Some(n) = op.strip_prefix(prefix).and_then(|n| n.parse().ok()) {
            return n;
        }
    }
    PEER_OPS
        .iter()
        .find(|(_, u, o, _)| *u == uuid && o.eq_ignore_ascii_case(op))
        .map(|(.., n)| *n)
        .unwrap_or_else(|| {
            panic!("operation {op:?} of {uuid} is not in PEER_OPS: add it from its specification")
        })
}

/// exaudit's own name of an interface (the table its reports use).
fn exaudit_name(uuid: &str) -> Option<String> {
    thread_local! {
        static RULES: exaudit::classify::rules::RuleSet = exaudit::classify::rules::RuleSet::embedded();
    }
    RULES.with(|r| r.interfaces().name_of_text(uuid).map(str::to_string))
}

/// `uuid#opnum name` for messages: the operation's name when known.
fn call_label(uuid: &str, opnum: u16) -> String {
    let name = PEER_OPS
        .iter()
        .find(|(_, u, _, n)| *u == uuid && *n == opnum)
        .map(|(_, _, o, _)| format!(" {o}"))
        .unwrap_or_default();
    format!("{uuid}#{opnum}{name}")
}

// ------------------------------------------------------------ exaudit's flows

type Endpoint = (String, u16);

fn show(e: &Endpoint) -> String {
    if e.0.contains(':') {
        format!("[{}]:{}", e.0, e.1)
    } else {
        format!("{}:{}", e.0, e.1)
    }
}

fn conn_label(a: &Endpoint, b: &Endpoint) -> String {
    format!("{} -> {}", show(a), show(b))
}

#[derive(Debug, Clone)]
struct Flow {
    proto: String,
    client: Endpoint,
    server: Endpoint,
    v: Value,
}

impl Flow {
    fn from_json(v: &Value) -> Flow {
        let ep = |a: &str, p: &str| {
            (
                v[a].as_str().unwrap_or("").to_string(),
                v[p].as_u64().unwrap_or(0) as u16,
            )
        };
        Flow {
            proto: v["proto"].as_str().unwrap_or("").to_string(),
            client: ep("client", "client_port"),
            server: ep("server", "server_port"),
            v: v.clone(),
        }
    }

    fn joins(&self, proto: &str, a: &Endpoint, b: &Endpoint) -> bool {
        self.proto == proto
            && ((self.client == *a && self.server == *b) || (self.client == *b && self.server == *a))
    }

    fn app(&self, name: &str) -> Option<&Value> {
        self.v["app"].get(name).filter(|v| !v.is_null())
    }

    /// (interface UUID or `?`, opnum) of every call.
    fn calls(&self) -> BTreeSet<(String, u16)> {
        let mut out = BTreeSet::new();
        for c in self.v["app"]["dcerpc"]["calls"].as_array().into_iter().flatten() {
            let uuid = c["interface"].as_str().unwrap_or("?").to_string();
            out.insert((uuid, c["opnum"].as_u64().unwrap_or(u64::MAX) as u16));
        }
        out
    }

    /// Bound interfaces: UUID -> exaudit's merged result ("accepted", ... or
    /// "no answer").
    fn interfaces(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for i in self.v["app"]["dcerpc"]["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let r = i["result"].as_str().unwrap_or("no answer");
            out.insert(i["uuid"].as_str().unwrap_or("?").to_string(), r.to_string());
        }
        out
    }

    /// Versions of the bound interfaces: UUID -> `major.minor`.
    fn versions(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for i in self.v["app"]["dcerpc"]["interfaces"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let v = format!("{}.{}", i["version"], i["version_minor"]);
            out.entry(i["uuid"].as_str().unwrap_or("?").to_string())
                .or_default()
                .insert(v);
        }
        out
    }

    fn strings(&self, path: &[&str]) -> BTreeSet<String> {
        let mut v = &self.v["app"];
        for p in path {
            v = &v[*p];
        }
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    }
}

fn run_exaudit(capture: &Path) -> Vec<Flow> {
    let (objs, code, stderr) = common::read_ndjson(&[capture], &[]);
    assert_eq!(code, 0, "exaudit read {}: {stderr}", capture.display());
    common::of_type(&objs, "flow")
        .into_iter()
        .map(Flow::from_json)
        .collect()
}

// ------------------------------------------------------------ differences

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Diff {
    capture: String,
    conn: String,
    field: String,
    exaudit: String,
    peer: String,
}

/// Collects the differences and counts what was compared.
#[derive(Default)]
struct Compare {
    capture: String,
    conn: String,
    diffs: BTreeSet<Diff>,
    captures: BTreeSet<String>,
    conns: BTreeSet<(String, String)>,
    /// Comparisons made, by field.
    facts: BTreeMap<String, usize>,
    /// Peer facts exaudit has no counterpart for, by kind (not compared).
    not_comparable: BTreeMap<String, usize>,
}

impl Compare {
    fn at(&mut self, capture: &str, conn: String) {
        self.capture = capture.to_string();
        self.captures.insert(capture.to_string());
        self.conns.insert((capture.to_string(), conn.clone()));
        self.conn = conn;
    }

    /// One comparison: a difference when the values differ.
    fn fact(&mut self, field: &str, exaudit: impl Into<String>, peer: impl Into<String>) -> bool {
        let (exaudit, peer) = (exaudit.into(), peer.into());
        *self.facts.entry(field.to_string()).or_default() += 1;
        let same = exaudit == peer;
        if !same {
            self.diffs.insert(Diff {
                capture: self.capture.clone(),
                conn: self.conn.clone(),
                field: field.to_string(),
                exaudit,
                peer,
            });
        }
        same
    }

    fn skip(&mut self, what: &str) {
        *self.not_comparable.entry(what.to_string()).or_default() += 1;
    }

    /// The exaudit flows of the peer's connection `orig -> resp`, with the
    /// flow and direction checked.
    fn flows<'a>(
        &mut self,
        log: &str,
        flows: &'a [Flow],
        proto: &str,
        orig: &Endpoint,
        resp: &Endpoint,
    ) -> Option<&'a Flow> {
        let found: Vec<&Flow> = flows.iter().filter(|f| f.joins(proto, orig, resp)).collect();
        let n = found.len();
        let peer = "1 connection";
        let ours = if n == 1 {
            peer.to_string()
        } else {
            format!("{n} flows")
        };
        if !self.fact(&format!("{log}.flow"), ours, peer) && n == 0 {
            return None;
        }
        let f = found[0];
        self.fact(
            &format!("{log}.direction"),
            conn_label(&f.client, &f.server),
            conn_label(orig, resp),
        );
        Some(f)
    }
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn joined(s: &BTreeSet<String>) -> String {
    if s.is_empty() {
        "(none)".to_string()
    } else {
        s.iter().cloned().collect::<Vec<_>>().join(",")
    }
}

/// The differences not in `known` and the known ones that did not occur.
fn unexplained<'k>(diffs: &BTreeSet<Diff>, known: &[&'k Known]) -> (Vec<Diff>, Vec<&'k Known>) {
    let is = |d: &Diff, k: &Known| {
        d.capture == k.capture
            && d.conn == k.conn
            && d.field == k.field
            && d.exaudit == k.exaudit
            && d.peer == k.peer
    };
    let unexpected = diffs
        .iter()
        .filter(|d| !known.iter().any(|k| is(d, k)))
        .cloned()
        .collect();
    let stale = known
        .iter()
        .filter(|k| !diffs.iter().any(|d| is(d, k)))
        .copied()
        .collect();
    (unexpected, stale)
}

/// Fails on differences not in [`KNOWN`] (for fields with `prefix`) and on
/// listed ones that no longer occur; prints what was compared.
fn assert_only_known(peer: &str, prefix: impl Fn(&str) -> bool, c: &Compare) {
    let known: Vec<&Known> = KNOWN.iter().filter(|k| prefix(k.field)).collect();
    let (unexpected, stale) = unexplained(&c.diffs, &known);
    let total: usize = c.facts.values().sum();
    eprintln!(
        "{peer}: {} captures, {} connections, {total} facts compared {:?}; {} differences, all listed; \
         not comparable: {:?}",
        c.captures.len(),
        c.conns.len(),
        c.facts,
        c.diffs.len(),
        c.not_comparable
    );
    let mut msg = String::new();
    for d in &unexpected {
        msg.push_str(&format!(
            "  unexplained difference (fix exaudit, or list it in KNOWN with its reason):\n    \
             Known {{ capture: {:?}, conn: {:?}, field: {:?}, exaudit: {:?}, peer: {:?}, reason: \"...\" }},\n",
            d.capture, d.conn, d.field, d.exaudit, d.peer
        ));
    }
    for k in &stale {
        msg.push_str(&format!(
            "  listed difference no longer seen (remove it from KNOWN): {} {} {}: exaudit {:?}, {peer} {:?}\n",
            k.capture, k.conn, k.field, k.exaudit, k.peer
        ));
    }
    assert!(msg.is_empty(), "exaudit and {peer} disagree:\n{msg}");
}

// ------------------------------------------------------------ the corpus

/// Captures by baseline stem (the file name without `.gz` and its extension).
fn captures_by_stem(corpus: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(corpus.join("captures")).expect("corpus captures/") {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let base = name.strip_suffix(".gz").unwrap_or(&name);
        let stem = base.rsplit_once('.').map_or(base, |(s, _)| s).to_string();
        out.insert(stem, p);
    }
    out
}

/// (stem, test folder, file) of every baseline file called `file` of `tool`.
fn baselines(corpus: &Path, tool: &str, file: &str) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(corpus.join("baselines")).expect("corpus baselines/") {
        let stem_dir = e.unwrap().path();
        let Ok(tests) = std::fs::read_dir(stem_dir.join(tool)) else {
            continue;
        };
        let stem = stem_dir.file_name().unwrap().to_string_lossy().to_string();
        for t in tests {
            let f = t.unwrap().path().join(file);
            if f.is_file() {
                out.push((stem.clone(), f));
            }
        }
    }
    out.sort();
    out
}

/// Runs exaudit once per capture.
struct Runs {
    captures: BTreeMap<String, PathBuf>,
    flows: BTreeMap<String, Vec<Flow>>,
}

impl Runs {
    fn new(corpus: &Path) -> Runs {
        Runs {
            captures: captures_by_stem(corpus),
            flows: BTreeMap::new(),
        }
    }

    fn of(&mut self, stem: &str) -> &[Flow] {
        let cap = self
            .captures
            .get(stem)
            .unwrap_or_else(|| panic!("baseline {stem} has no capture"))
            .clone();
        self.flows
            .entry(stem.to_string())
            .or_insert_with(|| run_exaudit(&cap))
    }
}

// ------------------------------------------------------------ Zeek logs

type Record = BTreeMap<String, String>;

/// Zeek's ASCII escapes: `\xNN` and `\\`.
fn zeek_unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.get(i + 1) == Some(&b'\\') {
            out.push(b'\\');
            i += 2;
        } else if b[i] == b'\\' && b.get(i + 1) == Some(&b'x') && i + 4 <= b.len() {
            match u8::from_str_radix(&s[i + 2..i + 4], 16) {
                Ok(v) => {
                    out.push(v);
                    i += 4;
                }
                Err(_) => {
                    out.push(b[i]);
                    i += 1;
                }
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Zeek log: TSV with a `#fields` line (or a plain header line starting
/// with `ts`, as zeek-cut prints), or JSON lines. Unset fields (`-`) are
/// left out; empty sets are empty strings; sets and vectors are joined by `,`.
fn parse_zeek_log(text: &str) -> Vec<Record> {
    let mut fields: Vec<String> = Vec::new();
    let mut sep = "\t".to_string();
    let (mut unset, mut empty) = ("-".to_string(), "(empty)".to_string());
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('{') {
            let v: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("bad JSON log line {line:?}: {e}"));
            let mut r = Record::new();
            for (k, v) in v.as_object().into_iter().flatten() {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Bool(b) => (if *b { "T" } else { "F" }).to_string(),
                    Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                        .collect::<Vec<_>>()
                        .join(","),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                r.insert(k.clone(), s);
            }
            out.push(r);
        } else if let Some(rest) = line.strip_prefix("#separator ") {
            sep = zeek_unescape(rest.trim());
        } else if let Some(rest) = line.strip_prefix("#unset_field") {
            unset = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("#empty_field") {
            empty = rest.trim().to_string();
        } else if let Some(rest) = line.strip_prefix("#fields") {
            fields = rest
                .split(sep.as_str())
                .filter(|f| !f.is_empty())
                .map(str::to_string)
                .collect();
        } else if line.starts_with('#') || line.trim().is_empty() {
            continue;
        } else if fields.is_empty() {
            // zeek-cut style: the first line is the header.
            assert!(line.starts_with("ts"), "Zeek log without a header: {line:?}");
            fields = line.split(sep.as_str()).map(str::to_string).collect();
        } else {
            let mut r = Record::new();
            for (k, v) in fields.iter().zip(line.split(sep.as_str())) {
                if v == unset {
                    continue;
                }
                r.insert(
                    k.clone(),
                    if v == empty {
                        String::new()
                    } else {
                        zeek_unescape(v)
                    },
                );
            }
            out.push(r);
        }
    }
    out
}

fn ends(r: &Record) -> (Endpoint, Endpoint) {
    let ep = |h: &str, p: &str| {
        let host = r
            .get(h)
            .unwrap_or_else(|| panic!("Zeek record without {h}: {r:?}"));
        let port = r.get(p).and_then(|p| p.parse().ok()).expect("Zeek port");
        (host.clone(), port)
    };
    (ep("id.orig_h", "id.orig_p"), ep("id.resp_h", "id.resp_p"))
}

fn set(r: &Record, k: &str) -> BTreeSet<String> {
    r.get(k)
        .into_iter()
        .flat_map(|v| v.split(','))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Records grouped by connection (`orig`, `resp`), in order.
fn by_conn(records: &[Record]) -> Vec<((Endpoint, Endpoint), Vec<&Record>)> {
    let mut out: Vec<((Endpoint, Endpoint), Vec<&Record>)> = Vec::new();
    for r in records {
        let k = ends(r);
        match out.iter_mut().find(|(c, _)| *c == k) {
            Some((_, v)) => v.push(r),
            None => out.push((k, vec![r])),
        }
    }
    out
}

fn zeek_dce_rpc(c: &mut Compare, flows: &[Flow], records: &[Record]) {
    for ((orig, resp), recs) in by_conn(records) {
        c.at(&c.capture.clone(), conn_label(&orig, &resp));
        let Some(f) = c.flows("dce_rpc", flows, "tcp", &orig, &resp) else {
            continue;
        };
        let mut peer_calls = BTreeSet::new();
        let mut endpoints = BTreeSet::new();
        let mut pipes = BTreeSet::new();
        let mut ops = BTreeSet::new();
        for r in &recs {
            let ep = r.get("endpoint").expect("dce_rpc.log endpoint");
            let op = r.get("operation").expect("dce_rpc.log operation");
            let uuid = peer_interface(ep);
            peer_calls.insert((uuid.clone(), peer_opnum(&uuid, op)));
            endpoints.insert((ep.clone(), uuid));
            ops.insert(format!("{ep} {op}"));
            pipes.extend(r.get("named_pipe").cloned());
        }
        if f.app("dcerpc").is_none() {
            c.fact("dce_rpc", "no DCE/RPC facts", joined(&ops));
            continue;
        }
        let ours = f.calls();
        for (uuid, op) in peer_calls.union(&ours) {
            let label = call_label(uuid, *op);
            let (e, p) = match (
                ours.contains(&(uuid.clone(), *op)),
                peer_calls.contains(&(uuid.clone(), *op)),
            ) {
                (true, true) => (label.clone(), label),
                (true, false) => (label, "absent".to_string()),
                _ => ("absent".to_string(), label),
            };
            c.fact("dce_rpc.operation", e, p);
        }
        for (name, uuid) in &endpoints {
            let ours = exaudit_name(uuid).unwrap_or_else(|| "(unnamed)".into());
            c.fact("dce_rpc.endpoint", ours, name.to_ascii_lowercase());
        }
        c.fact(
            "dce_rpc.named_pipe",
            joined(&f.strings(&["dcerpc", "secondary_addrs"])),
            joined(&pipes),
        );
    }
}

fn zeek_conn(c: &mut Compare, flows: &[Flow], records: &[Record]) {
    for r in records {
        let (orig, resp) = ends(r);
        c.at(&c.capture.clone(), conn_label(&orig, &resp));
        let proto = r.get("proto").map_or("tcp", String::as_str);
        let Some(f) = c.flows("conn", flows, proto, &orig, &resp) else {
            continue;
        };
        let state = f.v["state"].as_str().unwrap_or("");
        c.fact(
            "conn.conn_state",
            state,
            r.get("conn_state").cloned().unwrap_or_default(),
        );
        // exaudit records only these history letters (README, flow semantics).
        let zh: String = r
            .get("history")
            .map(|h| h.chars().filter(|ch| "^SHADFRshadfr".contains(*ch)).collect())
            .unwrap_or_default();
        c.fact("conn.history", f.v["history"].as_str().unwrap_or(""), zh);
        let (o, rr) = if f.client == orig {
            ("c2s", "s2c")
        } else {
            ("s2c", "c2s")
        };
        for (zeek, ours) in [
            ("orig_pkts", format!("{o}_packets")),
            ("resp_pkts", format!("{rr}_packets")),
            ("orig_ip_bytes", format!("{o}_bytes")),
            ("resp_ip_bytes", format!("{rr}_bytes")),
        ] {
            if let Some(v) = r.get(zeek) {
                c.fact(&format!("conn.{zeek}"), f.v[&ours].to_string(), v.clone());
            }
        }
    }
}

fn zeek_smtp(c: &mut Compare, flows: &[Flow], records: &[Record]) {
    for ((orig, resp), recs) in by_conn(records) {
        c.at(&c.capture.clone(), conn_label(&orig, &resp));
        let Some(f) = c.flows("smtp", flows, "tcp", &orig, &resp) else {
            continue;
        };
        let Some(s) = f.app("smtp") else {
            c.fact("smtp", "no SMTP facts", format!("{} transactions", recs.len()));
            continue;
        };
        let flag = |k: &str| s[k].as_bool().unwrap_or(false);
        let helo = recs.iter().any(|r| r.get("helo").is_some_and(|h| !h.is_empty()));
        c.fact("smtp.helo", yes(flag("ehlo") || flag("helo")), yes(helo));
        let from = recs
            .iter()
            .any(|r| r.get("mailfrom").is_some_and(|h| !h.is_empty()));
        c.fact("smtp.mailfrom", yes(flag("mail_from_seen")), yes(from));
        let rcpts: usize = recs.iter().map(|r| set(r, "rcptto").len()).sum();
        c.fact(
            "smtp.rcptto",
            s["rcpt_count"].as_u64().unwrap_or(0).to_string(),
            rcpts.to_string(),
        );
        let tls = recs.iter().any(|r| r.get("tls").is_some_and(|t| t == "T"));
        c.fact("smtp.tls", yes(flag("starttls")), yes(tls));
    }
}

fn zeek_ntlm(c: &mut Compare, flows: &[Flow], records: &[Record]) {
    for ((orig, resp), recs) in by_conn(records) {
        c.at(&c.capture.clone(), conn_label(&orig, &resp));
        let Some(f) = c.flows("ntlm", flows, "tcp", &orig, &resp) else {
            continue;
        };
        let msgs = f.strings(&["auth", "ntlm"]);
        c.fact("ntlm", if msgs.is_empty() { "not seen" } else { "seen" }, "seen");
        let any = |keys: &[&str]| {
            recs.iter()
                .any(|r| keys.iter().any(|k| r.get(*k).is_some_and(|v| !v.is_empty())))
        };
        // Zeek takes these from the AUTHENTICATE and the CHALLENGE message.
        if any(&["username", "hostname", "domainname"]) {
            c.fact("ntlm.authenticate", yes(msgs.contains("authenticate")), "yes");
        }
        if any(&[
            "server_nb_computer_name",
            "server_dns_computer_name",
            "server_tree_name",
        ]) {
            c.fact("ntlm.challenge", yes(msgs.contains("challenge")), "yes");
        }
    }
}

/// Zeek's version names in exaudit's spelling.
fn tls_version(zeek: &str) -> String {
    match zeek {
        "SSLv2" => "ssl2".into(),
        "SSLv3" => "ssl3".into(),
        "TLSv10" => "1.0".into(),
        "TLSv11" => "1.1".into(),
        "TLSv12" => "1.2".into(),
        "TLSv13" => "1.3".into(),
        other => other.into(),
    }
}

fn zeek_ssl(c: &mut Compare, flows: &[Flow], records: &[Record]) {
    for r in records {
        let (orig, resp) = ends(r);
        c.at(&c.capture.clone(), conn_label(&orig, &resp));
        let Some(f) = c.flows("ssl", flows, "tcp", &orig, &resp) else {
            continue;
        };
        let Some(t) = f.app("tls") else {
            c.fact("ssl", "no TLS facts", "ssl record");
            continue;
        };
        let s = |v: &Value| v.as_str().unwrap_or("(none)").to_string();
        let peer = |k: &str| r.get(k).cloned().unwrap_or_else(|| "(none)".into());
        c.fact("ssl.server_name", s(&t["sni"]), peer("server_name"));
        c.fact("ssl.version", s(&t["version"]), tls_version(&peer("version")));
        c.fact("ssl.cipher", s(&t["cipher"]), peer("cipher"));
    }
}

#[allow(clippy::type_complexity)]
const ZEEK_LOGS: &[(&str, fn(&mut Compare, &[Flow], &[Record]))] = &[
    ("dce_rpc.log", zeek_dce_rpc),
    ("conn.log", zeek_conn),
    ("smtp.log", zeek_smtp),
    ("ntlm.log", zeek_ntlm),
    ("ssl.log", zeek_ssl),
];

#[test]
fn zeek_logs_agree_except_listed_differences() {
    let Some(corpus) = common::shared_corpus() else {
        common::skip("zeek_logs_agree_except_listed_differences", "corpus");
        return;
    };
    let mut runs = Runs::new(&corpus);
    let mut c = Compare::default();
    for (log, compare) in ZEEK_LOGS {
        let files = baselines(&corpus, "zeek", log);
        assert!(!files.is_empty(), "no Zeek {log} in {}", corpus.display());
        let before: usize = c.facts.values().sum();
        for (stem, file) in files {
            let records = parse_zeek_log(&std::fs::read_to_string(&file).unwrap());
            assert!(!records.is_empty(), "{} has no record", file.display());
            c.capture = stem.clone();
            compare(&mut c, runs.of(&stem), &records);
        }
        let after: usize = c.facts.values().sum();
        assert!(after > before, "nothing of {log} was compared");
    }
    assert_only_known("zeek", |f| !f.starts_with("eve."), &c);
}

// ------------------------------------------------------------ suricata-verify

/// One `checks: - filter:` of a suricata-verify test.yaml.
#[derive(Debug, Default, PartialEq)]
struct Filter {
    count: Option<u64>,
    /// `requires: lt-version`: a check for older Suricata versions only.
    older_only: bool,
    matches: BTreeMap<String, String>,
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    for q in ['"', '\''] {
        if v.len() >= 2 && v.starts_with(q) && v.ends_with(q) {
            return v[1..v.len() - 1].to_string();
        }
    }
    v.to_string()
}

/// Drops a `#` comment that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, ch) in line.char_indices() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, '#') if i == 0 || line[..i].ends_with([' ', '\t']) => return &line[..i],
            _ => {}
        }
    }
    line
}

/// The checks of a suricata-verify test.yaml: the small YAML subset these
/// files use (block mappings, `- filter:` list items, scalars).
fn parse_sv_checks(text: &str) -> Vec<Filter> {
    let mut out: Vec<Filter> = Vec::new();
    let mut in_checks = false;
    // (section, its indent) inside the current filter: "match" or "requires".
    let mut section: Option<(&str, usize)> = None;
    for raw in text.lines() {
        let line = strip_comment(raw).trim_end();
        if line.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let t = line.trim_start();
        if indent == 0 && !(in_checks && t.starts_with("- ")) {
            in_checks = t == "checks:";
            section = None;
            continue;
        }
        if !in_checks {
            continue;
        }
        let t = match t.strip_prefix("- ") {
            Some(rest) => {
                out.push(Filter::default());
                section = None;
                rest.trim_start()
            }
            None => t,
        };
        if t == "filter:" {
            continue;
        }
        let Some(f) = out.last_mut() else { continue };
        let Some((key, value)) = t.split_once(':') else {
            panic!("unexpected test.yaml line {raw:?}");
        };
        let (key, value) = (key.trim(), unquote(value));
        match section {
            Some((name, at)) if indent > at => {
                if name == "match" {
                    f.matches.insert(key.to_string(), value);
                } else if key == "lt-version" {
                    f.older_only = true;
                }
                continue;
            }
            _ => section = None,
        }
        match key {
            "match" => section = Some(("match", indent)),
            "requires" => section = Some(("requires", indent)),
            "count" => f.count = value.parse().ok(),
            _ => {}
        }
    }
    out
}

/// The exaudit flows a filter's addresses select (all of them without any),
/// the connection label, and whether the filter's source is exaudit's client.
fn sv_flows<'a>(m: &BTreeMap<String, String>, flows: &'a [Flow]) -> (Vec<&'a Flow>, String, Vec<&'a Flow>) {
    let get = |k: &str| m.get(k).cloned();
    let port = |k: &str| m.get(k).and_then(|p| p.parse::<u16>().ok());
    let side = |f: &Endpoint, ip: Option<String>, p: Option<u16>| {
        ip.as_ref().is_none_or(|ip| *ip == f.0) && p.is_none_or(|p| p == f.1)
    };
    let (sip, sp, dip, dp) = (get("src_ip"), port("src_port"), get("dest_ip"), port("dest_port"));
    let any = sip.is_none() && sp.is_none() && dip.is_none() && dp.is_none();
    let label = if any {
        "*".to_string()
    } else {
        let e = |ip: &Option<String>, p: Option<u16>| {
            format!(
                "{}:{}",
                ip.clone().unwrap_or("*".into()),
                p.map_or("*".into(), |p| p.to_string())
            )
        };
        format!("{} -> {}", e(&sip, sp), e(&dip, dp))
    };
    let proto = m.get("proto").map(|p| p.to_ascii_lowercase());
    let mut forward = Vec::new();
    let mut reverse = Vec::new();
    for f in flows {
        if proto.as_ref().is_some_and(|p| *p != f.proto) {
            continue;
        }
        if side(&f.client, sip.clone(), sp) && side(&f.server, dip.clone(), dp) {
            forward.push(f);
        } else if side(&f.server, sip.clone(), sp) && side(&f.client, dip.clone(), dp) {
            reverse.push(f);
        }
    }
    (forward, label, reverse)
}

/// Suricata's ack_result values (0 acceptance, 1 user rejection, 2 provider
/// rejection) in exaudit's words, merged like exaudit: acceptance wins.
fn ack_category(results: &[String]) -> String {
    if results.iter().any(|r| r == "0") {
        "accepted".into()
    } else if results.iter().any(|r| r == "2") {
        "provider-rejection".into()
    } else if results.iter().any(|r| r == "1") {
        "user-rejection".into()
    } else {
        format!("ack_result {}", results.join(","))
    }
}

fn sv_dcerpc(c: &mut Compare, flows: &[&Flow], m: &BTreeMap<String, String>) {
    if !flows
        .iter()
        .any(|f| f.app("dcerpc").is_some_and(|d| d["pdus"].as_u64() > Some(0)))
    {
        c.fact("eve.dcerpc", "no DCE/RPC facts", "dcerpc record");
        return;
    }
    c.fact("eve.dcerpc", "dcerpc", "dcerpc");
    let calls: BTreeSet<(String, u16)> = flows.iter().flat_map(|f| f.calls()).collect();
    let mut bound: BTreeMap<String, String> = BTreeMap::new();
    for f in flows {
        for (u, r) in f.interfaces() {
            let e = bound.entry(u).or_insert(r.clone());
            if r == "accepted" {
                *e = r;
            }
        }
    }
    // interfaces[i].{uuid,service,procedure,ack_result}
    let mut ifaces: BTreeMap<usize, BTreeMap<String, String>> = BTreeMap::new();
    for (k, v) in m {
        if let Some(rest) = k.strip_prefix("dcerpc.interfaces[") {
            let (i, field) = rest.split_once("].").expect("interfaces[i].field");
            ifaces
                .entry(i.parse().unwrap())
                .or_default()
                .insert(field.to_string(), v.clone());
        }
    }
    let opnum: Option<u16> = m.get("dcerpc.req.opnum").map(|o| o.parse().unwrap());
    let mut acks: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in ifaces.values() {
        let uuid = match (i.get("uuid"), i.get("service")) {
            (Some(u), _) => u.to_ascii_lowercase(),
            (None, Some(s)) => peer_interface(s),
            (None, None) => continue,
        };
        if let Some(s) = i.get("service") {
            let ours = exaudit_name(&uuid).unwrap_or_else(|| "(unnamed)".into());
            // exaudit's names are lower case (rules/dcerpc-interfaces.toml).
            c.fact("eve.dcerpc.interface_name", ours, s.to_ascii_lowercase());
        }
        let op = match (i.get("procedure"), opnum) {
            (Some(p), _) => Some(peer_opnum(&uuid, p)),
            (None, Some(n)) => Some(n),
            (None, None) => None,
        };
        if let Some(op) = op {
            let label = call_label(&uuid, op);
            let ours = if calls.contains(&(uuid.clone(), op)) {
                label.clone()
            } else {
                "absent".into()
            };
            c.fact("eve.dcerpc.call", ours, label);
        } else if m.get("dcerpc.request").is_some_and(|r| r == "REQUEST") {
            let peer = format!("a call on {uuid}");
            let on = calls.iter().any(|(u, _)| *u == uuid);
            c.fact(
                "eve.dcerpc.call_on",
                if on { peer.clone() } else { "absent".into() },
                peer,
            );
        }
        if let Some(v) = i.get("version") {
            let ours: BTreeSet<String> = flows
                .iter()
                .flat_map(|f| f.versions().remove(&uuid))
                .flatten()
                .collect();
            let peer = format!("{uuid} {v}");
            let ours = if ours.contains(v) {
                peer.clone()
            } else {
                format!("{uuid} {}", joined(&ours))
            };
            c.fact("eve.dcerpc.interface_version", ours, peer);
        }
        match i.get("ack_result") {
            Some(a) => acks.entry(uuid).or_default().push(a.clone()),
            None => {
                acks.entry(uuid).or_default();
            }
        }
    }
    for (uuid, results) in &acks {
        let peer = if results.is_empty() {
            "bound".to_string()
        } else {
            ack_category(results)
        };
        let ours = match bound.get(uuid) {
            None => "absent".to_string(),
            Some(_) if results.is_empty() => "bound".to_string(),
            // "provider-rejection-2" -> "provider-rejection"
            Some(r) => r
                .trim_end_matches(|ch: char| ch.is_ascii_digit() || ch == '-')
                .to_string(),
        };
        c.fact(
            "eve.dcerpc.interface",
            format!("{uuid} {ours}"),
            format!("{uuid} {peer}"),
        );
    }
    if let (true, Some(op)) = (ifaces.is_empty(), opnum) {
        let peer = format!("opnum {op}");
        let on = calls.iter().any(|(_, n)| *n == op);
        c.fact(
            "eve.dcerpc.opnum",
            if on { peer.clone() } else { "absent".into() },
            peer,
        );
    }
}

fn sv_smtp(c: &mut Compare, flows: &[&Flow], m: &BTreeMap<String, String>) {
    let Some(s) = flows.iter().find_map(|f| f.app("smtp")) else {
        c.fact("eve.smtp", "no SMTP facts", "smtp record");
        return;
    };
    c.fact("eve.smtp", "smtp", "smtp");
    let flag = |k: &str| s[k].as_bool().unwrap_or(false);
    if m.contains_key("smtp.helo") {
        c.fact("eve.smtp.helo", yes(flag("ehlo") || flag("helo")), "yes");
    }
    if m.contains_key("smtp.mail_from") {
        c.fact("eve.smtp.mail_from", yes(flag("mail_from_seen")), "yes");
    }
    let need = m
        .keys()
        .filter_map(|k| {
            k.strip_prefix("smtp.rcpt_to[")?
                .strip_suffix(']')?
                .parse::<u64>()
                .ok()
        })
        .max();
    if let Some(i) = need {
        let n = s["rcpt_count"].as_u64().unwrap_or(0);
        c.fact("eve.smtp.rcpt_to", yes(n > i), "yes");
    }
    for k in m
        .keys()
        .filter(|k| k.starts_with("email.") || k.starts_with("smtp."))
    {
        if !(k == "smtp.helo" || k == "smtp.mail_from" || k.starts_with("smtp.rcpt_to[")) {
            c.skip(&format!("eve {k}"));
        }
    }
}

fn sv_pop3(c: &mut Compare, flows: &[&Flow], m: &BTreeMap<String, String>) {
    let Some(p) = flows.iter().find_map(|f| f.app("pop3")) else {
        c.fact("eve.pop3", "no POP3 facts", "pop3 record");
        return;
    };
    c.fact("eve.pop3", "pop3", "pop3");
    let ok = m.get("pop3.response.success").is_some_and(|s| s == "true");
    match m.get("pop3.request.command").map(String::as_str) {
        None => {
            if let Some(h) = m.get("pop3.response.header") {
                c.fact(
                    "eve.pop3.greeting",
                    p["greeting"].as_str().unwrap_or("(none)"),
                    h.clone(),
                );
            }
        }
        Some("USER") if ok => {
            c.fact(
                "eve.pop3.login",
                p["login_mechanism"].as_str().unwrap_or("(none)"),
                "USER/PASS",
            );
        }
        Some("PASS") if ok => {
            c.fact(
                "eve.pop3.login_succeeded",
                yes(p["login_succeeded"].as_bool() == Some(true)),
                "yes",
            );
        }
        // exaudit keeps the login and counts commands; it does not list the
        // commands after the login (STAT, LIST, TOP, ...).
        Some(cmd) => c.skip(&format!("eve pop3 {cmd}")),
    }
}

#[test]
fn suricata_verify_agrees_except_listed_differences() {
    let Some(corpus) = common::shared_corpus() else {
        common::skip("suricata_verify_agrees_except_listed_differences", "corpus");
        return;
    };
    let mut runs = Runs::new(&corpus);
    let mut c = Compare::default();
    let files = baselines(&corpus, "suricata-verify", "test.yaml");
    assert!(
        !files.is_empty(),
        "no suricata-verify test.yaml in {}",
        corpus.display()
    );
    for (stem, file) in files {
        for f in parse_sv_checks(&std::fs::read_to_string(&file).unwrap()) {
            // Without event_type, the keys say which records are meant.
            let kind = f.matches.get("event_type").cloned().or_else(|| {
                f.matches
                    .keys()
                    .find_map(|k| Some(k.split_once('.')?.0.to_string()))
            });
            let Some(kind) = kind else {
                continue;
            };
            if !["dcerpc", "smtp", "pop3"].contains(&kind.as_str()) {
                continue;
            }
            // Older Suricata's behaviour, or counts of Suricata transactions
            // that must not exist (exaudit has no transactions).
            if f.older_only || f.count == Some(0) {
                c.skip(&format!("eve {kind} older-only or count 0"));
                continue;
            }
            let flows = runs.of(&stem).to_vec();
            let (forward, conn, reverse) = sv_flows(&f.matches, &flows);
            c.capture = stem.clone();
            c.at(&stem, conn);
            let peer_dir = "src is the client";
            match (forward.is_empty(), reverse.is_empty()) {
                (true, true) => {
                    c.fact(&format!("eve.{kind}.flow"), "absent", "present");
                    continue;
                }
                (true, false) => c.fact(&format!("eve.{kind}.direction"), "src is the server", peer_dir),
                _ => c.fact(&format!("eve.{kind}.direction"), peer_dir, peer_dir),
            };
            let sel: Vec<&Flow> = forward.into_iter().chain(reverse).collect();
            match kind.as_str() {
                "dcerpc" => sv_dcerpc(&mut c, &sel, &f.matches),
                "smtp" => sv_smtp(&mut c, &sel, &f.matches),
                _ => sv_pop3(&mut c, &sel, &f.matches),
            }
        }
    }
    for field in [
        "eve.dcerpc.call",
        "eve.dcerpc.interface",
        "eve.dcerpc.opnum",
        "eve.smtp.helo",
    ] {
        assert!(
            c.facts.contains_key(field),
            "nothing compared for {field}: {:?}",
            c.facts
        );
    }
    assert_only_known("suricata-verify", |f| f.starts_with("eve."), &c);
}

// ------------------------------------------------------------ self-tests (no corpus needed)

#[test]
fn known_differences_are_unique_and_explained() {
    for (i, k) in KNOWN.iter().enumerate() {
        assert!(k.reason.len() > 40, "{}: give the reason", k.capture);
        for other in &KNOWN[i + 1..] {
            assert!(
                (k.capture, k.conn, k.field) != (other.capture, other.conn, other.field),
                "{} {} {} listed twice",
                k.capture,
                k.conn,
                k.field
            );
        }
    }
    for (i, (name, uuid, op, n)) in PEER_OPS.iter().enumerate() {
        assert!(is_uuid(uuid), "{uuid}");
        for (n2, u2, o2, m) in &PEER_OPS[i + 1..] {
            assert!(!(uuid == u2 && (n == m || op == o2)), "{name} {op} twice");
            assert!(name == n2 || uuid != u2, "{uuid} under two names");
        }
    }
}

#[test]
fn zeek_tsv_logs_are_parsed_with_escapes_unset_and_empty_fields() {
    let log = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
               #fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tnamed_pipe\toperation\trcptto\tfuids\n\
               #types\ttime\taddr\tport\taddr\tport\tstring\tstring\tset[string]\tvector[string]\n\
               1.0\t10.0.0.1\t49152\t10.0.0.2\t445\t\\\\PIPE\\\\lsass\t-\ta@b,c@d\t(empty)\n\
               #close\tX\n";
    let r = parse_zeek_log(log);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["named_pipe"], "\\PIPE\\lsass");
    assert!(!r[0].contains_key("operation"), "unset fields are left out");
    assert_eq!(r[0]["fuids"], "");
    assert_eq!(set(&r[0], "rcptto").len(), 2);
    assert_eq!(
        ends(&r[0]),
        (("10.0.0.1".into(), 49152), ("10.0.0.2".into(), 445))
    );
    assert_eq!(zeek_unescape("a\\x09b\\x4"), "a\tb\\x4");
}

#[test]
fn zeek_headerless_and_json_logs_are_parsed() {
    let cut = "### comment\nts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tusername\n\
               X\t127.0.0.1\t60126\t127.0.1.1\t389\tsasladmin\n";
    let r = parse_zeek_log(cut);
    assert_eq!(r[0]["username"], "sasladmin");
    let json = "{\"id.orig_h\":\"10.0.0.1\",\"id.orig_p\":1,\"id.resp_h\":\"10.0.0.2\",\"id.resp_p\":25,\
                \"tls\":true,\"rcptto\":[\"a\",\"b\"],\"helo\":null}\n";
    let r = parse_zeek_log(json);
    assert_eq!(r[0]["tls"], "T");
    assert_eq!(r[0]["rcptto"], "a,b");
    assert_eq!(r[0]["id.resp_p"], "25");
    assert!(!r[0].contains_key("helo"));
}

#[test]
fn suricata_verify_checks_are_parsed() {
    let yaml = "requires:\n  min-version: 6\n\nargs:\n- -k none\n\nchecks:\n\
                - filter:\n    count: 1\n    match:\n      event_type: dcerpc\n\
                \x20     dcerpc.interfaces[0].uuid: \"367abb81-9844-35f1-ad32-98f038001003\"\n\
                \x20     dcerpc.req.opnum: 24   # a comment\n\
                \x20 - filter:\n      requires:\n        lt-version: 8.0.7\n      count: 2\n\
                \x20     match:\n        smtp.helo: 'a # b'\n";
    let f = parse_sv_checks(yaml);
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!(f[0].count, Some(1));
    assert!(!f[0].older_only);
    assert_eq!(f[0].matches["dcerpc.interfaces[0].uuid"], SVCCTL);
    assert_eq!(f[0].matches["dcerpc.req.opnum"], "24");
    assert_eq!(f[1].count, Some(2));
    assert!(f[1].older_only);
    assert_eq!(f[1].matches["smtp.helo"], "a # b");
}

fn fake_flow(calls: &[(&str, u16)]) -> Flow {
    let calls: Vec<Value> = calls
        .iter()
        .map(|(u, n)| serde_json::json!({"interface": u, "opnum": n}))
        .collect();
    Flow::from_json(&serde_json::json!({
        "type": "flow", "proto": "tcp", "client": "10.0.0.1", "client_port": 50000,
        "server": "10.0.0.2", "server_port": 1024, "state": "SF", "history": "ShADadFf",
        "app": {"dcerpc": {"pdus": 6, "calls": calls, "secondary_addrs": ["1024"],
                "interfaces": [{"uuid": DRSUAPI, "version": 4, "version_minor": 0, "result": "accepted"}]}}
    }))
}

fn zeek_record(op: &str) -> Record {
    [
        ("id.orig_h", "10.0.0.1"),
        ("id.orig_p", "50000"),
        ("id.resp_h", "10.0.0.2"),
        ("id.resp_p", "1024"),
        ("named_pipe", "1024"),
        ("endpoint", "drsuapi"),
        ("operation", op),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn the_comparison_reports_wrong_or_missing_operations_and_stale_entries() {
    let flows = [fake_flow(&[(DRSUAPI, 0), (DRSUAPI, 12)])];
    // Agreement: no difference.
    let mut c = Compare {
        capture: "cap".into(),
        ..Default::default()
    };
    zeek_dce_rpc(
        &mut c,
        &flows,
        &[zeek_record("DRSBind"), zeek_record("DRSCrackNames")],
    );
    assert!(c.diffs.is_empty(), "{:?}", c.diffs);
    assert_eq!(c.facts["dce_rpc.operation"], 2);
    // Zeek saw DRSUnbind, exaudit saw DRSCrackNames instead.
    let mut c = Compare {
        capture: "cap".into(),
        ..Default::default()
    };
    zeek_dce_rpc(
        &mut c,
        &flows,
        &[zeek_record("DRSBind"), zeek_record("DRSUnbind")],
    );
    let got: Vec<(String, String)> = c
        .diffs
        .iter()
        .map(|d| (d.exaudit.clone(), d.peer.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("absent".to_string(), format!("{DRSUAPI}#1 DRSUnbind")),
            (format!("{DRSUAPI}#12 DRSCrackNames"), "absent".to_string()),
        ]
    );
    // Against the same connection reversed, the direction differs too; and a
    // connection exaudit does not have is reported as absent.
    let mut r = zeek_record("DRSBind");
    for (a, b) in [("id.orig_h", "id.resp_h"), ("id.orig_p", "id.resp_p")] {
        let (x, y) = (r[a].clone(), r[b].clone());
        r.insert(a.into(), y);
        r.insert(b.into(), x);
    }
    let mut other = zeek_record("DRSBind");
    other.insert("id.orig_p".into(), "50001".into());
    let mut c = Compare {
        capture: "cap".into(),
        ..Default::default()
    };
    zeek_dce_rpc(&mut c, &flows, &[r, other]);
    let fields: Vec<&str> = c.diffs.iter().map(|d| d.field.as_str()).collect();
    assert!(fields.contains(&"dce_rpc.direction"), "{fields:?}");
    assert!(fields.contains(&"dce_rpc.flow"), "{fields:?}");
    // unexplained(): a difference not listed is reported, a listed one that
    // did not occur is stale.
    let listed = Known {
        capture: "cap",
        conn: "10.0.0.1:50000 -> 10.0.0.2:1024",
        field: "dce_rpc.operation",
        exaudit: "x",
        peer: "y",
        reason: "test",
    };
    let (unexpected, stale) = unexplained(&c.diffs, &[&listed]);
    assert_eq!(unexpected.len(), c.diffs.len());
    assert_eq!(stale.len(), 1);
}

#[test]
fn suricata_dcerpc_checks_compare_calls_interfaces_and_names() {
    let flows = [fake_flow(&[(DRSUAPI, 0)])];
    let sel: Vec<&Flow> = flows.iter().collect();
    let m = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let mut c = Compare::default();
    sv_dcerpc(
        &mut c,
        &sel,
        &m(&[
            ("dcerpc.interfaces[0].uuid", DRSUAPI),
            ("dcerpc.interfaces[0].ack_result", "0"),
            ("dcerpc.req.opnum", "0"),
        ]),
    );
    assert!(c.diffs.is_empty(), "{:?}", c.diffs);
    sv_dcerpc(
        &mut c,
        &sel,
        &m(&[("dcerpc.interfaces[0].uuid", DRSUAPI), ("dcerpc.req.opnum", "3")]),
    );
    sv_dcerpc(
        &mut c,
        &sel,
        &m(&[
            ("dcerpc.interfaces[0].uuid", SVCCTL),
            ("dcerpc.interfaces[0].ack_result", "0"),
        ]),
    );
    sv_dcerpc(
        &mut c,
        &sel,
        &m(&[
            ("dcerpc.interfaces[0].service", "mgmt"),
            ("dcerpc.interfaces[0].procedure", "inq_princ_name"),
        ]),
    );
    let got: BTreeSet<(&str, &str, &str)> = c
        .diffs
        .iter()
        .map(|d| (d.field.as_str(), d.exaudit.as_str(), d.peer.as_str()))
        .collect();
    let want = format!("{DRSUAPI}#3 DRSGetNCChanges");
    let mgmt = format!("{MGMT}#4 inq_princ_name");
    let (svcctl_absent, svcctl_accepted) = (format!("{SVCCTL} absent"), format!("{SVCCTL} accepted"));
    let (mgmt_absent, mgmt_bound) = (format!("{MGMT} absent"), format!("{MGMT} bound"));
    assert_eq!(
        got,
        BTreeSet::from([
            ("eve.dcerpc.call", "absent", want.as_str()),
            ("eve.dcerpc.call", "absent", mgmt.as_str()),
            (
                "eve.dcerpc.interface",
                svcctl_absent.as_str(),
                svcctl_accepted.as_str()
            ),
            ("eve.dcerpc.interface", mgmt_absent.as_str(), mgmt_bound.as_str()),
            ("eve.dcerpc.interface_name", "(unnamed)", "mgmt"),
        ])
    );
}
