//! Builds the audit: topology (given or inferred), a purpose for every flow,
//! findings, and the aggregates the reports print.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::analyze::EndedFlow;
use crate::classify::evidence::{infer_generation, infer_topology, HostObservation, Inference, Observer};
use crate::classify::{Classified, Classifier};
use crate::findings::{Finding, Findings};
use crate::pipeline::RunStats;
use crate::report::{AppField, AppRecord, FlowRecord, Summary};
use crate::rules::RuleSet;
use crate::topology::{Generation, Site, Topology};

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

/// Observations per host for role inference: what each host served and said.
pub fn observe(flows: &[EndedFlow], rules: &RuleSet) -> Vec<HostObservation> {
    let mut o = Observer::new(rules);
    for f in flows {
        o.observe(f);
    }
    o.finish()
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

/// Infers the site's topology from the flows; the generation is `given` or
/// comes from the evidence.
pub fn infer(
    flows: &[EndedFlow],
    rules: &RuleSet,
    given: Option<Generation>,
) -> (Inference, &'static str, String) {
    let observations = observe(flows, rules);
    let (exchange, from, why) = choose_generation(given, &observations);
    let site = Site {
        name: "inferred".into(),
        exchange,
        edge_subscribed: false,
    };
    (infer_topology(&observations, site), from, why)
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

/// Most endpoint-mapper answers remembered for [`link_earlier_flows`].
pub const MAX_ANNOUNCED: usize = 65_536;

/// Offline audits see the whole capture: a connection to an endpoint the
/// mapper announced *later* in the capture (it was open before the capture
/// started, or before the lookup seen) is linked to that answer too, so a
/// mid-stream MAPI connection to the port the mapper names for EMSMDB is
/// MAPI, not an unknown service. Live audits link only forward in time.
pub fn link_earlier_flows(flows: &mut [EndedFlow], rules: &RuleSet) {
    let mut announced: hashbrown::HashMap<(std::net::IpAddr, u16, u8), (u64, String)> =
        hashbrown::HashMap::new();
    for f in flows.iter() {
        let Some(d) = &f.app.dcerpc else { continue };
        let ((_, _), (server, _)) = crate::analyze::endpoints(&f.flow);
        for a in &d.epm_answers {
            if announced.len() >= MAX_ANNOUNCED {
                break;
            }
            let name = crate::analyze::interface_label(rules.interfaces(), &a.interface);
            announced
                .entry((a.host(server), a.port, a.ip_proto()))
                .or_insert((f.flow.id, name));
        }
    }
    if announced.is_empty() {
        return;
    }
    for f in flows.iter_mut().filter(|f| f.epm.is_none()) {
        let ((_, _), (server, port)) = crate::analyze::endpoints(&f.flow);
        if let Some((by, name)) = announced.get(&(server, port, f.flow.key.proto)) {
            if *by != f.flow.id {
                f.epm = Some(crate::analyze::EpmLink {
                    epm_flow: *by,
                    interface: name.clone(),
                });
                f.settle_direction();
            }
        }
    }
}

/// Assembles the audit.
pub fn build(
    stats: &RunStats,
    flows: Vec<EndedFlow>,
    rules: &RuleSet,
    topology: Option<(&Topology, String)>,
    exchange: Option<Generation>,
    expect_stats: crate::flow::expect::ExpectStats,
) -> Audit {
    let mut flows = flows;
    link_earlier_flows(&mut flows, rules);
    let inference;
    let (topo, info, inferred_toml) = match topology {
        Some((t, file)) => {
            let s = t.site();
            let info = TopologyInfo {
                source: "file",
                exchange_reason: format!("exchange = \"{}\" in {file}", s.exchange),
                file: Some(file),
                site: s.name.clone(),
                exchange: s.exchange.as_str().to_string(),
                exchange_from: "topology",
                edge_subscribed: s.edge_subscribed,
                hosts: Vec::new(),
            };
            (t, info, None)
        }
        None => {
            let (inf, from, why) = infer(&flows, rules, exchange);
            inference = inf;
            let info = inferred_info(&inference, from, why);
            (&inference.topology, info, Some(inference.topology.to_toml()))
        }
    };
    let matcher = rules.matcher(topo.site().exchange);
    let classifier = Classifier::new(&matcher, topo, rules);
    let classes: Vec<Classified<'_>> = flows.par_iter().map(|f| classifier.classify(f)).collect();
    let mut evaluated = Findings::evaluate(
        &flows,
        &classes,
        |c, s| matcher.is_unrestricted_path(c, s),
        |f| classifier.classify(f),
    );
    let direction_unknown = (
        evaluated.direction_unknown,
        std::mem::take(&mut evaluated.direction_unknown_listed),
    );
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
        if c.verdict() == crate::classify::Verdict::Unexplained {
            unexplained.push((rec.c2s_bytes + rec.s2c_bytes, rec.id));
        }
    }
    unexplained.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let (purposes, matrix) = tally.finish();
    let mut summary = Summary::new(stats);
    summary.findings = findings.len() as u64;
    (summary.direction_unknown, summary.direction_unknown_flows) = direction_unknown;
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
type PurposeEntry = (PurposeRow, BTreeMap<String, u64>);

/// The purposes table and the role matrix, counted flow by flow (offline
/// audits and live runs alike). Bounded: purposes and roles are fixed sets.
#[derive(Debug, Default)]
pub struct PurposeTally {
    purposes: BTreeMap<(&'static str, &'static str), PurposeEntry>,
    matrix: BTreeMap<(String, String), u64>,
}

impl PurposeTally {
    /// Counts one classified flow.
    pub fn add(&mut self, c: &Classified<'_>, rec: &FlowRecord) {
        let cr = c.client_roles.primary().as_str().to_string();
        let sr = c.server_roles.primary().as_str().to_string();
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
        rows.sort_by(|a, b| {
            b.flows
                .cmp(&a.flows)
                .then(a.purpose.cmp(&b.purpose))
                .then(a.status.cmp(b.status))
        });
        (rows, self.matrix)
    }
}
