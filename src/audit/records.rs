//! The output contract: the records every format writes (one per flow, the
//! summary of the run). Built here from the flow and its facts; the renderers in
//! `report/` only lay them out.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::analyze::EpmLink;
use crate::decode::to_ip;
use crate::flow::table::IcmpNote;
use crate::flow::tcp::History;
use crate::flow::Flow;
use crate::inspect::AppFacts;
use crate::pipeline::RunStats;
use crate::vocab::{proto_name, rfc3339, RoleSet, Ts};

fn history_text<S: serde::Serializer>(h: &History, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(h.as_str())
}

fn opt_text<T: std::fmt::Display, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

/// The `app` field of a flow record: the inspectors' facts, the
/// endpoint-mapper answer that announced the flow, and the ICMP errors that
/// quoted it. Serialized straight from the fact structs (no JSON tree).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppRecord {
    pub facts: AppFacts,
    pub epm: Option<EpmLink>,
    pub icmp: Option<IcmpNote>,
}

impl AppRecord {
    /// Whether the record has nothing to print.
    pub fn is_empty(&self) -> bool {
        let f = &self.facts;
        self.epm.is_none()
            && self.icmp.is_none()
            && f.smtp.is_none()
            && f.pop3.is_none()
            && f.imap.is_none()
            && f.tls.is_none()
            && f.http.is_none()
            && f.ldap.is_none()
            && f.dcerpc.is_none()
            && f.osi.is_none()
            && f.auth.is_none()
    }

    /// The same as a JSON object, for the few places that walk it.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        }
    }
}

/// The `app` field as a record holds it: nothing for the many flows without
/// facts (a scan's SYNs), one box otherwise; prints `{}` when empty.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AppField(Option<Box<AppRecord>>);

impl AppField {
    pub fn new(app: AppRecord) -> AppField {
        AppField((!app.is_empty()).then(|| Box::new(app)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    pub fn get(&self) -> Option<&AppRecord> {
        self.0.as_deref()
    }

    /// The same as a JSON object, for the few places that walk it.
    pub fn to_map(&self) -> serde_json::Map<String, serde_json::Value> {
        self.0.as_ref().map(|a| a.to_map()).unwrap_or_default()
    }
}

impl Serialize for AppField {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match &self.0 {
            Some(a) => a.serialize(s),
            None => s.serialize_map(Some(0))?.end(),
        }
    }
}

#[derive(Serialize)]
struct DcerpcView<'a> {
    #[serde(flatten)]
    facts: Option<&'a crate::inspect::dcerpc::DcerpcFacts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announced_by: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    announced_interface: Option<&'a str>,
}

#[derive(Serialize)]
struct IcmpView {
    errors: u32,
    #[serde(rename = "type")]
    kind: u8,
    code: u8,
    prohibited: bool,
}

impl Serialize for AppRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let f = &self.facts;
        let mut m = s.serialize_map(None)?;
        // Keys in alphabetical order, as the JSON objects always printed them.
        if let Some(v) = &f.auth {
            m.serialize_entry("auth", v)?;
        }
        if f.dcerpc.is_some() || self.epm.is_some() {
            let view = DcerpcView {
                facts: f.dcerpc.as_deref(),
                announced_by: self.epm.as_ref().map(|l| l.epm_flow),
                announced_interface: self.epm.as_ref().map(|l| l.interface.as_str()),
            };
            m.serialize_entry("dcerpc", &view)?;
        }
        if let Some(v) = &f.http {
            m.serialize_entry("http", v)?;
        }
        if let Some(i) = &self.icmp {
            let view = IcmpView {
                errors: i.count,
                kind: i.last_type,
                code: i.last_code,
                prohibited: i.prohibited,
            };
            m.serialize_entry("icmp", &view)?;
        }
        if let Some(v) = &f.imap {
            m.serialize_entry("imap", v)?;
        }
        if let Some(v) = &f.ldap {
            m.serialize_entry("ldap", v)?;
        }
        if let Some(v) = &f.osi {
            m.serialize_entry("osi", v)?;
        }
        if let Some(v) = &f.pop3 {
            m.serialize_entry("pop3", v)?;
        }
        if let Some(v) = &f.smtp {
            m.serialize_entry("smtp", v)?;
        }
        if let Some(v) = &f.tls {
            m.serialize_entry("tls", v)?;
        }
        m.end()
    }
}

/// A flow as the output contract prints it. Built per flow from compact
/// values (addresses, role bit sets, timestamps) that print as text.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    pub proto: &'static str,
    pub client: IpAddr,
    pub client_port: u16,
    pub server: IpAddr,
    pub server_port: u16,
    #[serde(serialize_with = "opt_text")]
    pub client_role: Option<RoleSet>,
    #[serde(serialize_with = "opt_text")]
    pub server_role: Option<RoleSet>,
    pub first_ts: Ts,
    pub last_ts: Ts,
    pub state: &'static str,
    #[serde(serialize_with = "history_text")]
    pub history: History,
    /// How the client is known: `seen` (handshake), `inferred` (ports,
    /// content, an endpoint-mapper answer) or `guessed`.
    pub direction: &'static str,
    pub c2s_packets: u64,
    pub c2s_bytes: u64,
    pub s2c_packets: u64,
    pub s2c_bytes: u64,
    pub purpose: Option<&'static str>,
    /// `content` or `port` (`none` when the purpose is unknown).
    pub purpose_source: Option<&'static str>,
    /// What the content named (the DCE/RPC interface, the HTTP path...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose_detail: Option<String>,
    /// `documented`, `allowed`, `violation` or `unexplained`.
    pub verdict: Option<&'static str>,
    pub rule: Option<String>,
    pub app: AppField,
    pub findings: Vec<String>,
}

impl FlowRecord {
    pub fn from_flow(f: &Flow) -> FlowRecord {
        let (c, s) = if f.client_is_a {
            (f.key.side(true), f.key.side(false))
        } else {
            (f.key.side(false), f.key.side(true))
        };
        let (cp, sp) = f.client_server_pkts();
        let (cb, sb) = f.client_server_bytes();
        FlowRecord {
            kind: "flow",
            id: f.id,
            proto: proto_name(f.key.proto),
            client: to_ip(&c.0),
            client_port: c.1,
            server: to_ip(&s.0),
            server_port: s.1,
            client_role: None,
            server_role: None,
            first_ts: Ts(f.first_ts),
            last_ts: Ts(f.last_ts),
            state: f.state().as_str(),
            history: f.tcp.history,
            direction: f.direction.as_str(),
            c2s_packets: cp,
            c2s_bytes: cb,
            s2c_packets: sp,
            s2c_bytes: sb,
            purpose: None,
            purpose_source: None,
            purpose_detail: None,
            verdict: None,
            rule: None,
            app: AppField::new(AppRecord {
                facts: AppFacts::default(),
                epm: None,
                icmp: (f.icmp.count > 0).then_some(f.icmp),
            }),
            findings: Vec::new(),
        }
    }
}

/// One input file in the summary.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputSummary {
    pub file: String,
    pub packets: u64,
    pub bytes: u64,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub timestamps_backwards: u64,
    /// Packets whose timestamp left the running clock and came back: given
    /// the clock's time (README, "Timestamps").
    pub clock_jumps: u64,
    pub unsupported_link_types: BTreeMap<String, u64>,
    pub error: Option<String>,
}

/// The summary record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Summary {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub inputs: Vec<InputSummary>,
    pub packets: u64,
    pub bytes: u64,
    pub decode_errors: BTreeMap<String, u64>,
    /// Packets decoded through each encapsulation, by name (`pppoe`,
    /// `mpls`, `gre`, `erspan`, `vxlan`, `geneve`, `ip_in_ip`).
    pub encapsulations: BTreeMap<String, u64>,
    pub fragments_unmatched: u64,
    pub flows: u64,
    pub peak_flows: u64,
    pub evictions: u64,
    pub expired: u64,
    pub reused_tuples: u64,
    pub icmp_errors_matched: u64,
    pub icmp_errors_unmatched: u64,
    pub capture_drops: CaptureDrops,
    pub backpressure_waits: u64,
    /// Packets of all inputs taken for clock glitches.
    pub clock_jumps: u64,
    /// Frames `--filter` did not match (not in `packets`).
    pub filtered_out: u64,
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub wall_time_s: f64,
    pub packets_per_s: f64,
    pub not_inspected: u64,
    pub expectations: u64,
    pub expectations_matched: u64,
    pub findings: u64,
    /// Flows whose direction is a guess and where only one reading breaks
    /// the policy: their direction-dependent findings are withheld.
    pub direction_unknown: u64,
    /// The first of them, with what each reading would raise.
    pub direction_unknown_flows: Vec<crate::findings::DirectionUnknown>,
    /// `file` or `inferred`.
    pub topology: &'static str,
}

/// Packets lost before the pipeline saw them (live capture only).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, Default)]
pub struct CaptureDrops {
    pub kernel: u64,
    pub interface: u64,
    pub pipeline: u64,
}

impl Summary {
    pub fn new(stats: &RunStats) -> Summary {
        let c = &stats.capture;
        let inputs = c
            .files
            .iter()
            .map(|(p, f)| InputSummary {
                file: p.display().to_string(),
                packets: f.packets,
                bytes: f.bytes,
                first_ts: f.first_ts.map(rfc3339),
                last_ts: f.last_ts.map(rfc3339),
                timestamps_backwards: f.ts_backwards,
                clock_jumps: f.clock_jumps,
                unsupported_link_types: f
                    .unsupported_link
                    .iter()
                    .map(|(l, n)| (format!("linktype {l}"), *n))
                    .collect(),
                error: c.errors.iter().find(|e| e.file == *p).map(|e| e.to_string()),
            })
            .collect();
        let first = c.files.iter().filter_map(|(_, f)| f.first_ts).min();
        let last = c.files.iter().filter_map(|(_, f)| f.last_ts).max();
        let mut decode_errors: BTreeMap<String, u64> =
            c.decode_errors.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        let unsupported: u64 = c
            .files
            .iter()
            .flat_map(|(_, f)| f.unsupported_link.iter().map(|(_, n)| *n))
            .sum();
        if unsupported > 0 {
            decode_errors.insert("unsupported_link_type".into(), unsupported);
        }
        Summary {
            kind: "summary",
            inputs,
            packets: c.packets + unsupported,
            bytes: c.files.iter().map(|(_, f)| f.bytes).sum(),
            decode_errors,
            encapsulations: c
                .encapsulations
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            fragments_unmatched: c.fragments_unmatched,
            flows: stats.table.flows_created,
            peak_flows: stats.table.peak_flows,
            evictions: stats.table.evicted,
            expired: stats.table.expired,
            reused_tuples: stats.table.reused,
            icmp_errors_matched: stats.table.icmp_errors_matched,
            icmp_errors_unmatched: stats.table.icmp_errors_unmatched,
            capture_drops: CaptureDrops::default(),
            backpressure_waits: c.backpressure_waits,
            clock_jumps: c.clock_jumps,
            filtered_out: c.filtered_out,
            first_ts: first.map(rfc3339),
            last_ts: last.map(rfc3339),
            wall_time_s: (stats.wall_secs * 1e6).round() / 1e6,
            not_inspected: stats.table.not_inspected,
            expectations: 0,
            expectations_matched: 0,
            findings: 0,
            direction_unknown: 0,
            direction_unknown_flows: Vec::new(),
            topology: "inferred",
            packets_per_s: if stats.wall_secs > 0.0 {
                (c.packets as f64 / stats.wall_secs).round()
            } else {
                0.0
            },
        }
    }
}
