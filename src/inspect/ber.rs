//! A minimal BER reader (X.690): identifier, definite length in short or
//! long form, one element at a time. Shared by the LDAP and Kerberos/SPNEGO
//! inspectors; bounded, never panics on hostile bytes.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::Parsed;

/// The largest BER length this reader accepts (16 MiB): a bound, not a limit
/// of the protocol.
pub const MAX_BER_LEN: u32 = 16 * 1024 * 1024;

/// A BER identifier and definite length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BerHeader {
    /// 0 universal, 1 application, 2 context-specific, 3 private.
    pub class: u8,
    pub constructed: bool,
    pub number: u32,
    /// Length of the contents.
    pub len: u32,
}

/// One complete BER element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    pub hdr: BerHeader,
    pub value: &'a [u8],
}

/// Read a BER identifier and definite length; `Done(header, header_len)`.
/// Indefinite lengths, lengths over 4 bytes or [`MAX_BER_LEN`], and tag
/// numbers over 4 continuation bytes are invalid.
pub fn parse_ber_header(buf: &[u8]) -> Parsed<BerHeader> {
    let mut it = buf.iter().copied();
    let Some(b0) = it.next() else {
        return Parsed::NeedMore;
    };
    let mut used: usize = 1;
    let class = b0 >> 6;
    let constructed = b0 & 0x20 != 0;
    let mut number = u32::from(b0 & 0x1f);
    if number == 0x1f {
        number = 0;
        let mut done = false;
        for _ in 0..4 {
            let Some(b) = it.next() else {
                return Parsed::NeedMore;
            };
            used = used.saturating_add(1);
            number = (number << 7) | u32::from(b & 0x7f);
            if b & 0x80 == 0 {
                done = true;
                break;
            }
        }
        if !done {
            return Parsed::Invalid;
        }
    }
    let Some(l0) = it.next() else {
        return Parsed::NeedMore;
    };
    used = used.saturating_add(1);
    let len = if l0 < 0x80 {
        u32::from(l0)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return Parsed::Invalid;
        }
        let mut v: u32 = 0;
        for _ in 0..n {
            let Some(b) = it.next() else {
                return Parsed::NeedMore;
            };
            used = used.saturating_add(1);
            v = (v << 8) | u32::from(b);
        }
        v
    };
    if len > MAX_BER_LEN {
        return Parsed::Invalid;
    }
    Parsed::Done(
        BerHeader {
            class,
            constructed,
            number,
            len,
        },
        used,
    )
}

/// Read one complete BER element; `Done(tlv, total_len)`.
pub fn parse_ber_tlv(buf: &[u8]) -> Parsed<Tlv<'_>> {
    match parse_ber_header(buf) {
        Parsed::Done(hdr, hl) => {
            let Ok(len) = usize::try_from(hdr.len) else {
                return Parsed::Invalid;
            };
            let Some(end) = hl.checked_add(len) else {
                return Parsed::Invalid;
            };
            match buf.get(hl..end) {
                Some(value) => Parsed::Done(Tlv { hdr, value }, end),
                None => Parsed::NeedMore,
            }
        }
        Parsed::NeedMore => Parsed::NeedMore,
        Parsed::Invalid => Parsed::Invalid,
    }
}

/// Read one element that may be cut short by the end of `buf`: its value is
/// what is there. `None` when even the header is missing or invalid.
pub fn parse_ber_tlv_prefix(buf: &[u8]) -> Option<(Tlv<'_>, bool)> {
    match parse_ber_header(buf) {
        Parsed::Done(hdr, hl) => {
            let len = usize::try_from(hdr.len).ok()?;
            let end = hl.checked_add(len)?;
            let rest = buf.get(hl..)?;
            match rest.get(..len) {
                Some(value) => Some((Tlv { hdr, value }, true)),
                None => {
                    debug_assert!(end > buf.len());
                    Some((Tlv { hdr, value: rest }, false))
                }
            }
        }
        _ => None,
    }
}

/// A non-negative BER INTEGER / ENUMERATED of up to 32 bits.
pub fn ber_u32(value: &[u8]) -> Option<u32> {
    if value.is_empty() || value.len() > 5 {
        return None;
    }
    if value.first().is_some_and(|b| b & 0x80 != 0) {
        return None; // negative
    }
    let mut v: u64 = 0;
    for b in value {
        v = (v << 8) | u64::from(*b);
    }
    u32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ber_reader_edges() {
        assert_eq!(parse_ber_header(&[]), Parsed::NeedMore);
        assert_eq!(parse_ber_header(&[0x30]), Parsed::NeedMore);
        assert_eq!(parse_ber_header(&[0x30, 0x80]), Parsed::Invalid, "indefinite");
        assert_eq!(parse_ber_header(&[0x30, 0x85, 1, 2, 3, 4, 5]), Parsed::Invalid);
        assert_eq!(
            parse_ber_header(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]),
            Parsed::Invalid
        );
        assert_eq!(parse_ber_header(&[0x30, 0x82, 0x01]), Parsed::NeedMore);
        // High tag number form: [APPLICATION 200].
        match parse_ber_header(&[0x7f, 0x81, 0x48, 0x00]) {
            Parsed::Done(h, 4) => assert_eq!((h.class, h.number, h.len), (1, 200, 0)),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            parse_ber_header(&[0x7f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00]),
            Parsed::Invalid
        );
        assert_eq!(ber_u32(&[0x00, 0xff, 0xff, 0xff, 0xff]), Some(u32::MAX));
        assert_eq!(ber_u32(&[0x80]), None);
        assert_eq!(ber_u32(&[]), None);
    }
}
