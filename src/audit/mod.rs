//! The audit: topology (given or inferred), a purpose for every flow,
//! findings, and the aggregates the reports print, built as flows end by
//! the streaming [`engine`].

pub mod engine;
pub mod records;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analyze::EndedFlow;
use crate::audit::records::{AppField, AppRecord, FlowRecord, Summary};
use crate::classify::evidence::{infer_generation, HostObservation, Inference};
use crate::classify::Classified;
use crate::findings::Finding;
use crate::vocab::{Generation, Role};

/// Where the roles came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TopologyInfo {
    /// `"file"` or `"inferred"`.
    pub source: &'static str,
    pub file: Option<String>,
    pub site: String,
    pub exchange: String,
    /// Where the generation came from: `topology`, `option` (--exchange),
    /// `evidence` (banners, version headers), or `default` (nothing said; 2019).
    pub exchange_from: &'static str,
    /// Why that generation (the evidence, or the note that nothing said).
    pub exchange_reason: String,
    pub edge_subscribed: bool,
    /// Inferred hosts: address, roles, why.
    pub hosts: Vec<InferredHostInfo>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InferredHostInfo {
    pub addr: String,
    pub roles: String,
    pub reason: String,
    /// The evidence, one clue per line, each with its flow ids.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
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
    /// The verdict of its flows: documented, allowed, violation or unexplained
    /// (one row per purpose and verdict).
    pub status: &'static str,
    /// Flows whose purpose came from their content (the rest: from the port).
    pub by_content: u64,
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

/// The generation to audit against: the one given, else what the evidence
/// names, else 2019; with where it came from and why.
pub fn choose_generation(
    given: Option<Generation>,
    observations: &[HostObservation],
) -> (Generation, &'static str, String) {
    if let Some(g) = given {
        return (g, "option", format!("--exchange {g}"));
    }
    match infer_generation(observations) {
        Some((g, why)) => (g, "evidence", why),
        None => (
            Generation::V2019,
            "default",
            "no banner or version header named a generation: 2019 assumed (give --exchange to choose)"
                .to_string(),
        ),
    }
}

/// The topology section of the audit for an inferred topology.
pub fn inferred_info(inference: &Inference, from: &'static str, why: String) -> TopologyInfo {
    let s = inference.topology.site();
    TopologyInfo {
        source: "inferred",
        file: None,
        site: s.name.clone(),
        exchange: s.exchange.as_str().to_string(),
        exchange_from: from,
        exchange_reason: why,
        edge_subscribed: s.edge_subscribed,
        hosts: inference
            .hosts
            .iter()
            .map(|h| InferredHostInfo {
                addr: h.label(),
                roles: h.roles.to_string(),
                reason: h.reason.clone(),
                evidence: h.evidence.clone(),
            })
            .collect(),
    }
}

/// A classified flow as the output contract prints it; takes the flow's
/// facts over instead of copying them.
pub fn flow_record(f: EndedFlow, c: &Classified<'_>, findings: Vec<String>) -> FlowRecord {
    let mut rec = FlowRecord::from_flow(&f.flow);
    rec.client_role = Some(c.client_roles);
    rec.server_role = Some(c.server_roles);
    rec.purpose = Some(c.purpose.as_str());
    rec.purpose_source = Some(c.source.as_str());
    rec.purpose_detail = c.detail.clone();
    rec.verdict = Some(c.verdict().as_str());
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

/// One purposes-table row being counted, with its role paths.
type PurposeEntry = (PurposeRow, BTreeMap<(Role, Role), u64>);

/// The purposes table and the role matrix, counted flow by flow (offline
/// audits and live runs alike). Bounded: purposes and roles are fixed sets.
#[derive(Debug, Default)]
pub struct PurposeTally {
    purposes: BTreeMap<(&'static str, &'static str), PurposeEntry>,
    matrix: BTreeMap<(Role, Role), u64>,
}

impl PurposeTally {
    /// Counts one classified flow.
    pub fn add(&mut self, c: &Classified<'_>, rec: &FlowRecord) {
        let cr = c.client_roles.primary();
        let sr = c.server_roles.primary();
        let status = c.verdict().as_str();
        let entry = self
            .purposes
            .entry((c.purpose.as_str(), status))
            .or_insert_with(|| {
                (
                    PurposeRow {
                        purpose: c.purpose.as_str().to_string(),
                        flows: 0,
                        packets: 0,
                        bytes: 0,
                        paths: Vec::new(),
                        status,
                        by_content: 0,
                        rules: Vec::new(),
                    },
                    BTreeMap::new(),
                )
            });
        entry.0.flows += 1;
        entry.0.packets += rec.c2s_packets + rec.s2c_packets;
        entry.0.bytes += rec.c2s_bytes + rec.s2c_bytes;
        if c.source == crate::classify::PurposeSource::Content {
            entry.0.by_content += 1;
        }
        if let Some(r) = c.rule {
            if !entry.0.rules.contains(&r.id) && entry.0.rules.len() < 6 {
                entry.0.rules.push(r.id.clone());
            }
        }
        *entry.1.entry((cr, sr)).or_insert(0) += 1;
        *self.matrix.entry((cr, sr)).or_insert(0) += 1;
    }

    /// The purpose rows (most flows first, top four role paths each) and the matrix.
    pub fn finish(self) -> (Vec<PurposeRow>, BTreeMap<(String, String), u64>) {
        let mut rows: Vec<PurposeRow> = self
            .purposes
            .into_values()
            .map(|(mut row, paths)| {
                let mut p: Vec<(String, u64)> = paths
                    .into_iter()
                    .map(|((c, s), n)| (format!("{} -> {}", c.as_str(), s.as_str()), n))
                    .collect();
                p.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                row.paths = p.into_iter().take(4).map(|(k, n)| format!("{k} ({n})")).collect();
                row
            })
            .collect();
        rows.sort_by(|a, b| {
            b.flows
                .cmp(&a.flows)
                .then(a.purpose.cmp(&b.purpose))
                .then(a.status.cmp(b.status))
        });
        let matrix = self
            .matrix
            .into_iter()
            .map(|((c, s), n)| ((c.as_str().to_string(), s.as_str().to_string()), n))
            .collect();
        (rows, matrix)
    }
}
