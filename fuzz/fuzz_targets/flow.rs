//! The flow table and stream reassembly driven by a sequence of synthetic
//! packets built from the input, with a tiny flow cap: the table never holds
//! more flows than the cap, every created flow ends exactly once, and no
//! stream buffer grows past its cap.
//!
//! Input: one config byte, then records of 11 bytes (src host, dst host,
//! src port, dst port, kind, TCP flags, seq as u32 LE, payload length)
//! each followed by its payload bytes.
#![no_main]

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use exaudit::decode::{v4_addr, Tuple, PROTO_ICMP, PROTO_TCP, PROTO_UDP};
use exaudit::flow::{EndReason, Flow, FlowConfig, FlowKey, FlowTable, PacketMeta};
use libfuzzer_sys::fuzz_target;

const PORTS: [u16; 8] = [25, 135, 443, 389, 0, 49152, 50000, 65535];

fn addr(b: u8) -> [u8; 16] {
    if b & 0x80 != 0 {
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = b & 7;
        a
    } else {
        v4_addr([10, 0, 0, b & 7])
    }
}

fn port(b: u8) -> u16 {
    if b & 0x80 != 0 {
        PORTS[usize::from(b & 7)]
    } else {
        1024 + u16::from(b & 7)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&conf, mut rest)) = data.split_first() else {
        return;
    };
    let max_flows = 1 + usize::from(conf & 7);
    let cap = 16usize << ((conf >> 3) & 3);
    let weak_hash = conf & 0x20 != 0;
    let cfg = FlowConfig {
        max_flows,
        tcp_timeout_s: 10,
        tcp_closed_timeout_s: 2,
        udp_timeout_s: 5,
        icmp_timeout_s: 5,
        other_timeout_s: 5,
    };
    let std_hasher = BuildHasherDefault::<DefaultHasher>::default();
    let hash = |k: &FlowKey| -> u64 {
        if weak_hash {
            // Everything collides: exercises probing and removal by slot.
            u64::from(k.pa ^ k.pb) & 1
        } else {
            std_hasher.hash_one(k)
        }
    };
    let mut table = FlowTable::new(cfg);
    let mut ended_ids: Vec<u64> = Vec::new();
    let mut reasons = [0u64; 4];
    let mut ended = |f: Flow, r: EndReason| {
        if let Some(ins) = &f.inspect {
            assert!(ins.c2s.data.len() <= cap && ins.s2c.data.len() <= cap);
        }
        ended_ids.push(f.id);
        reasons[r as usize] += 1;
    };
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let mut pkt_no = 0u64;
    while rest.len() >= 11 {
        let (h, tail) = rest.split_at(11);
        let plen = usize::from(h[10] & 63).min(tail.len());
        let (payload, tail) = tail.split_at(plen);
        rest = tail;
        pkt_no += 1;
        let kind = h[4];
        let dt = i64::from(kind >> 3);
        ts = if dt == 31 {
            ts.saturating_sub(1_000_000_000)
        } else {
            ts.saturating_add(dt * 400_000_000)
        };
        let proto = match kind & 3 {
            0 | 1 => PROTO_TCP,
            2 => PROTO_UDP,
            _ => PROTO_ICMP,
        };
        let tuple = Tuple {
            src: addr(h[0]),
            dst: addr(h[1]),
            sport: port(h[2]),
            dport: port(h[3]),
            proto,
        };
        let (key, from_a) = FlowKey::from_tuple(&tuple);
        let k = hash(&key);
        let flags = h[5];
        let seq = u32::from_le_bytes([h[6], h[7], h[8], h[9]]);
        if kind & 4 != 0 {
            // An ICMP error quoting this tuple.
            table.icmp_error(&key, k, from_a, 3, flags & 15, flags & 16 != 0);
            continue;
        }
        let is_tcp = proto == PROTO_TCP;
        let meta = PacketMeta {
            ts,
            pkt_no,
            from_a,
            ip_len: 40 + plen as u32,
            payload_len: plen as u32,
            tcp_flags: if is_tcp { flags } else { 0 },
            seq: if is_tcp { seq } else { 0 },
            is_tcp_syn_only: is_tcp && flags & 0x12 == 0x02,
        };
        let res = table.packet(&key, k, &meta, &hash, &mut ended);
        assert!(table.len() <= max_flows, "{} flows > cap {}", table.len(), max_flows);
        let Some((slot, created)) = res else {
            continue;
        };
        let flow = table.get_mut(slot).expect("slot of the packet's flow");
        assert_eq!(flow.key, key);
        if created {
            flow.inspect = Some(Box::default());
        }
        let from_client = flow.orig_side(from_a);
        if let Some(ins) = flow.inspect.as_mut() {
            let buf = if from_client { &mut ins.c2s } else { &mut ins.s2c };
            if is_tcp {
                if flags & 0x02 != 0 {
                    buf.syn(seq);
                }
                buf.segment(seq, payload, cap);
            } else {
                buf.datagram(payload, cap);
            }
            assert!(buf.data.len() <= cap);
            let _ = buf.done(cap);
            if flags & 0x01 != 0 {
                buf.close();
            }
        }
        if h[0] & 0x40 != 0 {
            table.expire(ts, &hash, &mut ended);
        }
    }
    table.flush(&mut ended);
    assert!(table.is_empty());
    let st = table.stats;
    assert!(st.peak_flows <= max_flows as u64);
    assert_eq!(ended_ids.len() as u64, st.flows_created);
    let mut ids = ended_ids.clone();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), ended_ids.len(), "a flow ended twice");
    assert_eq!(reasons[EndReason::Evicted as usize], st.evicted);
    assert_eq!(reasons[EndReason::Expired as usize], st.expired);
    assert_eq!(reasons[EndReason::Reused as usize], st.reused);
});
