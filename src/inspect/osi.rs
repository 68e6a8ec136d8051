//! ISO transport over TCP (RFC 1006: TPKT, then ISO 8073 COTP): the carrier
//! of X.400 MTAs, of MMS and of Siemens S7.
//!
//! Reads the TPKT records of each direction, the COTP PDU kinds, the transport
//! selectors of a connection request, and the object identifiers the upper
//! layers (session, presentation, ACSE) carry in the first data PDUs — the
//! application context and abstract syntaxes that say which OSI application
//! this is (`2.6...` X.400 MHS, `1.0.9506...` MMS). Which OID means what is
//! data in `rules/markers.toml`, not here.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::{is_false, Streams};

/// TPKT records read per direction, at most.
pub const MAX_TPKT_RECORDS: usize = 32;
/// Distinct OIDs kept per flow.
pub const MAX_OIDS: usize = 8;
/// Characters kept of a transport selector.
const MAX_TSAP: usize = 32;
/// Arcs of an OID read, at most (longer ones are skipped).
const MAX_ARCS: usize = 16;

/// RFC 1006 facts of one flow.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct OsiFacts {
    /// COTP PDU kinds in order of first appearance (`CR`, `CC`, `DT`, `DR`, `ER`, ...).
    pub cotp: Vec<&'static str>,
    /// Calling transport selector of the connection request (printable, truncated).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calling_tsap: Option<String>,
    /// Called transport selector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_tsap: Option<String>,
    /// The first data PDU carries S7 communication (protocol id 0x32).
    #[serde(skip_serializing_if = "is_false")]
    pub s7comm: bool,
    /// Object identifiers seen in the data PDUs (dotted), first seen first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub oids: Vec<String>,
}

/// Whether `c2s` starts like a TPKT record carrying a COTP PDU.
pub fn looks_like_tpkt(c2s: &[u8]) -> bool {
    match c2s {
        [3, 0, hi, lo, li, kind, ..] => {
            let len = usize::from(*hi) << 8 | usize::from(*lo);
            len >= 7 && *li >= 2 && cotp_name(*kind).is_some()
        }
        _ => false,
    }
}

fn cotp_name(kind: u8) -> Option<&'static str> {
    Some(match kind & 0xf0 {
        0xe0 => "CR",
        0xd0 => "CC",
        0xf0 => "DT",
        0x80 => "DR",
        0xc0 => "DC",
        0x70 => "ER",
        0x10 => "ED",
        0x20 => "EA",
        0x50 => "RJ",
        0x60 => "AK",
        _ => return None,
    })
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .take(MAX_TSAP)
        .map(|&c| {
            if (0x20..0x7f).contains(&c) {
                char::from(c)
            } else {
                '.'
            }
        })
        .collect()
}

/// Decodes the BER contents of an OBJECT IDENTIFIER, or `None` when malformed.
fn oid_text(b: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut v: u64 = 0;
    let mut pending = false;
    for &x in b {
        if v > (u64::MAX >> 8) {
            return None;
        }
        v = (v << 7) | u64::from(x & 0x7f);
        pending = x & 0x80 != 0;
        if !pending {
            arcs.push(v);
            v = 0;
            if arcs.len() > MAX_ARCS {
                return None;
            }
        }
    }
    if pending || arcs.is_empty() {
        return None;
    }
    let first = *arcs.first()?;
    let (a, b0) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first.checked_sub(40)?),
        _ => (2, first.checked_sub(80)?),
    };
    let mut out = format!("{a}.{b0}");
    for arc in arcs.iter().skip(1) {
        out.push('.');
        out.push_str(&arc.to_string());
    }
    Some(out)
}

/// The OID whose tag is at `i`, if well formed.
fn oid_at(data: &[u8], i: usize) -> Option<String> {
    let n = usize::from(*data.get(i.saturating_add(1))?);
    if *data.get(i)? != 0x06 || !(3..=15).contains(&n) {
        return None;
    }
    let start = i.saturating_add(2);
    oid_text(data.get(start..start.saturating_add(n))?)
}

/// The OIDs (tag 0x06, 3-15 content bytes, well formed) in `data`.
fn scan_oids(data: &[u8], out: &mut Vec<String>) {
    let mut i = 0usize;
    while let (Some(&tag), Some(&len)) = (data.get(i), data.get(i.saturating_add(1))) {
        let n = usize::from(len);
        // `06 06 06 ...`: the first 06 is more likely the length of a wrapper
        // (`a1 06 06 04 ...`) than a tag; try the OID that starts one byte on.
        if tag == 0x06 && len == 0x06 && oid_at(data, i.saturating_add(1)).is_some() {
            i = i.saturating_add(1);
            continue;
        }
        if tag == 0x06 && (3..=15).contains(&n) {
            let start = i.saturating_add(2);
            if let Some(body) = data.get(start..start.saturating_add(n)) {
                if let Some(t) = oid_text(body) {
                    if out.len() < MAX_OIDS && !out.contains(&t) {
                        out.push(t);
                    }
                    i = start.saturating_add(n);
                    continue;
                }
            }
        }
        i = i.saturating_add(1);
    }
}

/// Reads the TPKT records of one direction into `f`.
fn read_direction(buf: &[u8], f: &mut OsiFacts, first_data: &mut bool) {
    let mut at = 0usize;
    for _ in 0..MAX_TPKT_RECORDS {
        let Some(rec) = buf.get(at..) else { return };
        let [3, 0, hi, lo, ..] = rec else { return };
        let len = usize::from(*hi) << 8 | usize::from(*lo);
        if len < 7 {
            return;
        }
        // A record cut by the inspection cap is read as far as it goes.
        let body = rec.get(4..len.min(rec.len())).unwrap_or_default();
        let (Some(&li), Some(&kind)) = (body.first(), body.get(1)) else {
            return;
        };
        let Some(name) = cotp_name(kind) else { return };
        if !f.cotp.contains(&name) {
            f.cotp.push(name);
        }
        let header_end = usize::from(li).saturating_add(1);
        match name {
            "CR" | "CC" => {
                // Fixed part: LI, type, dst-ref (2), src-ref (2), class (1).
                let params = body.get(7..header_end.min(body.len())).unwrap_or_default();
                let mut p = 0usize;
                while let (Some(&code), Some(&plen)) = (params.get(p), params.get(p.saturating_add(1))) {
                    let vstart = p.saturating_add(2);
                    let value = params
                        .get(vstart..vstart.saturating_add(usize::from(plen)))
                        .unwrap_or_default();
                    match code {
                        0xc1 if f.calling_tsap.is_none() => f.calling_tsap = Some(printable(value)),
                        0xc2 if f.called_tsap.is_none() => f.called_tsap = Some(printable(value)),
                        _ => {}
                    }
                    p = vstart.saturating_add(usize::from(plen));
                }
            }
            "DT" => {
                let data = body.get(header_end..).unwrap_or_default();
                if *first_data {
                    f.s7comm = data.first() == Some(&0x32);
                    *first_data = false;
                }
                if !f.s7comm {
                    scan_oids(data, &mut f.oids);
                }
            }
            _ => {}
        }
        if rec.len() < len {
            return;
        }
        at = at.saturating_add(len);
    }
}

/// RFC 1006 facts, or `None` when the client's bytes are not TPKT + COTP.
pub fn inspect_osi(s: &Streams) -> Option<OsiFacts> {
    if !looks_like_tpkt(s.c2s) {
        return None;
    }
    let mut f = OsiFacts::default();
    let mut first = true;
    read_direction(s.c2s, &mut f, &mut first);
    let mut first_s = !f.s7comm && first;
    read_direction(s.s2c, &mut f, &mut first_s);
    Some(f)
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

    /// The connection request of an X.400 P1 association (Wireshark
    /// SampleCaptures x400-ping-success.pcap): TPKT, COTP CR with calling
    /// and called TSAP "X400-88".
    const X400_CR: &[u8] = &[
        0x03, 0x00, 0x00, 0x1d, 0x18, 0xe0, 0x00, 0x00, 0x17, 0xc4, 0x00, 0xc1, 0x07, b'X', b'4', b'0', b'0',
        b'-', b'8', b'8', 0xc2, 0x07, b'X', b'4', b'0', b'0', b'-', b'8', b'8',
    ];

    /// A DT PDU whose user data holds the X.400 MTS-transfer application
    /// context OID 2.6.0.1.6 (06 04 56 00 01 06) inside some session bytes.
    fn dt_with(user: &[u8]) -> Vec<u8> {
        let len = 7 + user.len();
        let mut v = vec![0x03, 0x00, (len >> 8) as u8, len as u8, 0x02, 0xf0, 0x80];
        v.extend_from_slice(user);
        v
    }

    #[test]
    fn x400_connection_request_and_context() {
        let mut c2s = X400_CR.to_vec();
        c2s.extend(dt_with(&[
            0x0d, 0x10, 0xa1, 0x06, 0x06, 0x04, 0x56, 0x00, 0x01, 0x06, 0x30, 0x00,
        ]));
        let f = inspect_osi(&Streams { c2s: &c2s, s2c: &[] }).unwrap();
        assert_eq!(f.cotp, ["CR", "DT"]);
        assert_eq!(f.calling_tsap.as_deref(), Some("X400-88"));
        assert_eq!(f.called_tsap.as_deref(), Some("X400-88"));
        assert_eq!(f.oids, ["2.6.0.1.6"]);
        assert!(!f.s7comm);
    }

    #[test]
    fn mms_and_s7_are_told_apart() {
        // MMS abstract syntax 1.0.9506.2.1: 06 05 28 ca 22 02 01.
        let mms = dt_with(&[0x0d, 0x05, 0x06, 0x05, 0x28, 0xca, 0x22, 0x02, 0x01]);
        let f = inspect_osi(&Streams { c2s: &mms, s2c: &[] }).unwrap();
        assert_eq!(f.oids, ["1.0.9506.2.1"]);
        let s7 = dt_with(&[0x32, 0x01, 0x00, 0x00, 0x06, 0x04, 0x56, 0x00, 0x01, 0x06]);
        let f = inspect_osi(&Streams { c2s: &s7, s2c: &[] }).unwrap();
        assert!(f.s7comm);
        assert!(f.oids.is_empty(), "S7 payload is not scanned for OIDs");
    }

    #[test]
    fn not_tpkt_and_every_truncation_is_safe() {
        assert!(inspect_osi(&Streams {
            c2s: b"EHLO x\r\n",
            s2c: &[]
        })
        .is_none());
        assert!(inspect_osi(&Streams {
            c2s: &[3, 0, 0, 3, 2, 0xe0],
            s2c: &[]
        })
        .is_none());
        let mut c2s = X400_CR.to_vec();
        c2s.extend(dt_with(&[0x06, 0x04, 0x56, 0x00, 0x01, 0x06]));
        for n in 0..=c2s.len() {
            let _ = inspect_osi(&Streams {
                c2s: &c2s[..n],
                s2c: &c2s[..n],
            });
        }
        // A malformed OID (last byte with the continuation bit) is skipped.
        let bad = dt_with(&[0x06, 0x03, 0x56, 0x80, 0x81]);
        let f = inspect_osi(&Streams { c2s: &bad, s2c: &[] }).unwrap();
        assert!(f.oids.is_empty());
        // Huge arcs do not overflow.
        let big = dt_with(&[
            0x06, 0x0c, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ]);
        let f = inspect_osi(&Streams { c2s: &big, s2c: &[] }).unwrap();
        assert!(f.oids.is_empty());
    }

    #[test]
    fn random_tpkt_shaped_bytes_never_panic() {
        // Deterministic xorshift: TPKT-looking prefixes with random rest.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..20_000 {
            let n = (next() % 300) as usize;
            let mut v: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            if v.len() >= 6 {
                v[0] = 3;
                v[1] = 0;
                v[5] = [0xe0, 0xd0, 0xf0, 0x80][(next() % 4) as usize];
            }
            let cut = (next() as usize) % (v.len() + 1);
            let (c2s, s2c) = v.split_at(cut);
            if let Some(f) = inspect_osi(&Streams { c2s, s2c }) {
                assert!(f.oids.len() <= MAX_OIDS);
            }
        }
    }
}
