//! Expectations: endpoints announced by an endpoint mapper (or any other
//! control channel), waiting for the connection that uses them.

use hashbrown::HashMap;

use crate::decode::Addr;

/// An announced endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// Interface (or service) the endpoint was announced for.
    pub interface: String,
    /// Flow that carried the announcement.
    pub announced_by: u64,
    /// Capture time (ns) after which the expectation is forgotten.
    pub expires: i64,
    /// Connections that used it so far.
    pub used: u32,
}

/// Counters of the expectation table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpectStats {
    pub added: u64,
    pub matched: u64,
    pub expired: u64,
    /// Announcements dropped because the table was full.
    pub dropped: u64,
}

/// Bounded table of expectations keyed by (server address, port, protocol).
#[derive(Debug)]
pub struct ExpectTable {
    map: HashMap<(Addr, u16, u8), Expectation>,
    cap: usize,
    /// How long an announcement stays valid, ns.
    ttl: i64,
    pub stats: ExpectStats,
}

impl ExpectTable {
    pub fn new(cap: usize, ttl_s: u32) -> ExpectTable {
        ExpectTable {
            map: HashMap::new(),
            cap,
            ttl: i64::from(ttl_s) * 1_000_000_000,
            stats: ExpectStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Records that `addr:port/proto` was announced for `interface` by flow
    /// `announced_by` at time `now`. A newer announcement replaces an older one.
    pub fn add(&mut self, addr: Addr, port: u16, proto: u8, interface: &str, announced_by: u64, now: i64) {
        if self.map.len() >= self.cap && !self.map.contains_key(&(addr, port, proto)) {
            self.expire(now);
            if self.map.len() >= self.cap {
                self.stats.dropped += 1;
                return;
            }
        }
        self.stats.added += 1;
        self.map.insert(
            (addr, port, proto),
            Expectation {
                interface: interface.to_string(),
                announced_by,
                expires: now.saturating_add(self.ttl),
                used: 0,
            },
        );
    }

    /// The expectation a new connection to `addr:port/proto` at `now` fulfils.
    pub fn take(&mut self, addr: &Addr, port: u16, proto: u8, now: i64) -> Option<Expectation> {
        let e = self.map.get_mut(&(*addr, port, proto))?;
        if e.expires < now {
            self.map.remove(&(*addr, port, proto));
            self.stats.expired += 1;
            return None;
        }
        e.used = e.used.saturating_add(1);
        self.stats.matched += 1;
        Some(e.clone())
    }

    /// Forgets expectations past their expiry.
    pub fn expire(&mut self, now: i64) {
        let before = self.map.len();
        self.map.retain(|_, e| e.expires >= now);
        self.stats.expired += (before - self.map.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{v4_addr, PROTO_TCP};

    const S: i64 = 1_000_000_000;

    #[test]
    fn announced_endpoint_is_recognised_until_it_expires() {
        let mut t = ExpectTable::new(16, 60);
        let dc = v4_addr([10, 1, 0, 20]);
        t.add(dc, 49667, PROTO_TCP, "netlogon", 7, 0);
        let e = t.take(&dc, 49667, PROTO_TCP, 5 * S).unwrap();
        assert_eq!((e.interface.as_str(), e.announced_by), ("netlogon", 7));
        assert!(t.take(&dc, 49668, PROTO_TCP, 5 * S).is_none());
        assert!(t.take(&dc, 49667, PROTO_TCP, 61 * S).is_none());
        assert_eq!(t.stats.expired, 1);
    }

    #[test]
    fn table_is_bounded_and_counts_drops() {
        let mut t = ExpectTable::new(2, 60);
        for p in 0..5u16 {
            t.add(v4_addr([10, 0, 0, 1]), 50000 + p, PROTO_TCP, "x", 1, 0);
        }
        assert_eq!(t.len(), 2);
        assert_eq!(t.stats.dropped, 3);
    }
}
