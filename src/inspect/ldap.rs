//! LDAP (RFC 4511) over TCP or UDP: binds, StartTLS, searches.
//!
//! The shared BER reader ([`super::ber`]) walks the LDAPMessage sequence of
//! each direction, with bounded nesting.
//! The bind DN is never kept (DNs name users): only whether one was given.
//! A simple bind's password is never kept: only whether it was non-empty.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::auth::{find_kerberos, find_ntlmssp};
use super::ber::{
    ber_u32, parse_ber_header, parse_ber_tlv, parse_ber_tlv_prefix, BerHeader, Tlv, MAX_BER_LEN,
};
use super::{is_false, is_zero};
use super::{Parsed, Streams};

/// LDAP messages read per direction, at most.
pub const MAX_LDAP_MESSAGES: usize = 64;
/// Entries kept in each list fact, at most.
const MAX_LIST: usize = 8;
/// Characters kept of a SASL mechanism name or an OID.
const MAX_NAME_CHARS: usize = 64;

/// The StartTLS extended operation (RFC 4511 §4.14.1).
pub const STARTTLS_OID: &str = "1.3.6.1.4.1.1466.20037";

/// LDAP facts of one flow.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LdapFacts {
    /// LDAP messages parsed in both directions.
    pub messages: u32,
    /// Protocol version of the first bindRequest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind_version: Option<u8>,
    /// Some bindRequest named a DN (the DN itself is not kept).
    #[serde(skip_serializing_if = "is_false")]
    pub bind_dn_present: bool,
    /// Authentication kinds of the bindRequests, in order, deduplicated:
    /// "anonymous" (simple, no name, no password), "unauthenticated" (simple,
    /// a name, no password), "simple" (with a password), "sasl",
    /// "sicily-discovery" / "sicily-negotiate" / "sicily-response" (MS-ADTS
    /// NTLM binds), "unknown-N".
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bind_auth: Vec<String>,
    /// A simple bind carried a non-empty password (in the clear unless the
    /// flow is TLS).
    #[serde(skip_serializing_if = "is_false")]
    pub simple_with_password: bool,
    /// SASL mechanism names offered in bindRequests (GSS-SPNEGO, GSSAPI,
    /// EXTERNAL, DIGEST-MD5 ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sasl_mechanisms: Vec<String>,
    /// bindResponse result codes, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bind_results: Vec<u32>,
    /// NTLMSSP seen in a bind (SASL GSS-SPNEGO or sicily).
    #[serde(skip_serializing_if = "is_false")]
    pub ntlm: bool,
    /// Kerberos seen in a bind (SASL GSSAPI / GSS-SPNEGO).
    #[serde(skip_serializing_if = "is_false")]
    pub kerberos: bool,
    /// The client asked for StartTLS.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls_requested: bool,
    /// The server's resultCode for the StartTLS request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starttls_result: Option<u32>,
    /// StartTLS succeeded (resultCode 0): TLS follows.
    #[serde(skip_serializing_if = "is_false")]
    pub starttls: bool,
    /// Extended operation OIDs requested, other than StartTLS.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extended_oids: Vec<String>,
    /// searchRequests sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub search_requests: u32,
    /// The client sent an unbindRequest.
    #[serde(skip_serializing_if = "is_false")]
    pub unbind: bool,
    /// protocolOp application tag numbers not in RFC 4511.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_ops: Vec<u32>,
    /// After a SASL/sicily bind the stream went on in SASL security-layer
    /// buffers (signed or sealed), which are not read.
    #[serde(skip_serializing_if = "is_false")]
    pub sasl_wrapped: bool,
    /// Bytes that are not LDAP followed LDAP messages (an anomaly).
    #[serde(skip_serializing_if = "is_false")]
    pub invalid: bool,
    /// After a successful StartTLS: where TLS starts in the (client, server)
    /// bytes, for the TLS inspector. Not part of the output.
    #[serde(skip)]
    pub tls_offsets: Option<(usize, usize)>,
}

/// Printable ASCII, bounded; anything else becomes '?'.
fn sanitize(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(MAX_NAME_CHARS)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

// ---------------------------------------------------------------- LDAP

/// The authentication choice of a bindRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LdapBindAuth<'a> {
    /// simple [0]: only whether the password was empty.
    Simple { password_present: bool },
    /// sasl [3]: mechanism and (possibly truncated) credentials.
    Sasl {
        mechanism: &'a [u8],
        credentials: &'a [u8],
    },
    /// MS-ADTS sicily NTLM binds: 9 discovery, 10 negotiate, 11 response.
    Sicily { kind: u32, payload: &'a [u8] },
    /// Any other context tag.
    Unknown(u32),
    /// Cut off before the choice.
    Missing,
}

/// The protocolOp of an LDAPMessage, as far as this inspector cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LdapOp<'a> {
    BindRequest {
        version: Option<u8>,
        name_present: bool,
        auth: LdapBindAuth<'a>,
    },
    BindResponse {
        result: Option<u32>,
        rest: &'a [u8],
    },
    UnbindRequest,
    SearchRequest,
    ExtendedRequest {
        oid: Option<&'a [u8]>,
    },
    ExtendedResponse {
        result: Option<u32>,
    },
    /// A known RFC 4511 operation this inspector does not look into.
    Other(u32),
    /// An application tag not in RFC 4511.
    Unknown(u32),
}

/// One LDAPMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapMessage<'a> {
    pub id: u32,
    pub op: LdapOp<'a>,
}

/// Parse one complete LDAPMessage at the start of `buf`.
pub fn parse_ldap_message(buf: &[u8]) -> Parsed<LdapMessage<'_>> {
    match parse_ber_tlv(buf) {
        Parsed::Done(outer, used) => match decode_ldap_message(outer) {
            Some(m) => Parsed::Done(m, used),
            None => Parsed::Invalid,
        },
        Parsed::NeedMore => {
            // A valid header whose body is cut: still needs more only if what
            // is there so far looks like an LDAPMessage.
            match parse_ber_header(buf) {
                Parsed::Done(h, _) if !is_sequence(&h) => Parsed::Invalid,
                Parsed::Invalid => Parsed::Invalid,
                _ => {
                    if parse_ldap_message_truncated(buf).is_some() || buf.len() < 24 {
                        Parsed::NeedMore
                    } else {
                        Parsed::Invalid
                    }
                }
            }
        }
        Parsed::Invalid => Parsed::Invalid,
    }
}

/// Parse an LDAPMessage cut short by the end of the inspected bytes, taking
/// what is there (e.g. a large Kerberos bind past the inspection cap).
pub fn parse_ldap_message_truncated(buf: &[u8]) -> Option<LdapMessage<'_>> {
    let (outer, _) = parse_ber_tlv_prefix(buf)?;
    decode_ldap_message(outer)
}

fn is_sequence(h: &BerHeader) -> bool {
    h.class == 0 && h.constructed && h.number == 16
}

fn decode_ldap_message(outer: Tlv<'_>) -> Option<LdapMessage<'_>> {
    if !is_sequence(&outer.hdr) {
        return None;
    }
    let body = outer.value;
    let Parsed::Done(id_tlv, id_len) = parse_ber_tlv(body) else {
        return None;
    };
    if !(id_tlv.hdr.class == 0 && !id_tlv.hdr.constructed && id_tlv.hdr.number == 2) {
        return None;
    }
    let id = ber_u32(id_tlv.value)?;
    let (op_tlv, _complete) = parse_ber_tlv_prefix(body.get(id_len..)?)?;
    if op_tlv.hdr.class != 1 {
        return None;
    }
    let v = op_tlv.value;
    let op = match op_tlv.hdr.number {
        0 => decode_bind_request(v),
        1 => LdapOp::BindResponse {
            result: first_enumerated(v),
            rest: v,
        },
        2 => LdapOp::UnbindRequest,
        3 => LdapOp::SearchRequest,
        23 => LdapOp::ExtendedRequest {
            oid: match parse_ber_tlv(v) {
                Parsed::Done(t, _) if t.hdr.class == 2 && t.hdr.number == 0 => Some(t.value),
                _ => None,
            },
        },
        24 => LdapOp::ExtendedResponse {
            result: first_enumerated(v),
        },
        n @ (4..=16 | 19 | 25) => LdapOp::Other(n),
        n => LdapOp::Unknown(n),
    };
    Some(LdapMessage { id, op })
}

fn first_enumerated(v: &[u8]) -> Option<u32> {
    match parse_ber_tlv(v) {
        Parsed::Done(t, _) if t.hdr.class == 0 && t.hdr.number == 10 => ber_u32(t.value),
        _ => None,
    }
}

fn decode_bind_request(v: &[u8]) -> LdapOp<'_> {
    let mut version = None;
    let mut name_present = false;
    let mut auth = LdapBindAuth::Missing;
    let mut rest = v;
    if let Parsed::Done(t, used) = parse_ber_tlv(rest) {
        if t.hdr.class == 0 && t.hdr.number == 2 {
            version = ber_u32(t.value).and_then(|n| u8::try_from(n).ok());
        }
        rest = rest.get(used..).unwrap_or_default();
        if let Parsed::Done(t, used) = parse_ber_tlv(rest) {
            name_present = !t.value.is_empty();
            rest = rest.get(used..).unwrap_or_default();
            if let Some((t, _)) = parse_ber_tlv_prefix(rest) {
                auth = decode_bind_auth(t);
            }
        }
    }
    LdapOp::BindRequest {
        version,
        name_present,
        auth,
    }
}

fn decode_bind_auth(t: Tlv<'_>) -> LdapBindAuth<'_> {
    if t.hdr.class != 2 {
        return LdapBindAuth::Unknown(t.hdr.number);
    }
    match t.hdr.number {
        // The header's length says whether a password was there, even when
        // the value itself is cut off.
        0 => LdapBindAuth::Simple {
            password_present: t.hdr.len > 0,
        },
        3 => {
            let (mechanism, credentials) = match parse_ber_tlv(t.value) {
                Parsed::Done(m, used) => (m.value, t.value.get(used..).unwrap_or_default()),
                _ => (&[][..], t.value),
            };
            LdapBindAuth::Sasl {
                mechanism,
                credentials,
            }
        }
        n @ 9..=11 => LdapBindAuth::Sicily {
            kind: n,
            payload: t.value,
        },
        n => LdapBindAuth::Unknown(n),
    }
}

// ---------------------------------------------------------------- inspector

/// Whether the client's first bytes look like an LDAPMessage: a SEQUENCE
/// holding an INTEGER message ID and an application-class protocolOp.
pub fn looks_like_ldap(c2s: &[u8]) -> bool {
    parse_ldap_message_truncated(c2s).is_some()
}

/// LDAP facts from the first bytes of both directions; `None` when the client
/// did not speak LDAP.
pub fn inspect_ldap(s: &Streams) -> Option<LdapFacts> {
    let mut facts = LdapFacts::default();
    let mut starttls_id: Option<u32> = None;
    let mut sasl_bound = false;

    let (c2s_count, c2s_stop) = walk(s.c2s, &mut facts, |m, facts| {
        apply_client(m, facts, &mut starttls_id, &mut sasl_bound)
    });
    if c2s_count == 0 {
        return None;
    }
    let (_, s2c_stop) = walk(s.s2c, &mut facts, |m, facts| apply_server(m, facts, starttls_id));
    if facts.starttls {
        facts.tls_offsets = c2s_stop.zip(s2c_stop);
    }
    Some(facts)
}

/// Walk the messages of one direction; the callback says whether to go on.
/// Returns the number of messages read.
fn walk<'a>(
    mut buf: &'a [u8],
    facts: &mut LdapFacts,
    mut apply: impl FnMut(&LdapMessage<'a>, &mut LdapFacts) -> Step,
) -> (usize, Option<usize>) {
    let start_len = buf.len();
    let mut count: usize = 0;
    let mut wrap_ok = false;
    while count < MAX_LDAP_MESSAGES && !buf.is_empty() {
        match parse_ldap_message(buf) {
            Parsed::Done(m, used) => {
                count = count.saturating_add(1);
                facts.messages = facts.messages.saturating_add(1);
                let step = apply(&m, facts);
                buf = buf.get(used..).unwrap_or_default();
                match step {
                    Step::Go => {}
                    Step::GoWrapped => wrap_ok = true,
                    Step::Stop => {
                        return (count, Some(start_len.saturating_sub(buf.len())));
                    }
                }
            }
            Parsed::NeedMore => {
                if let Some(m) = parse_ldap_message_truncated(buf) {
                    count = count.saturating_add(1);
                    facts.messages = facts.messages.saturating_add(1);
                    let _ = apply(&m, facts);
                }
                break;
            }
            Parsed::Invalid => {
                if count > 0 {
                    if wrap_ok && looks_like_sasl_buffer(buf) {
                        facts.sasl_wrapped = true;
                    } else {
                        facts.invalid = true;
                    }
                }
                break;
            }
        }
    }
    (count, None)
}

enum Step {
    Go,
    /// Go on; a SASL security layer may start after this message.
    GoWrapped,
    Stop,
}

/// A SASL security-layer buffer: 4-byte big-endian length, then that many
/// bytes, bounded.
fn looks_like_sasl_buffer(buf: &[u8]) -> bool {
    match buf.split_first_chunk::<4>() {
        Some((len, _)) => {
            let n = u32::from_be_bytes(*len);
            n > 0 && n <= MAX_BER_LEN
        }
        None => false,
    }
}

fn push_unique(list: &mut Vec<String>, v: String) {
    if list.len() < MAX_LIST && !list.contains(&v) {
        list.push(v);
    }
}

fn apply_client(
    m: &LdapMessage<'_>,
    facts: &mut LdapFacts,
    starttls_id: &mut Option<u32>,
    sasl_bound: &mut bool,
) -> Step {
    match &m.op {
        LdapOp::BindRequest {
            version,
            name_present,
            auth,
        } => {
            if facts.bind_version.is_none() {
                facts.bind_version = *version;
            }
            facts.bind_dn_present |= *name_present;
            let kind = match auth {
                LdapBindAuth::Simple { password_present } => {
                    if *password_present {
                        facts.simple_with_password = true;
                        "simple".to_string()
                    } else if *name_present {
                        "unauthenticated".to_string()
                    } else {
                        "anonymous".to_string()
                    }
                }
                LdapBindAuth::Sasl {
                    mechanism,
                    credentials,
                } => {
                    *sasl_bound = true;
                    if !mechanism.is_empty() {
                        push_unique(&mut facts.sasl_mechanisms, sanitize(mechanism));
                    }
                    scan_auth(credentials, facts);
                    "sasl".to_string()
                }
                LdapBindAuth::Sicily { kind, payload } => {
                    *sasl_bound = true;
                    scan_auth(payload, facts);
                    match kind {
                        9 => "sicily-discovery".to_string(),
                        10 => "sicily-negotiate".to_string(),
                        _ => "sicily-response".to_string(),
                    }
                }
                LdapBindAuth::Unknown(n) => format!("unknown-{n}"),
                LdapBindAuth::Missing => return Step::Go,
            };
            push_unique(&mut facts.bind_auth, kind);
            if *sasl_bound {
                return Step::GoWrapped;
            }
        }
        LdapOp::UnbindRequest => facts.unbind = true,
        LdapOp::SearchRequest => {
            facts.search_requests = facts.search_requests.saturating_add(1);
        }
        LdapOp::ExtendedRequest { oid } => {
            let oid = oid.map(sanitize).unwrap_or_default();
            if oid == STARTTLS_OID {
                facts.starttls_requested = true;
                *starttls_id = Some(m.id);
                // What follows is the TLS ClientHello.
                return Step::Stop;
            }
            if !oid.is_empty() {
                push_unique(&mut facts.extended_oids, oid);
            }
        }
        LdapOp::Unknown(n) => {
            if facts.unknown_ops.len() < MAX_LIST && !facts.unknown_ops.contains(n) {
                facts.unknown_ops.push(*n);
            }
        }
        LdapOp::BindResponse { .. } | LdapOp::ExtendedResponse { .. } | LdapOp::Other(_) => {}
    }
    if *sasl_bound {
        Step::GoWrapped
    } else {
        Step::Go
    }
}

fn apply_server(m: &LdapMessage<'_>, facts: &mut LdapFacts, starttls_id: Option<u32>) -> Step {
    match &m.op {
        LdapOp::BindResponse { result, rest } => {
            if let Some(r) = result {
                if facts.bind_results.len() < MAX_LIST {
                    facts.bind_results.push(*r);
                }
            }
            scan_auth(rest, facts);
            // A SASL security layer may follow a SASL or sicily bind.
            if facts
                .bind_auth
                .iter()
                .any(|k| k == "sasl" || k.starts_with("sicily"))
            {
                Step::GoWrapped
            } else {
                Step::Go
            }
        }
        LdapOp::ExtendedResponse { result } if starttls_id == Some(m.id) => {
            facts.starttls_result = *result;
            if *result == Some(0) {
                facts.starttls = true;
                return Step::Stop;
            }
            Step::Go
        }
        LdapOp::Unknown(n) => {
            if facts.unknown_ops.len() < MAX_LIST && !facts.unknown_ops.contains(n) {
                facts.unknown_ops.push(*n);
            }
            Step::Go
        }
        _ => Step::Go,
    }
}

fn scan_auth(bytes: &[u8], facts: &mut LdapFacts) {
    if find_ntlmssp(bytes).is_some() {
        facts.ntlm = true;
    }
    if find_kerberos(bytes).is_some() {
        facts.kerberos = true;
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

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// zeek__ldap__simpleauth.pcap, client side (tcp/3268, 258 bytes): simple
    /// bindRequest(1) with a password, searchRequest(2), simple bindRequest(3)
    /// with another password.
    const LDAP_SIMPLE_BIND_GC_C2S: &str = "\
        3032020101602d020103041c78787878787878787878784078782e7878782e78787878782e6e6574800a7061\
        7373776f72386431306f020102636a041c44433d78782c44433d7878782c44433d78787878782c44433d6e65\
        740a01020a0103020100020100010100a029870b6f626a656374636c617373a31a040e73414d4163636f756e\
        744e616d65040878787878787878783010040e73414d4163636f756e744e616d65305b020103605602010304\
        3d434e3d78787878787878782c4f553d55736572732c4f553d4163636f756e74732c44433d78782c44433d78\
        78782c44433d78787878782c44433d6e657480122f6465762f7264736b2f6330743064307330";

    /// Same flow, server side (188 bytes): bindResponse(1) success,
    /// searchResEntry + searchResDone(2), bindResponse(3) success; 4-byte long
    /// form lengths (Active Directory style).
    const LDAP_SIMPLE_BIND_GC_S2C: &str = "\
        3084000000100201016184000000070a01000400040030840000007402010264840000006b043d434e3d7878\
        7878787878782c4f553d55736572732c4f553d4163636f756e74732c44433d78782c44433d7878782c44433d\
        78787878782c44433d6e6574308400000026308400000020040e73414d4163636f756e744e616d6531840000\
        000a040878787878787878783084000000100201026584000000070a01000400040030840000001002010361\
        84000000070a010004000400";

    /// zeek__ldap__ldap-starttls.pcap, client side: extendedRequest(1) StartTLS
    /// (31 bytes), then the first 33 bytes of the TLS ClientHello that follows.
    const LDAP_STARTTLS_C2S: &str = "\
        301d02010177188016312e332e362e312e342e312e313436362e3230303337160303018a010001860303a8c0\
        de83b41d5326c628b88dda9876a1cdcd1a670294";

    /// Same flow, server side: extendedResponse(1) success (14 bytes), then the
    /// first 18 bytes of the TLS ServerHello.
    const LDAP_STARTTLS_S2C: &str = "\
        300c02010178070a010004000400160303009b020000970303edc17fbba9657c";

    /// zeek__ldap__aduser1-ntlm.pcap, client side (717 bytes): MS-ADTS sicily
    /// binds, sicilyNegotiate [10] (NTLMSSP NEGOTIATE) then sicilyResponse [11]
    /// (NTLMSSP AUTHENTICATE), then a searchRequest.
    const LDAP_SICILY_NTLM_C2S: &str = "\
        303402040a5e31e8602c020103040555736572318a204e544c4d5353500001000000050288a0000000000000\
        00000000000000000000308201c2020458c05e08608201b8020103040555736572318b8201aa4e544c4d5353\
        50000300000018001800680000002a012a01800000001e001e00400000000a000a005e000000000000006800\
        000000000000aa010000050288a0410044004800410043004b0049004e0047002e004c004f00430041004c00\
        550073006500720031002014b1205b16325b90aec7551a037eab744f634a63567a6ab37bcbd14cefb5f11712\
        09a09a7066a70101000000000000bfec11f29c91db01744f634a63567a6a0000000002001200410044004800\
        410043004b0049004e00470001001e00570049004e002d00560047004f003500360049003900350045004100\
        4b0004001e00410044004800410043004b0049004e0047002e006c006f00630061006c0003003e0057004900\
        4e002d00560047004f0035003600490039003500450041004b002e00410044004800410043004b0049004e00\
        47002e006c006f00630061006c0005001e00410044004800410043004b0049004e0047002e006c006f006300\
        61006c0007000800bfec11f29c91db010900280063006900660073002f00570049004e002d00560047004f00\
        35003600490039003500450041004b0000000000000000003081ce020463bc7df16381a0041564633d414448\
        41434b494e472c64633d4c4f43414c0a01020a0100020100020100010100a049870e73414d4163636f756e74\
        4e616d6587046d61696ca231a92f8116312e322e3834302e3131333535362e312e342e383033821255736572\
        4163636f756e74436f6e74726f6c830132302d040e73414d4163636f756e744e616d65040a7077644c617374\
        53657404046d61696c04096c6173744c6f676f6ea02330210416312e322e3834302e3131333535362e312e34\
        2e333139040730050201640400";

    /// Same flow, server side: the two bindResponses (the first carries the
    /// NTLMSSP CHALLENGE in matchedDN), 332 bytes.
    const LDAP_SICILY_NTLM_S2C: &str = "\
        30840000012d02040a5e31e86184000001210a0100048201184e544c4d535350000200000012001200380000\
        00050289a2801d050bedf385300000000000000000ce00ce004a0000000a007c4f0000000f41004400480041\
        0043004b0049004e00470002001200410044004800410043004b0049004e00470001001e00570049004e002d\
        00560047004f0035003600490039003500450041004b0004001e00410044004800410043004b0049004e0047\
        002e006c006f00630061006c0003003e00570049004e002d00560047004f0035003600490039003500450041\
        004b002e00410044004800410043004b0049004e0047002e006c006f00630061006c0005001e004100440048\
        00410043004b0049004e0047002e006c006f00630061006c0007000800bfec11f29c91db0100000000040030\
        8400000013020458c05e086184000000070a010004000400";

    /// zeek__ldap__aduser1.pcap, client side: bindRequest with SASL GSS-SPNEGO
    /// whose mechToken is a Kerberos AP-REQ (the whole 1412-byte message).
    const LDAP_SASL_SPNEGO_KERBEROS_C2S: &str = "\
        30820580020455d69f616082057602010304055573657231a3820568040a4753532d53504e45474f04820558\
        6082055406062b0601050502a082054830820544a00d300b06092a864882f712010202a28205310482052d6e\
        82052930820525a003020105a10302010ea20703050000000000a382049f6182049b30820497a003020105a1\
        111b0f41444841434b494e472e4c4f43414ca2223020a003020102a11930171b046c6461701b0f57494e2d56\
        474f353649393545414ba382045730820453a003020112a103020103a282044504820441f5ac939d5ade73d5\
        e0ab4d75970df43de41c58a841f96184d04b2d3fdaebace785a27733ccf4b56134a8f5794ccd5b445231ad71\
        78c1c53e48cdfe1a1a2a177ba9bf55703a5e8fb4fd3e9a91b1ced54151fafc39423dbcd17da34f929f9e00d4\
        c41799a46422da88561d4d66c35329fa2ef7e682ab7f5cbfc9ebbf0bd7670d5e6461d4dbf8470a0f84f2910f\
        24fccc53bcb98156240a5f9a6845bce9f55105039377cfd102650460a2165eefa41ed61a5eef5816718a1e9b\
        674bb15acd8f94fc1371e440039ccf172afd48682408ad95986552d917de18653bb92c4d0cf9050f28f0b24e\
        14b404ab27d9df6594f96289eb76ae16ce3a898f81f2d6c0a0b923ef23786fb3936774731b915a581a0ffab2\
        be58b1561000fe45a6a89a0452924584bbc81e8a20ee2d55df335264c6004e276288c4dcc4d07f8858195383\
        6ee691e413a3a995e0afd71bba8fa1b5586a1a60a151741d842b24715513cfc9b9659453b32baee6c7c6d4dd\
        bfe6579e5abec7394858d7b00658a9ebdd6f14f44d5726413674c7d22e0017fc910b2c1d77d9d2a2f1089f00\
        1d35949dc5923c52e47b90bbf200f4ffaa37fa3108052c2f977c4f2892592b0a8dbb2253118d50c8a8547616\
        3072b2fd904be1c2cc0bffb625d71c156910e3c20d0bdc6f21595fd08a8ca81aefe2df6f44b0daca3c3671f0\
        24e7e0aa97eadc388813b44dcd0152e56601f26c1e9d2fe683ca62e0d537e76c7283870eafebc7d1a5e67213\
        051859ac3b12fa2919884558ab6566e5cb06d8da1d15f115e9916108dd342e25b28d48d23007e03091abb3bf\
        14ce2367f9a2f21c4d46a6ec3d6ecb957c92d085012e07da4ef5329b782b50867667200322c879d67078d7d0\
        7226d19eaaec06cdfef071be2228cdaeddf4ab0fc658747dd226792e000d74a16d841b9883d2a5f4964c70b0\
        027aae0a82227cd7a4df508b7f5bd7203c718a2235727a1c2b55d34696f5ae9f3bf973d6413ab4a7ba475164\
        7d71ed9060ad37d6c08d2631f7520dc1f46a379381fc58f8477cb894bbc68b6d994cd97896ed45ead15f9754\
        cc75da77443f3c7945e8fae1be30e32d9b8598c05118f161b23be9ca1dd4410afdce05f39cccc5058aaba6fc\
        c28fb88f666ed38116c61fe50ab73bb3e03b3aa1281ad88b47552ac93f035f8bbaef0931eae42925fd312c72\
        9af067a742c579b5e124554522cc13f72475f86a181b97bdf74a749997bbf81317f0edb2a2379671362a8850\
        055c7714ae275a0fdd7c8d7049cf1e71361aa0e6440ed6cf5b73869055bdb0603077b03bb1746c731034ab4c\
        8dd45f7ae11e5c20b595959f645522468193af690d08050bd13ddcdc7b6f73aa3a0623c5baad0f68ed66144e\
        7db305cddaffde69ef78a5e4a90fc14a88de4cc2cdff713f605360849556697697b55310d39b9e8e6c834a26\
        36bf1ff1b2fd10a34f554f1e92be294c45feaeefab1e0b9f654211b89b6d33c048440a280bcb1d43a5c1dc2e\
        3d6f7554e87a1b68fa7d776d0cffdd747ac43ede0f3cf5dbf5a46d306ba003020117a26404625ef641ce06d8\
        c3e8b13976ad07de6847c5e0edb24cdc16d683c0df36bbfb158e238b49f788ab56e1ba2ace7de484817e7c9b\
        cfdb6469e9f253513ad6924af538bcd21b282944a53fc674579906825a375e88db05066a4ac3de5b4433b333\
        62dd3e99";

    /// Same flow, server side: the bindResponse (success, with an AP-REP in
    /// serverSaslCreds), 49 bytes.
    const LDAP_SASL_SPNEGO_KERBEROS_S2C: &str = "\
        30840000002b020455d69f6161840000001f0a0100040004008716a1143012a0030a0100a10b06092a864882\
        f712010202";

    fn facts(c: &str, s: &str) -> LdapFacts {
        let c = hex(c);
        let s = hex(s);
        inspect_ldap(&Streams { c2s: &c, s2c: &s }).unwrap()
    }

    #[test]
    fn golden_simple_bind_gc() {
        let f = facts(LDAP_SIMPLE_BIND_GC_C2S, LDAP_SIMPLE_BIND_GC_S2C);
        assert_eq!(f.bind_version, Some(3));
        assert!(f.bind_dn_present);
        assert_eq!(f.bind_auth, vec!["simple"]);
        assert!(f.simple_with_password);
        assert_eq!(f.bind_results, vec![0, 0]);
        assert_eq!(f.search_requests, 1);
        assert_eq!(f.messages, 7);
        assert!(!f.starttls_requested && !f.ntlm && !f.kerberos && !f.invalid);
        assert!(looks_like_ldap(&hex(LDAP_SIMPLE_BIND_GC_C2S)));
    }

    #[test]
    fn simple_bind_facts_hold_no_password_or_dn() {
        let f = facts(LDAP_SIMPLE_BIND_GC_C2S, LDAP_SIMPLE_BIND_GC_S2C);
        let j = serde_json::to_string(&f).unwrap();
        for secret in ["passwor8d1", "/dev/rdsk", "xxxxxxxxxxx@", "CN=", "DC="] {
            assert!(!j.contains(secret), "{secret} in {j}");
        }
        // ...while the raw fixture does hold the password.
        let raw = hex(LDAP_SIMPLE_BIND_GC_C2S);
        assert!(raw.windows(10).any(|w| w == b"passwor8d1"));
    }

    #[test]
    fn golden_starttls_then_stop() {
        let f = facts(LDAP_STARTTLS_C2S, LDAP_STARTTLS_S2C);
        assert!(f.starttls_requested);
        assert_eq!(f.starttls_result, Some(0));
        assert!(f.starttls);
        assert_eq!(f.messages, 2, "TLS after StartTLS is not read as LDAP");
        assert_eq!(f.tls_offsets, Some((31, 14)));
        let c = hex(LDAP_STARTTLS_C2S);
        assert!(crate::inspect::tls::looks_like_tls(&c[31..]));
        assert!(!f.invalid);
        assert!(f.extended_oids.is_empty());
    }

    #[test]
    fn golden_sicily_ntlm() {
        let f = facts(LDAP_SICILY_NTLM_C2S, LDAP_SICILY_NTLM_S2C);
        assert_eq!(f.bind_auth, vec!["sicily-negotiate", "sicily-response"]);
        assert!(f.ntlm);
        assert!(!f.kerberos);
        assert!(f.bind_dn_present);
        assert!(!f.simple_with_password);
        assert_eq!(f.bind_results, vec![0, 0]);
        assert_eq!(f.search_requests, 1);
        let j = serde_json::to_string(&f).unwrap();
        assert!(!j.contains("User1") && !j.contains("ADHACKING"), "{j}");
    }

    #[test]
    fn golden_sasl_spnego_kerberos() {
        let f = facts(LDAP_SASL_SPNEGO_KERBEROS_C2S, LDAP_SASL_SPNEGO_KERBEROS_S2C);
        assert_eq!(f.bind_auth, vec!["sasl"]);
        assert_eq!(f.sasl_mechanisms, vec!["GSS-SPNEGO"]);
        assert!(f.kerberos);
        assert!(!f.ntlm);
        assert_eq!(f.bind_results, vec![0]);
    }

    #[test]
    fn bind_cut_by_inspection_cap_still_reports_mechanism() {
        let c = hex(LDAP_SASL_SPNEGO_KERBEROS_C2S);
        let f = inspect_ldap(&Streams {
            c2s: &c[..200],
            s2c: &[],
        })
        .unwrap();
        assert_eq!(f.sasl_mechanisms, vec!["GSS-SPNEGO"]);
        assert!(f.kerberos, "the AP-REQ header is in the first 200 bytes");
        // A simple bind cut inside its password still says a password was sent
        // (the length is in the header), and keeps none of it.
        let c = hex(LDAP_SIMPLE_BIND_GC_C2S);
        let f = inspect_ldap(&Streams {
            c2s: &c[..45],
            s2c: &[],
        })
        .unwrap();
        assert!(f.simple_with_password);
    }

    #[test]
    fn anonymous_and_unauthenticated_binds() {
        // bindRequest(1) v3, empty name, simple empty password.
        let anon = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ];
        let f = inspect_ldap(&Streams { c2s: &anon, s2c: &[] }).unwrap();
        assert_eq!(f.bind_auth, vec!["anonymous"]);
        assert!(!f.simple_with_password && !f.bind_dn_present);
        let unauth = [
            0x30, 0x0d, 0x02, 0x01, 0x01, 0x60, 0x08, 0x02, 0x01, 0x03, 0x04, 0x01, b'x', 0x80, 0x00,
        ];
        let f = inspect_ldap(&Streams {
            c2s: &unauth,
            s2c: &[],
        })
        .unwrap();
        assert_eq!(f.bind_auth, vec!["unauthenticated"]);
        assert!(f.bind_dn_present);
    }

    #[test]
    fn unknown_op_and_auth_choice_reported_not_failed() {
        // [APPLICATION 29] (not in RFC 4511), then unbind.
        let b = [
            0x30, 0x05, 0x02, 0x01, 0x07, 0x7d, 0x00, 0x30, 0x05, 0x02, 0x01, 0x08, 0x42, 0x00,
        ];
        let f = inspect_ldap(&Streams { c2s: &b, s2c: &[] }).unwrap();
        assert_eq!(f.unknown_ops, vec![29]);
        assert!(f.unbind);
        assert_eq!(f.messages, 2);
        // A bind with authentication choice [5] (unassigned).
        let b = [
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x85, 0x00,
        ];
        let f = inspect_ldap(&Streams { c2s: &b, s2c: &[] }).unwrap();
        assert_eq!(f.bind_auth, vec!["unknown-5"]);
        // An extended operation other than StartTLS.
        let oid = b"1.3.6.1.4.1.4203.1.11.3";
        let mut b = vec![0x30, (oid.len() + 7) as u8, 0x02, 0x01, 0x02, 0x77];
        b.push((oid.len() + 2) as u8);
        b.push(0x80);
        b.push(oid.len() as u8);
        b.extend_from_slice(oid);
        let f = inspect_ldap(&Streams { c2s: &b, s2c: &[] }).unwrap();
        assert_eq!(f.extended_oids, vec!["1.3.6.1.4.1.4203.1.11.3"]);
        assert!(!f.starttls_requested);
    }

    #[test]
    fn every_prefix_never_panics() {
        for (c, s) in [
            (LDAP_SIMPLE_BIND_GC_C2S, LDAP_SIMPLE_BIND_GC_S2C),
            (LDAP_STARTTLS_C2S, LDAP_STARTTLS_S2C),
            (LDAP_SICILY_NTLM_C2S, LDAP_SICILY_NTLM_S2C),
            (LDAP_SASL_SPNEGO_KERBEROS_C2S, LDAP_SASL_SPNEGO_KERBEROS_S2C),
        ] {
            let c = hex(c);
            let s = hex(s);
            let first_len = match parse_ldap_message(&c) {
                Parsed::Done(_, used) => used,
                other => panic!("{other:?}"),
            };
            for n in 0..c.len() {
                let r = parse_ldap_message(&c[..n]);
                if n < first_len {
                    assert_eq!(r, Parsed::NeedMore, "prefix {n}");
                }
                let _ = inspect_ldap(&Streams {
                    c2s: &c[..n],
                    s2c: &s,
                });
                let _ = looks_like_ldap(&c[..n]);
            }
            for n in 0..s.len() {
                let _ = inspect_ldap(&Streams {
                    c2s: &c,
                    s2c: &s[..n],
                });
                let r = parse_ldap_message(&s[..n]);
                assert!(matches!(r, Parsed::NeedMore | Parsed::Done(..)), "{n}: {r:?}");
            }
        }
    }

    #[test]
    fn garbage_is_none() {
        for g in [
            &b"GET / HTTP/1.1\r\n\r\n"[..],
            &[0x16, 0x03, 0x01, 0x00, 0x10][..],
            &[0x30, 0x03, 0x04, 0x01, 0x00][..],
            &[][..],
        ] {
            assert_eq!(inspect_ldap(&Streams { c2s: g, s2c: &[] }), None);
            assert!(!looks_like_ldap(g));
        }
        // Garbage after a valid message is an anomaly, not a failure.
        let mut b = hex(LDAP_SIMPLE_BIND_GC_C2S);
        b.truncate(52);
        b.extend_from_slice(b"garbage!");
        let f = inspect_ldap(&Streams { c2s: &b, s2c: &[] }).unwrap();
        assert!(f.invalid);
        assert_eq!(f.messages, 1);
    }
}
