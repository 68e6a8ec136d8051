//! TCP connection tracking in Zeek's vocabulary: per-endpoint states, the
//! history string and the final `conn_state`.

use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};

/// What one endpoint of a TCP connection has done (Zeek's TCP endpoint states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointState {
    #[default]
    Inactive,
    /// Sent a SYN without ACK.
    SynSent,
    /// Sent a SYN with ACK.
    SynAckSent,
    /// Sent traffic without a SYN being seen (joined midstream).
    Partial,
    Established,
    /// Sent a FIN.
    Closed,
    /// Sent a RST.
    Reset,
}

/// Zeek's `conn_state` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnState {
    S0,
    S1,
    SF,
    REJ,
    S2,
    S3,
    RSTO,
    RSTR,
    RSTOS0,
    RSTRH,
    SH,
    SHR,
    OTH,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::S0 => "S0",
            ConnState::S1 => "S1",
            ConnState::SF => "SF",
            ConnState::REJ => "REJ",
            ConnState::S2 => "S2",
            ConnState::S3 => "S3",
            ConnState::RSTO => "RSTO",
            ConnState::RSTR => "RSTR",
            ConnState::RSTOS0 => "RSTOS0",
            ConnState::RSTRH => "RSTRH",
            ConnState::SH => "SH",
            ConnState::SHR => "SHR",
            ConnState::OTH => "OTH",
        }
    }
}

/// Zeek-style history: one letter per event kind per direction, in the order
/// first seen; upper case for the originator, lower case for the responder;
/// `^` when the originator was changed after the first packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    letters: [u8; 15],
    len: u8,
    seen: u16,
}

/// History events, each recorded once per direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Syn,
    SynAck,
    Ack,
    Data,
    Fin,
    Rst,
}

impl History {
    fn push(&mut self, bit: u16, letter: u8) {
        if self.seen & bit != 0 {
            return;
        }
        self.seen |= bit;
        if let Some(slot) = self.letters.get_mut(usize::from(self.len)) {
            *slot = letter;
            self.len = self.len.saturating_add(1);
        }
    }

    /// Records `ev` as sent by the originator (`orig = true`) or responder.
    pub fn record(&mut self, ev: Event, orig: bool) {
        let (i, l) = match ev {
            Event::Syn => (0u16, b'S'),
            Event::SynAck => (1, b'H'),
            Event::Ack => (2, b'A'),
            Event::Data => (3, b'D'),
            Event::Fin => (4, b'F'),
            Event::Rst => (5, b'R'),
        };
        let (bit, letter) = if orig {
            (1u16 << i, l)
        } else {
            (1u16 << (i + 6), l.to_ascii_lowercase())
        };
        self.push(bit, letter);
    }

    /// Marks that the originator was swapped: every letter recorded so far
    /// changes case and a `^` is prepended, as Zeek does.
    pub fn flip(&mut self) {
        let n = usize::from(self.len);
        for c in self.letters.iter_mut().take(n) {
            if c.is_ascii_uppercase() {
                *c = c.to_ascii_lowercase();
            } else if c.is_ascii_lowercase() {
                *c = c.to_ascii_uppercase();
            }
        }
        let lo = self.seen & 0x3f;
        let hi = (self.seen >> 6) & 0x3f;
        self.seen = (self.seen & !0xfff) | (lo << 6) | hi;
        if self.seen & (1 << 12) == 0 {
            self.seen |= 1 << 12;
            if n < self.letters.len() {
                self.letters.copy_within(0..n, 1);
                if let Some(first) = self.letters.first_mut() {
                    *first = b'^';
                }
                self.len = self.len.saturating_add(1);
            }
        }
    }

    /// Whether the originator was swapped.
    pub fn flipped(&self) -> bool {
        self.seen & (1 << 12) != 0
    }

    pub fn as_str(&self) -> &str {
        let n = usize::from(self.len);
        self.letters
            .get(..n)
            .and_then(|s| std::str::from_utf8(s).ok())
            .unwrap_or("")
    }
}

/// Per-connection TCP tracker. Sides are indexed `0` = originator, `1` = responder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpTrack {
    pub state: [EndpointState; 2],
    /// Whether each side sent any payload byte.
    pub sent_data: [bool; 2],
    pub history: History,
    /// Initial sequence number of the originator's SYN (0 when none seen).
    pub isn: u32,
}

impl TcpTrack {
    /// Updates the tracker with a segment sent by the originator (`orig`) or
    /// the responder, carrying `flags` and `payload_len` bytes.
    pub fn update(&mut self, orig: bool, flags: u8, seq: u32, payload_len: u32) {
        let (me, peer) = if orig { (0usize, 1usize) } else { (1, 0) };
        let syn = flags & SYN != 0;
        let ack = flags & ACK != 0;
        let fin = flags & FIN != 0;
        let rst = flags & RST != 0;
        let peer_state = self.state.get(peer).copied().unwrap_or_default();
        let mut my = self.state.get(me).copied().unwrap_or_default();

        if syn && !rst {
            if ack {
                self.history.record(Event::SynAck, orig);
                if matches!(my, EndpointState::Inactive | EndpointState::Partial) {
                    my = EndpointState::SynAckSent;
                }
            } else {
                self.history.record(Event::Syn, orig);
                if orig && self.isn == 0 {
                    self.isn = seq;
                }
                if matches!(my, EndpointState::Inactive | EndpointState::Partial) {
                    my = EndpointState::SynSent;
                }
            }
        } else if ack && !rst && !fin && payload_len == 0 {
            self.history.record(Event::Ack, orig);
        }
        let mut peer_new = peer_state;
        if !syn && !rst && ack {
            // The ACK that completes the handshake establishes both sides.
            let me_opening = matches!(my, EndpointState::SynSent | EndpointState::SynAckSent);
            let peer_opening = matches!(
                peer_state,
                EndpointState::SynSent | EndpointState::SynAckSent | EndpointState::Established
            );
            if me_opening && peer_opening {
                my = EndpointState::Established;
                if matches!(peer_state, EndpointState::SynSent | EndpointState::SynAckSent) {
                    peer_new = EndpointState::Established;
                }
            }
        }
        if payload_len > 0 {
            self.history.record(Event::Data, orig);
            if let Some(d) = self.sent_data.get_mut(me) {
                *d = true;
            }
        }
        if !syn && my == EndpointState::Inactive {
            my = EndpointState::Partial;
        }
        if fin && my != EndpointState::Reset {
            self.history.record(Event::Fin, orig);
            my = EndpointState::Closed;
        }
        if rst {
            self.history.record(Event::Rst, orig);
            my = EndpointState::Reset;
        }
        if let Some(s) = self.state.get_mut(me) {
            *s = my;
        }
        if let Some(s) = self.state.get_mut(peer) {
            *s = peer_new;
        }
    }

    /// Swaps originator and responder (the first packet seen was not the
    /// opening one).
    pub fn flip(&mut self) {
        self.state.swap(0, 1);
        self.sent_data.swap(0, 1);
        self.history.flip();
        self.isn = 0;
    }

    /// Whether the connection is over (both sides closed, or either reset).
    pub fn finished(&self) -> bool {
        let [o, r] = self.state;
        o == EndpointState::Reset
            || r == EndpointState::Reset
            || (o == EndpointState::Closed && r == EndpointState::Closed)
    }

    /// Zeek's conn_state for this connection.
    pub fn conn_state(&self) -> ConnState {
        use EndpointState as E;
        let [os, rs] = self.state;
        let o_inactive = matches!(os, E::Inactive | E::Partial);
        let r_inactive = matches!(rs, E::Inactive | E::Partial);
        if rs == E::Reset {
            if matches!(os, E::SynSent | E::SynAckSent)
                || (os == E::Reset && !self.sent_data[0] && !self.sent_data[1])
            {
                ConnState::REJ
            } else if o_inactive {
                ConnState::RSTRH
            } else {
                ConnState::RSTR
            }
        } else if os == E::Reset {
            if r_inactive {
                if self.syn_then_rst_only() {
                    ConnState::RSTOS0
                } else {
                    ConnState::OTH
                }
            } else {
                ConnState::RSTO
            }
        } else if rs == E::Closed && os == E::Closed {
            ConnState::SF
        } else if os == E::Closed {
            if r_inactive {
                ConnState::SH
            } else {
                ConnState::S2
            }
        } else if rs == E::Closed {
            if o_inactive {
                ConnState::SHR
            } else {
                ConnState::S3
            }
        } else if os == E::SynSent && rs == E::Inactive {
            ConnState::S0
        } else if os == E::Established && rs == E::Established {
            ConnState::S1
        } else {
            ConnState::OTH
        }
    }

    /// Zeek's `/\^?S[^HAFGIQ]*R.*/` test on the history.
    fn syn_then_rst_only(&self) -> bool {
        let h = self.history.as_str();
        let h = h.strip_prefix('^').unwrap_or(h);
        let Some(rest) = h.strip_prefix('S') else {
            return false;
        };
        for c in rest.chars() {
            match c {
                'R' => return true,
                'H' | 'A' | 'F' | 'G' | 'I' | 'Q' => return false,
                _ => {}
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::tcp_flags::PSH;

    const O: bool = true;
    const R: bool = false;

    fn run(segs: &[(bool, u8, u32)]) -> TcpTrack {
        let mut t = TcpTrack::default();
        for &(orig, flags, len) in segs {
            t.update(orig, flags, 1000, len);
        }
        t
    }

    fn handshake() -> Vec<(bool, u8, u32)> {
        vec![(O, SYN, 0), (R, SYN | ACK, 0), (O, ACK, 0)]
    }

    #[test]
    fn s0_syn_only_and_retransmitted_syn() {
        let t = run(&[(O, SYN, 0), (O, SYN, 0), (O, SYN, 0)]);
        assert_eq!(t.conn_state(), ConnState::S0);
        assert_eq!(t.history.as_str(), "S");
    }

    #[test]
    fn s1_established_open() {
        let mut s = handshake();
        s.push((O, PSH | ACK, 10));
        s.push((R, ACK, 0));
        let t = run(&s);
        assert_eq!(t.conn_state(), ConnState::S1);
        assert_eq!(t.history.as_str(), "ShADa");
    }

    #[test]
    fn sf_normal_close() {
        let mut s = handshake();
        s.extend([
            (O, PSH | ACK, 10),
            (R, PSH | ACK, 20),
            (O, FIN | ACK, 0),
            (R, FIN | ACK, 0),
            (O, ACK, 0),
        ]);
        let t = run(&s);
        assert_eq!(t.conn_state(), ConnState::SF);
        assert_eq!(t.history.as_str(), "ShADdFf");
        assert!(t.finished());
    }

    #[test]
    fn rej_reset_answer_to_syn() {
        let t = run(&[(O, SYN, 0), (R, RST | ACK, 0)]);
        assert_eq!(t.conn_state(), ConnState::REJ);
        assert_eq!(t.history.as_str(), "Sr");
    }

    #[test]
    fn s2_and_s3_half_closed() {
        let mut s = handshake();
        s.push((O, FIN | ACK, 0));
        assert_eq!(run(&s).conn_state(), ConnState::S2);
        let mut s = handshake();
        s.push((R, FIN | ACK, 0));
        assert_eq!(run(&s).conn_state(), ConnState::S3);
    }

    #[test]
    fn rsto_and_rstr_after_establishment() {
        let mut s = handshake();
        s.push((O, RST, 0));
        assert_eq!(run(&s).conn_state(), ConnState::RSTO);
        let mut s = handshake();
        s.push((O, PSH | ACK, 5));
        s.push((R, RST | ACK, 0));
        assert_eq!(run(&s).conn_state(), ConnState::RSTR);
    }

    #[test]
    fn rstos0_syn_then_reset_by_originator() {
        let t = run(&[(O, SYN, 0), (O, RST, 0)]);
        assert_eq!(t.conn_state(), ConnState::RSTOS0);
    }

    #[test]
    fn rstrh_and_shr_responder_without_syn() {
        let mut t = TcpTrack::default();
        t.update(R, SYN | ACK, 0, 0);
        t.update(R, RST, 0, 0);
        assert_eq!(t.conn_state(), ConnState::RSTRH);
        let mut t = TcpTrack::default();
        t.update(R, SYN | ACK, 0, 0);
        t.update(R, FIN | ACK, 0, 0);
        assert_eq!(t.conn_state(), ConnState::SHR);
    }

    #[test]
    fn sh_syn_then_fin() {
        let t = run(&[(O, SYN, 0), (O, FIN, 0)]);
        assert_eq!(t.conn_state(), ConnState::SH);
    }

    #[test]
    fn oth_midstream() {
        let t = run(&[(O, PSH | ACK, 100), (R, ACK, 0)]);
        assert_eq!(t.conn_state(), ConnState::OTH);
        assert_eq!(t.history.as_str(), "Da");
    }

    #[test]
    fn flip_swaps_case_and_marks() {
        let mut t = TcpTrack::default();
        t.update(O, SYN | ACK, 0, 0);
        t.flip();
        t.update(O, ACK, 0, 0);
        assert_eq!(t.history.as_str(), "^hA");
        assert!(t.history.flipped());
    }
}
