//! The flow table: one entry per bidirectional conversation, bounded in size,
//! with per-protocol idle timeouts and counted evictions.

use hashbrown::HashTable;

use super::key::FlowKey;
use super::stream::Inspection;
use super::tcp::{ConnState, TcpTrack};
use crate::decode::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

const NS: i64 = 1_000_000_000;

/// Flow-table limits and timeouts.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    /// Hard cap on tracked flows; at the cap the stalest candidate is evicted.
    pub max_flows: usize,
    pub tcp_timeout_s: u32,
    /// How long a closed or reset TCP connection lingers for stragglers.
    pub tcp_closed_timeout_s: u32,
    pub udp_timeout_s: u32,
    pub icmp_timeout_s: u32,
    pub other_timeout_s: u32,
}

impl FlowConfig {
    /// The longest idle timeout, seconds: a gap shorter than it never
    /// expires a flow.
    pub fn longest_timeout_s(&self) -> u32 {
        self.tcp_timeout_s
            .max(self.tcp_closed_timeout_s)
            .max(self.udp_timeout_s)
            .max(self.icmp_timeout_s)
            .max(self.other_timeout_s)
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1_000_000,
            tcp_timeout_s: 300,
            tcp_closed_timeout_s: 30,
            udp_timeout_s: 60,
            icmp_timeout_s: 60,
            other_timeout_s: 60,
        }
    }
}

/// ICMP errors that quoted a packet of this flow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IcmpNote {
    pub count: u32,
    pub last_type: u8,
    pub last_code: u8,
    /// An "administratively prohibited" (filtered) answer was seen.
    pub prohibited: bool,
    /// Sent by (or on behalf of) the server side, towards the client.
    pub toward_client: bool,
}

/// How the client of a flow is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// A SYN or SYN-ACK was seen: the client is the side that opened.
    Seen,
    /// No handshake, but the ports tell: one side uses a port below 1024,
    /// the other one above (or content or an endpoint-mapper answer named
    /// the server later).
    Inferred,
    /// No handshake and the ports do not tell: the client is the sender of
    /// the first packet seen, which may be either side.
    #[default]
    Guessed,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Seen => "seen",
            Direction::Inferred => "inferred",
            Direction::Guessed => "guessed",
        }
    }
}

/// One tracked conversation. Side `a`/`b` follow the canonical key; the
/// client is the originator.
#[derive(Debug, Clone)]
pub struct Flow {
    pub key: FlowKey,
    pub id: u64,
    pub first_ts: i64,
    pub last_ts: i64,
    /// Packets sent by side a and b.
    pub pkts: [u64; 2],
    /// IP bytes sent by side a and b.
    pub bytes: [u64; 2],
    pub client_is_a: bool,
    /// How `client_is_a` is known.
    pub direction: Direction,
    pub tcp: TcpTrack,
    pub icmp: IcmpNote,
    /// Packet number (1-based, across inputs) of the first packet.
    pub first_pkt: u64,
    /// The first payload bytes of each direction, while the flow is young;
    /// created at the first payload byte (a scan's flows never get one).
    pub inspect: Option<Box<Inspection>>,
    /// Sequence number of the first SYN sent by side a and b (where each
    /// direction's stream starts), valid when `marks` has bit 0 / bit 1.
    pub syn_seq: [u32; 2],
    /// Bit 0/1: a SYN from side a/b was seen; bit 2: the inspection is
    /// over or was refused (not started again).
    pub marks: u8,
}

impl Flow {
    /// Bit of `marks`: the inspection is over.
    pub const INSPECTION_OVER: u8 = 4;

    /// Notes a SYN from side a (`from_a`) or b: the first one gives that
    /// direction's stream start.
    #[inline]
    pub fn note_syn(&mut self, from_a: bool, seq: u32) {
        let (bit, i) = if from_a { (1u8, 0usize) } else { (2, 1) };
        if self.marks & bit == 0 {
            self.marks |= bit;
            if let Some(s) = self.syn_seq.get_mut(i) {
                *s = seq;
            }
        }
    }

    /// The first SYN's sequence number from side a (`from_a`) or b.
    pub fn syn_of(&self, from_a: bool) -> Option<u32> {
        let (bit, i) = if from_a { (1u8, 0usize) } else { (2, 1) };
        (self.marks & bit != 0)
            .then(|| self.syn_seq.get(i).copied())
            .flatten()
    }
}

impl Flow {
    /// Takes the other side for the client: the originator swaps, and so
    /// do the TCP states and history letters (Zeek's `^`).
    pub fn turn(&mut self) {
        self.client_is_a = !self.client_is_a;
        self.tcp.flip();
    }

    /// Index 0 = side a. Returns (client side, server side) indices.
    #[inline]
    pub fn orig_side(&self, from_a: bool) -> bool {
        from_a == self.client_is_a
    }

    /// Final connection state: Zeek's conn_state for TCP, and for UDP/ICMP
    /// `SF` when both sides spoke, `S0` when only the client did.
    pub fn state(&self) -> ConnState {
        if self.key.proto == PROTO_TCP {
            return self.tcp.conn_state();
        }
        let (c, s) = self.client_server_pkts();
        match (c > 0, s > 0) {
            (true, true) => ConnState::SF,
            (true, false) => ConnState::S0,
            (false, true) => ConnState::SHR,
            (false, false) => ConnState::OTH,
        }
    }

    /// (client packets, server packets).
    pub fn client_server_pkts(&self) -> (u64, u64) {
        if self.client_is_a {
            (self.pkts[0], self.pkts[1])
        } else {
            (self.pkts[1], self.pkts[0])
        }
    }

    /// (client bytes, server bytes).
    pub fn client_server_bytes(&self) -> (u64, u64) {
        if self.client_is_a {
            (self.bytes[0], self.bytes[1])
        } else {
            (self.bytes[1], self.bytes[0])
        }
    }

    fn timeout_ns(&self, cfg: &FlowConfig) -> i64 {
        let s = match self.key.proto {
            PROTO_TCP if self.tcp.finished() => cfg.tcp_closed_timeout_s,
            PROTO_TCP => cfg.tcp_timeout_s,
            PROTO_UDP => cfg.udp_timeout_s,
            PROTO_ICMP | PROTO_ICMPV6 => cfg.icmp_timeout_s,
            _ => cfg.other_timeout_s,
        };
        i64::from(s).saturating_mul(NS)
    }
}

/// How a flow left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// Idle for longer than its timeout.
    Expired,
    /// Pushed out by the table cap.
    Evicted,
    /// Its 5-tuple was reused by a new connection (fresh SYN after close).
    Reused,
    /// End of input.
    Flushed,
}

/// What a packet carries, from the flow table's point of view.
#[derive(Debug, Clone, Copy, Default)]
pub struct PacketMeta {
    pub ts: i64,
    pub pkt_no: u64,
    pub from_a: bool,
    pub ip_len: u32,
    pub payload_len: u32,
    pub tcp_flags: u8,
    pub seq: u32,
    /// Destination port as sent (used to pick the client without a SYN).
    pub is_tcp_syn_only: bool,
}

/// Counters the summary reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStats {
    pub flows_created: u64,
    pub evicted: u64,
    pub expired: u64,
    pub reused: u64,
    pub peak_flows: u64,
    pub icmp_errors_matched: u64,
    pub icmp_errors_unmatched: u64,
    /// Flows not inspected because the inspection cap was reached.
    pub not_inspected: u64,
}

/// The bounded flow table. Entries live in a slab; the hash index stores slab
/// slots and is probed with the hash computed once on the capture side.
pub struct FlowTable {
    cfg: FlowConfig,
    index: HashTable<u32>,
    slab: Vec<Option<Flow>>,
    free: Vec<u32>,
    next_id: u64,
    last_sweep_ts: i64,
    evict_cursor: usize,
    pub stats: TableStats,
}

impl FlowTable {
    pub fn new(cfg: FlowConfig) -> FlowTable {
        let cap = cfg.max_flows.min(1 << 16);
        FlowTable {
            cfg,
            index: HashTable::with_capacity(cap),
            // Room for the cap at once: pages become resident only as flows
            // fill them, and growing never holds an old and a new copy at once.
            slab: Vec::with_capacity(cfg.max_flows.min(1 << 24)),
            free: Vec::new(),
            next_id: 1,
            last_sweep_ts: i64::MIN,
            evict_cursor: 0,
            stats: TableStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn find(&self, hash: u64, key: &FlowKey) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(hash, |&slot| {
                slab.get(slot as usize)
                    .and_then(|f| f.as_ref())
                    .is_some_and(|f| f.key == *key)
            })
            .copied()
    }

    fn remove_slot(&mut self, hash: u64, slot: u32) -> Option<Flow> {
        if let Ok(entry) = self.index.find_entry(hash, |&s| s == slot) {
            entry.remove();
        }
        let flow = self.slab.get_mut(slot as usize).and_then(|f| f.take());
        if flow.is_some() {
            self.free.push(slot);
        }
        flow
    }

    /// The flow in `slot`.
    pub fn get_mut(&mut self, slot: u32) -> Option<&mut Flow> {
        self.slab.get_mut(slot as usize).and_then(|f| f.as_mut())
    }

    /// Accounts one packet to its flow, creating the flow when needed. Ended
    /// flows (expired, evicted, reused) are passed to `ended`. Returns the
    /// flow's slot and whether the packet created it.
    #[inline]
    pub fn packet(
        &mut self,
        key: &FlowKey,
        hash: u64,
        meta: &PacketMeta,
        hasher: &impl Fn(&FlowKey) -> u64,
        ended: &mut impl FnMut(Flow, EndReason),
    ) -> Option<(u32, bool)> {
        self.maybe_sweep(meta.ts, hasher, ended);
        let mut created = false;
        let slot = match self.find(hash, key) {
            Some(slot) => {
                // A new SYN on a finished connection with another ISN starts a
                // new connection on the same 5-tuple.
                let reuse = key.proto == PROTO_TCP
                    && meta.is_tcp_syn_only
                    && self
                        .slab
                        .get(slot as usize)
                        .and_then(|f| f.as_ref())
                        .is_some_and(|f| {
                            f.tcp.finished() && f.orig_side(meta.from_a) && f.tcp.isn != meta.seq
                        });
                if reuse {
                    if let Some(old) = self.remove_slot(hash, slot) {
                        self.stats.reused += 1;
                        ended(old, EndReason::Reused);
                    }
                    created = true;
                    self.insert(key, hash, meta, hasher, ended)
                } else {
                    slot
                }
            }
            None => {
                created = true;
                self.insert(key, hash, meta, hasher, ended)
            }
        };
        let flow = self.slab.get_mut(slot as usize).and_then(|f| f.as_mut())?;
        flow.last_ts = flow.last_ts.max(meta.ts);
        let side = usize::from(!meta.from_a);
        if let Some(p) = flow.pkts.get_mut(side) {
            *p = p.saturating_add(1);
        }
        if let Some(b) = flow.bytes.get_mut(side) {
            *b = b.saturating_add(u64::from(meta.ip_len));
        }
        if key.proto == PROTO_TCP {
            let orig = flow.orig_side(meta.from_a);
            let flags = meta.tcp_flags;
            // A SYN from the side we took for the server, before anything was
            // established: that side is the real originator.
            if !orig && meta.is_tcp_syn_only && flow.tcp.isn == 0 && !flow.tcp.finished() {
                flow.turn();
                flow.direction = Direction::Seen;
                flow.tcp.update(true, flags, meta.seq, meta.payload_len);
            } else {
                // A handshake packet in the direction we took confirms it.
                if (orig && meta.is_tcp_syn_only) || (!orig && flags & 0x12 == 0x12) {
                    flow.direction = Direction::Seen;
                }
                flow.tcp.update(orig, flags, meta.seq, meta.payload_len);
            }
        }
        Some((slot, created))
    }

    /// Records an ICMP error quoting a packet of `key`, sent by the side
    /// opposite to the quoted packet's sender (`quoted_from_a`).
    pub fn icmp_error(
        &mut self,
        key: &FlowKey,
        hash: u64,
        quoted_from_a: bool,
        icmp_type: u8,
        code: u8,
        prohibited: bool,
    ) -> bool {
        let Some(slot) = self.find(hash, key) else {
            self.stats.icmp_errors_unmatched += 1;
            return false;
        };
        let Some(flow) = self.slab.get_mut(slot as usize).and_then(|f| f.as_mut()) else {
            return false;
        };
        self.stats.icmp_errors_matched += 1;
        flow.icmp.count = flow.icmp.count.saturating_add(1);
        flow.icmp.last_type = icmp_type;
        flow.icmp.last_code = code;
        flow.icmp.prohibited |= prohibited;
        flow.icmp.toward_client = flow.orig_side(quoted_from_a);
        true
    }

    fn insert(
        &mut self,
        key: &FlowKey,
        hash: u64,
        meta: &PacketMeta,
        hasher: &impl Fn(&FlowKey) -> u64,
        ended: &mut impl FnMut(Flow, EndReason),
    ) -> u32 {
        if self.index.len() >= self.cfg.max_flows {
            self.evict_one(hasher, ended);
        }
        let (client_is_a, direction) = pick_client(key, meta);
        let mut flow = Flow {
            key: *key,
            id: self.next_id,
            first_ts: meta.ts,
            last_ts: meta.ts,
            pkts: [0; 2],
            bytes: [0; 2],
            client_is_a,
            direction,
            tcp: TcpTrack::default(),
            icmp: IcmpNote::default(),
            first_pkt: meta.pkt_no,
            inspect: None,
            syn_seq: [0; 2],
            marks: 0,
        };
        // First packet was a SYN-ACK: its receiver is the originator.
        if key.proto == PROTO_TCP && client_is_a != meta.from_a && meta.tcp_flags & 0x12 == 0x12 {
            flow.tcp.history.flip();
        }
        self.next_id += 1;
        self.stats.flows_created += 1;
        let slot = match self.free.pop() {
            Some(s) => {
                if let Some(e) = self.slab.get_mut(s as usize) {
                    *e = Some(flow);
                }
                s
            }
            None => {
                self.slab.push(Some(flow));
                u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
            }
        };
        let slab = &self.slab;
        self.index.insert_unique(hash, slot, |&s| {
            slab.get(s as usize)
                .and_then(|f| f.as_ref())
                .map(|f| hasher(&f.key))
                .unwrap_or(0)
        });
        self.stats.peak_flows = self.stats.peak_flows.max(self.index.len() as u64);
        slot
    }

    /// Evicts one flow: among the next 64 occupied slots after a rotating
    /// cursor, the one with the fewest packets, oldest last activity first;
    /// a one-packet flow (a scan or flood probe) is taken at once.
    fn evict_one(&mut self, hasher: &impl Fn(&FlowKey) -> u64, ended: &mut impl FnMut(Flow, EndReason)) {
        let n = self.slab.len();
        if n == 0 {
            return;
        }
        let mut best: Option<(u64, i64, usize)> = None;
        let mut seen = 0;
        let mut i = self.evict_cursor % n;
        for _ in 0..n {
            if let Some(Some(f)) = self.slab.get(i) {
                let cand = (f.pkts[0] + f.pkts[1], f.last_ts, i);
                if best.is_none_or(|b| (cand.0, cand.1) < (b.0, b.1)) {
                    best = Some(cand);
                }
                seen += 1;
                if seen >= 64 || cand.0 <= 1 {
                    break;
                }
            }
            i += 1;
            if i == n {
                i = 0;
            }
        }
        self.evict_cursor = if i + 1 >= n { 0 } else { i + 1 };
        if let Some((_, _, slot)) = best {
            let Some(key) = self.slab.get(slot).and_then(|f| f.as_ref()).map(|f| f.key) else {
                return;
            };
            if let Some(f) = self.remove_slot(hasher(&key), slot as u32) {
                self.stats.evicted += 1;
                ended(f, EndReason::Evicted);
            }
        }
    }

    fn maybe_sweep(
        &mut self,
        now: i64,
        hasher: &impl Fn(&FlowKey) -> u64,
        ended: &mut impl FnMut(Flow, EndReason),
    ) {
        if self.last_sweep_ts == i64::MIN {
            self.last_sweep_ts = now;
            return;
        }
        if now.saturating_sub(self.last_sweep_ts) < 5 * NS {
            return;
        }
        self.last_sweep_ts = now;
        self.expire(now, hasher, ended);
    }

    /// Ends every flow idle past its timeout at time `now` (in id order).
    pub fn expire(
        &mut self,
        now: i64,
        hasher: &impl Fn(&FlowKey) -> u64,
        ended: &mut impl FnMut(Flow, EndReason),
    ) {
        let cfg = self.cfg;
        let mut dead: Vec<(u64, u32)> = self
            .slab
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let f = f.as_ref()?;
                (now.saturating_sub(f.last_ts) > f.timeout_ns(&cfg)).then_some((f.id, i as u32))
            })
            .collect();
        dead.sort_unstable();
        for (_, slot) in dead {
            let Some(key) = self
                .slab
                .get(slot as usize)
                .and_then(|f| f.as_ref())
                .map(|f| f.key)
            else {
                continue;
            };
            if let Some(f) = self.remove_slot(hasher(&key), slot) {
                self.stats.expired += 1;
                ended(f, EndReason::Expired);
            }
        }
    }

    /// Ends every flow still tracked (end of input), in id order.
    pub fn flush(&mut self, ended: &mut impl FnMut(Flow, EndReason)) {
        self.index.clear();
        self.free.clear();
        // In id order, without a second copy of the flows: sort (id, slot)
        // pairs (16 bytes a flow) and take each flow out of its slot.
        let mut order: Vec<(u64, u32)> = self
            .slab
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((f.as_ref()?.id, u32::try_from(i).ok()?)))
            .collect();
        order.sort_unstable();
        for (_, slot) in order {
            if let Some(f) = self.slab.get_mut(slot as usize).and_then(Option::take) {
                ended(f, EndReason::Flushed);
            }
        }
        self.slab.clear();
    }
}

/// Which side is the client, and how it is known: the sender of a pure SYN,
/// the receiver of a SYN-ACK (seen); the side with the ephemeral port when
/// exactly one side is below 1024 (inferred); else the sender of the first
/// packet (guessed).
fn pick_client(key: &FlowKey, meta: &PacketMeta) -> (bool, Direction) {
    if key.proto == PROTO_TCP {
        if meta.is_tcp_syn_only {
            return (meta.from_a, Direction::Seen);
        }
        if meta.tcp_flags & 0x12 == 0x12 {
            return (!meta.from_a, Direction::Seen);
        }
    }
    let (pa, pb) = (key.pa, key.pb);
    if pa != pb && (pa < 1024) != (pb < 1024) {
        // The side with the well-known port is the server.
        return (pa >= 1024, Direction::Inferred);
    }
    (meta.from_a, Direction::Guessed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
    use crate::decode::{v4_addr, Tuple};

    struct Harness {
        table: FlowTable,
        hasher: ahash::RandomState,
        ended: Vec<(Flow, EndReason)>,
        pkt: u64,
    }

    impl Harness {
        fn new(cfg: FlowConfig) -> Self {
            Harness {
                table: FlowTable::new(cfg),
                hasher: ahash::RandomState::new(),
                ended: vec![],
                pkt: 0,
            }
        }
        fn send(&mut self, t: Tuple, ts_s: i64, flags: u8, seq: u32, payload: u32) {
            self.pkt += 1;
            let (key, from_a) = FlowKey::from_tuple(&t);
            let meta = PacketMeta {
                ts: ts_s * NS,
                pkt_no: self.pkt,
                from_a,
                ip_len: 40 + payload,
                payload_len: payload,
                tcp_flags: flags,
                seq,
                is_tcp_syn_only: t.proto == PROTO_TCP && flags & (SYN | ACK) == SYN,
            };
            let h = self.hasher.clone();
            let hasher = move |k: &FlowKey| h.hash_one(k);
            let hash = hasher(&key);
            let ended = &mut self.ended;
            self.table
                .packet(&key, hash, &meta, &hasher, &mut |f, r| ended.push((f, r)));
        }
        fn finish(mut self) -> Vec<(Flow, EndReason)> {
            let ended = &mut self.ended;
            self.table.flush(&mut |f, r| ended.push((f, r)));
            self.ended
        }
    }

    fn tcp(c: u8, cport: u16, s: u8, sport: u16) -> (Tuple, Tuple) {
        let c2s = Tuple {
            src: v4_addr([10, 0, 0, c]),
            dst: v4_addr([10, 0, 0, s]),
            proto: PROTO_TCP,
            sport: cport,
            dport: sport,
        };
        let s2c = Tuple {
            src: c2s.dst,
            dst: c2s.src,
            proto: PROTO_TCP,
            sport,
            dport: cport,
        };
        (c2s, s2c)
    }

    #[test]
    fn flush_ends_every_flow_once_in_id_order_after_slot_reuse() {
        // A cap of 4: later flows take the slots of evicted ones, so slab
        // order is no longer id order.
        let mut h = Harness::new(FlowConfig {
            max_flows: 4,
            ..FlowConfig::default()
        });
        for i in 0..10u8 {
            let (c2s, _) = tcp(1, 40000 + u16::from(i), 2, 25);
            h.send(c2s, i64::from(i), SYN, 1, 0);
        }
        let ended = h.finish();
        assert_eq!(ended.len(), 10);
        let flushed: Vec<u64> = ended
            .iter()
            .filter(|(_, r)| *r == EndReason::Flushed)
            .map(|(f, _)| f.id)
            .collect();
        assert_eq!(flushed, vec![7, 8, 9, 10]);
        let mut ids: Vec<u64> = ended.iter().map(|(f, _)| f.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 10, "every flow ended exactly once");
    }

    #[test]
    fn retransmitted_syns_are_one_attempt() {
        let mut h = Harness::new(FlowConfig::default());
        let (c2s, _) = tcp(1, 50000, 2, 135);
        for i in 0..3 {
            h.send(c2s, i, SYN, 77, 0);
        }
        let flows = h.finish();
        assert_eq!(flows.len(), 1);
        let f = &flows[0].0;
        assert_eq!(f.client_server_pkts(), (3, 0));
        assert_eq!(f.state(), ConnState::S0);
    }

    #[test]
    fn client_is_syn_sender_even_on_high_ports() {
        let mut h = Harness::new(FlowConfig::default());
        // Server on a dynamic RPC port, client on a lower port.
        let (c2s, s2c) = tcp(1, 1025, 2, 49667);
        h.send(c2s, 0, SYN, 1, 0);
        h.send(s2c, 0, SYN | ACK, 9, 0);
        h.send(c2s, 0, ACK, 2, 0);
        let f = &h.finish()[0].0;
        let (client, _) = f.key.side(f.client_is_a);
        assert_eq!(client, v4_addr([10, 0, 0, 1]));
        assert_eq!(f.state(), ConnState::S1);
    }

    #[test]
    fn first_seen_syn_ack_makes_its_receiver_the_client() {
        let mut h = Harness::new(FlowConfig::default());
        let (c2s, s2c) = tcp(1, 40000, 2, 25);
        h.send(s2c, 0, SYN | ACK, 9, 0);
        h.send(c2s, 0, ACK, 2, 0);
        let f = &h.finish()[0].0;
        assert_eq!(f.key.side(f.client_is_a).1, 40000);
        assert!(f.tcp.history.as_str().starts_with('^'));
    }

    #[test]
    fn midstream_client_is_the_ephemeral_side() {
        let mut h = Harness::new(FlowConfig::default());
        let (c2s, s2c) = tcp(1, 40000, 2, 389);
        h.send(s2c, 0, ACK, 9, 100);
        h.send(c2s, 0, ACK, 2, 0);
        let f = &h.finish()[0].0;
        assert_eq!(f.key.side(f.client_is_a).1, 40000);
        assert_eq!(f.client_server_pkts(), (1, 1));
        assert_eq!(f.state(), ConnState::OTH);
    }

    #[test]
    fn new_syn_after_close_starts_a_new_flow() {
        let mut h = Harness::new(FlowConfig::default());
        let (c2s, s2c) = tcp(1, 40000, 2, 25);
        h.send(c2s, 0, SYN, 100, 0);
        h.send(s2c, 0, RST | ACK, 0, 0);
        h.send(c2s, 1, SYN, 5000, 0);
        let flows = h.finish();
        assert_eq!(flows.len(), 2);
        assert_eq!(flows[0].1, EndReason::Reused);
        assert_eq!(flows[0].0.state(), ConnState::REJ);
        assert_eq!(flows[1].0.state(), ConnState::S0);
    }

    #[test]
    fn idle_flows_expire_per_protocol() {
        let cfg = FlowConfig {
            udp_timeout_s: 10,
            ..FlowConfig::default()
        };
        let mut h = Harness::new(cfg);
        let dns = Tuple {
            src: v4_addr([10, 0, 0, 1]),
            dst: v4_addr([10, 0, 0, 53]),
            proto: PROTO_UDP,
            sport: 5353,
            dport: 53,
        };
        let (c2s, _) = tcp(1, 40000, 2, 25);
        h.send(dns, 0, 0, 0, 30);
        h.send(c2s, 0, SYN, 1, 0);
        // 20 s later: the UDP flow is idle past 10 s, the TCP one is not past 300 s.
        h.send(c2s, 20, SYN, 1, 0);
        assert_eq!(h.ended.len(), 1);
        assert_eq!(h.ended[0].1, EndReason::Expired);
        assert_eq!(h.ended[0].0.key.proto, PROTO_UDP);
        assert_eq!(h.table.stats.expired, 1);
    }

    #[test]
    fn table_never_exceeds_its_cap_and_counts_evictions() {
        let cfg = FlowConfig {
            max_flows: 100,
            ..FlowConfig::default()
        };
        let mut h = Harness::new(cfg);
        for i in 0..1000u32 {
            let t = Tuple {
                src: v4_addr([10, 9, (i >> 8) as u8, i as u8]),
                dst: v4_addr([10, 0, 0, 2]),
                proto: PROTO_TCP,
                sport: 1024 + (i % 5000) as u16,
                dport: 25,
            };
            h.send(t, 0, SYN, i, 0);
            assert!(h.table.len() <= 100);
        }
        assert_eq!(h.table.stats.evicted, 900);
        assert_eq!(h.table.stats.peak_flows, 100);
        let flows = h.finish();
        // Every flow is reported once, evicted or not.
        assert_eq!(flows.len(), 1000);
        let mut ids: Vec<u64> = flows.iter().map(|f| f.0.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn icmp_error_is_tied_to_the_quoted_flow() {
        let mut h = Harness::new(FlowConfig::default());
        let (c2s, _) = tcp(1, 40000, 2, 135);
        h.send(c2s, 0, SYN, 1, 0);
        let (key, from_a) = FlowKey::from_tuple(&c2s);
        let hash = h.hasher.hash_one(key);
        assert!(h.table.icmp_error(&key, hash, from_a, 3, 13, true));
        let f = &h.finish()[0].0;
        assert_eq!(f.icmp.count, 1);
        assert!(f.icmp.prohibited);
        assert!(f.icmp.toward_client);
    }

    #[test]
    fn fin_close_lingers_then_expires_quickly() {
        let cfg = FlowConfig {
            tcp_closed_timeout_s: 2,
            ..FlowConfig::default()
        };
        let mut h = Harness::new(cfg);
        let (c2s, s2c) = tcp(1, 40000, 2, 25);
        h.send(c2s, 0, SYN, 1, 0);
        h.send(s2c, 0, SYN | ACK, 1, 0);
        h.send(c2s, 0, ACK, 1, 0);
        h.send(c2s, 0, FIN | ACK, 1, 0);
        h.send(s2c, 0, FIN | ACK, 1, 0);
        let (other, _) = tcp(3, 40000, 2, 25);
        h.send(other, 10, SYN, 1, 0);
        assert_eq!(h.ended.len(), 1);
        assert_eq!(h.ended[0].0.state(), ConnState::SF);
    }
}
