//! Threads and channels: one capture thread reads and decodes frames into
//! batches of fixed-size records; the flow worker owns the flow table. Batches
//! travel over a bounded channel and come back on a return channel for reuse,
//! so the steady state allocates nothing per packet.

use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::path::PathBuf;
use std::time::Instant;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

use crate::decode::{self, Addr, DecodeError, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP};
use crate::flow::{
    EndReason, Flow, FlowConfig, FlowHandler, FlowKey, FlowTable, Inspection, PacketMeta, TableStats,
};
use crate::source::clock::{Clock, Outlier};
use crate::source::offline::{self, FileStats, InputError, RawFrame};

/// Records per batch.
pub const BATCH: usize = 512;
/// Batches in flight on the channel.
pub const CHANNEL_BATCHES: usize = 32;
/// Pending first fragments remembered to give later fragments their ports.
pub const MAX_FRAGMENTS: usize = 8192;

/// What a record stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecKind {
    #[default]
    Packet,
    /// An ICMP error quoting a packet of `key`; `from_a` is the quoted packet's sender.
    IcmpError {
        icmp_type: u8,
        code: u8,
        prohibited: bool,
    },
}

/// One parsed frame, as sent to the flow worker.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameRec {
    pub key: FlowKey,
    pub hash: u64,
    pub meta: PacketMeta,
    pub kind: RecKind,
    /// The first payload bytes, copied into the batch's byte arena:
    /// `bytes[pay_off..pay_off + pay_len]`. Only young flows get them.
    pub pay_off: u32,
    pub pay_len: u32,
    /// A copy of the frame itself (live evidence only, capped):
    /// `bytes[raw_off..raw_off + raw_len]`, and the frame's length on the wire.
    pub raw_off: u32,
    pub raw_len: u32,
    pub wire_len: u32,
}

/// A reusable batch of records and the payload bytes they refer to.
#[derive(Debug, Default)]
pub struct Batch {
    pub recs: Vec<FrameRec>,
    pub bytes: Vec<u8>,
}

impl Batch {
    fn new() -> Batch {
        Batch {
            recs: Vec::with_capacity(BATCH),
            bytes: Vec::with_capacity(BATCH * 256),
        }
    }

    /// The payload bytes of a record.
    pub fn payload(&self, r: &FrameRec) -> &[u8] {
        let start = r.pay_off as usize;
        self.bytes
            .get(start..start.saturating_add(r.pay_len as usize))
            .unwrap_or_default()
    }

    /// The copied frame bytes of a record (empty unless evidence is kept).
    pub fn raw(&self, r: &FrameRec) -> &[u8] {
        let start = r.raw_off as usize;
        self.bytes
            .get(start..start.saturating_add(r.raw_len as usize))
            .unwrap_or_default()
    }

    /// Packet records in the batch (ICMP-error records are extra views of a packet).
    pub fn packets(&self) -> u64 {
        self.recs.iter().filter(|r| r.kind == RecKind::Packet).count() as u64
    }
}

/// Decides on the capture side which frames are copied whole for evidence:
/// the first `per_flow` packets of each flow (direct-mapped by flow hash,
/// like [`PayloadGate`]; a collision restarts a count), each cut at `snap`.
struct RawGate {
    slots: Vec<(u32, u32)>,
    per_flow: u32,
    snap: usize,
}

impl RawGate {
    const SLOTS: usize = 1 << 16;

    fn new(per_flow: u32, snap: usize) -> RawGate {
        RawGate {
            slots: vec![(0, 0); Self::SLOTS],
            per_flow,
            snap,
        }
    }

    /// How many bytes of a `len`-byte frame to copy.
    #[inline]
    fn take(&mut self, hash: u64, len: usize) -> usize {
        let Some(slot) = self.slots.get_mut(hash as usize & (Self::SLOTS - 1)) else {
            return 0;
        };
        let tag = (hash >> 32) as u32 | 1;
        if slot.0 != tag {
            *slot = (tag, 0);
        }
        if slot.1 >= self.per_flow {
            return 0;
        }
        slot.1 += 1;
        len.min(self.snap)
    }
}

/// Decides on the capture side which payloads still matter for inspection,
/// without a back channel from the flow worker: a direct-mapped table counts
/// the payload bytes already forwarded per flow and direction. A collision
/// only resets a count (more copying, never less). The budget is twice what
/// the worker keeps of a flow (retransmissions count here, not there):
/// `--inspect-bytes`, or the DCE/RPC size for flows with a payload that
/// starts like a DCE/RPC PDU (version 5.0), as the worker decides. The slot
/// comes from a fixed-key hash so that runs over the same file copy the same
/// bytes (the flow table's hash is seeded per run).
struct PayloadGate {
    /// (tag, bytes sent from a, bytes sent from b, budget per direction).
    slots: Vec<(u32, u32, u32, u32)>,
    /// Bytes per direction worth forwarding.
    budget: u32,
    /// Bytes per direction worth forwarding of a flow whose packets an
    /// inspector wants more of ([`crate::inspect::packet_budget`]).
    inspect_bytes: usize,
    hasher: ahash::RandomState,
}

impl PayloadGate {
    const SLOTS: usize = 1 << 18;

    fn new(inspect_bytes: usize) -> PayloadGate {
        let twice = |n: usize| u32::try_from(n.saturating_mul(2)).unwrap_or(u32::MAX);
        let budget = twice(inspect_bytes);
        PayloadGate {
            slots: if budget == 0 {
                Vec::new()
            } else {
                vec![(0, 0, 0, 0); Self::SLOTS]
            },
            budget,
            inspect_bytes,
            hasher: ahash::RandomState::with_seeds(
                0x243f_6a88_85a3_08d3,
                0x1319_8a2e_0370_7344,
                0xa409_3822_299f_31d0,
                0x082e_fa98_ec4e_6c89,
            ),
        }
    }

    /// A new connection (a SYN) on `key`: the 5-tuple may have carried an
    /// earlier connection whose bytes must not count against this one.
    fn restart(&mut self, key: &FlowKey) {
        if self.budget == 0 {
            return;
        }
        let hash = self.hasher.hash_one(key);
        if let Some(slot) = self.slots.get_mut(hash as usize & (Self::SLOTS - 1)) {
            *slot = ((hash >> 32) as u32 | 1, 0, 0, self.budget);
        }
    }

    /// How many bytes of `payload` to forward.
    #[inline]
    fn take(&mut self, key: &FlowKey, from_a: bool, payload: &[u8]) -> usize {
        if self.budget == 0 {
            return 0;
        }
        let hash = self.hasher.hash_one(key);
        let Some(slot) = self.slots.get_mut(hash as usize & (Self::SLOTS - 1)) else {
            return 0;
        };
        let tag = (hash >> 32) as u32 | 1;
        if slot.0 != tag {
            *slot = (tag, 0, 0, self.budget);
        }
        let wants = crate::inspect::packet_budget(payload, self.inspect_bytes);
        if wants > self.inspect_bytes {
            slot.3 = slot
                .3
                .max(u32::try_from(wants.saturating_mul(2)).unwrap_or(u32::MAX));
        }
        let budget = slot.3;
        let sent = if from_a { &mut slot.1 } else { &mut slot.2 };
        let room = budget.saturating_sub(*sent);
        let n = u32::try_from(payload.len()).unwrap_or(u32::MAX).min(room);
        *sent = sent.saturating_add(n);
        n as usize
    }
}

/// Counters kept by the capture thread.
#[derive(Debug, Clone, Default)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Packets decoded through each encapsulation (PPPoE, MPLS, GRE, ...).
    pub encapsulations: BTreeMap<&'static str, u64>,
    /// Fragments after the first whose first fragment was not seen.
    pub fragments_unmatched: u64,
    /// Times the capture thread found the channel full and waited.
    pub backpressure_waits: u64,
    /// Packets dropped because the channel was full (live capture never waits).
    pub pipeline_drops: u64,
    pub files: Vec<(PathBuf, FileStats)>,
    pub errors: Vec<InputError>,
    /// Packets whose timestamp left the running clock and came back
    /// ([`crate::source::clock`]): given the clock's time instead.
    pub clock_jumps: u64,
    /// The first of them, for the warning.
    pub clock_outliers: Vec<Outlier>,
    /// Frames `--filter` did not match.
    pub filtered_out: u64,
    /// Link types `--filter` did not compile for, with libpcap's error.
    pub filter_errors: Vec<String>,
}

/// Everything a run produced besides the flows themselves.
#[derive(Debug, Clone, Default)]
pub struct RunStats {
    pub capture: CaptureStats,
    pub table: TableStats,
    pub wall_secs: f64,
}

struct FragKey {
    src: Addr,
    dst: Addr,
    id: u32,
    proto: u8,
}

/// Remembers the ports of first fragments so later fragments of the same
/// datagram are counted against the right flow. Bounded: when full, the
/// oldest half is dropped.
struct Fragments {
    entries: Vec<(FragKey, u16, u16, i64)>,
}

impl Fragments {
    fn find(&self, src: &Addr, dst: &Addr, id: u32, proto: u8) -> Option<(u16, u16)> {
        self.entries
            .iter()
            .rev()
            .find(|(k, ..)| k.id == id && k.proto == proto && k.src == *src && k.dst == *dst)
            .map(|&(_, s, d, _)| (s, d))
    }
    fn insert(&mut self, k: FragKey, sport: u16, dport: u16, ts: i64) {
        if self.entries.len() >= MAX_FRAGMENTS {
            self.entries.drain(..MAX_FRAGMENTS / 2);
        }
        // Forget datagrams older than 30 s.
        if let Some(first) = self.entries.first() {
            if ts.saturating_sub(first.3) > 30_000_000_000 {
                self.entries.retain(|e| ts.saturating_sub(e.3) <= 30_000_000_000);
            }
        }
        self.entries.push((k, sport, dport, ts));
    }
}

/// Decodes frames into records and ships full batches.
pub struct Capture<S: BuildHasher> {
    hasher: S,
    tx: Sender<Batch>,
    recycle: Receiver<Batch>,
    cur: Batch,
    frags: Fragments,
    gate: PayloadGate,
    raw: Option<RawGate>,
    /// Drop a batch when the channel is full instead of waiting (live capture).
    drop_when_full: bool,
    pub stats: CaptureStats,
}

impl<S: BuildHasher> Capture<S> {
    fn new(hasher: S, tx: Sender<Batch>, recycle: Receiver<Batch>, inspect_bytes: usize) -> Self {
        Capture {
            hasher,
            tx,
            recycle,
            cur: Batch::new(),
            frags: Fragments { entries: Vec::new() },
            gate: PayloadGate::new(inspect_bytes),
            raw: None,
            drop_when_full: false,
            stats: CaptureStats::default(),
        }
    }

    /// A capture side for a live source: a full channel drops the batch (its
    /// packets are counted in `pipeline_drops`) rather than stalling the
    /// reader. With `evidence = Some((n, snap))` the first `n` frames of each
    /// flow are also copied whole (at most `snap` bytes each).
    pub fn live(
        hasher: S,
        tx: Sender<Batch>,
        recycle: Receiver<Batch>,
        inspect_bytes: usize,
        evidence: Option<(u32, usize)>,
    ) -> Self {
        let mut c = Capture::new(hasher, tx, recycle, inspect_bytes);
        c.drop_when_full = true;
        c.raw = evidence
            .filter(|e| e.0 > 0 && e.1 > 0)
            .map(|(n, snap)| RawGate::new(n, snap));
        c
    }

    /// Sends the records queued so far, even a partial batch; at the end of
    /// a live capture (`wait`) it waits for room instead of dropping.
    pub fn flush(&mut self, wait: bool) {
        let drop = self.drop_when_full;
        self.drop_when_full = drop && !wait;
        self.ship();
        self.drop_when_full = drop;
    }

    /// Records waiting in the current batch.
    pub fn pending(&self) -> usize {
        self.cur.recs.len()
    }

    /// Decodes one frame and queues its record.
    #[inline]
    pub fn frame(&mut self, f: &RawFrame<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += u64::from(f.orig_len);
        let pkt_no = self.stats.packets;
        let p = match decode::decode(f.link, f.data) {
            Ok(p) => p,
            Err(e) => {
                self.count_error(e);
                return;
            }
        };
        if p.encap != 0 {
            for (bit, name) in decode::encap::NAMES {
                if p.encap & bit != 0 {
                    *self.stats.encapsulations.entry(name).or_insert(0) += 1;
                }
            }
        }
        let mut tuple = p.tuple;
        if let Some(frag) = p.fragment {
            if frag.offset == 0 {
                if tuple.sport != 0 || tuple.dport != 0 {
                    let k = FragKey {
                        src: tuple.src,
                        dst: tuple.dst,
                        id: frag.id,
                        proto: tuple.proto,
                    };
                    self.frags.insert(k, tuple.sport, tuple.dport, f.ts);
                }
            } else {
                match self.frags.find(&tuple.src, &tuple.dst, frag.id, tuple.proto) {
                    Some((s, d)) => {
                        tuple.sport = s;
                        tuple.dport = d;
                    }
                    None => {
                        self.stats.fragments_unmatched += 1;
                        return;
                    }
                }
            }
        }
        if let Some(icmp) = p.icmp_error {
            if let Some(q) = icmp.quoted {
                let (key, from_a) = FlowKey::from_tuple(&q);
                let prohibited = is_prohibited(tuple.proto, icmp.icmp_type, icmp.code);
                let rec = FrameRec {
                    key,
                    hash: self.hasher.hash_one(key),
                    meta: PacketMeta {
                        ts: f.ts,
                        pkt_no,
                        from_a,
                        ip_len: p.ip_len,
                        ..Default::default()
                    },
                    kind: RecKind::IcmpError {
                        icmp_type: icmp.icmp_type,
                        code: icmp.code,
                        prohibited,
                    },
                    ..Default::default()
                };
                self.push(rec);
            }
            // The error message itself is also a packet between its two hosts.
        }
        let (key, from_a) = FlowKey::from_tuple(&tuple);
        let (flags, seq) = p.tcp.map(|t| (t.flags, t.seq)).unwrap_or((0, 0));
        let is_tcp = tuple.proto == PROTO_TCP;
        let hash = self.hasher.hash_one(key);
        let (mut pay_off, mut pay_len) = (0u32, 0u32);
        if is_tcp && flags & 0x12 == 0x02 {
            self.gate.restart(&key);
        }
        // Payload of first fragments only: later ones are not stream bytes.
        if !p.payload.is_empty() && p.fragment.is_none_or(|f| f.offset == 0 && !f.more) {
            let n = self.gate.take(&key, from_a, p.payload);
            if n > 0 {
                pay_off = u32::try_from(self.cur.bytes.len()).unwrap_or(u32::MAX);
                pay_len = n as u32;
                self.cur
                    .bytes
                    .extend_from_slice(p.payload.get(..n).unwrap_or_default());
            }
        }
        let (mut raw_off, mut raw_len) = (0u32, 0u32);
        if let Some(g) = self.raw.as_mut() {
            let n = g.take(hash, f.data.len());
            if n > 0 {
                raw_off = u32::try_from(self.cur.bytes.len()).unwrap_or(u32::MAX);
                raw_len = n as u32;
                self.cur
                    .bytes
                    .extend_from_slice(f.data.get(..n).unwrap_or_default());
            }
        }
        let rec = FrameRec {
            pay_off,
            pay_len,
            raw_off,
            raw_len,
            wire_len: f.orig_len,
            key,
            hash,
            meta: PacketMeta {
                ts: f.ts,
                pkt_no,
                from_a,
                ip_len: p.ip_len,
                payload_len: p.payload_len,
                tcp_flags: flags,
                seq,
                is_tcp_syn_only: is_tcp && flags & 0x12 == 0x02,
            },
            kind: RecKind::Packet,
        };
        self.push(rec);
    }

    fn count_error(&mut self, e: DecodeError) {
        *self.stats.decode_errors.entry(e.as_str()).or_insert(0) += 1;
    }

    #[inline]
    fn push(&mut self, rec: FrameRec) {
        self.cur.recs.push(rec);
        if self.cur.recs.len() >= BATCH || self.cur.bytes.len() >= BATCH * 1024 {
            self.ship();
        }
    }

    fn ship(&mut self) {
        if self.cur.recs.is_empty() {
            return;
        }
        let next = match self.recycle.try_recv() {
            Ok(mut b) => {
                b.recs.clear();
                b.bytes.clear();
                b
            }
            Err(_) => Batch::new(),
        };
        let full = std::mem::replace(&mut self.cur, next);
        match self.tx.try_send(full) {
            Ok(()) => {}
            Err(TrySendError::Full(b)) if self.drop_when_full => {
                self.stats.pipeline_drops += b.packets();
                drop(b);
            }
            Err(TrySendError::Full(b)) => {
                self.stats.backpressure_waits += 1;
                let _ = self.tx.send(b);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }
}

fn is_prohibited(proto: u8, icmp_type: u8, code: u8) -> bool {
    match proto {
        // Destination unreachable: net/host prohibited (9, 10), communication
        // administratively prohibited (13).
        PROTO_ICMP => icmp_type == 3 && matches!(code, 9 | 10 | 13),
        // ICMPv6 destination unreachable: administratively prohibited (1),
        // reject route (6).
        PROTO_ICMPV6 => icmp_type == 1 && matches!(code, 1 | 6),
        _ => false,
    }
}

/// Everything the pipeline needs to know besides its inputs.
#[derive(Debug, Clone, Copy)]
pub struct PipelineConfig {
    pub flow: FlowConfig,
    /// Bytes of each direction of a flow kept for the inspectors (0: none).
    pub inspect_bytes: usize,
    /// Flows inspected at once; beyond it new flows are not inspected (counted).
    pub max_inspecting: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            flow: FlowConfig::default(),
            inspect_bytes: 4096,
            max_inspecting: 65_536,
        }
    }
}

/// Runs the offline pipeline over `files`, passing every flow to `handler`.
pub fn run_offline(
    files: &[PathBuf],
    cfg: PipelineConfig,
    progress: impl FnMut(usize, u64) + Send,
    handler: &mut dyn FlowHandler,
) -> RunStats {
    run_offline_filtered(files, cfg, None, progress, handler)
}

/// [`run_offline`], keeping only the frames a BPF expression (`--filter`)
/// matches; the others are counted in [`CaptureStats::filtered_out`].
pub fn run_offline_filtered(
    files: &[PathBuf],
    cfg: PipelineConfig,
    filter: Option<&str>,
    mut progress: impl FnMut(usize, u64) + Send,
    handler: &mut dyn FlowHandler,
) -> RunStats {
    let started = Instant::now();
    let hasher = ahash::RandomState::new();
    let (tx, rx) = bounded::<Batch>(CHANNEL_BATCHES);
    let (rtx, rrx) = bounded::<Batch>(CHANNEL_BATCHES + 2);
    let cap_hasher = hasher.clone();
    let (capture_stats, table_stats) = std::thread::scope(|s| {
        // Named so that `top -H` and `perf --sort comm` tell the threads apart.
        let producer = std::thread::Builder::new()
            .name("exaudit-capture".into())
            .spawn_scoped(s, move || {
                let mut cap = Capture::new(cap_hasher, tx, rrx, cfg.inspect_bytes);
                // Flow timeouts run on this clock: a smaller gap never expires a flow.
                let mut clock =
                    Clock::new(i64::from(cfg.flow.longest_timeout_s()).saturating_mul(1_000_000_000));
                // libpcap's programs stay on this thread.
                let mut bpf = filter.map(crate::source::bpf::Filter::new);
                let mut filtered_out = 0u64;
                for (i, path) in files.iter().enumerate() {
                    let (fstats, error) = offline::read_file(
                        path,
                        |f| {
                            if bpf.as_mut().is_none_or(|b| b.matches(f.link, f.data)) {
                                clock.frame(i, f, &mut |f| cap.frame(f));
                            } else {
                                filtered_out += 1;
                            }
                        },
                        |b| progress(i, b),
                    );
                    cap.stats.files.push((path.clone(), fstats));
                    if let Some(e) = error {
                        cap.stats.errors.push(e);
                    }
                }
                clock.finish(&mut |f| cap.frame(f));
                // Times and order as the flows saw them, glitches left out.
                for ((_, st), span) in cap.stats.files.iter_mut().zip(&clock.spans) {
                    st.first_ts = span.first;
                    st.last_ts = span.last;
                    st.ts_backwards = span.backwards;
                    st.clock_jumps = span.jumps;
                }
                cap.stats.filtered_out = filtered_out;
                if let Some(b) = &bpf {
                    cap.stats.filter_errors = b.errors.iter().map(|(l, e)| format!("{l:?}: {e}")).collect();
                }
                cap.stats.clock_jumps = clock.jumps;
                cap.stats.clock_outliers = std::mem::take(&mut clock.listed);
                cap.ship();
                cap.stats
            });
        let table_stats = worker(rx, rtx, cfg, &hasher, handler);
        let cap_stats = match producer {
            Ok(p) => p.join().unwrap_or_default(),
            Err(e) => {
                let mut st = CaptureStats::default();
                st.errors.push(crate::source::offline::InputError {
                    file: files.first().cloned().unwrap_or_default(),
                    packet: 0,
                    offset: 0,
                    message: format!("cannot start the capture thread: {e}"),
                });
                st
            }
        };
        (cap_stats, table_stats)
    });
    RunStats {
        capture: capture_stats,
        table: table_stats,
        wall_secs: started.elapsed().as_secs_f64(),
    }
}

/// The flow worker: applies batches to the table until the channel closes.
pub fn worker<S: BuildHasher>(
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
    cfg: PipelineConfig,
    hasher: &S,
    handler: &mut dyn FlowHandler,
) -> TableStats {
    run_worker(rx, recycle, cfg, hasher, handler, None)
}

/// The live flow worker: like [`worker`], but about every `tick` it expires
/// idle flows against the wall clock (a quiet link still ends its flows) and
/// calls [`FlowHandler::tick`]. Returns when the channel closes, after every
/// flow still in the table has ended.
pub fn worker_live<S: BuildHasher>(
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
    cfg: PipelineConfig,
    hasher: &S,
    handler: &mut dyn FlowHandler,
    tick: std::time::Duration,
) -> TableStats {
    run_worker(rx, recycle, cfg, hasher, handler, Some(tick))
}

/// Nanoseconds since the Unix epoch, now.
pub fn wall_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn run_worker<S: BuildHasher>(
    rx: Receiver<Batch>,
    recycle: Sender<Batch>,
    cfg: PipelineConfig,
    hasher: &S,
    handler: &mut dyn FlowHandler,
    tick: Option<std::time::Duration>,
) -> TableStats {
    let mut table = FlowTable::new(cfg.flow);
    let hash = |k: &FlowKey| hasher.hash_one(k);
    let mut not_inspected: u64 = 0;
    // Shared by the table (ended flows) and the loop below (created flows).
    let handler = std::cell::RefCell::new(handler);
    let inspecting = std::cell::Cell::new(0usize);
    let mut ended = |f: Flow, r: EndReason| {
        if f.inspect.is_some() {
            inspecting.set(inspecting.get().saturating_sub(1));
        }
        handler.borrow_mut().ended(f, r);
    };
    let mut next_tick = tick.map(|t| Instant::now() + t);
    loop {
        let batch = match next_tick {
            None => match rx.recv() {
                Ok(b) => Some(b),
                Err(_) => break,
            },
            Some(at) => match rx.recv_deadline(at) {
                Ok(b) => Some(b),
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => None,
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            },
        };
        if let (Some(at), Some(every)) = (next_tick, tick) {
            if Instant::now() >= at {
                table.expire(wall_ns(), &hash, &mut ended);
                table.stats.not_inspected = not_inspected;
                handler.borrow_mut().tick(&table.stats, table.len());
                next_tick = Some(Instant::now() + every);
            }
        }
        let Some(batch) = batch else { continue };
        for rec in &batch.recs {
            match rec.kind {
                RecKind::Packet => {
                    let res = table.packet(&rec.key, rec.hash, &rec.meta, &hash, &mut ended);
                    let Some((slot, created)) = res else { continue };
                    let Some(flow) = table.get_mut(slot) else { continue };
                    if rec.raw_len > 0 {
                        handler
                            .borrow_mut()
                            .frame(flow, rec.meta.ts, batch.raw(rec), rec.wire_len);
                    }
                    if created {
                        handler.borrow_mut().created(flow);
                    }
                    if cfg.inspect_bytes == 0 {
                        continue;
                    }
                    let is_tcp = rec.key.proto == PROTO_TCP;
                    if is_tcp && rec.meta.tcp_flags & 0x02 != 0 {
                        flow.note_syn(rec.meta.from_a, rec.meta.seq);
                    }
                    let payload = batch.payload(rec);
                    if payload.is_empty() {
                        continue;
                    }
                    // The inspection starts with the first payload byte, from
                    // the SYNs' sequence numbers when they were seen.
                    if flow.inspect.is_none() && flow.marks & Flow::INSPECTION_OVER == 0 {
                        if inspecting.get() < cfg.max_inspecting {
                            let mut ins = Box::<Inspection>::default();
                            let client_a = flow.client_is_a;
                            if let Some(seq) = flow.syn_of(client_a) {
                                ins.c2s.syn(seq);
                            }
                            if let Some(seq) = flow.syn_of(!client_a) {
                                ins.s2c.syn(seq);
                            }
                            flow.inspect = Some(ins);
                            inspecting.set(inspecting.get() + 1);
                        } else {
                            not_inspected += 1;
                            flow.marks |= Flow::INSPECTION_OVER;
                        }
                    }
                    let from_client = flow.orig_side(rec.meta.from_a);
                    let Some(ins) = flow.inspect.as_mut() else {
                        continue;
                    };
                    let cap = ins.cap_or(cfg.inspect_bytes);
                    let buf = if from_client { &mut ins.c2s } else { &mut ins.s2c };
                    if is_tcp {
                        buf.segment(rec.meta.seq, payload, cap);
                    } else {
                        buf.datagram(payload, cap);
                    }
                    handler.borrow_mut().payload(flow, from_client);
                    // A handler that is done with the bytes drops them.
                    if flow.inspect.is_none() {
                        inspecting.set(inspecting.get().saturating_sub(1));
                        flow.marks |= Flow::INSPECTION_OVER;
                    }
                }
                RecKind::IcmpError {
                    icmp_type,
                    code,
                    prohibited,
                } => {
                    table.icmp_error(&rec.key, rec.hash, rec.meta.from_a, icmp_type, code, prohibited);
                }
            }
        }
        let _ = recycle.try_send(batch);
    }
    table.flush(&mut ended);
    table.stats.not_inspected = not_inspected;
    table.stats
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u16) -> FlowKey {
        FlowKey {
            pa: n,
            pb: 135,
            proto: crate::decode::PROTO_TCP,
            ..Default::default()
        }
    }

    #[test]
    fn gate_forwards_what_the_worker_keeps_of_dcerpc() {
        let mut g = PayloadGate::new(4096);
        let want = crate::inspect::max_budget(4096);
        let mut got = 0;
        let mut pdu = vec![0u8; 1000];
        pdu[0] = 5;
        for _ in 0..want / 1000 + 1 {
            got += g.take(&key(1), false, &pdu);
        }
        // Other flows get twice --inspect-bytes.
        let other: usize = (0..20).map(|_| g.take(&key(2), false, &[0x16; 1000])).sum();
        assert_eq!(other, 2 * 4096);
        assert!(
            got >= want,
            "forwarded {got} of the {want} bytes a DCE/RPC flow keeps"
        );
    }

    #[test]
    fn gate_is_the_same_in_every_run() {
        // Two gates (two runs) over many flows: collisions, if any, fall on
        // the same flows, so the same bytes are forwarded.
        let run = || {
            let mut g = PayloadGate::new(64);
            (0..60_000u16)
                .chain(0..60_000u16)
                .map(|n| g.take(&key(n), n % 2 == 0, &[1; 100]))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn gate_starts_over_for_a_new_connection_on_the_same_ports() {
        let mut g = PayloadGate::new(1000);
        assert_eq!(g.take(&key(7), true, &[1; 5000]), 2000);
        assert_eq!(g.take(&key(7), true, &[1; 10]), 0);
        g.restart(&key(7));
        assert_eq!(g.take(&key(7), true, &[1; 10]), 10);
    }

    #[test]
    fn gate_off_without_inspection() {
        let mut g = PayloadGate::new(0);
        assert_eq!(g.take(&key(1), true, &[5; 1000]), 0);
    }
}
