//! The streaming audit, one engine for `read` and `live` (DESIGN.md,
//! "Streaming, in both modes").
//!
//! Each ended flow is classified, checked and handed to the record output
//! when it ends, then only aggregates remain: the purposes tally, the role
//! matrix, the findings (at most [`MAX_FINDINGS`] distinct), the first
//! [`FACT_ROWS`] flows with facts and the [`UNEXPLAINED_ROWS`] largest
//! unexplained ones. Memory follows the number of distinct findings and
//! hosts, never the number of flows.
//!
//! Roles come from a topology file, from a first pass over the input (a
//! [`Survey`]: bounded per-host evidence, the endpoints seen accepting and the
//! endpoints the mapper announced), or — for standard input past the
//! holding budget and live capture — from the hosts observed so far,
//! re-inferred as they change.

use std::io;
use std::net::IpAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::analyze::{endpoints, interface_label, EndedFlow, EpmLink};
use crate::audit::records::{FlowRecord, Summary};
use crate::classify::evidence::{HostObservation, Inference, Observer};
use crate::classify::rules::{Matcher, RuleSet};
use crate::classify::topology::{Site, Topology};
use crate::classify::{Classified, Classifier, Verdict};
use crate::findings::{accepting_endpoint, Findings, MAX_ACCEPTING, MAX_FINDINGS};
use crate::flow::expect::ExpectStats;
use crate::vocab::Generation;

use super::{choose_generation, flow_record, inferred_info, Audit, PurposeTally, TopologyInfo};

/// Flows with inspector facts kept for the table's "Application facts".
pub const FACT_ROWS: usize = 30;
/// Largest unexplained flows kept for the table.
pub const UNEXPLAINED_ROWS: usize = 10;
/// Most endpoint-mapper answers a first pass remembers.
pub const MAX_ANNOUNCED: usize = 65_536;

/// An endpoint the mapper announced: (host, port, IP protocol).
type Endpoint = (IpAddr, u16, u8);

/// What a first pass over an offline input knows of the whole capture,
/// bounded: per-host evidence for the roles, the server endpoints that
/// accepted a connection (a REJ there is a restriction even before the first
/// acceptance) and the endpoints the mapper announced (a connection opened
/// before the lookup still uses the interface announced).
pub struct Survey<'r> {
    rules: &'r RuleSet,
    pub observer: Observer<'r>,
    accepting: hashbrown::HashSet<Endpoint>,
    announced: hashbrown::HashMap<Endpoint, (u64, String)>,
}

impl<'r> Survey<'r> {
    pub fn new(rules: &'r RuleSet) -> Survey<'r> {
        Survey {
            rules,
            observer: Observer::new(rules),
            accepting: hashbrown::HashSet::new(),
            announced: hashbrown::HashMap::new(),
        }
    }

    /// [`Survey::add`] for many flows, in order, the per-flow work on all cores.
    pub fn add_all(&mut self, flows: &[EndedFlow]) {
        use rayon::prelude::*;
        let rules = self.rules;
        for chunk in flows.chunks(4096) {
            let parts: Vec<Vec<HostObservation>> =
                chunk.par_iter().map(|f| Observer::of_flow(rules, f)).collect();
            for (f, p) in chunk.iter().zip(parts) {
                self.note(f);
                self.observer.take(p);
            }
        }
    }

    /// Takes what one ended flow shows.
    pub fn add(&mut self, f: &EndedFlow) {
        self.note(f);
        self.observer.observe(f);
    }

    /// The endpoints one flow shows accepting or announced.
    fn note(&mut self, f: &EndedFlow) {
        if let Some(e) = accepting_endpoint(f) {
            if self.accepting.len() < MAX_ACCEPTING {
                self.accepting.insert(e);
            }
        }
        if let Some(d) = &f.app.dcerpc {
            let (_, (server, _)) = endpoints(&f.flow);
            for a in &d.epm_answers {
                if self.announced.len() >= MAX_ANNOUNCED {
                    break;
                }
                let name = interface_label(self.rules.interfaces(), &a.interface);
                self.announced
                    .entry((a.host(server), a.port, a.ip_proto()))
                    .or_insert((f.flow.id, name));
            }
        }
    }

    /// The per-host observations so far, by address.
    pub fn observations(&self) -> Vec<HostObservation> {
        self.observer.snapshot()
    }

    /// The topology these observations imply; the generation is `given` or
    /// comes from the evidence. Also where the generation came from and why.
    pub fn infer(&self, given: Option<Generation>) -> (Inference, &'static str, String) {
        let obs = self.observations();
        let (g, from, why) = choose_generation(given, &obs);
        (
            crate::classify::evidence::infer_topology(&obs, inferred_site(g)),
            from,
            why,
        )
    }
}

/// When roles are re-inferred from the hosts observed so far.
#[derive(Debug, Clone, Copy)]
pub enum Every {
    /// After this many ended flows (standard input).
    Flows(u64),
    /// At most this often (live capture).
    Wall(Duration),
}

/// Roles learnt as flows end (no first pass possible).
struct Learning<'r> {
    observer: Observer<'r>,
    dirty: bool,
    every: Every,
    flows_since: u64,
    last: Option<Instant>,
}

/// The streaming audit. See the module documentation.
pub struct Engine<'r, 'w> {
    rules: &'r RuleSet,
    given: Option<(&'r Topology, String)>,
    exchange: Option<Generation>,
    matcher: Rc<Matcher>,
    exchange_from: &'static str,
    exchange_reason: String,
    inference: Inference,
    /// `inference.topology`, shared so a classification does not borrow the engine.
    inferred: Rc<Topology>,
    learning: Option<Learning<'r>>,
    announced: hashbrown::HashMap<Endpoint, (u64, String)>,
    findings: Findings,
    tally: PurposeTally,
    facts: Vec<FlowRecord>,
    /// (bytes, record), largest first.
    unexplained: Vec<(u64, FlowRecord)>,
    out: Option<Box<dyn RecordOut + 'w>>,
    out_error: Option<io::Error>,
    /// Flows audited together on all cores (0: one at a time, as they end).
    batch: usize,
    pending: Vec<EndedFlow>,
    /// Whether batch records are left to the process's exit (see [`Engine::exit_frees`]).
    exit_frees: bool,
    /// Observations of hosts not kept (the host cap was reached).
    hosts_full: u64,
    pub flows_ended: u64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
}

/// Where the engine sends each flow record as its flow ends, and the
/// audit at the end.
pub trait RecordOut {
    fn flow(&mut self, record: &FlowRecord) -> io::Result<()>;
    /// Several records in order (an output may encode them on all cores).
    fn flows(&mut self, records: &[FlowRecord]) -> io::Result<()> {
        records.iter().try_for_each(|r| self.flow(r))
    }
    /// Pushes what was written so far to its destination (live: every second).
    fn flush(&mut self) -> io::Result<()>;
    /// What follows the flows; `extra` adds fields to the summary record.
    fn finish(&mut self, audit: &Audit, extra: &serde_json::Map<String, serde_json::Value>)
        -> io::Result<()>;
}

/// What the engine made of one ended flow, for the caller's own counters.
pub struct Outcome {
    pub purpose: &'static str,
    pub has_findings: bool,
}

fn inferred_site(g: Generation) -> Site {
    Site {
        name: "inferred".into(),
        exchange: g,
        edge_subscribed: false,
    }
}

impl<'r, 'w> Engine<'r, 'w> {
    /// An engine with the roles of a topology file.
    pub fn given(
        rules: &'r RuleSet,
        topology: &'r Topology,
        file: String,
        survey: Option<Survey<'r>>,
    ) -> Self {
        let g = topology.site().exchange;
        let reason = format!("exchange = \"{g}\" in {file}");
        let mut e = Engine::empty(rules, g, "topology", reason, None);
        e.given = Some((topology, file));
        if let Some(s) = survey {
            e.know(s);
        }
        e
    }

    /// An engine with the roles inferred from a first pass over the whole input.
    pub fn surveyed(rules: &'r RuleSet, exchange: Option<Generation>, survey: Survey<'r>) -> Self {
        let (inference, from, why) = survey.infer(exchange);
        let g = inference.topology.site().exchange;
        let mut e = Engine::empty(rules, g, from, why, exchange);
        e.set_inference(inference);
        e.hosts_full = survey.observer.hosts_full;
        e.know(survey);
        e
    }

    /// An engine that learns the roles as flows end, re-inferring them
    /// `every` so often; `survey` is what was seen before it started.
    pub fn learning(
        rules: &'r RuleSet,
        exchange: Option<Generation>,
        survey: Option<Survey<'r>>,
        every: Every,
    ) -> Self {
        let (g, from, why) = choose_generation(exchange, &[]);
        let mut e = Engine::empty(rules, g, from, why, exchange);
        let mut observer = Observer::new(rules);
        if let Some(s) = survey {
            observer = s.observer;
            e.findings = Findings::streaming_knowing(MAX_FINDINGS, s.accepting);
            e.announced = s.announced;
        }
        e.learning = Some(Learning {
            observer,
            dirty: true,
            every,
            flows_since: 0,
            last: None,
        });
        e.reinfer();
        e
    }

    fn empty(
        rules: &'r RuleSet,
        g: Generation,
        from: &'static str,
        why: String,
        exchange: Option<Generation>,
    ) -> Self {
        Engine {
            rules,
            given: None,
            exchange,
            matcher: Rc::new(rules.matcher(g)),
            exchange_from: from,
            exchange_reason: why,
            inference: crate::classify::evidence::infer_topology(&[], inferred_site(g)),
            inferred: Rc::new(Topology::new(inferred_site(g))),
            learning: None,
            announced: hashbrown::HashMap::new(),
            findings: Findings::streaming(MAX_FINDINGS),
            tally: PurposeTally::default(),
            facts: Vec::new(),
            unexplained: Vec::new(),
            out: None,
            out_error: None,
            batch: 0,
            pending: Vec::new(),
            exit_frees: false,
            hosts_full: 0,
            flows_ended: 0,
            first_ts: None,
            last_ts: None,
        }
    }

    /// Audits flows `n` at a time on all cores instead of each as it ends.
    /// Only for an engine whose first pass saw the whole input (a REJ is
    /// judged against the accepting endpoints known before its batch), and
    /// where no caller needs each flow's outcome as it ends.
    pub fn batched(&mut self, n: usize) {
        self.batch = n;
    }

    /// Leaves the records of the flows audited from now on to the process's
    /// exit instead of freeing them one by one (0.2 s for 200k records):
    /// only for `read` auditing the flows it held in memory, whose number
    /// `--hold-flows` bounds, right before it exits.
    pub fn exit_frees(&mut self) {
        self.exit_frees = true;
    }

    /// Sends every flow record to `out` from now on.
    pub fn write_to(&mut self, out: Box<dyn RecordOut + 'w>) {
        self.out = Some(out);
    }

    fn know(&mut self, s: Survey<'r>) {
        self.findings = Findings::streaming_knowing(MAX_FINDINGS, s.accepting);
        self.announced = s.announced;
    }

    fn set_inference(&mut self, inference: Inference) {
        self.inferred = Rc::new(inference.topology.clone());
        self.inference = inference;
    }

    fn reinfer(&mut self) {
        let Some(l) = self.learning.as_mut() else { return };
        if !l.dirty {
            return;
        }
        let obs = l.observer.snapshot();
        l.dirty = false;
        l.flows_since = 0;
        l.last = Some(Instant::now());
        let (g, from, why) = choose_generation(self.exchange, &obs);
        if g != self.matcher.generation() {
            self.matcher = Rc::new(self.rules.matcher(g));
        }
        self.exchange_from = from;
        self.exchange_reason = why;
        self.set_inference(crate::classify::evidence::infer_topology(&obs, inferred_site(g)));
    }

    /// Classifies, checks, writes and counts one ended flow; in batches
    /// ([`Engine::batched`]) the flow waits for its batch and `None` is returned.
    pub fn flow_ended(&mut self, mut f: EndedFlow) -> Option<Outcome> {
        self.flows_ended += 1;
        self.first_ts = Some(self.first_ts.map_or(f.flow.first_ts, |t| t.min(f.flow.first_ts)));
        self.last_ts = Some(self.last_ts.map_or(f.flow.last_ts, |t| t.max(f.flow.last_ts)));
        // A connection to an endpoint the mapper announced later in the capture.
        if f.epm.is_none() && !self.announced.is_empty() {
            let (_, (server, port)) = endpoints(&f.flow);
            if let Some((by, name)) = self.announced.get(&(server, port, f.flow.key.proto)) {
                if *by != f.flow.id {
                    f.epm = Some(EpmLink {
                        epm_flow: *by,
                        interface: name.clone(),
                    });
                    f.settle_direction();
                }
            }
        }
        if self.batch > 0 {
            self.pending.push(f);
            if self.pending.len() >= self.batch {
                self.run_batch();
            }
            return None;
        }
        if let Some(l) = self.learning.as_mut() {
            l.dirty |= l.observer.observe(&f);
            l.flows_since += 1;
            let due = match l.every {
                Every::Flows(n) => l.flows_since >= n,
                Every::Wall(d) => l.last.is_none_or(|t| t.elapsed() >= d),
            };
            if due {
                self.reinfer();
            }
        }
        let matcher = Rc::clone(&self.matcher);
        let inferred = Rc::clone(&self.inferred);
        let topo: &Topology = match &self.given {
            Some((t, _)) => t,
            None => &inferred,
        };
        let classifier = Classifier::new(&matcher, topo, self.rules);
        let c = classifier.classify(&f);
        let ids = self.findings.observe(
            &f,
            &c,
            |a, b| matcher.is_unrestricted_path(a, b),
            |f| classifier.classify(f),
        );
        let outcome = Outcome {
            purpose: c.purpose.as_str(),
            has_findings: !ids.is_empty(),
        };
        let rec = flow_record(f, &c, ids);
        self.write_output(|out| out.flow(&rec));
        self.aggregate(&c, &rec);
        Some(outcome)
    }

    /// Audits the waiting flows: classified, judged, made records and
    /// encoded on all cores; counted and written in order, so the audit is
    /// the one flow-at-a-time would give.
    fn run_batch(&mut self) {
        use rayon::prelude::*;
        let flows = std::mem::take(&mut self.pending);
        if flows.is_empty() {
            return;
        }
        let matcher = Rc::clone(&self.matcher);
        let inferred = Rc::clone(&self.inferred);
        let m: &Matcher = &matcher;
        let topo: &Topology = match &self.given {
            Some((t, _)) => t,
            None => &inferred,
        };
        let classifier = Classifier::new(m, topo, self.rules);
        let classes: Vec<Classified<'_>> = flows.par_iter().map(|f| classifier.classify(f)).collect();
        let findings = &self.findings;
        let judged: Vec<crate::findings::Judged> = flows
            .par_iter()
            .zip(classes.par_iter())
            .map(|(f, c)| {
                findings.judge(
                    f,
                    c,
                    |a, b| m.is_unrestricted_path(a, b),
                    |f| classifier.classify(f),
                )
            })
            .collect();
        let ids: Vec<Vec<String>> = flows
            .iter()
            .zip(&classes)
            .zip(judged)
            .map(|((f, c), j)| self.findings.record(f, c, j))
            .collect();
        let records: Vec<FlowRecord> = flows
            .into_par_iter()
            .zip(classes.par_iter())
            .zip(ids)
            .map(|((f, c), ids)| flow_record(f, c, ids))
            .collect();
        self.write_output(|out| out.flows(&records));
        for (rec, c) in records.iter().zip(&classes) {
            self.aggregate(c, rec);
        }
        drop(classes);
        if self.exit_frees {
            std::mem::forget(records);
        } else {
            // Freed on all cores too: 200k records take 0.2 s to free on one.
            records.into_par_iter().for_each(drop);
        }
    }

    fn aggregate(&mut self, c: &Classified<'_>, rec: &FlowRecord) {
        let bytes = rec.c2s_bytes + rec.s2c_bytes;
        self.tally.add(c, rec);
        // The largest first, the lower id first among equals (ids do not
        // end in order).
        if c.verdict() == Verdict::Unexplained
            && (self.unexplained.len() < UNEXPLAINED_ROWS
                || self
                    .unexplained
                    .last()
                    .is_some_and(|(b, r)| *b < bytes || (*b == bytes && r.id > rec.id)))
        {
            let at = self
                .unexplained
                .partition_point(|(b, r)| *b > bytes || (*b == bytes && r.id < rec.id));
            self.unexplained.insert(at, (bytes, rec.clone()));
            self.unexplained.truncate(UNEXPLAINED_ROWS);
        }
        if !rec.app.is_empty() && self.facts.len() < FACT_ROWS {
            self.facts.push(rec.clone());
        }
    }

    /// Distinct findings so far.
    pub fn findings_len(&self) -> usize {
        self.findings.len()
    }

    /// The findings that appeared after the first `since`, most severe first.
    pub fn new_findings(&self, since: usize) -> Vec<crate::findings::Finding> {
        self.findings.snapshot(since)
    }

    /// Hits on findings not kept at the cap.
    pub fn findings_not_kept(&self) -> u64 {
        self.findings.overflow
    }

    /// Host observations not kept at the cap.
    pub fn hosts_not_observed(&self) -> u64 {
        self.hosts_full + self.learning.as_ref().map_or(0, |l| l.observer.hosts_full)
    }

    /// Flushes the record output (live: every second, so a reader sees
    /// each flow soon after it ends).
    pub fn flush_output(&mut self) {
        self.write_output(|out| out.flush());
    }

    /// Runs `write` on the record output unless an earlier write failed;
    /// keeps the first error (nothing more is written after it).
    fn write_output(&mut self, write: impl FnOnce(&mut dyn RecordOut) -> io::Result<()>) {
        if self.out_error.is_none() {
            if let Some(out) = self.out.as_mut() {
                if let Err(e) = write(out.as_mut()) {
                    self.out_error = Some(e);
                }
            }
        }
    }

    /// Re-infers the roles now when they may have changed (live: at each report).
    pub fn refresh_roles(&mut self) {
        self.reinfer();
    }

    /// Where the roles came from, as the audit prints it.
    pub fn topology_info(&self) -> TopologyInfo {
        match &self.given {
            Some((t, file)) => {
                let s = t.site();
                TopologyInfo {
                    source: "file",
                    exchange_from: self.exchange_from,
                    exchange_reason: self.exchange_reason.clone(),
                    file: Some(file.clone()),
                    site: s.name.clone(),
                    exchange: s.exchange.as_str().to_string(),
                    edge_subscribed: s.edge_subscribed,
                    hosts: Vec::new(),
                }
            }
            None => inferred_info(&self.inference, self.exchange_from, self.exchange_reason.clone()),
        }
    }

    /// The audit of everything seen (aggregates, findings, and `summary`,
    /// made by the caller from its run's counters and completed here),
    /// written to the record output after the flows; with the first write
    /// error.
    pub fn finish(
        mut self,
        mut summary: Summary,
        expect: ExpectStats,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> (Audit, io::Result<()>) {
        self.run_batch();
        if let Some(l) = self.learning.as_mut() {
            l.dirty = true;
        }
        self.reinfer();
        let findings = self.findings.snapshot(0);
        summary.findings = findings.len() as u64;
        summary.direction_unknown = self.findings.direction_unknown;
        summary.direction_unknown_flows = std::mem::take(&mut self.findings.direction_unknown_listed);
        summary.expectations = expect.added;
        summary.expectations_matched = expect.matched;
        let info = self.topology_info();
        summary.topology = info.source;
        let (purposes, matrix) = std::mem::take(&mut self.tally).finish();
        let unexplained: Vec<u64> = self.unexplained.iter().map(|(_, r)| r.id).collect();
        let mut flows = std::mem::take(&mut self.facts);
        for (_, r) in std::mem::take(&mut self.unexplained) {
            if !flows.iter().any(|f| f.id == r.id) {
                flows.push(r);
            }
        }
        let audit = Audit {
            flows,
            findings,
            summary,
            topology: info,
            inferred_toml: self.given.is_none().then(|| self.inference.topology.to_toml()),
            purposes,
            matrix,
            unexplained,
        };
        let res = match (self.out_error.take(), self.out.as_mut()) {
            (Some(e), _) => Err(e),
            (None, Some(out)) => out.finish(&audit, extra),
            (None, None) => Ok(()),
        };
        (audit, res)
    }
}
