//! Rendering. Reports compute nothing: they print the records they are given.

use std::io::{self, Write};

use crate::audit::records::FlowRecord;

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
