//! Bounded in-order reassembly of the first bytes of one direction of a TCP
//! stream, so inspectors see the bytes as the application did even when the
//! start of the stream was retransmitted or arrived out of order.

/// The first bytes of both directions of a flow, while it is inspected.
#[derive(Debug, Clone, Default)]
pub struct Inspection {
    /// Client to server.
    pub c2s: StreamBuf,
    /// Server to client.
    pub s2c: StreamBuf,
    /// Payload bytes the incremental inspectors have already looked at, per direction.
    pub seen: [usize; 2],
    /// Bytes kept per direction for this flow when larger than the default
    /// (0: the default), e.g. for endpoint-mapper answers that span several
    /// fragments. Bounded by the capture side's per-flow copy budget.
    pub cap: usize,
    /// The flow's direction is a guess ([`crate::flow::Direction::Guessed`]):
    /// the inspectors may read the streams the other way round.
    pub guessed: bool,
}

impl Inspection {
    /// The bytes kept per direction: this flow's cap, else `default`.
    pub fn cap_or(&self, default: usize) -> usize {
        if self.cap > 0 {
            self.cap
        } else {
            default
        }
    }
}

/// Out-of-order segments kept while waiting for a gap to fill.
const MAX_PENDING: usize = 8;

/// The first `cap` bytes of one direction, in sequence order.
#[derive(Debug, Clone, Default)]
pub struct StreamBuf {
    /// Sequence number of `data[0]`, once known.
    base: Option<u32>,
    pub data: Vec<u8>,
    pending: Vec<(u32, Vec<u8>)>,
    /// A gap that never filled (segments missing from the capture).
    pub gap: bool,
}

impl StreamBuf {
    /// Whether `cap` bytes have been collected (or a gap stopped collection).
    pub fn done(&self, cap: usize) -> bool {
        self.data.len() >= cap || (self.gap && self.pending.is_empty())
    }

    /// Nothing was collected (no bytes, none waiting for a gap to fill).
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.pending.is_empty()
    }

    /// Sets the stream start from a SYN's sequence number.
    pub fn syn(&mut self, seq: u32) {
        if self.base.is_none() && self.data.is_empty() {
            self.base = Some(seq.wrapping_add(1));
        }
    }

    /// Adds a TCP segment whose first payload byte has sequence number `seq`.
    pub fn segment(&mut self, seq: u32, payload: &[u8], cap: usize) {
        if payload.is_empty() || self.data.len() >= cap {
            return;
        }
        let base = *self.base.get_or_insert(seq);
        let off = seq.wrapping_sub(base);
        if off >= 1 << 31 {
            // Starts before the stream start: keep the part after it.
            let skip = base.wrapping_sub(seq) as usize;
            if skip < payload.len() {
                self.segment(base, payload.get(skip..).unwrap_or_default(), cap);
            }
            return;
        }
        let off = off as usize;
        let have = self.data.len();
        if off > have {
            if off < cap && self.pending.len() < MAX_PENDING {
                let keep = payload.len().min(cap - off);
                self.pending
                    .push((seq, payload.get(..keep).unwrap_or_default().to_vec()));
            } else {
                self.gap = true;
            }
            return;
        }
        let start = have - off;
        if let Some(new) = payload.get(start..) {
            let room = cap - have;
            if self.data.capacity() < cap && self.data.len() + new.len() > self.data.capacity() {
                // One allocation per cap: the whole cap at once (pages are
                // only resident once written), not a doubling series of
                // reallocations and copies.
                self.data.reserve_exact(cap - self.data.len());
            }
            self.data
                .extend_from_slice(new.get(..new.len().min(room)).unwrap_or_default());
        }
        // Segments that became contiguous.
        while let Some(i) = self
            .pending
            .iter()
            .position(|(s, _)| (s.wrapping_sub(base) as usize) <= self.data.len())
        {
            let (s, bytes) = self.pending.swap_remove(i);
            self.segment(s, &bytes, cap);
        }
    }

    /// Adds a datagram (UDP): appended whole, up to the cap.
    pub fn datagram(&mut self, payload: &[u8], cap: usize) {
        let room = cap.saturating_sub(self.data.len());
        self.data
            .extend_from_slice(payload.get(..payload.len().min(room)).unwrap_or_default());
    }

    /// Gives up on missing segments: what is pending is dropped.
    pub fn close(&mut self) {
        if !self.pending.is_empty() {
            self.gap = true;
            self.pending.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_segments_concatenate() {
        let mut s = StreamBuf::default();
        s.syn(999);
        s.segment(1000, b"EHLO ", 4096);
        s.segment(1005, b"client\r\n", 4096);
        assert_eq!(s.data, b"EHLO client\r\n");
    }

    #[test]
    fn retransmission_and_overlap_are_not_duplicated() {
        let mut s = StreamBuf::default();
        s.segment(1000, b"HELLO", 4096);
        s.segment(1000, b"HELLO", 4096);
        s.segment(1003, b"LO WORLD", 4096);
        assert_eq!(s.data, b"HELLO WORLD");
    }

    #[test]
    fn out_of_order_segment_waits_for_the_gap() {
        let mut s = StreamBuf::default();
        s.syn(0);
        s.segment(6, b"world", 4096);
        assert!(s.data.is_empty());
        s.segment(1, b"hello", 4096);
        assert_eq!(s.data, b"helloworld");
        assert!(!s.gap);
    }

    #[test]
    fn cap_bounds_the_buffer() {
        let mut s = StreamBuf::default();
        s.segment(0, &[b'x'; 3000], 4096);
        s.segment(3000, &[b'y'; 3000], 4096);
        assert_eq!(s.data.len(), 4096);
        assert!(s.done(4096));
    }

    #[test]
    fn sequence_wraparound() {
        let mut s = StreamBuf::default();
        s.syn(u32::MAX - 2);
        s.segment(u32::MAX - 1, b"ab", 4096);
        s.segment(0, b"cd", 4096);
        assert_eq!(s.data, b"abcd");
    }

    #[test]
    fn unfilled_gap_is_reported() {
        let mut s = StreamBuf::default();
        s.syn(0);
        s.segment(100, b"late", 4096);
        s.close();
        assert!(s.gap);
        assert!(s.done(4096));
    }
}
