//! Writes small synthetic captures (Ethernet, IPv4, TCP) for tests where no
//! real program can make the traffic (e.g. a firewall masking SMTP banners),
//! or where one flow per rule is needed. Lengths and flags are real; checksums
//! are zero (exaudit, like most analysers, does not verify them).
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::path::Path;

pub struct Pcap {
    buf: Vec<u8>,
    ts_us: u64,
    next_port: u16,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;

impl Default for Pcap {
    fn default() -> Self {
        Self::new()
    }
}

impl Pcap {
    pub fn new() -> Pcap {
        let mut buf = Vec::new();
        for x in [
            0xa1b2c3d4u32.to_le_bytes().as_slice(),
            &2u16.to_le_bytes(),
            &4u16.to_le_bytes(),
        ] {
            buf.extend_from_slice(x);
        }
        buf.extend_from_slice(&[0u8; 8]);
        buf.extend_from_slice(&65535u32.to_le_bytes());
        buf.extend_from_slice(&1u32.to_le_bytes());
        Pcap {
            buf,
            ts_us: 1_700_000_000_000_000,
            next_port: 40000,
        }
    }

    fn record(&mut self, frame: &[u8]) {
        self.ts_us += 1000;
        let (s, us) = ((self.ts_us / 1_000_000) as u32, (self.ts_us % 1_000_000) as u32);
        for v in [s, us, frame.len() as u32, frame.len() as u32] {
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.buf.extend_from_slice(frame);
    }

    /// Advances the clock (seconds).
    pub fn wait(&mut self, secs: u64) {
        self.ts_us += secs * 1_000_000;
    }

    #[allow(clippy::too_many_arguments)]
    pub fn tcp(
        &mut self,
        src: Ipv4Addr,
        sport: u16,
        dst: Ipv4Addr,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        payload: &[u8],
    ) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 20 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&seq.to_be_bytes());
        f.extend_from_slice(&ack.to_be_bytes());
        f.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        f.extend_from_slice(payload);
        self.record(&f);
    }

    pub fn udp(&mut self, src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16, payload: &[u8]) {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total = (20 + 8 + payload.len()) as u16;
        f.extend_from_slice(&[
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            17,
            0,
            0,
        ]);
        f.extend_from_slice(&src.octets());
        f.extend_from_slice(&dst.octets());
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        f.extend_from_slice(&[0, 0]);
        f.extend_from_slice(payload);
        self.record(&f);
    }

    fn port(&mut self) -> u16 {
        self.next_port = self.next_port.wrapping_add(1).max(40000);
        self.next_port
    }

    /// A whole TCP conversation: handshake, the exchanges (client first, then
    /// server answers, in order), and a FIN close from both sides.
    pub fn conversation(
        &mut self,
        client: Ipv4Addr,
        server: Ipv4Addr,
        port: u16,
        exchanges: &[(&[u8], &[u8])],
    ) {
        let cp = self.port();
        let (mut cs, mut ss) = (1000u32, 5000u32);
        self.tcp(client, cp, server, port, SYN, cs, 0, b"");
        self.tcp(server, port, client, cp, SYN | ACK, ss, cs + 1, b"");
        cs += 1;
        ss += 1;
        self.tcp(client, cp, server, port, ACK, cs, ss, b"");
        for (c2s, s2c) in exchanges {
            if !s2c.is_empty() && c2s.is_empty() {
                self.tcp(server, port, client, cp, PSH | ACK, ss, cs, s2c);
                ss += s2c.len() as u32;
                continue;
            }
            if !c2s.is_empty() {
                self.tcp(client, cp, server, port, PSH | ACK, cs, ss, c2s);
                cs += c2s.len() as u32;
            }
            if !s2c.is_empty() {
                self.tcp(server, port, client, cp, PSH | ACK, ss, cs, s2c);
                ss += s2c.len() as u32;
            }
        }
        self.tcp(client, cp, server, port, FIN | ACK, cs, ss, b"");
        self.tcp(server, port, client, cp, FIN | ACK, ss, cs + 1, b"");
        self.tcp(client, cp, server, port, ACK, cs + 1, ss + 1, b"");
    }

    /// A connection attempt that is never answered (S0).
    pub fn unanswered(&mut self, client: Ipv4Addr, server: Ipv4Addr, port: u16) {
        let cp = self.port();
        for _ in 0..3 {
            self.tcp(client, cp, server, port, SYN, 77, 0, b"");
        }
    }

    /// A connection attempt answered by a reset (REJ).
    pub fn rejected(&mut self, client: Ipv4Addr, server: Ipv4Addr, port: u16) {
        let cp = self.port();
        self.tcp(client, cp, server, port, SYN, 77, 0, b"");
        self.tcp(server, port, client, cp, RST | ACK, 0, 78, b"");
    }

    /// A UDP request and its answer.
    pub fn udp_exchange(&mut self, client: Ipv4Addr, server: Ipv4Addr, port: u16, req: &[u8], resp: &[u8]) {
        let cp = self.port();
        self.udp(client, cp, server, port, req);
        self.udp(server, port, client, cp, resp);
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.buf).expect("write synthetic capture");
    }
}

/// The TCP payloads of the first connection to `port` in a classic pcap with
/// Ethernet framing, in order, each with whether the client sent it.
pub fn tcp_payloads(path: &Path, port: u16) -> Vec<(bool, Vec<u8>)> {
    let data = std::fs::read(path).expect("read capture");
    let mut out = Vec::new();
    let mut off = 24;
    let mut client_port = None;
    while off + 16 <= data.len() {
        let caplen = u32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = &data[off + 16..off + 16 + caplen];
        off += 16 + caplen;
        if frame.len() < 54 || frame[12..14] != [0x08, 0x00] || frame[23] != 6 {
            continue;
        }
        let ihl = ((frame[14] & 0x0f) as usize) * 4;
        let total = u16::from_be_bytes([frame[16], frame[17]]) as usize;
        let tcp = &frame[14 + ihl..14 + total];
        let (sp, dp) = (
            u16::from_be_bytes([tcp[0], tcp[1]]),
            u16::from_be_bytes([tcp[2], tcp[3]]),
        );
        let doff = ((tcp[12] >> 4) as usize) * 4;
        let flags = tcp[13];
        if dp == port && flags & SYN != 0 && flags & ACK == 0 && client_port.is_none() {
            client_port = Some(sp);
        }
        let Some(cp) = client_port else { continue };
        let from_client = sp == cp && dp == port;
        if !(from_client || (sp == port && dp == cp)) {
            continue;
        }
        let payload = &tcp[doff..];
        if !payload.is_empty() {
            out.push((from_client, payload.to_vec()));
        }
        if flags & FIN != 0 {
            break;
        }
    }
    out
}

impl Pcap {
    /// A TCP conversation replaying `segments` (client-sent when true).
    pub fn replay(&mut self, client: Ipv4Addr, server: Ipv4Addr, port: u16, segments: &[(bool, Vec<u8>)]) {
        let ex: Vec<(&[u8], &[u8])> = segments
            .iter()
            .map(|(c, p)| {
                if *c {
                    (p.as_slice(), &b""[..])
                } else {
                    (&b""[..], p.as_slice())
                }
            })
            .collect();
        self.conversation(client, server, port, &ex);
    }
}
