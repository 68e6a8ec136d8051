//! Canonical bidirectional flow keys.

use crate::decode::{Addr, Tuple};

/// A flow's 5-tuple in canonical order: `(a, pa) <= (b, pb)`, so both
/// directions of a conversation map to the same key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowKey {
    pub a: Addr,
    pub b: Addr,
    pub pa: u16,
    pub pb: u16,
    pub proto: u8,
}

impl FlowKey {
    /// Canonical key of a packet's tuple, and whether the packet was sent by
    /// side `a`.
    #[inline]
    pub fn from_tuple(t: &Tuple) -> (FlowKey, bool) {
        if (t.src, t.sport) <= (t.dst, t.dport) {
            (
                FlowKey {
                    a: t.src,
                    b: t.dst,
                    pa: t.sport,
                    pb: t.dport,
                    proto: t.proto,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    a: t.dst,
                    b: t.src,
                    pa: t.dport,
                    pb: t.sport,
                    proto: t.proto,
                },
                false,
            )
        }
    }

    /// Address and port of one side (`true` = side a).
    #[inline]
    pub fn side(&self, a: bool) -> (Addr, u16) {
        if a {
            (self.a, self.pa)
        } else {
            (self.b, self.pb)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{v4_addr, PROTO_TCP};

    #[test]
    fn both_directions_share_one_key() {
        let fwd = Tuple {
            src: v4_addr([10, 0, 0, 2]),
            dst: v4_addr([10, 0, 0, 1]),
            proto: PROTO_TCP,
            sport: 50000,
            dport: 25,
        };
        let rev = Tuple {
            src: fwd.dst,
            dst: fwd.src,
            proto: PROTO_TCP,
            sport: 25,
            dport: 50000,
        };
        let (k1, a1) = FlowKey::from_tuple(&fwd);
        let (k2, a2) = FlowKey::from_tuple(&rev);
        assert_eq!(k1, k2);
        assert_ne!(a1, a2);
        assert_eq!(k1.side(a1), (fwd.src, 50000));
    }

    #[test]
    fn same_host_both_ends_orders_by_port() {
        let t = Tuple {
            src: v4_addr([127, 0, 0, 1]),
            dst: v4_addr([127, 0, 0, 1]),
            proto: PROTO_TCP,
            sport: 40000,
            dport: 80,
        };
        let (k, from_a) = FlowKey::from_tuple(&t);
        assert_eq!((k.pa, k.pb), (80, 40000));
        assert!(!from_a);
    }
}
