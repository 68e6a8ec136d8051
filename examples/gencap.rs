//! Writes a synthetic, deterministic Exchange traffic capture for the
//! throughput benchmark (`scripts/bench.sh`).
//!
//! ```text
//! cargo run --release --example gencap -- -o OUT.pcap [--flows N] [--seed S]
//!     [--duration SECS] [--syn-flood M]
//! ```
//!
//! The file is a classic pcap (Ethernet, microsecond timestamps). Flows arrive
//! as a Poisson process over `--duration` simulated seconds and are driven by an
//! event queue, so thousands are open at once and their packets interleave.
//! Every TCP flow has a real handshake, sequence/acknowledgement numbers that
//! add up, and (except the S0/REJ noise) a FIN teardown. IPv4, TCP and UDP
//! checksums are correct.
//!
//! The mix (share of flow arrivals):
//! - HTTPS 443 (TLS 1.2 ClientHello with SNI mail./autodiscover.contoso.com,
//!   ServerHello, application-data records; a quarter are long-poll
//!   sessions held open for minutes), 26%
//! - SMTP 25 (Exchange banner, EHLO, 250-STARTTLS, STARTTLS, TLS records;
//!   one in ten stays in clear text), 8%
//! - DCE/RPC: TCP 135 bind to the endpoint mapper, ept_map (opnum 3) whose
//!   answer tower names TCP port P and an IP, then a connection to P binding
//!   EMSMDB with request/response traffic over minutes, 4% (two flows each)
//! - LDAP 389 (simple bind, search, unbind), 9%
//! - Kerberos 88 over TCP 3% and UDP 5%
//! - DNS over UDP 53, 30%
//! - noise: random high-port UDP 9%, SYN-only (S0) 4%, refused (REJ) 2%
//!
//! With `--syn-flood M` the file holds only M SYNs from random sources to
//! 10.1.0.11:25.
//!
//! Addresses are documentation/private ranges; nothing is sent anywhere.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::Instant;

// ---------------------------------------------------------------- randomness

/// xorshift64* — tiny, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 the seed so that small seeds give unrelated streams
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        Rng(if z == 0 { 1 } else { z })
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn u32(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + ((self.next() >> 11) % (hi - lo + 1))
    }
    fn f64(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }
    /// Exponentially distributed with the given mean.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[(self.next() >> 11) as usize % v.len()]
    }
}

// ---------------------------------------------------------------- addresses

const MAILBOX: [[u8; 4]; 2] = [[10, 1, 0, 11], [10, 1, 0, 12]];
const DC: [u8; 4] = [10, 1, 0, 20];
const EDGE: [u8; 4] = [203, 0, 113, 10];

fn internal_client(r: &mut Rng) -> [u8; 4] {
    if r.chance(0.85) {
        [10, 2, r.range(0, 255) as u8, r.range(1, 254) as u8]
    } else {
        [10, 1, r.range(1, 255) as u8, r.range(1, 254) as u8]
    }
}

fn internet_host(r: &mut Rng) -> [u8; 4] {
    if r.chance(0.4) {
        [198, 51, 100, r.range(1, 254) as u8]
    } else {
        // 100.64.0.0/10
        let v = 0x6440_0000u32 | (r.u32() & 0x003f_ffff);
        let b = v.to_be_bytes();
        if b[3] == 0 || b[3] == 255 {
            [b[0], b[1], b[2], 7]
        } else {
            b
        }
    }
}

fn ephemeral(r: &mut Rng) -> u16 {
    r.range(49152, 65535) as u16
}

fn mac_of(ip: [u8; 4]) -> [u8; 6] {
    if ip[0] == 10 {
        [0x02, 0x00, ip[0], ip[1], ip[2], ip[3]]
    } else {
        // everything outside goes through the perimeter router
        [0x02, 0x00, 0xfe, 0xed, 0x00, 0x01]
    }
}

// ---------------------------------------------------------------- scripts

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const MSS: usize = 1460;

#[derive(Clone, Copy)]
enum Payload {
    Empty,
    /// Bytes in the flow's arena.
    Arena {
        start: u32,
        len: u32,
    },
    /// Opaque bytes.
    Random {
        len: u16,
    },
    /// One TLS application-data record filling `len` bytes (header included).
    TlsApp {
        len: u16,
    },
}

impl Payload {
    fn len(&self) -> usize {
        match *self {
            Payload::Empty => 0,
            Payload::Arena { len, .. } => len as usize,
            Payload::Random { len } | Payload::TlsApp { len } => len as usize,
        }
    }
}

#[derive(Clone, Copy)]
struct Step {
    /// Nanoseconds after the flow's previous packet.
    gap: u64,
    c2s: bool,
    flags: u8,
    payload: Payload,
}

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Tcp,
    Udp,
}

struct Flow {
    proto: Proto,
    client: [u8; 4],
    server: [u8; 4],
    cport: u16,
    sport: u16,
    ttl_c: u8,
    ttl_s: u8,
    c_isn: u32,
    s_isn: u32,
    c_next: u32,
    s_next: u32,
    c_ipid: u16,
    s_ipid: u16,
    steps: Vec<Step>,
    arena: Vec<u8>,
    idx: usize,
    /// After this flow ends, open an EMSMDB connection: (client, server, port).
    then_emsmdb: Option<([u8; 4], [u8; 4], u16)>,
}

/// Builds one flow's packet script.
struct Sb<'r> {
    r: &'r mut Rng,
    steps: Vec<Step>,
    arena: Vec<u8>,
    /// One-way delay, ns.
    owd: u64,
}

impl<'r> Sb<'r> {
    fn new(r: &'r mut Rng, internet: bool) -> Sb<'r> {
        let owd = if internet {
            r.range(8_000_000, 70_000_000)
        } else {
            r.range(100_000, 900_000)
        };
        Sb {
            r,
            steps: Vec::with_capacity(32),
            arena: Vec::new(),
            owd,
        }
    }
    fn push(&mut self, gap: u64, c2s: bool, flags: u8, payload: Payload) {
        self.steps.push(Step {
            gap,
            c2s,
            flags,
            payload,
        });
    }
    fn jitter(&mut self, ns: u64) -> u64 {
        ns + self.r.range(0, ns / 4 + 1)
    }
    fn owd(&mut self) -> u64 {
        let o = self.owd;
        self.jitter(o)
    }
    /// Serialisation gap between back-to-back segments.
    fn wire(&mut self) -> u64 {
        self.r.range(10_000, 40_000)
    }
    fn think(&mut self, mean_s: f64, cap_s: f64) -> u64 {
        (self.r.exp(mean_s).min(cap_s) * 1e9) as u64 + 1_000_000
    }
    fn server_time(&mut self) -> u64 {
        self.r.range(50_000, 8_000_000)
    }

    fn handshake(&mut self) {
        self.push(0, true, SYN, Payload::Empty);
        let g = self.owd() + self.r.range(20_000, 200_000);
        self.push(g, false, SYN | ACK, Payload::Empty);
        let g = self.owd();
        self.push(g, true, ACK, Payload::Empty);
    }

    /// Sends `bytes` (already in the arena or not) from one side, split into
    /// MSS segments; the receiver acks every second segment.
    fn send_bytes(&mut self, gap: u64, c2s: bool, bytes: &[u8]) {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        let mut off = 0;
        let mut first = true;
        let mut n = 0;
        while off < bytes.len() {
            let len = (bytes.len() - off).min(MSS);
            let last = off + len == bytes.len();
            let g = if first { gap } else { self.wire() };
            let flags = if last { PSH | ACK } else { ACK };
            self.push(
                g,
                c2s,
                flags,
                Payload::Arena {
                    start: (start + off) as u32,
                    len: len as u32,
                },
            );
            off += len;
            first = false;
            n += 1;
            if n % 2 == 0 && !last {
                let g = self.r.range(5_000, 30_000);
                self.push(g, !c2s, ACK, Payload::Empty);
            }
        }
    }

    /// Sends `total` bytes of TLS application data: one record per segment.
    fn send_tls(&mut self, gap: u64, c2s: bool, total: usize) {
        let mut left = total.max(30);
        let mut first = true;
        let mut n = 0;
        while left > 0 {
            let len = left.min(MSS);
            let len = len.max(24);
            left -= len.min(left);
            let g = if first { gap } else { self.wire() };
            let flags = if left == 0 { PSH | ACK } else { ACK };
            self.push(g, c2s, flags, Payload::TlsApp { len: len as u16 });
            first = false;
            n += 1;
            if n % 2 == 0 && left > 0 {
                let g = self.r.range(5_000, 30_000);
                self.push(g, !c2s, ACK, Payload::Empty);
            }
        }
    }

    /// Pure ACK from the receiver of the last data segment (delayed ACK).
    fn ack(&mut self, c2s: bool) {
        let g = self.owd() + self.r.range(0, 40_000_000);
        self.push(g, c2s, ACK, Payload::Empty);
    }

    /// FIN from `c2s` side, FIN from the other, final ACK.
    fn close(&mut self, gap: u64, c2s: bool) {
        self.push(gap, c2s, FIN | ACK, Payload::Empty);
        let g = self.owd() + self.r.range(10_000, 300_000);
        self.push(g, !c2s, FIN | ACK, Payload::Empty);
        let g = self.owd();
        self.push(g, c2s, ACK, Payload::Empty);
    }

    fn udp(&mut self, gap: u64, c2s: bool, bytes: &[u8]) {
        let start = self.arena.len() as u32;
        self.arena.extend_from_slice(bytes);
        self.push(
            gap,
            c2s,
            0,
            Payload::Arena {
                start,
                len: bytes.len() as u32,
            },
        );
    }

    fn random_bytes(&mut self, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8);
        while v.len() < n {
            v.extend_from_slice(&self.r.next().to_le_bytes());
        }
        v.truncate(n);
        v
    }
}

// ---------------------------------------------------------------- payloads

fn be16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_be_bytes());
}
fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// A TLS 1.2 ClientHello record with SNI (and ALPN h2/http/1.1 when `alpn`).
fn client_hello(r: &mut Rng, sni: &str, alpn: bool) -> Vec<u8> {
    let mut body = Vec::with_capacity(256);
    body.extend_from_slice(&[0x03, 0x03]);
    for _ in 0..4 {
        body.extend_from_slice(&r.next().to_le_bytes());
    }
    body.push(32);
    for _ in 0..4 {
        body.extend_from_slice(&r.next().to_le_bytes());
    }
    let suites: [u16; 20] = [
        0xc02c, 0xc02b, 0xc030, 0xc02f, 0x009f, 0x009e, 0xc024, 0xc023, 0xc028, 0xc027, 0xc00a, 0xc009,
        0xc014, 0xc013, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035, 0x002f,
    ];
    be16(&mut body, (suites.len() * 2) as u16);
    for s in suites {
        be16(&mut body, s);
    }
    body.extend_from_slice(&[0x01, 0x00]);
    let mut ext = Vec::with_capacity(128);
    // server_name
    let name = sni.as_bytes();
    be16(&mut ext, 0x0000);
    be16(&mut ext, (name.len() + 5) as u16);
    be16(&mut ext, (name.len() + 3) as u16);
    ext.push(0);
    be16(&mut ext, name.len() as u16);
    ext.extend_from_slice(name);
    // status_request
    ext.extend_from_slice(&[0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00]);
    // supported_groups: x25519, secp256r1, secp384r1
    ext.extend_from_slice(&[
        0x00, 0x0a, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18,
    ]);
    // ec_point_formats
    ext.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    // signature_algorithms
    let sigs: [u16; 8] = [0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0201, 0x0403, 0x0503];
    be16(&mut ext, 0x000d);
    be16(&mut ext, (sigs.len() * 2 + 2) as u16);
    be16(&mut ext, (sigs.len() * 2) as u16);
    for s in sigs {
        be16(&mut ext, s);
    }
    // session_ticket, extended_master_secret, renegotiation_info
    ext.extend_from_slice(&[0x00, 0x23, 0x00, 0x00]);
    ext.extend_from_slice(&[0x00, 0x17, 0x00, 0x00]);
    ext.extend_from_slice(&[0xff, 0x01, 0x00, 0x01, 0x00]);
    if alpn {
        ext.extend_from_slice(&[0x00, 0x10, 0x00, 0x0e, 0x00, 0x0c, 2, b'h', b'2', 8]);
        ext.extend_from_slice(b"http/1.1");
    }
    be16(&mut body, ext.len() as u16);
    body.extend_from_slice(&ext);
    handshake_record(0x0301, 1, &body)
}

fn handshake_record(version: u16, msg: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 9);
    out.push(0x16);
    be16(&mut out, version);
    be16(&mut out, (body.len() + 4) as u16);
    out.push(msg);
    let l = body.len() as u32;
    out.extend_from_slice(&l.to_be_bytes()[1..]);
    out.extend_from_slice(body);
    out
}

/// ServerHello + ServerHelloDone (TLS 1.2, ECDHE-RSA-AES256-GCM-SHA384).
fn server_hello(r: &mut Rng) -> Vec<u8> {
    let mut body = Vec::with_capacity(96);
    body.extend_from_slice(&[0x03, 0x03]);
    for _ in 0..4 {
        body.extend_from_slice(&r.next().to_le_bytes());
    }
    body.push(32);
    for _ in 0..4 {
        body.extend_from_slice(&r.next().to_le_bytes());
    }
    be16(&mut body, 0xc030);
    body.push(0);
    let ext: [u8; 13] = [
        0xff, 0x01, 0x00, 0x01, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00,
    ];
    // ec_point_formats with an empty body is not valid; give it one format
    let mut e = ext[..9].to_vec();
    e.extend_from_slice(&[0x00, 0x0b, 0x00, 0x02, 0x01, 0x00]);
    be16(&mut body, e.len() as u16);
    body.extend_from_slice(&e);
    let mut out = handshake_record(0x0303, 2, &body);
    out.extend_from_slice(&handshake_record(0x0303, 14, &[]));
    out
}

/// ClientKeyExchange + ChangeCipherSpec + encrypted Finished.
fn client_finish(r: &mut Rng) -> Vec<u8> {
    let mut ckx = vec![65u8, 0x04];
    while ckx.len() < 66 {
        ckx.push(r.next() as u8);
    }
    let mut out = handshake_record(0x0303, 16, &ckx);
    out.extend_from_slice(&[0x14, 0x03, 0x03, 0x00, 0x01, 0x01]);
    out.extend_from_slice(&[0x16, 0x03, 0x03, 0x00, 0x28]);
    for _ in 0..5 {
        out.extend_from_slice(&r.next().to_le_bytes());
    }
    out
}

/// ChangeCipherSpec + encrypted Finished.
fn server_finish(r: &mut Rng) -> Vec<u8> {
    let mut out = vec![0x14, 0x03, 0x03, 0x00, 0x01, 0x01, 0x16, 0x03, 0x03, 0x00, 0x28];
    for _ in 0..5 {
        out.extend_from_slice(&r.next().to_le_bytes());
    }
    out
}

/// TLS 1.2 handshake over an established connection, client first.
fn tls_handshake(b: &mut Sb, gap: u64, sni: &str, alpn: bool) {
    let ch = client_hello(b.r, sni, alpn);
    b.send_bytes(gap, true, &ch);
    let sh = server_hello(b.r);
    let g = b.owd() + b.server_time();
    b.send_bytes(g, false, &sh);
    let cf = client_finish(b.r);
    let g = b.owd() + b.r.range(100_000, 2_000_000);
    b.send_bytes(g, true, &cf);
    let sf = server_finish(b.r);
    let g = b.owd() + b.r.range(100_000, 2_000_000);
    b.send_bytes(g, false, &sf);
}

fn https(b: &mut Sb) {
    let sni = if b.r.chance(0.2) {
        "autodiscover.contoso.com"
    } else {
        "mail.contoso.com"
    };
    b.handshake();
    let g = b.r.range(10_000, 200_000);
    tls_handshake(b, g, sni, true);
    // One in four is a long-poll session (ActiveSync Ping, MAPI/HTTP
    // NotificationWait): the server holds each request up to minutes.
    let long_poll = b.r.chance(0.25);
    let exchanges = if long_poll {
        b.r.range(4, 15)
    } else {
        b.r.range(1, 5)
    };
    for i in 0..exchanges {
        let g = if i == 0 || long_poll {
            b.owd()
        } else {
            b.think(15.0, 200.0)
        };
        let req = b.r.range(200, 1800) as usize;
        b.send_tls(g, true, req);
        let resp = if b.r.chance(0.15) {
            b.r.range(2000, 10000)
        } else {
            b.r.range(150, 1400)
        } as usize;
        let hold = if long_poll {
            b.think(60.0, 240.0)
        } else {
            b.server_time()
        };
        let g = b.owd() + hold;
        b.send_tls(g, false, resp);
        b.ack(true);
    }
    let g = b.think(2.0, 30.0);
    let c = b.r.chance(0.7);
    b.close(g, c);
}

fn smtp(b: &mut Sb, server_name: &str, client_name: &str, client_ip: [u8; 4], plain: bool) {
    b.handshake();
    let g = b.owd() + b.server_time();
    let banner =
        format!("220 {server_name} Microsoft ESMTP MAIL Service ready at Mon, 2 Jun 2025 09:14:07 +0000\r\n");
    b.send_bytes(g, false, banner.as_bytes());
    let g = b.owd() + b.r.range(50_000, 2_000_000);
    b.send_bytes(g, true, format!("EHLO {client_name}\r\n").as_bytes());
    let ehlo = format!(
        "250-{server_name} Hello [{}.{}.{}.{}]\r\n250-SIZE 37748736\r\n250-PIPELINING\r\n250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-STARTTLS\r\n250-X-ANONYMOUSTLS\r\n250-AUTH NTLM\r\n250-X-EXPS GSSAPI NTLM\r\n250-8BITMIME\r\n250-BINARYMIME\r\n250-CHUNKING\r\n250 XRDST\r\n",
        client_ip[0], client_ip[1], client_ip[2], client_ip[3]
    );
    let g = b.owd() + b.server_time();
    b.send_bytes(g, false, ehlo.as_bytes());
    if plain {
        let msgs = b.r.range(1, 3);
        for _ in 0..msgs {
            let g = b.owd();
            b.send_bytes(g, true, b"MAIL FROM:<newsletter@example.org> SIZE=8412\r\n");
            let g = b.owd() + b.server_time();
            b.send_bytes(g, false, b"250 2.1.0 Sender OK\r\n");
            let g = b.owd();
            b.send_bytes(g, true, b"RCPT TO:<alice@contoso.com>\r\n");
            let g = b.owd() + b.server_time();
            b.send_bytes(g, false, b"250 2.1.5 Recipient OK\r\n");
            let g = b.owd();
            b.send_bytes(g, true, b"DATA\r\n");
            let g = b.owd() + b.server_time();
            b.send_bytes(g, false, b"354 Start mail input; end with <CRLF>.<CRLF>\r\n");
            let n = b.r.range(600, 9000) as usize;
            let mut msg = b"From: <newsletter@example.org>\r\nTo: <alice@contoso.com>\r\nSubject: Weekly digest\r\n\r\n".to_vec();
            while msg.len() < n {
                msg.extend_from_slice(b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n");
            }
            msg.extend_from_slice(b".\r\n");
            let g = b.owd();
            b.send_bytes(g, true, &msg);
            let g = b.owd() + b.server_time();
            b.send_bytes(
                g,
                false,
                b"250 2.6.0 <1a2b3c@example.org> Queued mail for delivery\r\n",
            );
        }
        let g = b.owd();
        b.send_bytes(g, true, b"QUIT\r\n");
        let g = b.owd() + b.server_time();
        b.send_bytes(g, false, b"221 2.0.0 Service closing transmission channel\r\n");
        let g = b.owd();
        b.close(g, false);
        return;
    }
    let g = b.owd();
    b.send_bytes(g, true, b"STARTTLS\r\n");
    let g = b.owd() + b.server_time();
    b.send_bytes(g, false, b"220 2.0.0 SMTP server ready\r\n");
    let g = b.owd();
    tls_handshake(b, g, server_name, false);
    // EHLO, MAIL, RCPT, DATA, message, QUIT: all inside TLS now
    let rounds = b.r.range(2, 4);
    for i in 0..rounds {
        let g = b.owd();
        let n = if i == rounds - 1 {
            b.r.range(1000, 8000)
        } else {
            b.r.range(30, 120)
        };
        b.send_tls(g, true, n as usize);
        let g = b.owd() + b.server_time();
        let n = b.r.range(30, 300) as usize;
        b.send_tls(g, false, n);
    }
    let g = b.owd();
    b.close(g, true);
}

// DCE/RPC

const EPM_UUID: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
const EMSMDB_UUID: &str = "a4f1db00-ca47-1067-b31f-00dd010662da";
const NDR_UUID: &str = "8a885d04-1ceb-11c9-9fe8-08002b104860";

/// A UUID in DCE/RPC little-endian wire order.
fn uuid_le(s: &str) -> [u8; 16] {
    let h: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'-')
        .collect::<Vec<u8>>()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect();
    let mut o = [0u8; 16];
    o[0] = h[3];
    o[1] = h[2];
    o[2] = h[1];
    o[3] = h[0];
    o[4] = h[5];
    o[5] = h[4];
    o[6] = h[7];
    o[7] = h[6];
    o[8..].copy_from_slice(&h[8..16]);
    o
}

fn rpc_header(ptype: u8, call_id: u32, body: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(16 + body.len());
    p.extend_from_slice(&[5, 0, ptype, 0x03, 0x10, 0, 0, 0]);
    le16(&mut p, (16 + body.len()) as u16);
    le16(&mut p, 0);
    le32(&mut p, call_id);
    p.extend_from_slice(body);
    p
}

fn rpc_bind(call_id: u32, iface: &str, major: u16, minor: u16) -> Vec<u8> {
    let mut b = Vec::with_capacity(56);
    le16(&mut b, 5840);
    le16(&mut b, 5840);
    le32(&mut b, 0);
    b.extend_from_slice(&[1, 0, 0, 0]);
    le16(&mut b, 0); // context id
    b.extend_from_slice(&[1, 0]);
    b.extend_from_slice(&uuid_le(iface));
    le16(&mut b, major);
    le16(&mut b, minor);
    b.extend_from_slice(&uuid_le(NDR_UUID));
    le32(&mut b, 2);
    rpc_header(11, call_id, &b)
}

fn rpc_bind_ack(call_id: u32, port: u16, assoc: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(64);
    le16(&mut b, 5840);
    le16(&mut b, 5840);
    le32(&mut b, assoc);
    let sec = format!("{port}\0");
    le16(&mut b, sec.len() as u16);
    b.extend_from_slice(sec.as_bytes());
    // pad to 4 bytes from the start of the PDU (16-byte header)
    while (16 + b.len()) % 4 != 0 {
        b.push(0);
    }
    b.extend_from_slice(&[1, 0, 0, 0]);
    le16(&mut b, 0); // acceptance
    le16(&mut b, 0);
    b.extend_from_slice(&uuid_le(NDR_UUID));
    le32(&mut b, 2);
    rpc_header(12, call_id, &b)
}

fn rpc_request(call_id: u32, opnum: u16, stub: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + stub.len());
    le32(&mut b, stub.len() as u32);
    le16(&mut b, 0);
    le16(&mut b, opnum);
    b.extend_from_slice(stub);
    rpc_header(0, call_id, &b)
}

fn rpc_response(call_id: u32, stub: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(8 + stub.len());
    le32(&mut b, stub.len() as u32);
    le16(&mut b, 0);
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(stub);
    rpc_header(2, call_id, &b)
}

/// An ncacn_ip_tcp protocol tower (5 floors).
fn tower(iface: &str, major: u16, minor: u16, port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut t = Vec::with_capacity(75);
    le16(&mut t, 5);
    for (u, maj, min) in [(iface, major, minor), (NDR_UUID, 2, 0)] {
        le16(&mut t, 19);
        t.push(0x0d);
        t.extend_from_slice(&uuid_le(u));
        le16(&mut t, maj);
        le16(&mut t, 2);
        le16(&mut t, min);
    }
    // RPC connection-oriented
    t.extend_from_slice(&[1, 0, 0x0b, 2, 0, 0, 0]);
    // TCP port (big-endian)
    t.extend_from_slice(&[1, 0, 0x07, 2, 0]);
    be16(&mut t, port);
    // IP address
    t.extend_from_slice(&[1, 0, 0x09, 4, 0]);
    t.extend_from_slice(&ip);
    t
}

fn push_tower(stub: &mut Vec<u8>, t: &[u8]) {
    le32(stub, t.len() as u32);
    le32(stub, t.len() as u32);
    stub.extend_from_slice(t);
    while stub.len() % 4 != 0 {
        stub.push(0);
    }
}

fn ept_map_request(call_id: u32) -> Vec<u8> {
    let mut s = Vec::with_capacity(128);
    le32(&mut s, 1); // object: referent
    s.extend_from_slice(&[0u8; 16]);
    le32(&mut s, 2); // map_tower: referent
    push_tower(&mut s, &tower(EMSMDB_UUID, 0, 81, 0, [0, 0, 0, 0]));
    s.extend_from_slice(&[0u8; 20]); // entry handle
    le32(&mut s, 4); // max towers
    rpc_request(call_id, 3, &s)
}

fn ept_map_response(call_id: u32, port: u16, ip: [u8; 4]) -> Vec<u8> {
    let mut s = Vec::with_capacity(160);
    s.extend_from_slice(&[0u8; 20]); // entry handle
    le32(&mut s, 1); // num towers
    le32(&mut s, 4); // max count
    le32(&mut s, 0); // offset
    le32(&mut s, 1); // actual count
    le32(&mut s, 3); // referent of tower 1
    push_tower(&mut s, &tower(EMSMDB_UUID, 0, 81, port, ip));
    le32(&mut s, 0); // status
    rpc_response(call_id, &s)
}

fn epm(b: &mut Sb, server: [u8; 4], port: u16) {
    b.handshake();
    let g = b.r.range(10_000, 300_000);
    b.send_bytes(g, true, &rpc_bind(1, EPM_UUID, 3, 0));
    let g = b.owd() + b.server_time();
    let assoc = b.r.u32() & 0xffff;
    b.send_bytes(g, false, &rpc_bind_ack(1, 135, assoc));
    let g = b.owd();
    b.send_bytes(g, true, &ept_map_request(2));
    let g = b.owd() + b.server_time();
    b.send_bytes(g, false, &ept_map_response(2, port, server));
    let g = b.owd() + b.r.range(100_000, 5_000_000);
    b.close(g, true);
}

fn emsmdb(b: &mut Sb, port: u16) {
    b.handshake();
    let g = b.r.range(10_000, 300_000);
    b.send_bytes(g, true, &rpc_bind(1, EMSMDB_UUID, 0, 81));
    let g = b.owd() + b.server_time();
    let assoc = b.r.u32() & 0xffff;
    b.send_bytes(g, false, &rpc_bind_ack(1, port, assoc));
    // EcDoConnectEx (10), then EcDoRpcExt2 (11) calls with think time
    let calls = b.r.range(3, 12) as u32;
    for call in 0..calls {
        let opnum = if call == 0 { 10 } else { 11 };
        let g = if call == 0 { b.owd() } else { b.think(60.0, 240.0) };
        let n = b.r.range(60, 900) as usize;
        let stub = b.random_bytes(n);
        b.send_bytes(g, true, &rpc_request(call + 2, opnum, &stub));
        let n = if b.r.chance(0.15) {
            b.r.range(2000, 12000)
        } else {
            b.r.range(60, 1200)
        } as usize;
        let stub = b.random_bytes(n);
        let g = b.owd() + b.server_time();
        b.send_bytes(g, false, &rpc_response(call + 2, &stub));
        b.ack(true);
    }
    let g = b.think(5.0, 60.0);
    b.close(g, true);
}

// BER / LDAP / Kerberos

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 4);
    v.push(tag);
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.push(0x82);
        v.extend_from_slice(&(n as u16).to_be_bytes());
    }
    v.extend_from_slice(content);
    v
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

fn int(v: u32) -> Vec<u8> {
    let b = v.to_be_bytes();
    let mut i = 0;
    while i < 3 && b[i] == 0 && b[i + 1] & 0x80 == 0 {
        i += 1;
    }
    if b[i] & 0x80 != 0 {
        let mut c = vec![0];
        c.extend_from_slice(&b[i..]);
        return tlv(0x02, &c);
    }
    tlv(0x02, &b[i..])
}

fn ldap_msg(id: u32, op: Vec<u8>) -> Vec<u8> {
    tlv(0x30, &cat(&[&int(id), &op]))
}

fn ldap_result(tag: u8) -> Vec<u8> {
    tlv(
        tag,
        &cat(&[&[0x0a, 0x01, 0x00], &tlv(0x04, b""), &tlv(0x04, b"")]),
    )
}

fn ldap(b: &mut Sb, user: &str) {
    b.handshake();
    let dn = format!("CN={user},CN=Users,DC=contoso,DC=com");
    let bind = tlv(
        0x60,
        &cat(&[&int(3), &tlv(0x04, dn.as_bytes()), &tlv(0x80, b"Bench-Passw0rd!")]),
    );
    let g = b.r.range(10_000, 300_000);
    b.send_bytes(g, true, &ldap_msg(1, bind));
    let g = b.owd() + b.server_time();
    b.send_bytes(g, false, &ldap_msg(1, ldap_result(0x61)));
    let searches = b.r.range(1, 2) as u32;
    for i in 0..searches {
        let filter = tlv(
            0xa3,
            &cat(&[&tlv(0x04, b"objectClass"), &tlv(0x04, b"msExchExchangeServer")]),
        );
        let attrs = tlv(
            0x30,
            &cat(&[
                &tlv(0x04, b"cn"),
                &tlv(0x04, b"msExchServerSite"),
                &tlv(0x04, b"networkAddress"),
            ]),
        );
        let req = tlv(
            0x63,
            &cat(&[
                &tlv(0x04, b"CN=Configuration,DC=contoso,DC=com"),
                &[0x0a, 0x01, 0x02, 0x0a, 0x01, 0x00],
                &int(0),
                &int(0),
                &[0x01, 0x01, 0x00],
                &filter,
                &attrs,
            ]),
        );
        let g = b.owd() + b.r.range(100_000, 50_000_000);
        b.send_bytes(g, true, &ldap_msg(2 + i, req));
        let mut resp = Vec::new();
        for (n, site) in [
            ("EX01", "Default-First-Site-Name"),
            ("EX02", "Default-First-Site-Name"),
        ] {
            let dn = format!("CN={n},CN=Servers,CN=Exchange Administrative Group,CN=Administrative Groups,CN=Contoso,CN=Microsoft Exchange,CN=Services,CN=Configuration,DC=contoso,DC=com");
            let attr =
                |name: &[u8], val: &[u8]| tlv(0x30, &cat(&[&tlv(0x04, name), &tlv(0x31, &tlv(0x04, val))]));
            let attrs = tlv(
                0x30,
                &cat(&[
                    &attr(b"cn", n.as_bytes()),
                    &attr(b"msExchServerSite", site.as_bytes()),
                    &attr(
                        b"networkAddress",
                        format!("ncacn_ip_tcp:{}.contoso.com", n.to_lowercase()).as_bytes(),
                    ),
                ]),
            );
            let entry = tlv(0x64, &cat(&[&tlv(0x04, dn.as_bytes()), &attrs]));
            resp.extend_from_slice(&ldap_msg(2 + i, entry));
        }
        resp.extend_from_slice(&ldap_msg(2 + i, ldap_result(0x65)));
        let g = b.owd() + b.server_time();
        b.send_bytes(g, false, &resp);
        b.ack(true);
    }
    let g = b.owd() + b.r.range(100_000, 10_000_000);
    b.send_bytes(g, true, &ldap_msg(2 + searches, vec![0x42, 0x00]));
    let g = b.r.range(10_000, 100_000);
    b.close(g, true);
}

fn krb_name(kind: u32, parts: &[&str]) -> Vec<u8> {
    let mut seq = Vec::new();
    for p in parts {
        seq.extend_from_slice(&tlv(0x1b, p.as_bytes()));
    }
    tlv(
        0x30,
        &cat(&[&tlv(0xa0, &int(kind)), &tlv(0xa1, &tlv(0x30, &seq))]),
    )
}

fn as_req(r: &mut Rng, user: &str) -> Vec<u8> {
    let body = tlv(
        0x30,
        &cat(&[
            &tlv(0xa0, &[0x03, 0x05, 0x00, 0x40, 0x81, 0x00, 0x10]),
            &tlv(0xa1, &krb_name(1, &[user])),
            &tlv(0xa2, &tlv(0x1b, b"CONTOSO.COM")),
            &tlv(0xa3, &krb_name(2, &["krbtgt", "CONTOSO.COM"])),
            &tlv(0xa5, &tlv(0x18, b"20370913024805Z")),
            &tlv(0xa7, &int(r.u32() & 0x7fff_ffff)),
            &tlv(0xa8, &tlv(0x30, &cat(&[&int(18), &int(17), &int(23)]))),
        ]),
    );
    let enc_ts = tlv(
        0x30,
        &cat(&[&tlv(0xa0, &int(18)), &tlv(0xa2, &tlv(0x04, &rand_vec(r, 56)))]),
    );
    let padata = tlv(
        0x30,
        &tlv(
            0x30,
            &cat(&[&tlv(0xa1, &int(2)), &tlv(0xa2, &tlv(0x04, &enc_ts))]),
        ),
    );
    tlv(
        0x6a,
        &tlv(
            0x30,
            &cat(&[
                &tlv(0xa1, &int(5)),
                &tlv(0xa2, &int(10)),
                &tlv(0xa3, &padata),
                &tlv(0xa4, &body),
            ]),
        ),
    )
}

fn as_rep(r: &mut Rng, user: &str) -> Vec<u8> {
    let enc = |r: &mut Rng, n: usize| {
        tlv(
            0x30,
            &cat(&[
                &tlv(0xa0, &int(18)),
                &tlv(0xa1, &int(2)),
                &tlv(0xa2, &tlv(0x04, &rand_vec(r, n))),
            ]),
        )
    };
    let ticket = tlv(
        0x61,
        &tlv(
            0x30,
            &cat(&[
                &tlv(0xa0, &int(5)),
                &tlv(0xa1, &tlv(0x1b, b"CONTOSO.COM")),
                &tlv(0xa2, &krb_name(2, &["krbtgt", "CONTOSO.COM"])),
                &tlv(0xa3, &enc(r, 1000)),
            ]),
        ),
    );
    tlv(
        0x6b,
        &tlv(
            0x30,
            &cat(&[
                &tlv(0xa0, &int(5)),
                &tlv(0xa1, &int(11)),
                &tlv(0xa3, &tlv(0x1b, b"CONTOSO.COM")),
                &tlv(0xa4, &krb_name(1, &[user])),
                &tlv(0xa5, &ticket),
                &tlv(0xa6, &enc(r, 300)),
            ]),
        ),
    )
}

fn rand_vec(r: &mut Rng, n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(n);
    v
}

fn record_mark(m: &[u8]) -> Vec<u8> {
    let mut v = (m.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(m);
    v
}

fn kerberos_tcp(b: &mut Sb, user: &str) {
    b.handshake();
    let req = as_req(b.r, user);
    let g = b.r.range(10_000, 300_000);
    b.send_bytes(g, true, &record_mark(&req));
    let rep = as_rep(b.r, user);
    let g = b.owd() + b.server_time();
    b.send_bytes(g, false, &record_mark(&rep));
    b.ack(true);
    let g = b.r.range(100_000, 2_000_000);
    b.close(g, true);
}

fn kerberos_udp(b: &mut Sb, user: &str) {
    let req = as_req(b.r, user);
    b.udp(0, true, &req);
    let rep = as_rep(b.r, user);
    let g = b.owd() + b.server_time();
    b.udp(g, false, &rep);
}

fn dns_name(v: &mut Vec<u8>, name: &str) {
    for label in name.split('.') {
        v.push(label.len() as u8);
        v.extend_from_slice(label.as_bytes());
    }
    v.push(0);
}

fn dns(b: &mut Sb) {
    let (name, qtype) = *b.r.pick(&[
        ("mail.contoso.com", 1u16),
        ("autodiscover.contoso.com", 1),
        ("ex01.contoso.com", 1),
        ("ex02.contoso.com", 1),
        ("_ldap._tcp.dc._msdcs.contoso.com", 33),
        ("_kerberos._tcp.contoso.com", 33),
        ("dc01.contoso.com", 1),
        ("outlook.office365.com", 1),
        ("ex01.contoso.com", 28),
    ]);
    let id = b.r.u32() as u16;
    let mut q = Vec::with_capacity(64);
    be16(&mut q, id);
    be16(&mut q, 0x0100);
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    dns_name(&mut q, name);
    be16(&mut q, qtype);
    be16(&mut q, 1);
    b.udp(0, true, &q);
    let mut a = q.clone();
    a[2] = 0x81;
    a[3] = 0x80;
    a[7] = 1;
    a.extend_from_slice(&[0xc0, 0x0c]);
    be16(&mut a, qtype);
    be16(&mut a, 1);
    a.extend_from_slice(&600u32.to_be_bytes());
    match qtype {
        1 => {
            be16(&mut a, 4);
            let ip = if name.starts_with("dc") {
                DC
            } else {
                *b.r.pick(&MAILBOX)
            };
            a.extend_from_slice(&ip);
        }
        28 => {
            be16(&mut a, 16);
            a.extend_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x11]);
        }
        _ => {
            let mut rd = Vec::new();
            be16(&mut rd, 0);
            be16(&mut rd, 100);
            be16(&mut rd, if name.starts_with("_ldap") { 389 } else { 88 });
            dns_name(&mut rd, "dc01.contoso.com");
            be16(&mut a, rd.len() as u16);
            a.extend_from_slice(&rd);
        }
    }
    let g = b.owd() + b.r.range(50_000, 3_000_000);
    b.udp(g, false, &a);
}

// ---------------------------------------------------------------- flows

struct Gen {
    r: Rng,
    /// Simulated start, ns since the epoch.
    t0: u64,
}

const USERS: [&str; 8] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "svc-exch",
];

impl Gen {
    #[allow(clippy::too_many_arguments)]
    fn flow(
        &mut self,
        proto: Proto,
        client: [u8; 4],
        server: [u8; 4],
        cport: u16,
        sport: u16,
        steps: Vec<Step>,
        arena: Vec<u8>,
    ) -> Flow {
        let ttl = |ip: [u8; 4]| if ip[0] == 10 { 128 } else { 52 };
        let c_isn = self.r.u32();
        let s_isn = self.r.u32();
        Flow {
            proto,
            client,
            server,
            cport,
            sport,
            ttl_c: ttl(client),
            ttl_s: ttl(server),
            c_isn,
            s_isn,
            c_next: c_isn,
            s_next: s_isn,
            c_ipid: self.r.u32() as u16,
            s_ipid: self.r.u32() as u16,
            steps,
            arena,
            idx: 0,
            then_emsmdb: None,
        }
    }

    /// A new flow (or flow pair) of a kind drawn from the mix. Returns the
    /// flow and how many 5-tuples it stands for.
    fn new_flow(&mut self) -> (Flow, u64) {
        let x = self.r.f64();
        let mut r = Rng(self.r.next() | 1);
        if x < 0.26 {
            // HTTPS: internal clients to the mailbox servers, some from the internet
            let internet = r.chance(0.15);
            let client = if internet {
                internet_host(&mut r)
            } else {
                internal_client(&mut r)
            };
            let server = *r.pick(&MAILBOX);
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, internet);
            https(&mut b);
            let (steps, arena) = (b.steps, b.arena);
            (self.flow(Proto::Tcp, client, server, cport, 443, steps, arena), 1)
        } else if x < 0.34 {
            let (client, server, cname, sname, internet) = match r.range(0, 9) {
                0..=3 => (
                    internet_host(&mut r),
                    EDGE,
                    "mx.example.org",
                    "edge.contoso.com",
                    true,
                ),
                4..=5 => (
                    EDGE,
                    *r.pick(&MAILBOX),
                    "edge.contoso.com",
                    "ex01.contoso.com",
                    false,
                ),
                6..=7 => (
                    *r.pick(&MAILBOX),
                    EDGE,
                    "ex01.contoso.com",
                    "edge.contoso.com",
                    false,
                ),
                _ => (
                    EDGE,
                    internet_host(&mut r),
                    "edge.contoso.com",
                    "mx.example.org",
                    true,
                ),
            };
            let sname = if server == MAILBOX[0] || server == MAILBOX[1] || server == EDGE {
                "mail.contoso.com"
            } else {
                sname
            };
            let plain = r.chance(0.1);
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, internet);
            smtp(&mut b, sname, cname, client, plain);
            let (steps, arena) = (b.steps, b.arena);
            (self.flow(Proto::Tcp, client, server, cport, 25, steps, arena), 1)
        } else if x < 0.38 {
            let client = internal_client(&mut r);
            let server = *r.pick(&MAILBOX);
            let port = r.range(49152, 65535) as u16;
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, false);
            epm(&mut b, server, port);
            let (steps, arena) = (b.steps, b.arena);
            let mut f = self.flow(Proto::Tcp, client, server, cport, 135, steps, arena);
            f.then_emsmdb = Some((client, server, port));
            (f, 2)
        } else if x < 0.47 {
            let client = if r.chance(0.5) {
                *r.pick(&MAILBOX)
            } else {
                internal_client(&mut r)
            };
            let user = *r.pick(&USERS);
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, false);
            ldap(&mut b, user);
            let (steps, arena) = (b.steps, b.arena);
            (self.flow(Proto::Tcp, client, DC, cport, 389, steps, arena), 1)
        } else if x < 0.50 {
            let client = if r.chance(0.3) {
                *r.pick(&MAILBOX)
            } else {
                internal_client(&mut r)
            };
            let user = *r.pick(&USERS);
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, false);
            kerberos_tcp(&mut b, user);
            let (steps, arena) = (b.steps, b.arena);
            (self.flow(Proto::Tcp, client, DC, cport, 88, steps, arena), 1)
        } else if x < 0.55 {
            let client = if r.chance(0.3) {
                *r.pick(&MAILBOX)
            } else {
                internal_client(&mut r)
            };
            let user = *r.pick(&USERS);
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, false);
            kerberos_udp(&mut b, user);
            let (steps, arena) = (b.steps, b.arena);
            (self.flow(Proto::Udp, client, DC, cport, 88, steps, arena), 1)
        } else if x < 0.85 {
            let client = match r.range(0, 9) {
                0..=2 => *r.pick(&MAILBOX),
                3 => EDGE,
                _ => internal_client(&mut r),
            };
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, false);
            dns(&mut b);
            let (steps, arena) = (b.steps, b.arena);
            (self.flow(Proto::Udp, client, DC, cport, 53, steps, arena), 1)
        } else if x < 0.94 {
            // random high-port UDP
            let internet = r.chance(0.5);
            let client = if internet {
                internet_host(&mut r)
            } else {
                internal_client(&mut r)
            };
            let server = if r.chance(0.5) {
                internal_client(&mut r)
            } else {
                EDGE
            };
            let cport = r.range(1024, 65535) as u16;
            let sport = r.range(1024, 65535) as u16;
            let mut b = Sb::new(&mut r, internet);
            let n = b.r.range(1, 3);
            for i in 0..n {
                let len = b.r.range(20, 400) as usize;
                let g = if i == 0 {
                    0
                } else {
                    b.owd() + b.r.range(0, 500_000_000)
                };
                let start = b.arena.len() as u32;
                let _ = start;
                b.push(g, i % 2 == 0, 0, Payload::Random { len: len as u16 });
            }
            let (steps, arena) = (b.steps, b.arena);
            (
                self.flow(Proto::Udp, client, server, cport, sport, steps, arena),
                1,
            )
        } else if x < 0.98 {
            // S0: SYN with retransmissions, never answered
            let client = internet_host(&mut r);
            let (server, sport) = match r.range(0, 3) {
                0 => (EDGE, *r.pick(&[25u16, 443, 3389, 22, 445, 587])),
                1 => (EDGE, r.range(1, 65535) as u16),
                _ => (*r.pick(&MAILBOX), *r.pick(&[443u16, 80, 135, 445, 3389])),
            };
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, true);
            b.push(0, true, SYN, Payload::Empty);
            let n = b.r.range(0, 2);
            for i in 0..n {
                b.push(1_000_000_000 << i, true, SYN, Payload::Empty);
            }
            let (steps, arena) = (b.steps, b.arena);
            (
                self.flow(Proto::Tcp, client, server, cport, sport, steps, arena),
                1,
            )
        } else {
            // REJ: SYN answered by RST-ACK
            let internet = r.chance(0.5);
            let client = if internet {
                internet_host(&mut r)
            } else {
                internal_client(&mut r)
            };
            let server = if internet { EDGE } else { *r.pick(&MAILBOX) };
            let sport = *r.pick(&[23u16, 21, 110, 143, 8080, 5985, 1433]);
            let cport = ephemeral(&mut r);
            let mut b = Sb::new(&mut r, internet);
            b.push(0, true, SYN, Payload::Empty);
            let g = b.owd();
            b.push(g, false, RST | ACK, Payload::Empty);
            let (steps, arena) = (b.steps, b.arena);
            (
                self.flow(Proto::Tcp, client, server, cport, sport, steps, arena),
                1,
            )
        }
    }

    fn emsmdb_flow(&mut self, client: [u8; 4], server: [u8; 4], port: u16) -> Flow {
        let mut r = Rng(self.r.next() | 1);
        let cport = ephemeral(&mut r);
        let mut b = Sb::new(&mut r, false);
        emsmdb(&mut b, port);
        let (steps, arena) = (b.steps, b.arena);
        self.flow(Proto::Tcp, client, server, cport, port, steps, arena)
    }
}

// ---------------------------------------------------------------- writing

struct Writer {
    out: BufWriter<File>,
    frame: Vec<u8>,
    pool: Vec<u8>,
    pool_pos: usize,
    packets: u64,
    bytes: u64,
}

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        sum += u32::from(*b) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

impl Writer {
    fn new(path: &str, rng: &mut Rng) -> std::io::Result<Writer> {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        // classic pcap, little-endian, microseconds, Ethernet
        out.write_all(&0xa1b2_c3d4u32.to_le_bytes())?;
        out.write_all(&2u16.to_le_bytes())?;
        out.write_all(&4u16.to_le_bytes())?;
        out.write_all(&0i32.to_le_bytes())?;
        out.write_all(&0u32.to_le_bytes())?;
        out.write_all(&65535u32.to_le_bytes())?;
        out.write_all(&1u32.to_le_bytes())?;
        let pool = rand_vec(rng, 1 << 16);
        Ok(Writer {
            out,
            frame: Vec::with_capacity(2048),
            pool,
            pool_pos: 0,
            packets: 0,
            bytes: 24,
        })
    }

    fn random(&mut self, len: usize) {
        if self.pool_pos + len > self.pool.len() {
            self.pool_pos = (self.pool_pos * 7 + 13) % 4096;
        }
        let p = self.pool_pos;
        self.frame.extend_from_slice(&self.pool[p..p + len]);
        self.pool_pos = p + len;
    }

    #[allow(clippy::too_many_arguments)]
    fn packet(
        &mut self,
        ts_ns: u64,
        src: [u8; 4],
        dst: [u8; 4],
        ttl: u8,
        ipid: u16,
        l4: Proto,
        sport: u16,
        dport: u16,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: Payload,
        arena: &[u8],
    ) -> std::io::Result<()> {
        let f = &mut self.frame;
        f.clear();
        f.extend_from_slice(&mac_of(dst));
        f.extend_from_slice(&mac_of(src));
        f.extend_from_slice(&[0x08, 0x00]);
        // IPv4 header, filled in below
        f.extend_from_slice(&[0u8; 20]);
        let l4_start = f.len();
        let syn_opts = l4 == Proto::Tcp && flags & SYN != 0;
        match l4 {
            Proto::Tcp => {
                be16(f, sport);
                be16(f, dport);
                f.extend_from_slice(&seq.to_be_bytes());
                f.extend_from_slice(&ack.to_be_bytes());
                let hl: u8 = if syn_opts { 8 } else { 5 };
                f.push(hl << 4);
                f.push(flags);
                be16(
                    f,
                    if flags & RST != 0 {
                        0
                    } else if syn_opts {
                        64240
                    } else {
                        1026
                    },
                );
                f.extend_from_slice(&[0, 0, 0, 0]);
                if syn_opts {
                    // MSS 1460, NOP, window scale 8, NOP, NOP, SACK permitted
                    f.extend_from_slice(&[2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2]);
                }
            }
            Proto::Udp => {
                be16(f, sport);
                be16(f, dport);
                f.extend_from_slice(&[0, 0, 0, 0]);
            }
        }
        match payload {
            Payload::Empty => {}
            Payload::Arena { start, len } => {
                f.extend_from_slice(&arena[start as usize..(start + len) as usize]);
            }
            Payload::Random { len } => self.random(len as usize),
            Payload::TlsApp { len } => {
                let f = &mut self.frame;
                f.extend_from_slice(&[0x17, 0x03, 0x03]);
                be16(f, len - 5);
                self.random(len as usize - 5);
            }
        }
        let f = &mut self.frame;
        let l4_len = f.len() - l4_start;
        let ip_len = (f.len() - 14) as u16;
        let proto = if l4 == Proto::Tcp { 6u8 } else { 17 };
        {
            let ip = &mut f[14..34];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
            ip[4..6].copy_from_slice(&ipid.to_be_bytes());
            ip[6] = 0x40;
            ip[8] = ttl;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&src);
            ip[16..20].copy_from_slice(&dst);
            let c = csum_fold(csum_add(0, ip));
            ip[10..12].copy_from_slice(&c.to_be_bytes());
        }
        if l4 == Proto::Udp {
            f[l4_start + 4..l4_start + 6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        }
        let mut sum = csum_add(0, &src);
        sum = csum_add(sum, &dst);
        sum += u32::from(proto) + l4_len as u32;
        sum = csum_add(sum, &f[l4_start..]);
        let mut c = csum_fold(sum);
        let at = if l4 == Proto::Tcp {
            l4_start + 16
        } else {
            l4_start + 6
        };
        if l4 == Proto::Udp && c == 0 {
            c = 0xffff;
        }
        f[at..at + 2].copy_from_slice(&c.to_be_bytes());

        let us = ts_ns / 1000;
        let mut hdr = [0u8; 16];
        hdr[0..4].copy_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        hdr[4..8].copy_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        hdr[8..12].copy_from_slice(&(f.len() as u32).to_le_bytes());
        hdr[12..16].copy_from_slice(&(f.len() as u32).to_le_bytes());
        self.out.write_all(&hdr)?;
        self.out.write_all(f)?;
        self.packets += 1;
        self.bytes += 16 + f.len() as u64;
        Ok(())
    }

    /// Emits the flow's next step at `now`.
    fn emit(&mut self, fl: &mut Flow, now: u64) -> std::io::Result<()> {
        let st = fl.steps[fl.idx];
        let len = st.payload.len() as u32;
        let (src, dst, sp, dp, ttl) = if st.c2s {
            (fl.client, fl.server, fl.cport, fl.sport, fl.ttl_c)
        } else {
            (fl.server, fl.client, fl.sport, fl.cport, fl.ttl_s)
        };
        let ipid = if st.c2s {
            fl.c_ipid = fl.c_ipid.wrapping_add(1);
            fl.c_ipid
        } else {
            fl.s_ipid = fl.s_ipid.wrapping_add(1);
            fl.s_ipid
        };
        let (mut seq, mut ack) = (0, 0);
        if fl.proto == Proto::Tcp {
            let (next, isn, other) = if st.c2s {
                (&mut fl.c_next, fl.c_isn, fl.s_next)
            } else {
                (&mut fl.s_next, fl.s_isn, fl.c_next)
            };
            if st.flags & SYN != 0 {
                seq = isn;
                *next = isn.wrapping_add(1);
            } else {
                seq = *next;
                *next = next.wrapping_add(len + u32::from(st.flags & FIN != 0));
            }
            if st.flags & ACK != 0 {
                ack = other;
            }
        }
        self.packet(
            now, src, dst, ttl, ipid, fl.proto, sp, dp, seq, ack, st.flags, st.payload, &fl.arena,
        )
    }
}

// ---------------------------------------------------------------- main

struct Args {
    out: String,
    flows: u64,
    seed: u64,
    duration: f64,
    syn_flood: Option<u64>,
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: gencap -o OUT.pcap [--flows N (200000)] [--seed S (1)] [--duration SECS (3600)] [--syn-flood M]"
    );
    ExitCode::from(2)
}

fn parse_args() -> Option<Args> {
    let mut a = Args {
        out: String::new(),
        flows: 200_000,
        seed: 1,
        duration: 3600.0,
        syn_flood: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next();
        match k.as_str() {
            "-o" | "--output" => a.out = v()?,
            "--flows" => a.flows = v()?.parse().ok()?,
            "--seed" => a.seed = v()?.parse().ok()?,
            "--duration" => a.duration = v()?.parse().ok()?,
            "--syn-flood" => a.syn_flood = Some(v()?.parse().ok()?),
            _ => return None,
        }
    }
    if a.out.is_empty() || a.duration <= 0.0 {
        return None;
    }
    Some(a)
}

fn syn_flood(w: &mut Writer, r: &mut Rng, n: u64, t0: u64) -> std::io::Result<()> {
    // 100,000 SYN/s
    let mut t = t0;
    for _ in 0..n {
        t += r.range(1_000, 19_000);
        let src = loop {
            let b = r.u32().to_be_bytes();
            if b[0] != 0 && b[0] != 10 && b[0] != 127 && b[0] < 224 {
                break b;
            }
        };
        let sport = r.range(1024, 65535) as u16;
        let seq = r.u32();
        let ipid = r.u32() as u16;
        w.packet(
            t,
            src,
            MAILBOX[0],
            64,
            ipid,
            Proto::Tcp,
            sport,
            25,
            seq,
            0,
            SYN,
            Payload::Empty,
            &[],
        )?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(args) = parse_args() else { return usage() };
    let started = Instant::now();
    let mut rng = Rng::new(args.seed);
    let mut w = match Writer::new(&args.out, &mut rng) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("gencap: {}: {e}", args.out);
            return ExitCode::from(2);
        }
    };
    // 2025-06-02 09:00:00 UTC
    let t0: u64 = 1_748_854_800 * 1_000_000_000;
    let mut flows_written = 0u64;
    let res = if let Some(n) = args.syn_flood {
        flows_written = n;
        syn_flood(&mut w, &mut rng, n, t0).map(|_| 1)
    } else {
        run(&mut w, Gen { r: rng, t0 }, &args, &mut flows_written)
    };
    let peak_open = match res.and_then(|p| w.out.flush().map(|_| p)) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("gencap: {}: {e}", args.out);
            return ExitCode::from(2);
        }
    };
    let secs = started.elapsed().as_secs_f64();
    let open = if args.syn_flood.is_some() {
        String::new()
    } else {
        format!(" (at most {peak_open} open at once)")
    };
    println!(
        "gencap: wrote {}: {} packets, {} flows{}, {} bytes ({:.1} MB) in {:.1}s",
        args.out,
        w.packets,
        flows_written,
        open,
        w.bytes,
        w.bytes as f64 / 1e6,
        secs
    );
    ExitCode::SUCCESS
}

fn run(w: &mut Writer, mut g: Gen, args: &Args, flows_written: &mut u64) -> std::io::Result<usize> {
    let mut slab: Vec<Option<Flow>> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut heap: BinaryHeap<Reverse<(u64, u32)>> = BinaryHeap::new();
    let mean_gap = args.duration * 1e9 / args.flows as f64;
    let mut next_arrival = g.t0;
    let mut created = 0u64;
    let mut peak_open = 0usize;
    let insert = |f: Flow,
                  at: u64,
                  slab: &mut Vec<Option<Flow>>,
                  free: &mut Vec<u32>,
                  heap: &mut BinaryHeap<Reverse<(u64, u32)>>| {
        let id = match free.pop() {
            Some(id) => {
                slab[id as usize] = Some(f);
                id
            }
            None => {
                slab.push(Some(f));
                (slab.len() - 1) as u32
            }
        };
        heap.push(Reverse((at, id)));
    };
    loop {
        let arrivals_left = created < args.flows;
        let next_event = heap.peek().map(|Reverse((t, _))| *t);
        let take_arrival = arrivals_left && next_event.is_none_or(|t| next_arrival <= t);
        if take_arrival {
            let (f, n) = g.new_flow();
            created += n;
            let at = next_arrival;
            next_arrival += g.r.exp(mean_gap) as u64 + 1;
            insert(f, at, &mut slab, &mut free, &mut heap);
            peak_open = peak_open.max(heap.len());
            continue;
        }
        let Some(Reverse((now, id))) = heap.pop() else {
            break;
        };
        let fl = slab[id as usize].as_mut().expect("live flow");
        w.emit(fl, now)?;
        fl.idx += 1;
        if fl.idx < fl.steps.len() {
            let gap = fl.steps[fl.idx].gap;
            heap.push(Reverse((now + gap, id)));
        } else {
            let done = slab[id as usize].take().expect("live flow");
            free.push(id);
            *flows_written += 1;
            if let Some((c, s, p)) = done.then_emsmdb {
                let f = g.emsmdb_flow(c, s, p);
                let at = now + g.r.range(1_000_000, 30_000_000);
                insert(f, at, &mut slab, &mut free, &mut heap);
            }
        }
    }
    Ok(peak_open)
}
