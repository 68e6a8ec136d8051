//! `exaudit live`: the offline pipeline fed from an interface, streaming.
//!
//! The audit is the same streaming engine as `read`'s ([`Engine`]): each
//! flow is classified, checked and written as NDJSON when it ends (expires,
//! is evicted, or is closed at the stop), then forgotten; without a topology
//! file the roles are re-inferred from bounded per-host observations when
//! they change, at most once a second, and each flow is classified with the
//! roles known when it ends. This file adds what only a live capture has:
//! privileges, signals, the periodic status and the evidence pcap (packets
//! held only for flows still in the table, within a byte budget).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::bounded;
use serde::Serialize;

use crate::analyze::{Analyzer, EndedFlow};
use crate::audit::engine::{Engine, Every};
use crate::audit::records::{CaptureDrops, InputSummary, Summary};
use crate::classify::rules::RuleSet;
use crate::classify::topology::Topology;
use crate::cli::LiveArgs;
use crate::flow::FlowHandler;
use crate::flow::{EndReason, Flow, TableStats};
use crate::pipeline::{self, Batch, RunStats, CHANNEL_BATCHES};
use crate::report::{self, Streamer};
use crate::run::{policy_inputs, EXIT_ERROR, EXIT_OK};
use crate::source::live::{self as src, LiveCounters, LiveOptions, OpenError, PcapStats};
use crate::vocab::Generation;
/// Snap length of evidence copies.
pub const EVIDENCE_SNAP: usize = 4096;
/// Bytes of evidence held for flows still open.
pub const EVIDENCE_RING_BYTES: usize = 64 << 20;

/// `exaudit live`.
pub fn live(args: &LiveArgs) -> i32 {
    if args.list_interfaces {
        return match src::list_interfaces() {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                EXIT_OK
            }
            Err(e) => {
                eprintln!("exaudit: {e}");
                EXIT_ERROR
            }
        };
    }
    let Some(iface) = args.interface.clone() else {
        eprintln!("exaudit: live needs -i INTERFACE (see --list-interfaces)");
        return EXIT_ERROR;
    };
    let (rules, topology, exchange) = match policy_inputs(
        args.rules.as_deref(),
        args.extend_rules,
        args.topology.as_deref(),
        args.exchange.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("exaudit: {e}");
            return EXIT_ERROR;
        }
    };
    let opts = LiveOptions {
        interface: iface.clone(),
        filter: args.filter.clone(),
        snaplen: args.snaplen,
        buffer_mib: args.buffer_size,
        promisc: !args.no_promisc,
    };
    let opened = match src::open(&opts) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("exaudit: {e}");
            if matches!(e, OpenError::Permission(_)) {
                eprintln!("exaudit: missing capability: CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode and buffer size)");
            }
            return EXIT_ERROR;
        }
    };
    // Outputs are opened before dropping privileges.
    let flows_out: Box<dyn Write> = match &args.output {
        Some(p) => match File::create(p) {
            Ok(f) => Box::new(BufWriter::with_capacity(1 << 16, f)),
            Err(e) => {
                eprintln!("exaudit: cannot create {}: {e}", p.display());
                return EXIT_ERROR;
            }
        },
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    let report_out: Box<dyn Write> = match &args.report {
        Some(p) => match File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!("exaudit: cannot create {}: {e}", p.display());
                return EXIT_ERROR;
            }
        },
        None => Box::new(io::stderr()),
    };
    let evidence = match &args.evidence {
        Some(p) => match PcapWriter::create(p, opened.linktype) {
            Ok(w) => Some(EvidenceRing::new(
                w,
                args.evidence_packets,
                args.evidence_max_bytes,
            )),
            Err(e) => {
                eprintln!("exaudit: cannot create {}: {e}", p.display());
                return EXIT_ERROR;
            }
        },
        None => None,
    };
    drop_privileges(&args.user);

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("exaudit: cannot handle signal {sig}: {e}");
            return EXIT_ERROR;
        }
    }
    let cfg = args.flow.config();
    let started = Instant::now();
    let deadline = args.duration.map(|d| started + d);
    let counters = Arc::new(LiveCounters::default());
    let hasher = ahash::RandomState::new();
    let (tx, rx) = bounded::<Batch>(CHANNEL_BATCHES);
    let (rtx, rrx) = bounded::<Batch>(CHANNEL_BATCHES + 2);
    let evidence_gate = args
        .evidence
        .as_ref()
        .map(|_| (args.evidence_packets, EVIDENCE_SNAP));

    let state = Rc::new(RefCell::new(LiveState::new(
        &rules,
        topology.as_ref().map(|(t, f)| (t, f.clone())),
        exchange,
        flows_out,
        report_out,
        evidence,
        Arc::clone(&counters),
        args.interval,
        iface.clone(),
    )));
    let sink_state = Rc::clone(&state);
    let analyzer = Analyzer::new(rules.interfaces(), cfg.inspect_bytes, move |e, _| {
        sink_state.borrow_mut().flow_ended(e)
    });
    let mut handler = LiveHandler {
        analyzer,
        state: Rc::clone(&state),
    };
    state.borrow_mut().note(&format!(
        "exaudit live: capturing on {iface}{} (snaplen {}, {}promiscuous); stop with Ctrl-C (SIGINT) or SIGTERM{}",
        args.filter
            .as_ref()
            .map(|f| format!(" with filter {f:?}"))
            .unwrap_or_default(),
        args.snaplen,
        if args.no_promisc { "not " } else { "" },
        args.duration
            .map(|d| format!(", or after {}", fmt_duration(d)))
            .unwrap_or_default(),
    ));

    let cap_hasher = hasher.clone();
    let link = opened.link;
    let inspect_bytes = cfg.inspect_bytes;
    let cap_counters = Arc::clone(&counters);
    let cap_stop = Arc::clone(&stop);
    let (capture_stats, live_end, table_stats) = std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut cap = pipeline::Capture::live(cap_hasher, tx, rrx, inspect_bytes, evidence_gate);
            let end = src::run(opened.cap, link, &mut cap, &cap_stop, deadline, &cap_counters);
            (cap.stats, end)
        });
        let table_stats = pipeline::worker_live(rx, rtx, cfg, &hasher, &mut handler, Duration::from_secs(1));
        let (cs, end) = producer.join().unwrap_or_default();
        (cs, end, table_stats)
    });
    let expect = handler.analyzer.expect_stats();
    drop(handler);
    let Ok(state) = Rc::try_unwrap(state).map(RefCell::into_inner) else {
        eprintln!("exaudit: internal error: live state still shared");
        return EXIT_ERROR;
    };
    let run_stats = RunStats {
        capture: capture_stats,
        table: table_stats,
        wall_secs: started.elapsed().as_secs_f64(),
    };
    let ok = state.finish(&run_stats, &live_end, expect);
    if let Some(e) = &live_end.error {
        eprintln!("exaudit: error: {iface}: {e}");
        return EXIT_ERROR;
    }
    if ok {
        EXIT_OK
    } else {
        EXIT_ERROR
    }
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 3600.0 {
        format!("{:.1} h", s / 3600.0)
    } else if s >= 60.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{s:.1} s")
    }
}

/// Started as root: switch to `user` (the interface is already open).
fn drop_privileges(user: &str) {
    use nix::unistd::{geteuid, setgid, setgroups, setuid, User};
    if !geteuid().is_root() || user.is_empty() || user == "root" {
        return;
    }
    match User::from_name(user) {
        Ok(Some(u)) => {
            let res = setgroups(&[u.gid])
                .and_then(|()| setgid(u.gid))
                .and_then(|()| setuid(u.uid));
            match res {
                Ok(()) => eprintln!(
                    "exaudit: interface open; running as {user} (uid {}, gid {}) from now on",
                    u.uid, u.gid
                ),
                Err(e) => {
                    eprintln!("exaudit: note: could not switch to user {user}: {e}; still running as root")
                }
            }
        }
        _ => {
            eprintln!("exaudit: note: user {user:?} does not exist; still running as root (use --user NAME)")
        }
    }
}

/// The worker-side handler: the analyzer (in streaming mode) plus the live state.
struct LiveHandler<'a, 'm> {
    analyzer: Analyzer<'a>,
    state: Rc<RefCell<LiveState<'m>>>,
}

impl FlowHandler for LiveHandler<'_, '_> {
    fn created(&mut self, flow: &mut Flow) {
        self.analyzer.created(flow);
    }
    fn payload(&mut self, flow: &mut Flow, from_client: bool) {
        self.analyzer.payload(flow, from_client);
    }
    fn ended(&mut self, flow: Flow, reason: EndReason) {
        self.analyzer.ended(flow, reason);
    }
    fn frame(&mut self, flow: &Flow, ts: i64, data: &[u8], wire_len: u32) {
        if let Some(e) = self.state.borrow_mut().evidence.as_mut() {
            e.frame(flow.id, ts, data, wire_len);
        }
    }
    fn tick(&mut self, table: &TableStats, active: usize) {
        let pending = self.analyzer.pending_expectations();
        self.state.borrow_mut().tick(table, active, pending);
    }
}

/// Everything the live run accumulates, all of it bounded.
struct LiveState<'m> {
    engine: Engine<'m, 'm>,
    report: Box<dyn Write>,
    evidence: Option<EvidenceRing>,
    counters: Arc<LiveCounters>,
    interval: Duration,
    iface: String,
    started: Instant,
    last_report: Instant,
    last_packets: u64,
    findings_mark: usize,
    interval_purposes: BTreeMap<&'static str, u64>,
    active: usize,
}

impl<'m> LiveState<'m> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        rules: &'m RuleSet,
        given: Option<(&'m Topology, String)>,
        exchange: Option<Generation>,
        out: Box<dyn Write>,
        report: Box<dyn Write>,
        evidence: Option<EvidenceRing>,
        counters: Arc<LiveCounters>,
        interval: Duration,
        iface: String,
    ) -> Self {
        let mut engine = match given {
            Some((t, file)) => Engine::given(rules, t, file, None),
            None => Engine::learning(rules, exchange, None, Every::Wall(Duration::from_secs(1))),
        };
        engine.write_to(Box::new(Streamer::new(report::Format::Ndjson, out)));
        LiveState {
            engine,
            report,
            evidence,
            counters,
            interval,
            iface,
            started: Instant::now(),
            last_report: Instant::now(),
            last_packets: 0,
            findings_mark: 0,
            interval_purposes: BTreeMap::new(),
            active: 0,
        }
    }

    fn note(&mut self, line: &str) {
        let _ = writeln!(self.report, "{line}");
        let _ = self.report.flush();
    }

    fn flow_ended(&mut self, f: EndedFlow) {
        let id = f.flow.id;
        // Live audits each flow as it ends (no batches): always an outcome.
        if let Some(o) = self.engine.flow_ended(f) {
            if let Some(e) = self.evidence.as_mut() {
                e.ended(id, o.has_findings);
            }
            *self.interval_purposes.entry(o.purpose).or_insert(0) += 1;
        }
    }

    fn drops(&self) -> CaptureDrops {
        CaptureDrops {
            kernel: self.counters.kernel_drops.load(Ordering::Relaxed),
            interface: self.counters.interface_drops.load(Ordering::Relaxed),
            pipeline: self.counters.pipeline_drops.load(Ordering::Relaxed),
        }
    }

    fn tick(&mut self, _table: &TableStats, active: usize, pending_expectations: usize) {
        self.active = active;
        self.engine.flush_output();
        if let Some(e) = self.evidence.as_mut() {
            e.flush();
        }
        if self.last_report.elapsed() < self.interval {
            return;
        }
        self.engine.refresh_roles();
        let secs = self.last_report.elapsed().as_secs_f64();
        self.last_report = Instant::now();
        let packets = self.counters.packets.load(Ordering::Relaxed);
        let delta = packets.saturating_sub(self.last_packets);
        self.last_packets = packets;
        let d = self.drops();
        let mut lines = vec![format!(
            "[{}] exaudit live {}: up {}, {} packets ({:.1}/s this interval), flows: {} active, {} ended; drops: kernel {}, interface {}, pipeline {}; {} findings{}",
            crate::vocab::rfc3339(pipeline::wall_ns()),
            self.iface,
            fmt_duration(self.started.elapsed()),
            packets,
            if secs > 0.0 { delta as f64 / secs } else { 0.0 },
            active,
            self.engine.flows_ended,
            d.kernel,
            d.interface,
            d.pipeline,
            self.engine.findings_len(),
            if pending_expectations > 0 {
                format!(", {pending_expectations} RPC endpoints awaited")
            } else {
                String::new()
            }
        )];
        if !self.interval_purposes.is_empty() {
            let mut p: Vec<(&str, u64)> = self.interval_purposes.iter().map(|(k, v)| (*k, *v)).collect();
            p.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
            lines.push(format!(
                "  purposes of flows ended this interval: {}",
                p.iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            self.interval_purposes.clear();
        }
        let new = self.engine.new_findings(self.findings_mark);
        self.findings_mark = self.engine.findings_len();
        for f in &new {
            lines.push(format!("  NEW {} {} {}: {}", f.id, f.severity, f.kind, f.summary));
        }
        if d.kernel + d.interface + d.pipeline > 0 {
            lines.push(drop_warning(d));
        }
        for l in lines {
            let _ = writeln!(self.report, "{l}");
        }
        let _ = self.report.flush();
    }

    /// Writes the final audit; false when an output failed.
    fn finish(
        mut self,
        stats: &RunStats,
        end: &src::LiveEnd,
        expect: crate::flow::expect::ExpectStats,
    ) -> bool {
        let d = CaptureDrops {
            kernel: end.stats.dropped,
            interface: end.stats.if_dropped,
            pipeline: stats.capture.pipeline_drops,
        };
        if let Some(e) = self.evidence.as_mut() {
            e.flush();
        }
        let extra = LiveExtra {
            libpcap: end.stats,
            findings_not_kept: self.engine.findings_not_kept(),
            hosts_not_observed: self.engine.hosts_not_observed(),
            evidence: self.evidence.as_ref().map(|e| e.stats),
        };
        let extra = match serde_json::to_value(&extra) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        let (first_ts, last_ts) = (self.engine.first_ts, self.engine.last_ts);
        // The live summary: one input, the interface, with the times of its flows.
        let mut summary = Summary::new(stats);
        summary.inputs = vec![InputSummary {
            file: format!("live:{}", self.iface),
            packets: stats.capture.packets,
            bytes: stats.capture.bytes,
            first_ts: first_ts.map(crate::vocab::rfc3339),
            last_ts: last_ts.map(crate::vocab::rfc3339),
            timestamps_backwards: 0,
            clock_jumps: 0,
            unsupported_link_types: BTreeMap::new(),
            error: end.error.clone(),
        }];
        summary.bytes = stats.capture.bytes;
        summary.first_ts = first_ts.map(crate::vocab::rfc3339);
        summary.last_ts = last_ts.map(crate::vocab::rfc3339);
        summary.capture_drops = d;
        let (audit, res) = self.engine.finish(summary, expect, &extra);
        let mut ok = true;
        if let Err(e) = res {
            if e.kind() != io::ErrorKind::BrokenPipe {
                eprintln!("exaudit: cannot write the flows: {e}");
                ok = false;
            }
        }
        let mut text = Vec::new();
        let _ = writeln!(text, "\n=== final audit ({}) ===", self.iface);
        let _ = report::render_report(report::Format::Table, &audit, &mut text);
        let _ = writeln!(
            text,
            "exaudit live {}: stopped after {}; {} packets ({} kernel received), {} flows, {} findings; drops: kernel {}, interface {}, pipeline {}",
            self.iface,
            fmt_duration(self.started.elapsed()),
            stats.capture.packets,
            end.stats.received,
            stats.table.flows_created,
            audit.findings.len(),
            d.kernel,
            d.interface,
            d.pipeline
        );
        if d.kernel + d.interface + d.pipeline > 0 {
            let _ = writeln!(text, "{}", drop_warning(d));
        }
        if let Some(e) = self.evidence.as_ref() {
            let s = e.stats;
            let _ = writeln!(
                text,
                "evidence: {} packets of {} flows written ({} bytes){}",
                s.packets_written,
                s.flows_written,
                s.bytes_written,
                if s.flows_not_written > 0 {
                    format!("; {} flows not written (size cap)", s.flows_not_written)
                } else {
                    String::new()
                }
            );
        }
        if self
            .report
            .write_all(&text)
            .and_then(|()| self.report.flush())
            .is_err()
        {
            ok = false;
        }
        ok
    }
}

fn drop_warning(d: CaptureDrops) -> String {
    format!(
        "WARNING: {} packets were not audited (kernel buffer {}, interface {}, pipeline {}): flows and findings are incomplete. Raise --buffer-size, narrow --filter, or lower --inspect-bytes.",
        d.kernel + d.interface + d.pipeline,
        d.kernel,
        d.interface,
        d.pipeline
    )
}

/// What the live summary record adds to `read`'s.
#[derive(Serialize)]
struct LiveExtra {
    /// libpcap's own counters (`pcap_stats`) at the end.
    libpcap: PcapStats,
    findings_not_kept: u64,
    hosts_not_observed: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<EvidenceStats>,
}

// ---------------------------------------------------------------------------
// Evidence
// ---------------------------------------------------------------------------

/// A classic pcap file (microsecond timestamps) written by hand.
pub struct PcapWriter {
    w: BufWriter<File>,
}

impl PcapWriter {
    pub fn create(path: &Path, linktype: u32) -> io::Result<PcapWriter> {
        let mut w = BufWriter::new(File::create(path)?);
        w.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        w.write_all(&2u16.to_le_bytes())?;
        w.write_all(&4u16.to_le_bytes())?;
        w.write_all(&0i32.to_le_bytes())?;
        w.write_all(&0u32.to_le_bytes())?;
        w.write_all(&262_144u32.to_le_bytes())?;
        w.write_all(&linktype.to_le_bytes())?;
        w.flush()?;
        Ok(PcapWriter { w })
    }

    pub fn packet(&mut self, ts_ns: i64, data: &[u8], wire_len: u32) -> io::Result<()> {
        let us = ts_ns.div_euclid(1000);
        let sec = u32::try_from(us.div_euclid(1_000_000)).unwrap_or(0);
        let usec = u32::try_from(us.rem_euclid(1_000_000)).unwrap_or(0);
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        self.w.write_all(&sec.to_le_bytes())?;
        self.w.write_all(&usec.to_le_bytes())?;
        self.w.write_all(&len.to_le_bytes())?;
        self.w.write_all(&wire_len.max(len).to_le_bytes())?;
        self.w.write_all(data)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Counters of the evidence file.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct EvidenceStats {
    pub flows_written: u64,
    pub packets_written: u64,
    pub bytes_written: u64,
    /// Flows with findings not written because the size cap was reached.
    pub flows_not_written: u64,
    /// Flows whose held packets were discarded to stay within the memory budget.
    pub flows_discarded: u64,
}

struct HeldPacket {
    ts: i64,
    wire_len: u32,
    data: Box<[u8]>,
}

/// The first packets of each flow still in the table, written out when the
/// flow ends with a finding and dropped otherwise. Bounded: `per_flow`
/// packets per flow (the capture side copies no more), [`EVIDENCE_RING_BYTES`]
/// held in all (the oldest flows' packets go first), `max_bytes` written.
pub struct EvidenceRing {
    writer: PcapWriter,
    held: HashMap<u64, Vec<HeldPacket>>,
    order: VecDeque<u64>,
    held_bytes: usize,
    per_flow: u32,
    max_bytes: u64,
    pub stats: EvidenceStats,
}

impl EvidenceRing {
    pub fn new(writer: PcapWriter, per_flow: u32, max_bytes: u64) -> EvidenceRing {
        EvidenceRing {
            writer,
            held: HashMap::new(),
            order: VecDeque::new(),
            held_bytes: 0,
            per_flow,
            max_bytes,
            stats: EvidenceStats::default(),
        }
    }

    fn frame(&mut self, flow: u64, ts: i64, data: &[u8], wire_len: u32) {
        let v = self.held.entry(flow).or_insert_with(|| {
            self.order.push_back(flow);
            Vec::new()
        });
        if v.len() >= self.per_flow as usize {
            return;
        }
        v.push(HeldPacket {
            ts,
            wire_len,
            data: data.into(),
        });
        self.held_bytes += data.len() + 32;
        while self.held_bytes > EVIDENCE_RING_BYTES {
            let Some(old) = self.order.pop_front() else { break };
            if let Some(pk) = self.held.remove(&old) {
                self.held_bytes -= pk.iter().map(|p| p.data.len() + 32).sum::<usize>();
                self.stats.flows_discarded += 1;
            }
        }
        // Ended flows leave ids behind in `order`: compact now and then.
        if self.order.len() > 2 * self.held.len() + 1024 {
            let held = &self.held;
            self.order.retain(|id| held.contains_key(id));
        }
    }

    fn ended(&mut self, flow: u64, finding: bool) {
        let Some(pk) = self.held.remove(&flow) else { return };
        self.held_bytes -= pk.iter().map(|p| p.data.len() + 32).sum::<usize>();
        if !finding {
            return;
        }
        let size: u64 = pk.iter().map(|p| p.data.len() as u64 + 16).sum();
        if self.stats.bytes_written + size > self.max_bytes {
            self.stats.flows_not_written += 1;
            return;
        }
        for p in &pk {
            if self.writer.packet(p.ts, &p.data, p.wire_len).is_err() {
                return;
            }
            self.stats.packets_written += 1;
        }
        self.stats.bytes_written += size;
        self.stats.flows_written += 1;
    }

    fn flush(&mut self) {
        let _ = self.writer.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_ring_writes_only_flows_with_findings_within_caps() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("e.pcap");
        let w = PcapWriter::create(&p, 1).unwrap();
        let mut r = EvidenceRing::new(w, 2, 200);
        for i in 0..3 {
            r.frame(1, i, &[0u8; 60], 60);
            r.frame(2, i, &[1u8; 60], 60);
        }
        r.frame(3, 0, &[2u8; 60], 60);
        r.ended(1, true);
        r.ended(2, false);
        r.ended(3, true); // over the 200-byte cap
        r.flush();
        assert_eq!(r.stats.flows_written, 1);
        assert_eq!(r.stats.packets_written, 2);
        assert_eq!(r.stats.flows_not_written, 1);
        assert_eq!(r.held_bytes, 0);
        let bytes = std::fs::read(&p).unwrap();
        assert_eq!(bytes.len(), 24 + 2 * (16 + 60));
    }
}
