//! TLS: ClientHello (SNI, ALPN, offered versions, cipher-suite count) and
//! ServerHello (negotiated version and cipher), from the first bytes of each
//! direction. Hellos may be split across TCP segments (the caller hands us
//! the ordered stream) and across TLS records: handshake fragments of
//! consecutive handshake records are joined, bounded.
//!
//! ClientHello contents and extensions are parsed by `tls-parser`. The
//! ServerHello's fixed fields are read here because `tls-parser` refuses a
//! ServerHello whose legacy version it does not know, and an unknown value
//! must be reported, not fail the parse; its extensions go to `tls-parser`.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::{is_false, is_zero};
use super::{Parsed, Streams};
use tls_parser::{
    parse_tls_client_hello_extension, parse_tls_handshake_client_hello, parse_tls_server_hello_extension,
    SNIType, TlsCipherSuite, TlsExtension,
};

/// Handshake bytes joined from records, at most.
pub const MAX_HANDSHAKE_BYTES: usize = 32 * 1024;
/// TLS records walked per direction, at most (a hello cut into 1-byte
/// fragments, an evasion, still fits in a few KiB of records).
pub const MAX_TLS_RECORDS: usize = 1024;
/// Extensions looked at per hello, at most.
const MAX_EXTENSIONS: usize = 64;
/// Entries kept in each list fact, at most.
const MAX_LIST: usize = 16;
/// Largest legal record fragment (2^14 + 2048, RFC 5246 §6.2.3).
const MAX_RECORD_LEN: usize = 16384 + 2048;

const CONTENT_CHANGE_CIPHER_SPEC: u8 = 20;
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const CONTENT_APPLICATION_DATA: u8 = 23;

const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const HANDSHAKE_SERVER_HELLO: u8 = 2;
const HANDSHAKE_CERTIFICATE: u8 = 11;
/// Certificate names kept per flow.
pub const MAX_CERT_NAMES: usize = 8;

const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 §4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2,
    0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// TLS facts of one flow.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TlsFacts {
    /// A ClientHello was read (possibly cut short by the inspection cap).
    #[serde(skip_serializing_if = "is_false")]
    pub client_hello: bool,
    /// The ClientHello was in the SSL 2.0-compatible format.
    #[serde(skip_serializing_if = "is_false")]
    pub sslv2_hello: bool,
    /// Server Name Indication host name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// ALPN protocols offered by the client, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    /// Versions offered: the supported_versions extension when present
    /// (GREASE left out), else the ClientHello legacy_version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub client_versions: Vec<String>,
    /// The ClientHello legacy_version field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_legacy_version: Option<String>,
    /// Number of cipher suites offered (GREASE included).
    #[serde(skip_serializing_if = "is_zero")]
    pub cipher_suites_offered: u32,
    /// A ServerHello was read.
    #[serde(skip_serializing_if = "is_false")]
    pub server_hello: bool,
    /// The ServerHello was a HelloRetryRequest.
    #[serde(skip_serializing_if = "is_false")]
    pub hello_retry: bool,
    /// Negotiated version: "ssl3", "1.0", "1.1", "1.2", "1.3", or the code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Negotiated cipher suite: IANA name, or the code when unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// ALPN protocol the server selected (visible up to TLS 1.2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alpn_selected: Option<String>,
    /// Alert description the server sent in the clear (e.g. 70
    /// protocol_version, 40 handshake_failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_alert: Option<u8>,
    /// DNS names of the server's certificate (subject CN and subjectAltName
    /// dNSName of the first certificate; visible up to TLS 1.2), sanitised, at
    /// most [`MAX_CERT_NAMES`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_names: Vec<String>,
    /// Negotiated version below TLS 1.2, or, without a ServerHello, the
    /// highest version offered below TLS 1.2.
    #[serde(skip_serializing_if = "is_false")]
    pub weak: bool,
}

/// What a ClientHello offers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub sslv2: bool,
    pub legacy_version: u16,
    /// The supported_versions extension, as sent (GREASE included).
    pub supported_versions: Vec<u16>,
    pub cipher_suites: u32,
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// The message was cut short; the fields are those before the cut.
    pub truncated: bool,
}

/// What a ServerHello selects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub legacy_version: u16,
    /// supported_versions extension (TLS 1.3).
    pub selected_version: Option<u16>,
    pub cipher: u16,
    pub alpn: Option<String>,
    pub hello_retry: bool,
}

impl ServerHello {
    /// The negotiated version.
    pub fn version(&self) -> u16 {
        self.selected_version.unwrap_or(self.legacy_version)
    }
}

/// The text of a TLS version code.
pub fn version_name(v: u16) -> String {
    match v {
        0x0002 | 0x0200 => "ssl2".to_string(),
        0x0300 => "ssl3".to_string(),
        0x0301 => "1.0".to_string(),
        0x0302 => "1.1".to_string(),
        0x0303 => "1.2".to_string(),
        0x0304 => "1.3".to_string(),
        0x7f00..=0x7fff => format!("1.3-draft-{}", v & 0xff),
        _ => format!("0x{v:04x}"),
    }
}

/// Order of the known versions (ssl2 < ssl3 < 1.0 < 1.1 < 1.2 < 1.3).
fn version_rank(v: u16) -> Option<u8> {
    match v {
        0x0002 | 0x0200 => Some(0),
        0x0300 => Some(1),
        0x0301 => Some(2),
        0x0302 => Some(3),
        0x0303 => Some(4),
        0x0304 | 0x7f00..=0x7fff => Some(5),
        _ => None,
    }
}

const RANK_TLS12: u8 = 4;

fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// The IANA name of a cipher suite, or its code.
pub fn cipher_name(id: u16) -> String {
    match TlsCipherSuite::from_id(id) {
        Some(c) => c.name.to_string(),
        None => format!("0x{id:04x}"),
    }
}

/// Printable ASCII, bounded; anything else becomes '?'.
fn sanitize(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|&b| {
            if (0x21..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

// ---------------------------------------------------------------- records

/// How the walk over the records ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct RecordsEnd {
    /// The last handshake record was cut short by the end of the buffer.
    truncated: bool,
    /// An alert record came before anything else ended the walk.
    alert: Option<u8>,
}

/// A TLS record header: content type, version (3.x), length.
fn record_header(buf: &[u8]) -> Parsed<(u8, usize)> {
    let Some((&[ct, major, minor, l0, l1], _)) = buf.split_first_chunk::<5>() else {
        // Check what is there so far.
        let mut it = buf.iter();
        if it.next().is_some_and(|ct| !(20..=24).contains(ct)) {
            return Parsed::Invalid;
        }
        if it.next().is_some_and(|&m| m != 3) {
            return Parsed::Invalid;
        }
        if it.next().is_some_and(|&m| m > 4) {
            return Parsed::Invalid;
        }
        return Parsed::NeedMore;
    };
    if !(20..=24).contains(&ct) || major != 3 || minor > 4 {
        return Parsed::Invalid;
    }
    let len = usize::from(u16::from_be_bytes([l0, l1]));
    if len == 0 || len > MAX_RECORD_LEN {
        return Parsed::Invalid;
    }
    Parsed::Done((ct, len), 5)
}

/// Join the handshake fragments of the leading records of `buf` into `out`
/// (bounded). Stops at the first record of another type, or where the
/// bytes end (a cut record contributes what is there).
fn collect_handshake(buf: &[u8], out: &mut Vec<u8>) -> Parsed<RecordsEnd> {
    let mut rest = buf;
    let mut end = RecordsEnd::default();
    for i in 0..MAX_TLS_RECORDS {
        if rest.is_empty() {
            break;
        }
        let (ct, len) = match record_header(rest) {
            Parsed::Done(h, _) => h,
            Parsed::NeedMore => {
                if i == 0 {
                    return Parsed::NeedMore;
                }
                break;
            }
            Parsed::Invalid => {
                if i == 0 {
                    return Parsed::Invalid;
                }
                break;
            }
        };
        let body = rest.get(5..).unwrap_or_default();
        let frag = body.get(..len).unwrap_or(body);
        let cut = frag.len() < len;
        match ct {
            CONTENT_HANDSHAKE => {
                let room = MAX_HANDSHAKE_BYTES.saturating_sub(out.len());
                out.extend_from_slice(frag.get(..room).unwrap_or(frag));
                if cut {
                    end.truncated = true;
                    break;
                }
            }
            CONTENT_ALERT => {
                if let Some(&[_level, desc]) = frag.get(..2) {
                    end.alert = Some(desc);
                }
                break;
            }
            CONTENT_CHANGE_CIPHER_SPEC | CONTENT_APPLICATION_DATA => {
                if i == 0 {
                    // Not the start of a handshake.
                    return Parsed::Invalid;
                }
                break;
            }
            _ => break,
        }
        rest = body.get(len..).unwrap_or_default();
    }
    Parsed::Done(end, buf.len().saturating_sub(rest.len()))
}

/// The first handshake message of `hs`: `(type, body, complete)`. A body cut
/// short by the end of the bytes comes back with `complete == false`.
fn first_handshake_message(hs: &[u8]) -> Option<(u8, &[u8], bool, usize)> {
    let (&[ty, a, b, c], rest) = hs.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_be_bytes([0, a, b, c])).ok()?;
    match rest.get(..len) {
        Some(body) => Some((ty, body, true, len)),
        None => Some((ty, rest, false, len)),
    }
}

// ---------------------------------------------------------------- hellos

/// Parse the ClientHello at the start of the client's bytes: Done with the
/// complete hello, NeedMore for a valid prefix, Invalid if this is not a
/// TLS (or SSL 2.0-compatible) ClientHello.
pub fn parse_tls_client_hello(c2s: &[u8]) -> Parsed<ClientHello> {
    match client_hello(c2s) {
        Parsed::Done(ch, used) if !ch.truncated => Parsed::Done(ch, used),
        Parsed::Done(..) | Parsed::NeedMore => Parsed::NeedMore,
        Parsed::Invalid => Parsed::Invalid,
    }
}

/// Like [`parse_tls_client_hello`], but a hello cut short by the end of the
/// bytes gives what was read before the cut (`truncated` set), provided its
/// fixed fields are there.
pub fn parse_tls_client_hello_prefix(c2s: &[u8]) -> Parsed<ClientHello> {
    client_hello(c2s)
}

fn client_hello(c2s: &[u8]) -> Parsed<ClientHello> {
    if c2s.first().is_some_and(|b| b & 0x80 != 0) {
        return sslv2_client_hello(c2s);
    }
    let mut hs = Vec::new();
    let used = match collect_handshake(c2s, &mut hs) {
        Parsed::Done(_, used) => used,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::Invalid => return Parsed::Invalid,
    };
    let Some((ty, body, complete, _)) = first_handshake_message(&hs) else {
        return Parsed::NeedMore; // fewer than 4 handshake bytes so far
    };
    if ty != HANDSHAKE_CLIENT_HELLO {
        return Parsed::Invalid;
    }
    if !complete && hs.len() >= MAX_HANDSHAKE_BYTES {
        return Parsed::Invalid; // larger than any hello this reader accepts
    }
    let Ok((rem, ch)) = parse_tls_handshake_client_hello(body) else {
        return if complete {
            Parsed::Invalid
        } else {
            Parsed::NeedMore
        };
    };
    let mut out = ClientHello {
        legacy_version: ch.version.0,
        cipher_suites: u32::try_from(ch.ciphers.len()).unwrap_or(u32::MAX),
        truncated: !complete,
        ..ClientHello::default()
    };
    let exts = match ch.ext {
        Some(e) => e,
        // tls-parser leaves a cut extension block alone: take what is there.
        None => rem.get(2..).unwrap_or_default(),
    };
    for ext in split_extensions(exts) {
        let Ok((_, e)) = parse_tls_client_hello_extension(ext) else {
            continue; // a malformed or unknown extension is skipped, not fatal
        };
        match e {
            TlsExtension::SNI(names) => {
                if let Some((_, name)) = names.iter().find(|(t, _)| *t == SNIType::HostName) {
                    out.sni = Some(sanitize(name, 255));
                }
            }
            TlsExtension::ALPN(protos) => {
                out.alpn = protos.iter().take(MAX_LIST).map(|p| sanitize(p, 32)).collect();
            }
            TlsExtension::SupportedVersions(vs) => {
                out.supported_versions = vs.iter().take(MAX_LIST).map(|v| v.0).collect();
            }
            _ => {}
        }
    }
    Parsed::Done(out, used)
}

/// Complete extensions of an extension block; a cut last one is left out.
fn split_extensions(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while out.len() < MAX_EXTENSIONS {
        let Some((&[_, _, l0, l1], _)) = b.split_first_chunk::<4>() else {
            break;
        };
        let Some(total) = usize::from(u16::from_be_bytes([l0, l1])).checked_add(4) else {
            break;
        };
        let Some(ext) = b.get(..total) else {
            break;
        };
        out.push(ext);
        b = b.get(total..).unwrap_or_default();
    }
    out
}

/// SSL 2.0-compatible ClientHello (RFC 5246 appendix E.2): 2-byte header
/// with the top bit set, msg_type 1, version, three lengths, cipher specs of
/// 3 bytes each.
fn sslv2_client_hello(c2s: &[u8]) -> Parsed<ClientHello> {
    let Some((&[h0, h1, ty, v0, v1, c0, c1, s0, s1, ch0, ch1], rest)) = c2s.split_first_chunk::<11>() else {
        // Validate what is there.
        if c2s.get(2).is_some_and(|&t| t != 1) || c2s.get(3).is_some_and(|&m| m > 3) {
            return Parsed::Invalid;
        }
        return Parsed::NeedMore;
    };
    let len = usize::from(u16::from_be_bytes([h0 & 0x7f, h1]));
    let cipher_len = usize::from(u16::from_be_bytes([c0, c1]));
    let sid_len = usize::from(u16::from_be_bytes([s0, s1]));
    let chal_len = usize::from(u16::from_be_bytes([ch0, ch1]));
    let version = u16::from_be_bytes([v0, v1]);
    let body_len = cipher_len
        .checked_add(sid_len)
        .and_then(|n| n.checked_add(chal_len))
        .and_then(|n| n.checked_add(9));
    if ty != 1
        || !(v0 == 0 || v0 == 3)
        || cipher_len == 0
        || cipher_len % 3 != 0
        || sid_len > 32
        || !(16..=32).contains(&chal_len)
        || body_len != Some(len)
    {
        return Parsed::Invalid;
    }
    let Some(total) = len.checked_add(2) else {
        return Parsed::Invalid;
    };
    if rest.len() < len.saturating_sub(9) {
        return Parsed::NeedMore;
    }
    Parsed::Done(
        ClientHello {
            sslv2: true,
            legacy_version: version,
            cipher_suites: u32::try_from(cipher_len / 3).unwrap_or(u32::MAX),
            ..ClientHello::default()
        },
        total,
    )
}

/// Parse the ServerHello at the start of the server's bytes.
pub fn parse_tls_server_hello(s2c: &[u8]) -> Parsed<ServerHello> {
    let mut hs = Vec::new();
    let used = match collect_handshake(s2c, &mut hs) {
        Parsed::Done(_, used) => used,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::Invalid => return Parsed::Invalid,
    };
    let Some((ty, body, complete, _)) = first_handshake_message(&hs) else {
        return Parsed::NeedMore; // fewer than 4 handshake bytes so far
    };
    if ty != HANDSHAKE_SERVER_HELLO {
        return Parsed::Invalid;
    }
    if !complete {
        return Parsed::NeedMore;
    }
    match server_hello_body(body) {
        Some(sh) => Parsed::Done(sh, used),
        None => Parsed::Invalid,
    }
}

fn server_hello_body(body: &[u8]) -> Option<ServerHello> {
    let (&[v0, v1], rest) = body.split_first_chunk::<2>()?;
    let (random, rest) = rest.split_first_chunk::<32>()?;
    let (&sid_len, rest) = rest.split_first()?;
    if sid_len > 32 {
        return None;
    }
    let rest = rest.get(usize::from(sid_len)..)?;
    let (&[c0, c1, _compression], rest) = rest.split_first_chunk::<3>()?;
    let mut sh = ServerHello {
        legacy_version: u16::from_be_bytes([v0, v1]),
        cipher: u16::from_be_bytes([c0, c1]),
        hello_retry: *random == HELLO_RETRY_RANDOM,
        ..ServerHello::default()
    };
    // SSL 3.0 servers may send no extensions at all.
    if let Some((&[l0, l1], exts)) = rest.split_first_chunk::<2>() {
        let n = usize::from(u16::from_be_bytes([l0, l1]));
        let exts = exts.get(..n).unwrap_or(exts);
        for ext in split_extensions(exts) {
            // supported_versions in a ServerHello is one version.
            if let Some((&[t0, t1, 0, 2, s0, s1], _)) = ext.split_first_chunk::<6>() {
                if u16::from_be_bytes([t0, t1]) == EXT_SUPPORTED_VERSIONS {
                    sh.selected_version = Some(u16::from_be_bytes([s0, s1]));
                    continue;
                }
            }
            if let Ok((_, TlsExtension::ALPN(protos))) = parse_tls_server_hello_extension(ext) {
                sh.alpn = protos.first().map(|p| sanitize(p, 32));
            }
        }
    }
    Some(sh)
}

// ---------------------------------------------------------------- certificate

/// The DNS names of the first certificate of a TLS 1.0-1.2 Certificate
/// message in the server's handshake bytes `hs` (empty when there is none,
/// it is cut short, or the DER does not parse). The DER is parsed by
/// `x509-parser`.
fn certificate_names(hs: &[u8]) -> Vec<String> {
    let mut rest = hs;
    for _ in 0..8 {
        let Some((ty, body, complete, len)) = first_handshake_message(rest) else {
            return Vec::new();
        };
        if ty == HANDSHAKE_CERTIFICATE {
            if !complete {
                return Vec::new();
            }
            return leaf_names(body);
        }
        if !complete {
            return Vec::new();
        }
        rest = rest.get(len.saturating_add(4)..).unwrap_or_default();
    }
    Vec::new()
}

fn u24(b: &[u8]) -> Option<usize> {
    let (&[a, b1, c], _) = b.split_first_chunk::<3>()?;
    usize::try_from(u32::from_be_bytes([0, a, b1, c])).ok()
}

fn leaf_names(body: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(first_len) = body.get(3..).and_then(u24) else {
        return out;
    };
    let Some(der) = body.get(6..6usize.saturating_add(first_len)) else {
        return out;
    };
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return out;
    };
    let mut push = |name: &str| {
        let n = sanitize(name.as_bytes(), 253).to_ascii_lowercase();
        if !n.is_empty() && out.len() < MAX_CERT_NAMES && !out.contains(&n) {
            out.push(n);
        }
    };
    for cn in cert.subject().iter_common_name() {
        if let Ok(t) = cn.as_str() {
            push(t);
        }
    }
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for g in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(d) = g {
                push(d);
            }
        }
    }
    out
}

// ---------------------------------------------------------------- inspector

/// Whether the client's first bytes look like the start of a TLS handshake
/// (a handshake record whose first message is a ClientHello) or an SSL
/// 2.0-compatible ClientHello. Works on a few bytes.
pub fn looks_like_tls(c2s: &[u8]) -> bool {
    if c2s.len() < 3 {
        return false;
    }
    if c2s.first().is_some_and(|b| b & 0x80 != 0) {
        return matches!(sslv2_client_hello(c2s), Parsed::Done(..) | Parsed::NeedMore);
    }
    match record_header(c2s) {
        Parsed::Done((CONTENT_HANDSHAKE, _), _) => c2s.get(5).is_none_or(|&t| t == HANDSHAKE_CLIENT_HELLO),
        Parsed::NeedMore => c2s.first() == Some(&CONTENT_HANDSHAKE),
        _ => false,
    }
}

/// TLS facts from the first bytes of both directions; `None` unless a
/// ClientHello, a ServerHello or a server alert was read.
pub fn inspect_tls(s: &Streams) -> Option<TlsFacts> {
    let mut f = TlsFacts::default();
    let mut offered_max: Option<u8> = None;

    if let Parsed::Done(ch, _) = parse_tls_client_hello_prefix(s.c2s) {
        f.client_hello = true;
        f.sslv2_hello = ch.sslv2;
        f.sni = ch.sni;
        f.alpn = ch.alpn;
        f.cipher_suites_offered = ch.cipher_suites;
        f.client_legacy_version = Some(version_name(ch.legacy_version));
        let offered: Vec<u16> = if ch.supported_versions.is_empty() {
            vec![ch.legacy_version]
        } else {
            ch.supported_versions
                .iter()
                .copied()
                .filter(|v| !is_grease(*v))
                .collect()
        };
        offered_max = offered.iter().filter_map(|v| version_rank(*v)).max();
        f.client_versions = offered.into_iter().map(version_name).collect();
    }

    match parse_tls_server_hello(s.s2c) {
        Parsed::Done(sh, _) => {
            f.server_hello = true;
            f.hello_retry = sh.hello_retry;
            f.version = Some(version_name(sh.version()));
            f.cipher = Some(cipher_name(sh.cipher));
            f.alpn_selected = sh.alpn.clone();
            f.weak = version_rank(sh.version()).is_some_and(|r| r < RANK_TLS12);
        }
        _ => {
            f.weak = offered_max.is_some_and(|r| r < RANK_TLS12);
        }
    }
    let mut hs = Vec::new();
    if let Parsed::Done(end, _) = collect_handshake(s.s2c, &mut hs) {
        f.server_alert = end.alert;
        f.cert_names = certificate_names(&hs);
    }

    (f.client_hello || f.server_hello || f.server_alert.is_some()).then_some(f)
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

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// zeek__tls__openjdk-25.0.2-zeek.org.pcap frame 4 (SLL2): the OpenJDK 25
    /// ClientHello to zeek.org:443, one record, 457 bytes.
    const TLS_CLIENT_HELLO_JDK_ZEEK_ORG: &str = "\
        16030301c4010001c00303a021a50627aaf47999a11177afaf134b1567779546868cdb06d4f4e71b53a6e720\
        a14023aebdc70f8d832511dd646b823f52c5afb346835af730d498318dcdc5ad003e130213011303c02cc02b\
        cca9c030cca8c02f009fccaa00a3009e00a2c024c028c023c027006b006a00670040c00ac014c009c0130039\
        00380033003200ff010001390000000d000b0000087a65656b2e6f7267000500050100000000000a00160014\
        001d001700180019001e01000101010201030104000b000201000010000e000c02683208687474702f312e31\
        001100090007020004000000000017000000230000000d002600240403050306030807080808040805080608\
        09080a080b0401050106010402030303010302002b00050403040303002d000201010032002c002a04030503\
        0603080708080804080508060809080a080b04010501060104020303030103020203020102020033006b0069\
        001d0020270663b763d4bc48328b250b6adc6903e1f50b5c38a1b8f7773112439287101800170041043b4fdb\
        deddcbc7f434455e6f5d3e5ab2c917a7852fb4f652554df46d17f1160e9b0af7153269f74fa7588e876d923e\
        dac3fee9b8db107fcb6d4d8fa29dfafd58";

    /// Same capture, frame 6: the ServerHello record (TLS 1.3 by supported_versions)
    /// and the ChangeCipherSpec record that follows it (133 bytes).
    const TLS_SERVER_HELLO_13_ZEEK_ORG: &str = "\
        160303007a020000760303391e35cc472a7a67098c6f6831d8a876203b0a93d3464c0da9b3d7deac02d15d20\
        a14023aebdc70f8d832511dd646b823f52c5afb346835af730d498318dcdc5ad130200002e002b0002030400\
        330024001d0020cc30adaf1198c54a66db3d3fea75f8289e8133ef6ac6188b13f9e901897d48781403030001\
        01";

    /// ndpi__sites.pcapng frame 427: a browser's ClientHello to outlook.com:443
    /// (SNI outlook.com, ALPN h2 and http/1.1), one record, 517 bytes.
    const TLS_CLIENT_HELLO_OUTLOOK_COM: &str = "\
        1603010200010001fc0303b5bbea1e7d14c43b048b4232e31e1555d3198d1012c878fa2efda00754e7760820\
        0fcab4d24f63276266f1336548667bd0a3bc49596b33aba5d3d07077cbb228300022130113031302c02bc02f\
        cca9cca8c02cc030c00ac009c013c014009c009d002f00350100019100000010000e00000b6f75746c6f6f6b\
        2e636f6d00170000ff01000100000a000e000c001d00170018001901000101000b0002010000230000001000\
        0e000c02683208687474702f312e310005000501000000000022000a000804030503060302030033006b0069\
        001d002056be45c8423dbbc9d4a558d72bb4f54002d0e3724752c33b1eadf2506e3a9a58001700410498b701\
        f7b845102a235de426f5ae5e9675a0298444c5d1668e25b5d197c118ffa27119c5a63696073f7bce131e3822\
        d9efd2c961679566fb3d8ce5135684d308002b00050403040303000d00180016040305030603080408050806\
        04010501060102030201002d00020101001c000240010015008b000000000000000000000000000000000000\
        0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
        0000000000000000000000000000000000000000000000000000000000000000000000000000000000000000\
        000000000000000000000000000000000000000000000000000000000000000000";

    /// Same flow, frame 428: the first 105 bytes of the server's first record
    /// (4430 bytes long: ServerHello, Certificate, ...): the whole TLS 1.2
    /// ServerHello, then the record is cut, as an inspection cap cuts it.
    const TLS_SERVER_HELLO_12_OUTLOOK_COM: &str = "\
        160303114e02000059030362235644d47dbb6fa4fa251bc29bf303d25b8a1723130dede3ad06e9887cb82020\
        b93200000dbf93c3845b88ab8dbdd41aa941778aa09fe3ed08772a580a87dc37c03000001100050000002300\
        0000170000ff010001000b000d9d000d9a";

    /// ndpi__sites.pcapng frame 3: Facebook's fizz client to
    /// edge-mqtt.facebook.com, offering TLS 1.3 and the private version 0xfb1a
    /// (381 bytes).
    const TLS_CLIENT_HELLO_FIZZ_UNKNOWN_VERSION: &str = "\
        16030101780100017403031bcff1156db05e5d315df75a5cc4134fe5472709fab75a7c7e14a2b8df503cbc20\
        9895eeb3f1a668955016fd6b15380145a80a1c0a9559972f7affa56646deae9c000613011302130301000125\
        002b0005040304fb1a000a00060004001d0017003300260024001d0020cccd0a85eddcb8b6c7140a14a1443b\
        e5596e882f9b974c011d86bb1a214b496a000d00060004040308040000001b0019000016656467652d6d7174\
        742e66616365626f6f6b2e636f6d0010000b00090268320568322d6662002d0003020100002a0000002900a1\
        007c0076fb3c79480c64eae6be8499c680e3b0de1f0f64eb44e626927890c6d6734ec29800000000afc18fb8\
        f9ca9564edcb8b2307fce04aa984e0c649cfa2e9def124b1d3c818510e6ff1d5f9e081f38cf8800a4d2de618\
        603be0e3885914a9334aaf23b94a71eb36f00acfa42a38c7666b8b7dd7612f5c01e07c5bd0c3002120580533\
        7e8b3b905e995f96e3aeae6eed9dc1e3433ff7f2be84fd92ad0558dcbd";

    /// Same flow: the ServerHello record selecting version 0xfb1a (133 bytes).
    const TLS_SERVER_HELLO_FIZZ_UNKNOWN_VERSION: &str = "\
        16030300800200007c0303d41084e7ee60abbee953fcd75c5ca3792a28dc23883d93708ad9743bef6b375b20\
        9895eeb3f1a668955016fd6b15380145a80a1c0a9559972f7affa56646deae9c1301000034002b0002fb1a00\
        330024001d00200ed273fa9dce90a3dae959884ce45376210ee89c6e48187fdb327c3dec6aec620029000200\
        00";

    /// Re-frame one record's handshake bytes into records of at most `frag`
    /// bytes each (a hello split across TLS records, as large hellos are).
    fn reframe(record: &[u8], frag: usize) -> Vec<u8> {
        let hs = &record[5..];
        let mut out = Vec::new();
        for chunk in hs.chunks(frag) {
            out.extend_from_slice(&record[..3]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
        }
        out
    }

    #[test]
    fn golden_jdk_zeek_org_tls13() {
        let c2s = hex(TLS_CLIENT_HELLO_JDK_ZEEK_ORG);
        let s2c = hex(TLS_SERVER_HELLO_13_ZEEK_ORG);
        assert!(looks_like_tls(&c2s));
        let f = inspect_tls(&Streams { c2s: &c2s, s2c: &s2c }).unwrap();
        assert_eq!(f.sni.as_deref(), Some("zeek.org"));
        assert_eq!(f.alpn, vec!["h2", "http/1.1"]);
        assert_eq!(f.client_versions, vec!["1.3", "1.2"]);
        assert_eq!(f.client_legacy_version.as_deref(), Some("1.2"));
        assert_eq!(f.cipher_suites_offered, 31);
        assert!(f.client_hello && f.server_hello && !f.hello_retry);
        assert_eq!(f.version.as_deref(), Some("1.3"));
        assert_eq!(f.cipher.as_deref(), Some("TLS_AES_256_GCM_SHA384"));
        assert!(!f.weak);
        assert_eq!(f.server_alert, None);
        let j = serde_json::to_value(&f).unwrap();
        assert_eq!(j["sni"], "zeek.org");
        assert_eq!(j["version"], "1.3");
        assert!(j.get("weak").is_none(), "false flags are left out: {j}");
    }

    #[test]
    fn golden_outlook_com_tls12_with_cut_server_record() {
        let c2s = hex(TLS_CLIENT_HELLO_OUTLOOK_COM);
        let s2c = hex(TLS_SERVER_HELLO_12_OUTLOOK_COM);
        let f = inspect_tls(&Streams { c2s: &c2s, s2c: &s2c }).unwrap();
        assert_eq!(f.sni.as_deref(), Some("outlook.com"));
        assert_eq!(f.alpn, vec!["h2", "http/1.1"]);
        assert_eq!(f.client_versions, vec!["1.3", "1.2"]);
        assert_eq!(f.cipher_suites_offered, 17);
        assert_eq!(f.version.as_deref(), Some("1.2"));
        assert_eq!(f.cipher.as_deref(), Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
        assert!(!f.weak);
    }

    #[test]
    fn client_hello_split_across_records_and_segments() {
        let one = hex(TLS_CLIENT_HELLO_JDK_ZEEK_ORG);
        let whole = match parse_tls_client_hello(&one) {
            Parsed::Done(ch, _) => ch,
            other => panic!("{other:?}"),
        };
        for frag in [1usize, 7, 100, 300] {
            let split = reframe(&one, frag);
            match parse_tls_client_hello(&split) {
                Parsed::Done(ch, used) => {
                    assert_eq!(ch, whole, "fragment size {frag}");
                    assert_eq!(used, split.len());
                }
                other => panic!("fragment size {frag}: {other:?}"),
            }
        }
        // Every TCP-segment-sized prefix of the multi-record form needs more.
        let split = reframe(&one, 100);
        for n in 0..split.len() {
            assert_eq!(parse_tls_client_hello(&split[..n]), Parsed::NeedMore, "{n}");
        }
    }

    #[test]
    fn unknown_version_reported_not_failed() {
        let c2s = hex(TLS_CLIENT_HELLO_FIZZ_UNKNOWN_VERSION);
        let s2c = hex(TLS_SERVER_HELLO_FIZZ_UNKNOWN_VERSION);
        let f = inspect_tls(&Streams { c2s: &c2s, s2c: &s2c }).unwrap();
        assert_eq!(f.sni.as_deref(), Some("edge-mqtt.facebook.com"));
        assert_eq!(f.alpn, vec!["h2", "h2-fb"]);
        assert_eq!(f.client_versions, vec!["1.3", "0xfb1a"]);
        assert_eq!(f.version.as_deref(), Some("0xfb1a"));
        assert_eq!(f.cipher.as_deref(), Some("TLS_AES_128_GCM_SHA256"));
        assert!(!f.weak, "an unknown version is not called weak");
    }

    #[test]
    fn unknown_extension_and_cipher_reported_not_failed() {
        // Append an unknown extension (type 0xbeef) to the real ClientHello.
        let mut rec = hex(TLS_CLIENT_HELLO_JDK_ZEEK_ORG);
        let extra = [0xbe, 0xef, 0x00, 0x02, 0xaa, 0xbb];
        let bump = |rec: &mut Vec<u8>, at: usize, width: usize| {
            let mut v = 0usize;
            for i in 0..width {
                v = (v << 8) | rec[at + i] as usize;
            }
            v += extra.len();
            for i in 0..width {
                rec[at + width - 1 - i] = (v >> (8 * i)) as u8;
            }
        };
        bump(&mut rec, 3, 2); // record length
        bump(&mut rec, 6, 3); // handshake length
                              // extensions length: after version, random, session id, ciphers, compression
        let sid = rec[9 + 2 + 32] as usize;
        let mut p = 9 + 2 + 32 + 1 + sid;
        let cs = ((rec[p] as usize) << 8) | rec[p + 1] as usize;
        p += 2 + cs;
        let comp = rec[p] as usize;
        p += 1 + comp;
        bump(&mut rec, p, 2);
        rec.extend_from_slice(&extra);
        let f = inspect_tls(&Streams { c2s: &rec, s2c: &[] }).unwrap();
        assert_eq!(f.sni.as_deref(), Some("zeek.org"));
        assert_eq!(f.client_versions, vec!["1.3", "1.2"]);

        // An unassigned cipher suite code in the ServerHello.
        let mut sh = hex(TLS_SERVER_HELLO_13_ZEEK_ORG);
        let sid = sh[9 + 2 + 32] as usize;
        let c = 9 + 2 + 32 + 1 + sid;
        sh[c] = 0x7a;
        sh[c + 1] = 0x7a;
        let f = inspect_tls(&Streams { c2s: &[], s2c: &sh }).unwrap();
        assert_eq!(f.cipher.as_deref(), Some("0x7a7a"));
        assert_eq!(f.version.as_deref(), Some("1.3"));
    }

    #[test]
    fn weak_when_only_old_versions() {
        // The real ClientHello with legacy_version set to TLS 1.0 and its
        // supported_versions extension renamed to an unknown type.
        let mut rec = hex(TLS_CLIENT_HELLO_OUTLOOK_COM);
        rec[9] = 3;
        rec[10] = 1;
        let pos = rec
            .windows(5)
            .position(|w| w == [0x00, 0x2b, 0x00, 0x05, 0x04])
            .unwrap();
        rec[pos] = 0xbe;
        let f = inspect_tls(&Streams { c2s: &rec, s2c: &[] }).unwrap();
        assert_eq!(f.client_versions, vec!["1.0"]);
        assert!(f.weak);
        // ...and a server that picks TLS 1.0 is weak whatever was offered.
        let c2s = hex(TLS_CLIENT_HELLO_OUTLOOK_COM);
        let mut sh = hex(TLS_SERVER_HELLO_12_OUTLOOK_COM);
        sh[9] = 3;
        sh[10] = 1;
        let f = inspect_tls(&Streams { c2s: &c2s, s2c: &sh }).unwrap();
        assert_eq!(f.version.as_deref(), Some("1.0"));
        assert!(f.weak);
    }

    #[test]
    fn server_alert_reported() {
        // A fatal protocol_version alert (the answer to a too-old hello).
        let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46];
        let c2s = hex(TLS_CLIENT_HELLO_OUTLOOK_COM);
        let f = inspect_tls(&Streams {
            c2s: &c2s,
            s2c: &alert,
        })
        .unwrap();
        assert_eq!(f.server_alert, Some(70));
        assert!(!f.server_hello);
    }

    #[test]
    fn sslv2_compatible_hello() {
        // SSLv2-format ClientHello offering TLS 1.0 with 3 cipher specs
        // (layout per RFC 5246 appendix E.2; synthetic).
        let mut b = vec![0x80, 0x00, 0x01, 0x03, 0x01, 0x00, 0x09, 0x00, 0x00, 0x00, 0x10];
        b.extend_from_slice(&[0x00, 0x00, 0x04, 0x00, 0x00, 0x05, 0x00, 0x00, 0x0a]);
        b.extend_from_slice(&[0x11; 16]);
        b[1] = (b.len() - 2) as u8;
        assert!(looks_like_tls(&b));
        let f = inspect_tls(&Streams { c2s: &b, s2c: &[] }).unwrap();
        assert!(f.sslv2_hello);
        assert_eq!(f.client_versions, vec!["1.0"]);
        assert_eq!(f.cipher_suites_offered, 3);
        assert!(f.weak);
        for n in 0..b.len() {
            assert_eq!(parse_tls_client_hello(&b[..n]), Parsed::NeedMore, "{n}");
        }
    }

    #[test]
    fn every_prefix_never_panics() {
        for (c, s) in [
            (TLS_CLIENT_HELLO_JDK_ZEEK_ORG, TLS_SERVER_HELLO_13_ZEEK_ORG),
            (TLS_CLIENT_HELLO_OUTLOOK_COM, TLS_SERVER_HELLO_12_OUTLOOK_COM),
            (
                TLS_CLIENT_HELLO_FIZZ_UNKNOWN_VERSION,
                TLS_SERVER_HELLO_FIZZ_UNKNOWN_VERSION,
            ),
        ] {
            let c = hex(c);
            let s = hex(s);
            for n in 0..c.len() {
                assert_eq!(parse_tls_client_hello(&c[..n]), Parsed::NeedMore, "{n}");
                let _ = looks_like_tls(&c[..n]);
                let _ = inspect_tls(&Streams {
                    c2s: &c[..n],
                    s2c: &s,
                });
            }
            for n in 0..s.len() {
                let r = parse_tls_server_hello(&s[..n]);
                assert!(matches!(r, Parsed::NeedMore | Parsed::Done(..)), "{n}: {r:?}");
                let _ = inspect_tls(&Streams {
                    c2s: &c,
                    s2c: &s[..n],
                });
            }
        }
    }

    #[test]
    fn garbage_is_none() {
        let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        assert!(!looks_like_tls(http));
        assert_eq!(
            inspect_tls(&Streams {
                c2s: http,
                s2c: b"HTTP/1.1 200 OK\r\n"
            }),
            None
        );
        assert_eq!(inspect_tls(&Streams::default()), None);
        assert_eq!(
            parse_tls_client_hello(&[0x17, 3, 3, 0, 5, 1, 2, 3, 4, 5]),
            Parsed::Invalid
        );
        // A handshake record holding a ServerHello is no ClientHello.
        assert_eq!(
            parse_tls_client_hello(&hex(TLS_SERVER_HELLO_13_ZEEK_ORG)),
            Parsed::Invalid
        );
        // Pseudo-random bytes.
        let mut x: u32 = 0x1234_5678;
        let junk: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for n in 0..64 {
            let _ = inspect_tls(&Streams {
                c2s: &junk[n..],
                s2c: &junk[..n],
            });
        }
    }

    /// A self-signed certificate for mail.contoso.com with the SAN
    /// autodiscover.contoso.com, made by `openssl req -x509 -newkey ec -pkeyopt
    /// ec_paramgen_curve:prime256v1 -nodes -subj /CN=mail.contoso.com -addext
    /// subjectAltName=DNS:mail.contoso.com,DNS:autodiscover.contoso.com`.
    const CERT_DER: &[u8] = include_bytes!("testdata/autodiscover-cert.der");

    fn certificate_message(der: &[u8]) -> Vec<u8> {
        let u24 = |n: usize| [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let mut body = Vec::new();
        body.extend(u24(der.len() + 3));
        body.extend(u24(der.len()));
        body.extend_from_slice(der);
        let mut m = vec![HANDSHAKE_CERTIFICATE];
        m.extend(u24(body.len()));
        m.extend(body);
        m
    }

    #[test]
    fn certificate_names_from_subject_and_san() {
        // A ServerHello-like message first, then the Certificate.
        let mut hs = vec![HANDSHAKE_SERVER_HELLO, 0, 0, 2, 3, 3];
        hs.extend(certificate_message(CERT_DER));
        assert_eq!(
            certificate_names(&hs),
            ["mail.contoso.com", "autodiscover.contoso.com"]
        );
        // Every cut of the message gives no names or the names, never a panic.
        for n in 0..hs.len() {
            let names = certificate_names(&hs[..n]);
            assert!(names.is_empty(), "cut at {n}: {names:?}");
        }
        // A corrupt DER is no names.
        let mut bad = CERT_DER.to_vec();
        bad[20] ^= 0xff;
        let _ = certificate_names(&certificate_message(&bad));
        assert!(certificate_names(&certificate_message(&[0x30, 0x03, 1, 2, 3])).is_empty());
    }
}
