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
use crate::flow::{EndReason, Flow, FlowConfig, FlowKey, FlowTable, PacketMeta, TableStats};
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
}

/// A reusable batch of records.
#[derive(Debug, Default)]
pub struct Batch {
    pub recs: Vec<FrameRec>,
}

/// Counters kept by the capture thread.
#[derive(Debug, Clone, Default)]
pub struct CaptureStats {
    pub packets: u64,
    pub bytes: u64,
    pub decode_errors: BTreeMap<&'static str, u64>,
    /// Fragments after the first whose first fragment was not seen.
    pub fragments_unmatched: u64,
    /// Times the capture thread found the channel full and waited.
    pub backpressure_waits: u64,
    pub files: Vec<(PathBuf, FileStats)>,
    pub errors: Vec<InputError>,
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
    pub stats: CaptureStats,
}

impl<S: BuildHasher> Capture<S> {
    fn new(hasher: S, tx: Sender<Batch>, recycle: Receiver<Batch>) -> Self {
        Capture {
            hasher,
            tx,
            recycle,
            cur: Batch {
                recs: Vec::with_capacity(BATCH),
            },
            frags: Fragments { entries: Vec::new() },
            stats: CaptureStats::default(),
        }
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
                };
                self.push(rec);
            }
            // The error message itself is also a packet between its two hosts.
        }
        let (key, from_a) = FlowKey::from_tuple(&tuple);
        let (flags, seq) = p.tcp.map(|t| (t.flags, t.seq)).unwrap_or((0, 0));
        let is_tcp = tuple.proto == PROTO_TCP;
        let rec = FrameRec {
            key,
            hash: self.hasher.hash_one(key),
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
        if self.cur.recs.len() >= BATCH {
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
                b
            }
            Err(_) => Batch {
                recs: Vec::with_capacity(BATCH),
            },
        };
        let full = std::mem::replace(&mut self.cur, next);
        match self.tx.try_send(full) {
            Ok(()) => {}
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

/// Runs the offline pipeline over `files`, passing every ended flow to `sink`.
pub fn run_offline(
    files: &[PathBuf],
    cfg: FlowConfig,
    mut progress: impl FnMut(usize, u64) + Send,
    sink: &mut dyn FnMut(Flow, EndReason),
) -> RunStats {
    let started = Instant::now();
    let hasher = ahash::RandomState::new();
    let (tx, rx) = bounded::<Batch>(CHANNEL_BATCHES);
    let (rtx, rrx) = bounded::<Batch>(CHANNEL_BATCHES + 2);
    let cap_hasher = hasher.clone();
    let (capture_stats, table_stats) = std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut cap = Capture::new(cap_hasher, tx, rrx);
            for (i, path) in files.iter().enumerate() {
                let (fstats, error) = offline::read_file(path, |f| cap.frame(f), |b| progress(i, b));
                cap.stats.files.push((path.clone(), fstats));
                if let Some(e) = error {
                    cap.stats.errors.push(e);
                }
            }
            cap.ship();
            cap.stats
        });
        let table_stats = worker(rx, rtx, cfg, &hasher, sink);
        let cap_stats = producer.join().unwrap_or_default();
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
    cfg: FlowConfig,
    hasher: &S,
    sink: &mut dyn FnMut(Flow, EndReason),
) -> TableStats {
    let mut table = FlowTable::new(cfg);
    let hash = |k: &FlowKey| hasher.hash_one(k);
    let mut ended = |f: Flow, r: EndReason| sink(f, r);
    for batch in rx.iter() {
        for rec in &batch.recs {
            match rec.kind {
                RecKind::Packet => table.packet(&rec.key, rec.hash, &rec.meta, &hash, &mut ended),
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
    table.stats
}
