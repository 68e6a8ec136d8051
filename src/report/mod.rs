//! Rendering. Reports compute nothing: they print the records they are given.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use time::OffsetDateTime;

use crate::decode::{to_ip, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use std::net::IpAddr;

use crate::analyze::EpmLink;
use crate::flow::table::IcmpNote;
use crate::flow::tcp::History;
use crate::flow::Flow;
use crate::inspect::AppFacts;
use crate::pipeline::RunStats;
use crate::topology::RoleSet;

pub mod csv;
pub mod json;
pub mod markdown;
pub mod table;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Json,
    Csv,
    Table,
    Markdown,
}

/// Transport protocol name.
pub fn proto_name(p: u8) -> &'static str {
    match p {
        PROTO_TCP => "tcp",
        PROTO_UDP => "udp",
        PROTO_ICMP => "icmp",
        PROTO_ICMPV6 => "icmp6",
        _ => "ip",
    }
}

/// A timestamp (nanoseconds since the epoch) that prints as RFC 3339 in UTC
/// with microseconds, formatted without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub i64);

impl Ts {
    /// The 27 bytes of `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    fn text(self) -> [u8; 27] {
        let micros = self.0.div_euclid(1000);
        let secs = micros.div_euclid(1_000_000);
        let frac = micros.rem_euclid(1_000_000);
        let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                if let Some(c) = b.get_mut(i) {
                    *c = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        put(0, 4, u64::try_from(t.year()).unwrap_or(0));
        put(5, 2, u64::from(u8::from(t.month())));
        put(8, 2, u64::from(t.day()));
        put(11, 2, u64::from(t.hour()));
        put(14, 2, u64::from(t.minute()));
        put(17, 2, u64::from(t.second()));
        put(20, 6, u64::try_from(frac).unwrap_or(0));
        b
    }
}

impl std::fmt::Display for Ts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.text();
        f.write_str(std::str::from_utf8(&b).unwrap_or("?"))
    }
}

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.text();
        s.serialize_str(std::str::from_utf8(&b).unwrap_or("?"))
    }
}

/// RFC 3339 in UTC with microseconds.
pub fn rfc3339(ts_ns: i64) -> String {
    Ts(ts_ns).to_string()
}

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

/// Writes the people's audit (`table` or `markdown`) from its aggregates;
/// the record formats are written as flows end, by [`Streamer`].
pub fn render_report(format: Format, audit: &crate::audit::Audit, out: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Markdown => markdown::markdown(audit, out),
        _ => table::table(audit, out),
    }
}

/// Writes the output in `format` as the engine hands it records: flow
/// records (ndjson, json, csv) as flows end, the rest at the end.
pub struct Streamer<W: Write> {
    format: Format,
    out: W,
    flows: u64,
}

impl<W: Write> Streamer<W> {
    pub fn new(format: Format, out: W) -> Streamer<W> {
        Streamer {
            format,
            out,
            flows: 0,
        }
    }
}

impl<W: Write> crate::audit::engine::RecordOut for Streamer<W> {
    fn flow(&mut self, r: &FlowRecord) -> io::Result<()> {
        let first = self.flows == 0;
        self.flows += 1;
        let out = &mut self.out;
        match self.format {
            Format::Ndjson => json::ndjson_flow(r, out),
            Format::Json => json::json_flow(r, first, out),
            Format::Csv => {
                if first {
                    out.write_all(csv::HEADER.as_bytes())?;
                }
                csv::row(r, out)
            }
            Format::Table | Format::Markdown => Ok(()),
        }
    }

    fn flows(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        use rayon::prelude::*;
        if matches!(self.format, Format::Table | Format::Markdown) {
            return Ok(());
        }
        // Encoded on all cores in chunks, written in order.
        let format = self.format;
        let start = self.flows;
        let chunks: Vec<io::Result<Vec<u8>>> = records
            .par_chunks(512)
            .enumerate()
            .map(|(n, chunk)| {
                let mut buf = Vec::with_capacity(chunk.len() * 640);
                for (i, r) in chunk.iter().enumerate() {
                    let first = start == 0 && n == 0 && i == 0;
                    match format {
                        Format::Ndjson => json::ndjson_flow(r, &mut buf)?,
                        Format::Json => json::json_flow(r, first, &mut buf)?,
                        _ => {
                            if first {
                                buf.extend_from_slice(csv::HEADER.as_bytes());
                            }
                            csv::row(r, &mut buf)?
                        }
                    }
                }
                Ok(buf)
            })
            .collect();
        self.flows += records.len() as u64;
        for c in chunks {
            self.out.write_all(&c?)?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    fn finish(
        &mut self,
        audit: &crate::audit::Audit,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        let out = &mut self.out;
        match self.format {
            Format::Ndjson => json::ndjson_tail(audit, extra, out),
            Format::Json => json::json_tail(audit, extra, self.flows > 0, out),
            Format::Csv if self.flows == 0 => out.write_all(csv::HEADER.as_bytes()),
            Format::Csv => Ok(()),
            Format::Table | Format::Markdown => render_report(self.format, audit, out),
        }?;
        out.flush()
    }
}

/// A titled table of text cells, rendered by `table` and `markdown` alike.
pub struct Section {
    pub title: String,
    pub note: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

use crate::audit::engine::FACT_ROWS;

fn s<T: ToString>(v: T) -> String {
    v.to_string()
}

/// The audit's header lines.
pub fn header_lines(a: &crate::audit::Audit) -> Vec<String> {
    let m = &a.summary;
    let mut l = Vec::new();
    for i in &m.inputs {
        l.push(format!(
            "input {}: {} packets{}",
            i.file,
            i.packets,
            i.error
                .as_ref()
                .map(|e| format!(" — ERROR: {e}"))
                .unwrap_or_default()
        ));
    }
    if let (Some(a), Some(b)) = (&m.first_ts, &m.last_ts) {
        l.push(format!("time span: {a} .. {b}"));
    }
    l.push(format!(
        "{} packets, {} bytes, {} flows, {} findings; read in {:.3} s ({} packets/s)",
        m.packets, m.bytes, m.flows, m.findings, m.wall_time_s, m.packets_per_s
    ));
    let d = m.capture_drops;
    l.push(format!(
        "drops: kernel {}, interface {}, pipeline {}; flow-table evictions {}",
        d.kernel, d.interface, d.pipeline, m.evictions
    ));
    if !m.decode_errors.is_empty() {
        let e: Vec<String> = m.decode_errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        l.push(format!("frames not decoded: {}", e.join(", ")));
    }
    let t = &a.topology;
    match t.source {
        "file" => l.push(format!(
            "topology: {} (site {}, Exchange {}, Edge subscribed: {})",
            t.file.as_deref().unwrap_or("?"),
            t.site,
            t.exchange,
            if t.edge_subscribed { "yes" } else { "no" }
        )),
        _ => l.push(format!(
            "topology: INFERRED from the traffic (no --topology given; Exchange {} assumed, Edge subscribed: {}). Check the roles below; `exaudit topology infer` writes them to a file to correct.",
            t.exchange,
            if t.edge_subscribed { "yes" } else { "no" }
        )),
    }
    l
}

/// The audit's tables.
pub fn sections(a: &crate::audit::Audit) -> Vec<Section> {
    let mut out = Vec::new();
    if a.topology.source == "inferred" {
        out.push(Section {
            title: "Inferred roles".into(),
            note: Some("Addresses not listed are `internet`.".into()),
            header: vec![s("address"), s("roles"), s("why")],
            rows: a
                .topology
                .hosts
                .iter()
                .map(|h| vec![h.addr.clone(), h.roles.clone(), h.reason.clone()])
                .collect(),
        });
    }
    let sev_rank = |x: &str| match x {
        "high" => 0,
        "medium" => 1,
        "low" => 2,
        _ => 3,
    };
    let mut findings: Vec<&crate::findings::Finding> = a.findings.iter().collect();
    findings.sort_by_key(|f| sev_rank(f.severity));
    out.push(Section {
        title: "Findings".into(),
        note: if findings.is_empty() {
            Some("No finding: every flow is on a documented path.".into())
        } else {
            None
        },
        header: vec![
            s("id"),
            s("severity"),
            s("kind"),
            s("what"),
            s("evidence"),
            s("reference"),
        ],
        rows: findings
            .iter()
            .map(|f| {
                let e = &f.evidence;
                let states: Vec<String> = e.states.iter().map(|(k, v)| format!("{k}×{v}")).collect();
                let mut ev = format!(
                    "{} flows ({}), {} packets, {} .. {}; flows {}",
                    e.flow_count,
                    states.join(" "),
                    e.packets,
                    e.first_ts,
                    e.last_ts,
                    f.flows
                        .iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(",")
                );
                if e.clients_distinct > 1 {
                    ev.push_str(&format!("; {} distinct clients", e.clients_distinct));
                }
                if !e.related_flows.is_empty() {
                    ev.push_str(&format!(
                        "; related flows {}",
                        e.related_flows
                            .iter()
                            .map(|i| i.to_string())
                            .collect::<Vec<_>>()
                            .join(",")
                    ));
                }
                vec![
                    f.id.clone(),
                    s(f.severity),
                    s(f.kind),
                    f.summary.clone(),
                    ev,
                    f.reference.clone(),
                ]
            })
            .collect(),
    });
    if a.summary.direction_unknown > 0 {
        let listed = a.summary.direction_unknown_flows.len() as u64;
        out.push(Section {
            title: "Direction unknown".into(),
            note: Some(format!(
                "{} flows with no handshake seen, ports and content that do not tell client from server, and a finding only in the reading recorded: the finding is not raised, as the reversed reading breaks no rule{}.",
                a.summary.direction_unknown,
                if a.summary.direction_unknown > listed {
                    format!(" (the first {listed} listed)")
                } else {
                    String::new()
                }
            )),
            header: vec![s("flow"), s("as recorded"), s("would raise"), s("reversed (raises nothing)")],
            rows: a
                .summary
                .direction_unknown_flows
                .iter()
                .map(|d| {
                    vec![
                        s(d.flow),
                        d.as_recorded.clone(),
                        d.as_recorded_would_raise.join(", "),
                        d.reversed.clone(),
                    ]
                })
                .collect(),
        });
    }
    out.push(Section {
        title: "Purposes".into(),
        note: None,
        header: vec![
            s("purpose"),
            s("from"),
            s("verdict"),
            s("flows"),
            s("packets"),
            s("bytes"),
            s("role -> role"),
            s("rules"),
        ],
        rows: a
            .purposes
            .iter()
            .map(|p| {
                let from = match (p.by_content, p.flows - p.by_content) {
                    (_, 0) if p.purpose == "unknown" => "-".to_string(),
                    (_, 0) => "content".to_string(),
                    (0, _) => "port".to_string(),
                    (c, n) => format!("content {c}, port {n}"),
                };
                vec![
                    p.purpose.clone(),
                    from,
                    s(p.status),
                    s(p.flows),
                    s(p.packets),
                    s(p.bytes),
                    p.paths.join("; "),
                    p.rules.join(" "),
                ]
            })
            .collect(),
    });
    let mut servers: Vec<&String> = a.matrix.keys().map(|(_, s)| s).collect();
    servers.sort();
    servers.dedup();
    let mut clients: Vec<&String> = a.matrix.keys().map(|(c, _)| c).collect();
    clients.sort();
    clients.dedup();
    let mut header = vec![s("client \\ server")];
    header.extend(servers.iter().map(|x| x.to_string()));
    out.push(Section {
        title: "Role matrix (flows)".into(),
        note: None,
        header,
        rows: clients
            .iter()
            .map(|c| {
                let mut row = vec![c.to_string()];
                row.extend(servers.iter().map(|sv| {
                    a.matrix
                        .get(&((*c).clone(), (*sv).clone()))
                        .map(|n| n.to_string())
                        .unwrap_or_else(|| "·".into())
                }));
                row
            })
            .collect(),
    });
    let by_id: std::collections::HashMap<u64, &FlowRecord> = a.flows.iter().map(|f| (f.id, f)).collect();
    let facts: Vec<&FlowRecord> = a
        .flows
        .iter()
        .filter(|f| !f.app.is_empty())
        .take(FACT_ROWS)
        .collect();
    if !facts.is_empty() {
        out.push(Section {
            title: "Application facts".into(),
            note: Some(format!(
                "First {FACT_ROWS} flows with inspector facts; all are in the ndjson/json output."
            )),
            header: vec![s("flow"), s("purpose"), s("client -> server"), s("facts")],
            rows: facts
                .iter()
                .map(|f| {
                    vec![
                        s(f.id),
                        f.purpose.unwrap_or_default().to_string(),
                        format!("{} -> {}:{}", f.client, f.server, f.server_port),
                        fact_text(&f.app.to_map()),
                    ]
                })
                .collect(),
        });
    }
    out.push(Section {
        title: "Largest unexplained flows".into(),
        note: if a.unexplained.is_empty() {
            Some("Every flow matched a rule.".into())
        } else {
            Some("No rule names these paths; the purpose says what they are.".into())
        },
        header: vec![
            s("flow"),
            s("proto"),
            s("client"),
            s("server"),
            s("roles"),
            s("purpose"),
            s("state"),
            s("packets"),
            s("bytes"),
        ],
        rows: a
            .unexplained
            .iter()
            .filter_map(|id| by_id.get(id))
            .map(|f| {
                vec![
                    s(f.id),
                    s(f.proto),
                    format!("{}:{}", f.client, f.client_port),
                    format!("{}:{}", f.server, f.server_port),
                    format!(
                        "{} -> {}",
                        f.client_role.map_or("?".to_string(), |r| r.to_string()),
                        f.server_role.map_or("?".to_string(), |r| r.to_string())
                    ),
                    match &f.purpose_detail {
                        Some(d) => format!("{} ({d})", f.purpose.unwrap_or("unknown")),
                        None => f.purpose.unwrap_or("unknown").to_string(),
                    },
                    s(f.state),
                    s(f.c2s_packets + f.s2c_packets),
                    s(f.c2s_bytes + f.s2c_bytes),
                ]
            })
            .collect(),
    });
    out
}

/// A short text of the facts people look for: SNI, TLS version, STARTTLS,
/// HTTP method and path, authentication, RPC interfaces.
pub fn fact_text(app: &serde_json::Map<String, serde_json::Value>) -> String {
    let mut p: Vec<String> = Vec::new();
    let get = |o: &serde_json::Value, k: &str| o.get(k).cloned();
    if let Some(t) = app.get("tls") {
        if let Some(sni) = get(t, "sni").and_then(|v| v.as_str().map(str::to_string)) {
            p.push(format!("SNI {sni}"));
        }
        if let Some(v) = get(t, "version").and_then(|v| v.as_str().map(str::to_string)) {
            p.push(format!("TLS {v}"));
        }
    }
    if let Some(sm) = app.get("smtp") {
        if let Some(b) = get(sm, "banner").and_then(|v| v.as_str().map(str::to_string)) {
            p.push(format!("banner \"{b}\""));
        }
        let flag = |k: &str| get(sm, k).and_then(|v| v.as_bool()).unwrap_or(false);
        p.push(format!(
            "STARTTLS {}",
            if flag("starttls") {
                "used"
            } else if flag("starttls_offered") {
                "offered, not used"
            } else {
                "not offered"
            }
        ));
        if flag("banner_masked") {
            p.push("banner MASKED".into());
        }
    }
    if let Some(h) = app.get("http") {
        if let Some(reqs) = h.get("requests").and_then(|r| r.as_array()) {
            for r in reqs.iter().take(2) {
                let m = r.get("method").and_then(|v| v.as_str()).unwrap_or("?");
                let path = r.get("path").and_then(|v| v.as_str()).unwrap_or("?");
                let auth = r
                    .get("auth_scheme")
                    .and_then(|v| v.as_str())
                    .map(|a| format!(" auth {a}"))
                    .unwrap_or_default();
                p.push(format!("{m} {path}{auth}"));
            }
        }
        if let Some(codes) = h.get("status_codes").and_then(|c| c.as_array()) {
            let c: Vec<String> = codes.iter().take(4).map(|v| v.to_string()).collect();
            if !c.is_empty() {
                p.push(format!("status {}", c.join(",")));
            }
        }
    }
    if let Some(l) = app.get("ldap") {
        if let Some(auth) = l.get("bind_auth").and_then(|v| v.as_array()) {
            let a: Vec<String> = auth
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect();
            if !a.is_empty() {
                p.push(format!("LDAP bind {}", a.join(",")));
            }
        }
        if l.get("starttls").and_then(|v| v.as_bool()).unwrap_or(false) {
            p.push("LDAP StartTLS".into());
        }
    }
    for k in ["pop3", "imap"] {
        if let Some(m) = app.get(k) {
            let flag = |f: &str| m.get(f).and_then(|v| v.as_bool()).unwrap_or(false);
            p.push(format!(
                "{} {}",
                k.to_uppercase(),
                if flag("tls_started") {
                    "STARTTLS used"
                } else if flag("cleartext_login") {
                    "cleartext login"
                } else {
                    "plain"
                }
            ));
        }
    }
    if let Some(d) = app.get("dcerpc") {
        if let Some(i) = d.get("announced_interface").and_then(|v| v.as_str()) {
            p.push(format!(
                "RPC {i} (announced by flow {})",
                d.get("announced_by").cloned().unwrap_or_default()
            ));
        }
        if let Some(e) = d.get("epm_answers").and_then(|v| v.as_array()) {
            let ports: Vec<String> = e
                .iter()
                .take(4)
                .filter_map(|x| x.get("port").map(|p| p.to_string()))
                .collect();
            p.push(format!("EPM answered ports {}", ports.join(",")));
        }
    }
    if let Some(i) = app.get("icmp") {
        if i.get("prohibited").and_then(|v| v.as_bool()).unwrap_or(false) {
            p.push("ICMP administratively prohibited".into());
        }
    }
    p.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_microseconds() {
        assert_eq!(rfc3339(1_500_000_000_123_456_789), "2017-07-14T02:40:00.123456Z");
        assert_eq!(rfc3339(1_500_000_000_000_000_000), "2017-07-14T02:40:00.000000Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
    }
}
