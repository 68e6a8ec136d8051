//! Builds the audit: topology (given or inferred), a purpose for every flow,
//! findings, and the aggregates the reports print.

use std::collections::BTreeMap;
use std::net::IpAddr;

use rayon::prelude::*;
use serde::Serialize;

use crate::analyze::{endpoints, EndedFlow};
use crate::classify::{Classified, Classifier};
use crate::decode::{PROTO_TCP, PROTO_UDP};
use crate::findings::{Finding, Findings};
use crate::pipeline::RunStats;
use crate::report::{AppField, AppRecord, FlowRecord, Summary};
use crate::rules::{Expect, Purpose, RuleSet};
use crate::topology::{infer_topology, is_private, Generation, HostObservation, Inference, Site, Topology};

/// Where the roles came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopologyInfo {
    /// `"file"` or `"inferred"`.
    pub source: &'static str,
    pub file: Option<String>,
    pub site: String,
    pub exchange: String,
    pub edge_subscribed: bool,
    /// Inferred hosts: address, roles, why.
    pub hosts: Vec<InferredHostInfo>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InferredHostInfo {
    pub addr: String,
    pub roles: String,
    pub reason: String,
}

/// One line of the purposes table.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PurposeRow {
    pub purpose: String,
    pub flows: u64,
    pub packets: u64,
    pub bytes: u64,
    /// "client_role -> server_role" pairs, most frequent first.
    pub paths: Vec<String>,
    /// documented, violation, or unexplained.
    pub status: &'static str,
    pub rules: Vec<String>,
}

/// The whole audit.
#[derive(Debug, Clone)]
pub struct Audit {
    pub flows: Vec<FlowRecord>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    pub topology: TopologyInfo,
    pub inferred_toml: Option<String>,
    pub purposes: Vec<PurposeRow>,
    /// (client role, server role) -> flows.
    pub matrix: BTreeMap<(String, String), u64>,
    /// Ids of the largest flows no rule explains.
    pub unexplained: Vec<u64>,
}

/// Observations per host for role inference: which ports it answered on.
pub fn observe(flows: &[EndedFlow]) -> Vec<HostObservation> {
    let mut hosts: hashbrown::HashMap<IpAddr, HostObservation> = hashbrown::HashMap::new();
    for f in flows {
        let ((c, _), (s, port)) = endpoints(&f.flow);
        let served = f.flow.client_server_pkts().1 > 0
            && f.flow.state() != crate::flow::ConnState::REJ
            && f.flow.state() != crate::flow::ConnState::RSTOS0;
        if served {
            let h = hosts.entry(s).or_insert_with(|| HostObservation::new(s));
            let list = match f.flow.key.proto {
                PROTO_TCP => Some(&mut h.served_tcp),
                PROTO_UDP => Some(&mut h.served_udp),
                _ => None,
            };
            if let Some(l) = list {
                if !l.contains(&port) {
                    l.push(port);
                }
            }
            if !is_private(c) {
                h.contacted_from_public = true;
            }
        }
        // A public address that only ever connects out is `internet` without
        // being remembered (a scan from a million sources stays small).
        if let Some(h) = hosts.get_mut(&c) {
            h.seen_as_client = true;
        } else if is_private(c) {
            let mut h = HostObservation::new(c);
            h.seen_as_client = true;
            hosts.insert(c, h);
        }
    }
    let mut hosts: Vec<HostObservation> = hosts.into_values().collect();
    hosts.sort_by_key(|h| h.addr);
    hosts
}

/// Infers the site's topology from the flows.
pub fn infer(flows: &[EndedFlow], exchange: Generation) -> Inference {
    let site = Site {
        name: "inferred".into(),
        exchange,
        edge_subscribed: false,
    };
    infer_topology(&observe(flows), site)
}

/// Assembles the audit.
pub fn build(
    stats: &RunStats,
    flows: Vec<EndedFlow>,
    rules: &RuleSet,
    topology: Option<(&Topology, String)>,
    default_generation: Generation,
    expect_stats: crate::flow::expect::ExpectStats,
) -> Audit {
    let inference;
    let (topo, info, inferred_toml) = match topology {
        Some((t, file)) => {
            let s = t.site();
            let info = TopologyInfo {
                source: "file",
                file: Some(file),
                site: s.name.clone(),
                exchange: s.exchange.as_str().to_string(),
                edge_subscribed: s.edge_subscribed,
                hosts: Vec::new(),
            };
            (t, info, None)
        }
        None => {
            inference = infer(&flows, default_generation);
            let s = inference.topology.site();
            let info = TopologyInfo {
                source: "inferred",
                file: None,
                site: s.name.clone(),
                exchange: s.exchange.as_str().to_string(),
                edge_subscribed: s.edge_subscribed,
                hosts: inference
                    .hosts
                    .iter()
                    .map(|h| InferredHostInfo {
                        addr: h.label(),
                        roles: h.roles.to_string(),
                        reason: h.reason.clone(),
                    })
                    .collect(),
            };
            (&inference.topology, info, Some(inference.topology.to_toml()))
        }
    };
    let matcher = rules.matcher(topo.site().exchange);
    let classifier = Classifier::new(&matcher, topo);
    let classes: Vec<Classified<'_>> = flows.par_iter().map(|f| classifier.classify(f)).collect();
    let evaluated = Findings::evaluate(&flows, &classes, |c, s| matcher.is_unrestricted_path(c, s));
    let (findings, per_flow) = evaluated.finish();

    let records: Vec<FlowRecord> = flows
        .into_par_iter()
        .zip(classes.par_iter())
        .zip(per_flow)
        .map(|((f, c), ids)| flow_record(f, c, ids))
        .collect();
    let mut tally = PurposeTally::default();
    let mut unexplained: Vec<(u64, u64)> = Vec::new();
    for (rec, c) in records.iter().zip(&classes) {
        tally.add(c, rec);
        if c.purpose == Purpose::Unknown {
            unexplained.push((rec.c2s_bytes + rec.s2c_bytes, rec.id));
        }
    }
    unexplained.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let (purposes, matrix) = tally.finish();
    let mut summary = Summary::new(stats);
    summary.findings = findings.len() as u64;
    summary.expectations = expect_stats.added;
    summary.expectations_matched = expect_stats.matched;
    summary.topology = info.source;
    Audit {
        flows: records,
        findings,
        summary,
        topology: info,
        inferred_toml,
        purposes,
        matrix,
        unexplained: unexplained.into_iter().take(10).map(|(_, id)| id).collect(),
    }
}

/// A classified flow as the output contract prints it; takes the flow's
/// facts over instead of copying them.
pub fn flow_record(f: EndedFlow, c: &Classified<'_>, findings: Vec<String>) -> FlowRecord {
    let mut rec = FlowRecord::from_flow(&f.flow);
    rec.client_role = Some(c.client_roles);
    rec.server_role = Some(c.server_roles);
    rec.purpose = Some(c.purpose.as_str());
    rec.rule = c.rule.map(|r| r.id.clone());
    let icmp = rec.app.get().and_then(|a| a.icmp);
    rec.app = AppField::new(AppRecord {
        facts: f.app,
        epm: f.epm,
        icmp,
    });
    rec.findings = findings;
    rec
}

/// The purposes table and the role matrix, counted flow by flow (offline
/// audits and live runs alike). Bounded: purposes and roles are fixed sets.
#[derive(Debug, Default)]
pub struct PurposeTally {
    purposes: BTreeMap<&'static str, (PurposeRow, BTreeMap<String, u64>)>,
    matrix: BTreeMap<(String, String), u64>,
}

impl PurposeTally {
    /// Counts one classified flow.
    pub fn add(&mut self, c: &Classified<'_>, rec: &FlowRecord) {
        let cr = c.client_roles.primary().as_str().to_string();
        let sr = c.server_roles.primary().as_str().to_string();
        let status = match c.rule {
            Some(r) if r.expect == Expect::Violation => "violation",
            Some(_) => "documented",
            None => "unexplained",
        };
        let entry = self.purposes.entry(c.purpose.as_str()).or_insert_with(|| {
            (
                PurposeRow {
                    purpose: c.purpose.as_str().to_string(),
                    flows: 0,
                    packets: 0,
                    bytes: 0,
                    paths: Vec::new(),
                    status,
                    rules: Vec::new(),
                },
                BTreeMap::new(),
            )
        });
        entry.0.flows += 1;
        entry.0.packets += rec.c2s_packets + rec.s2c_packets;
        entry.0.bytes += rec.c2s_bytes + rec.s2c_bytes;
        if status == "violation" || (entry.0.status == "documented" && status == "unexplained") {
            entry.0.status = status;
        }
        if let Some(r) = c.rule {
            if !entry.0.rules.contains(&r.id) && entry.0.rules.len() < 6 {
                entry.0.rules.push(r.id.clone());
            }
        }
        *entry.1.entry(format!("{cr} -> {sr}")).or_insert(0) += 1;
        *self.matrix.entry((cr, sr)).or_insert(0) += 1;
    }

    /// The purpose rows (most flows first, top four role paths each) and the matrix.
    pub fn finish(self) -> (Vec<PurposeRow>, BTreeMap<(String, String), u64>) {
        let mut rows: Vec<PurposeRow> = self
            .purposes
            .into_values()
            .map(|(mut row, paths)| {
                let mut p: Vec<(String, u64)> = paths.into_iter().collect();
                p.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                row.paths = p.into_iter().take(4).map(|(k, n)| format!("{k} ({n})")).collect();
                row
            })
            .collect();
        rows.sort_by(|a, b| b.flows.cmp(&a.flows).then(a.purpose.cmp(&b.purpose)));
        (rows, self.matrix)
    }
}
