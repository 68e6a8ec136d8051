//! Rendering. Reports compute nothing: they print the records they are given.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::decode::{to_ip, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use crate::flow::Flow;
use crate::pipeline::RunStats;

pub mod csv;
pub mod json;
pub mod table;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Ndjson,
    Json,
    Csv,
    Table,
}

/// RFC 3339 in UTC with microseconds.
pub fn rfc3339(ts_ns: i64) -> String {
    let micros = ts_ns.div_euclid(1000);
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let t = t
        .replace_nanosecond((micros.rem_euclid(1_000_000) as u32) * 1000)
        .unwrap_or(t);
    let s = t.format(&Rfc3339).unwrap_or_default();
    // `time` trims trailing zeros of the fraction; the contract wants 6 digits.
    match s.find('.') {
        Some(dot) => {
            let end = s.len() - 1; // the trailing 'Z'
            let frac = &s[dot + 1..end];
            format!("{}.{:0<6}Z", &s[..dot], frac)
        }
        None => format!("{}.000000Z", s.trim_end_matches('Z')),
    }
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

/// A flow as the output contract prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlowRecord {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: u64,
    pub proto: &'static str,
    pub client: String,
    pub client_port: u16,
    pub server: String,
    pub server_port: u16,
    pub client_role: Option<String>,
    pub server_role: Option<String>,
    pub first_ts: String,
    pub last_ts: String,
    pub state: &'static str,
    pub history: String,
    pub c2s_packets: u64,
    pub c2s_bytes: u64,
    pub s2c_packets: u64,
    pub s2c_bytes: u64,
    pub purpose: Option<String>,
    pub rule: Option<String>,
    pub app: serde_json::Map<String, serde_json::Value>,
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
        let mut app = serde_json::Map::new();
        if f.icmp.count > 0 {
            app.insert(
                "icmp".into(),
                serde_json::json!({
                    "errors": f.icmp.count,
                    "type": f.icmp.last_type,
                    "code": f.icmp.last_code,
                    "prohibited": f.icmp.prohibited,
                }),
            );
        }
        FlowRecord {
            kind: "flow",
            id: f.id,
            proto: proto_name(f.key.proto),
            client: to_ip(&c.0).to_string(),
            client_port: c.1,
            server: to_ip(&s.0).to_string(),
            server_port: s.1,
            client_role: None,
            server_role: None,
            first_ts: rfc3339(f.first_ts),
            last_ts: rfc3339(f.last_ts),
            state: f.state().as_str(),
            history: f.tcp.history.as_str().to_string(),
            c2s_packets: cp,
            c2s_bytes: cb,
            s2c_packets: sp,
            s2c_bytes: sb,
            purpose: None,
            rule: None,
            app,
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
    pub first_ts: Option<String>,
    pub last_ts: Option<String>,
    pub wall_time_s: f64,
    pub packets_per_s: f64,
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
            first_ts: first.map(rfc3339),
            last_ts: last.map(rfc3339),
            wall_time_s: (stats.wall_secs * 1e6).round() / 1e6,
            packets_per_s: if stats.wall_secs > 0.0 {
                (c.packets as f64 / stats.wall_secs).round()
            } else {
                0.0
            },
        }
    }
}

/// A report writer: gets flows as they end, then the summary.
pub trait Report {
    fn flow(&mut self, out: &mut dyn Write, f: &FlowRecord) -> io::Result<()>;
    fn finish(&mut self, out: &mut dyn Write, s: &Summary) -> io::Result<()>;
}

pub fn new_report(format: Format) -> Box<dyn Report> {
    match format {
        Format::Ndjson => Box::new(json::Ndjson),
        Format::Json => Box::new(json::Json::default()),
        Format::Csv => Box::new(csv::Csv::default()),
        Format::Table => Box::new(table::Table::default()),
    }
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
