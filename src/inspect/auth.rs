//! Authentication protocol presence: NTLMSSP and Kerberos.
//!
//! These are facts on any flow (HTTP, LDAP, SMB, DCE/RPC ...): *that* NTLM or
//! Kerberos was used, and which message kinds went by. Nothing is ever taken
//! out of the messages: no user, domain, workstation, challenge, hash or
//! ticket. An NTLM AUTHENTICATE (type 3) is reported only as "it occurred".
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::ber::{parse_ber_header, BerHeader};
use super::{Parsed, Streams};

/// How far into a buffer the signature scans look, at most.
pub const MAX_AUTH_SCAN: usize = 64 * 1024;
/// How many NTLMSSP / Kerberos messages one flow reports, at most.
pub const MAX_AUTH_MESSAGES: usize = 8;

const NTLMSSP_SIGNATURE: &[u8; 8] = b"NTLMSSP\0";

/// One NTLMSSP message seen on the wire: only its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NtlmMessage {
    /// 1 NEGOTIATE, 2 CHALLENGE, 3 AUTHENTICATE; any other value is kept as is.
    pub kind: u32,
}

impl NtlmMessage {
    /// The message type's name, or "unknown".
    pub fn name(&self) -> &'static str {
        ntlm_kind_name(self.kind)
    }
}

/// The name of an NTLMSSP message type.
pub fn ntlm_kind_name(kind: u32) -> &'static str {
    match kind {
        1 => "negotiate",
        2 => "challenge",
        3 => "authenticate",
        _ => "unknown",
    }
}

/// One Kerberos message seen on the wire: only its msg-type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KerberosMessage {
    /// RFC 4120 msg-type: 10 AS-REQ, 11 AS-REP, 12 TGS-REQ, 13 TGS-REP,
    /// 14 AP-REQ, 15 AP-REP, 30 KRB-ERROR.
    pub kind: u8,
}

impl KerberosMessage {
    /// The message type's name.
    pub fn name(&self) -> &'static str {
        kerberos_kind_name(self.kind)
    }
}

/// The name of a Kerberos msg-type.
pub fn kerberos_kind_name(kind: u8) -> &'static str {
    match kind {
        10 => "as-req",
        11 => "as-rep",
        12 => "tgs-req",
        13 => "tgs-rep",
        14 => "ap-req",
        15 => "ap-rep",
        30 => "krb-error",
        _ => "unknown",
    }
}

/// Authentication facts of one flow.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AuthFacts {
    /// NTLMSSP message kinds in the order seen (client side first), bounded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ntlm: Vec<&'static str>,
    /// Kerberos message kinds in the order seen (client side first), bounded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kerberos: Vec<&'static str>,
}

impl AuthFacts {
    /// Nothing seen.
    pub fn is_empty(&self) -> bool {
        self.ntlm.is_empty() && self.kerberos.is_empty()
    }

    /// Note an NTLMSSP message (bounded, consecutive repeats kept).
    pub fn push_ntlm(&mut self, m: NtlmMessage) {
        if self.ntlm.len() < MAX_AUTH_MESSAGES {
            self.ntlm.push(m.name());
        }
    }

    /// Note a Kerberos message (bounded).
    pub fn push_kerberos(&mut self, m: KerberosMessage) {
        if self.kerberos.len() < MAX_AUTH_MESSAGES {
            self.kerberos.push(m.name());
        }
    }
}

/// NTLMSSP and Kerberos presence on any flow, from raw (binary) payloads:
/// SMB, DCE/RPC auth trailers, LDAP binds, Kerberos on 88. Base64 carried in
/// HTTP headers is the HTTP inspector's business.
pub fn inspect_auth(s: &Streams) -> Option<AuthFacts> {
    let mut facts = AuthFacts::default();
    for buf in [s.c2s, s.s2c] {
        for m in find_ntlmssp_all(buf, MAX_AUTH_MESSAGES) {
            facts.push_ntlm(m);
        }
        match looks_like_kerberos(buf) {
            Some(k) => facts.push_kerberos(k),
            None => {
                if let Some(k) = find_kerberos(buf) {
                    facts.push_kerberos(k);
                }
            }
        }
    }
    if facts.is_empty() {
        None
    } else {
        Some(facts)
    }
}

/// The first NTLMSSP message in `buf` (a bounded search for the
/// "NTLMSSP\0" signature followed by the 32-bit little-endian type).
pub fn find_ntlmssp(buf: &[u8]) -> Option<NtlmMessage> {
    find_ntlmssp_from(buf).map(|(m, _)| m)
}

/// Up to `max` NTLMSSP messages in `buf`, in order.
pub fn find_ntlmssp_all(buf: &[u8], max: usize) -> Vec<NtlmMessage> {
    let mut out = Vec::new();
    let mut rest = bounded(buf);
    while out.len() < max {
        match find_ntlmssp_from(rest) {
            Some((m, next)) => {
                out.push(m);
                rest = rest.get(next..).unwrap_or_default();
            }
            None => break,
        }
    }
    out
}

/// The NTLMSSP message at the very start of `buf` (as carried in an HTTP
/// header, a SPNEGO mechToken or a sicily bind). Only the type is read.
pub fn parse_ntlmssp_header(buf: &[u8]) -> Parsed<NtlmMessage> {
    let sig_len = NTLMSSP_SIGNATURE.len();
    let avail = buf.len().min(sig_len);
    if buf.get(..avail) != NTLMSSP_SIGNATURE.get(..avail) {
        return Parsed::Invalid;
    }
    match buf.get(sig_len..12) {
        Some(&[a, b, c, d]) => Parsed::Done(
            NtlmMessage {
                kind: u32::from_le_bytes([a, b, c, d]),
            },
            12,
        ),
        _ => Parsed::NeedMore,
    }
}

/// Signature search; returns the message and the offset just past it.
fn find_ntlmssp_from(buf: &[u8]) -> Option<(NtlmMessage, usize)> {
    let buf = bounded(buf);
    let pos = memchr::memmem::find(buf, NTLMSSP_SIGNATURE)?;
    match parse_ntlmssp_header(buf.get(pos..)?) {
        Parsed::Done(m, used) => Some((m, pos.checked_add(used)?)),
        _ => None,
    }
}

fn bounded(buf: &[u8]) -> &[u8] {
    buf.get(..MAX_AUTH_SCAN).unwrap_or(buf)
}

/// Whether `buf` starts with a Kerberos message: bare (UDP, or a GSS-API
/// mechToken) or behind the 4-byte TCP record mark. Checks the application
/// tag (AS-REQ 10 ... AP-REP 15, KRB-ERROR 30), a definite BER length, the
/// inner SEQUENCE and `pvno 5` with a `msg-type` equal to the tag. Works on
/// a prefix: the message may be longer than `buf`.
pub fn looks_like_kerberos(buf: &[u8]) -> Option<KerberosMessage> {
    if let Some(m) = kerberos_at(buf) {
        return Some(m);
    }
    // TCP: 4-byte big-endian record length, top bit reserved (0).
    let (mark, rest) = buf.split_first_chunk::<4>()?;
    let rec_len = u32::from_be_bytes(*mark);
    if rec_len & 0x8000_0000 != 0 || rec_len == 0 {
        return None;
    }
    let m = kerberos_at(rest)?;
    // The record must hold exactly the one message the header announces.
    match parse_ber_header(rest) {
        Parsed::Done(h, hl) => {
            let total = u64::try_from(hl).ok()?.checked_add(u64::from(h.len))?;
            (total == u64::from(rec_len)).then_some(m)
        }
        _ => None,
    }
}

fn kerberos_at(buf: &[u8]) -> Option<KerberosMessage> {
    let (outer, ol) = match parse_ber_header(buf) {
        Parsed::Done(h, l) => (h, l),
        _ => return None,
    };
    let kind = kerberos_app_tag(&outer)?;
    let inner = buf.get(ol..)?;
    let (seq, sl) = match parse_ber_header(inner) {
        Parsed::Done(h, l) => (h, l),
        _ => return None,
    };
    if !(seq.class == 0 && seq.constructed && seq.number == 16) {
        return None;
    }
    let body = inner.get(sl..)?;
    // KDC-REQ: pvno [1], msg-type [2]; all others: pvno [0], msg-type [1].
    let pvno_tag: u8 = if kind == 10 || kind == 12 { 0xa1 } else { 0xa0 };
    let pattern = pvno_pattern(pvno_tag, kind)?;
    (body.get(..pattern.len())? == pattern).then_some(KerberosMessage { kind })
}

fn kerberos_app_tag(h: &BerHeader) -> Option<u8> {
    if h.class != 1 || !h.constructed {
        return None;
    }
    let n = u8::try_from(h.number).ok()?;
    matches!(n, 10..=15 | 30).then_some(n)
}

/// `[p] INTEGER 5, [p+1] INTEGER kind`, DER-encoded.
fn pvno_pattern(pvno_tag: u8, kind: u8) -> Option<[u8; 10]> {
    let next = pvno_tag.checked_add(1)?;
    Some([pvno_tag, 3, 2, 1, 5, next, 3, 2, 1, kind])
}

/// The first Kerberos message anywhere in `buf` (inside SPNEGO, a GSS-API
/// wrapper or a SASL bind): a bounded search for the DER pvno/msg-type pair.
pub fn find_kerberos(buf: &[u8]) -> Option<KerberosMessage> {
    let buf = bounded(buf);
    // `pvno [n] INTEGER 5` is `a? 03 02 01 05`: find its fixed part quickly,
    // then check the window around it (the first match, as a scan would).
    memchr::memmem::find_iter(buf, &[3, 2, 1, 5])
        .filter_map(|p| buf.get(p.checked_sub(1)?..p.checked_add(9)?))
        .find_map(kerberos_window)
}

/// `[pvno] 5 [msg-type] kind` as a 10-byte window, tags in the right order.
fn kerberos_window(w: &[u8]) -> Option<KerberosMessage> {
    match w {
        [t @ (0xa0 | 0xa1), 3, 2, 1, 5, t2, 3, 2, 1, kind]
            if t2.checked_sub(*t) == Some(1) && matches!(kind, 10..=15 | 30) =>
        {
            // KDC-REQ has pvno at [1]; the others at [0].
            let kdc_req = matches!(kind, 10 | 12);
            ((*t == 0xa1) == kdc_req).then_some(KerberosMessage { kind: *kind })
        }
        _ => None,
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    /// The searches find exactly what a byte-by-byte scan finds, on
    /// pseudo-random buffers seeded with the signatures and near misses.
    #[test]
    fn searches_match_a_plain_scan() {
        let naive_ntlm = |b: &[u8]| {
            let b = bounded(b);
            let pos = b.windows(8).position(|w| w == NTLMSSP_SIGNATURE)?;
            match parse_ntlmssp_header(&b[pos..]) {
                Parsed::Done(m, _) => Some(m),
                _ => None,
            }
        };
        let naive_krb = |b: &[u8]| bounded(b).windows(10).find_map(kerberos_window);
        let pieces: [&[u8]; 7] = [
            b"NTLMSSP\0\x01\0\0\0",
            b"NTLMSSP\0\x03",
            b"NTLMSS",
            &[0xa1, 3, 2, 1, 5, 0xa2, 3, 2, 1, 10],
            &[0xa0, 3, 2, 1, 5, 0xa1, 3, 2, 1, 11],
            &[0xa0, 3, 2, 1, 5, 0xa1, 3, 2],
            &[3, 2, 1, 5],
        ];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut hits = (0, 0);
        for _ in 0..20_000 {
            let mut buf = Vec::new();
            for _ in 0..next() % 6 {
                let r = next();
                if r % 3 == 0 {
                    buf.extend_from_slice(pieces[(r >> 8) as usize % pieces.len()]);
                } else {
                    buf.extend((0..(r >> 20) % 9).map(|i| (r >> (i * 3)) as u8 % 4 + 1));
                }
            }
            let (n, k) = (naive_ntlm(&buf), naive_krb(&buf));
            hits.0 += usize::from(n.is_some());
            hits.1 += usize::from(k.is_some());
            assert_eq!(find_ntlmssp(&buf), n, "{buf:?}");
            assert_eq!(find_kerberos(&buf), k, "{buf:?}");
        }
        assert!(
            hits.0 > 100 && hits.1 > 100,
            "too few matches to compare: {hits:?}"
        );
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// ndpi__kerberos-error.pcap frame 1: AS-REQ over UDP/88 (first 40 bytes
    /// of the UDP payload).
    const KRB_AS_REQ_UDP_PREFIX: &str =
        "6a82011b30820117a103020105a20302010aa35830563048a103020102a241043f303da003020117";

    /// ndpi__kerberos-error.pcap frame 2: KRB-ERROR over UDP/88 (first 40 bytes).
    const KRB_ERROR_UDP_PREFIX: &str =
        "7e643062a003020105a10302011ea411180f32303232303232323037343630345aa50502030ec26d";

    /// zeek__ldap__aduser1.pcap frame 21: AS-REQ over TCP/88 with the 4-byte
    /// record mark (first 40 bytes).
    const KRB_AS_REQ_TCP_PREFIX: &str =
        "000000b86a81b53081b2a103020105a20302010aa31530133011a10402020080a20904073005a003";

    /// zeek__ldap__aduser1-ntlm.pcap, c2s: LDAP sicily bind carrying an
    /// NTLMSSP NEGOTIATE (the whole first LDAP message, 54 bytes).
    const LDAP_SICILY_NTLM_NEGOTIATE: &str = "303402040a5e31e8602c020103040555736572318a204e544c4d5353500001000000050288a000000000000000000000000000000000";

    #[test]
    fn kerberos_golden() {
        let udp = hex(KRB_AS_REQ_UDP_PREFIX);
        assert_eq!(looks_like_kerberos(&udp), Some(KerberosMessage { kind: 10 }));
        assert_eq!(find_kerberos(&udp), Some(KerberosMessage { kind: 10 }));
        let err = hex(KRB_ERROR_UDP_PREFIX);
        assert_eq!(looks_like_kerberos(&err).unwrap().name(), "krb-error");
        let tcp = hex(KRB_AS_REQ_TCP_PREFIX);
        assert_eq!(looks_like_kerberos(&tcp).unwrap().name(), "as-req");
        let f = inspect_auth(&Streams { c2s: &tcp, s2c: &err }).unwrap();
        assert_eq!(f.kerberos, vec!["as-req", "krb-error"]);
        assert!(f.ntlm.is_empty());
    }

    #[test]
    fn kerberos_prefixes_never_panic() {
        for fx in [KRB_AS_REQ_UDP_PREFIX, KRB_ERROR_UDP_PREFIX, KRB_AS_REQ_TCP_PREFIX] {
            let b = hex(fx);
            for n in 0..=b.len() {
                let _ = looks_like_kerberos(&b[..n]);
                let _ = find_kerberos(&b[..n]);
                let _ = inspect_auth(&Streams {
                    c2s: &b[..n],
                    s2c: &b[..n],
                });
            }
        }
    }

    #[test]
    fn kerberos_unknown_msg_type_not_claimed() {
        // An application tag 10 whose msg-type says 99: not Kerberos.
        let mut b = hex(KRB_AS_REQ_UDP_PREFIX);
        b[17] = 99;
        assert_eq!(looks_like_kerberos(&b), None);
    }

    #[test]
    fn ntlm_negotiate_in_ldap_bind() {
        let b = hex(LDAP_SICILY_NTLM_NEGOTIATE);
        assert_eq!(find_ntlmssp(&b), Some(NtlmMessage { kind: 1 }));
        assert_eq!(find_ntlmssp(&b).unwrap().name(), "negotiate");
    }

    #[test]
    fn ntlm_unknown_type_reported() {
        let mut b = b"xxNTLMSSP\0".to_vec();
        b.extend_from_slice(&9u32.to_le_bytes());
        let m = find_ntlmssp(&b).unwrap();
        assert_eq!(m.kind, 9);
        assert_eq!(m.name(), "unknown");
    }

    #[test]
    fn ntlm_prefixes_never_panic() {
        let b = hex(LDAP_SICILY_NTLM_NEGOTIATE);
        for n in 0..=b.len() {
            let _ = find_ntlmssp(&b[..n]);
            let _ = find_ntlmssp_all(&b[..n], 4);
        }
        let sig = b"NTLMSSP\0\x03\0\0\0";
        for n in 0..sig.len() {
            assert_eq!(parse_ntlmssp_header(&sig[..n]), Parsed::NeedMore, "{n}");
        }
        assert_eq!(
            parse_ntlmssp_header(sig),
            Parsed::Done(NtlmMessage { kind: 3 }, 12)
        );
        assert_eq!(parse_ntlmssp_header(b"NTLMSSX"), Parsed::Invalid);
    }

    #[test]
    fn garbage_is_none() {
        assert_eq!(find_ntlmssp(b"hello world"), None);
        assert_eq!(looks_like_kerberos(b"hello world"), None);
        assert_eq!(find_kerberos(&[0u8; 100]), None);
        assert_eq!(
            inspect_auth(&Streams {
                c2s: b"GET / HTTP/1.1\r\n\r\n",
                s2c: b"",
            }),
            None
        );
        let _ = KRB_AS_REQ_UDP_PREFIX;
    }
}
