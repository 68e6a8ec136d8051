//! Connection-oriented DCE/RPC (C706 chapter 12, MS-RPCE): binds, requests,
//! authentication types, and the endpoint mapper's answers.
//!
//! Each direction is walked PDU by PDU (16-byte common header, `frag_length`
//! bytes each; a partial last PDU is "needs more", not an error). Client
//! `bind` / `alter_context` PDUs give the presentation contexts (interface
//! UUID and version per context id); the server's `bind_ack` /
//! `alter_context_resp` give a result per context. `request` PDUs give the
//! context id and opnum, so the interface of each call is known.
//!
//! On a connection bound to the endpoint mapper's interface (passed in by the
//! caller: no UUID is hard-coded here), the answers to `ept_map` (opnum 3)
//! and `ept_lookup` (opnum 2) are parsed: NDR stub, then each protocol tower's
//! floors (C706 appendix L; MS-RPCE 2.2.1.1.4.1). A tower with a TCP, UDP or
//! HTTP floor becomes an [`EpmAnswer`]: interface, version, transport, port and
//! IP address (`0.0.0.0` is kept as is: it means "the answering server").
//!
//! Also recognised: RPC over HTTP v2 request lines (`RPC_IN_DATA`,
//! `RPC_OUT_DATA`) and the legacy `ncacn_http/1.0` greeting; the PDUs after
//! them are read the same way.
//!
//! Integers in PDUs follow the sender's data representation (`drep[0]` bit 4:
//! little endian when set); tower floors are always little endian, with ports
//! in network byte order.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::{is_false, is_zero};
use super::{Parsed, Streams};
use crate::vocab::Uuid;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// PDUs read per direction, at most.
pub const MAX_PDUS: usize = 256;
/// Endpoint-mapper answers kept per flow, at most.
pub const MAX_EPM_ANSWERS: usize = 64;
/// Floors read per protocol tower, at most.
pub const MAX_FLOORS: usize = 16;
/// Distinct interfaces kept per flow, at most.
pub const MAX_INTERFACES: usize = 16;
/// Distinct (interface, opnum) calls kept per flow, at most.
pub const MAX_CALLS: usize = 32;
/// Bytes per direction kept for DCE/RPC flows, the inspector's byte budget
/// (endpoint-mapper answers come in several fragments: Samba's are 6.8 KB;
/// the capture side forwards at most twice `--inspect-bytes` per direction).
pub const INSPECT_BYTES: usize = 16 * 1024;
/// Bytes of a fragmented endpoint-mapper answer reassembled, at most.
pub const MAX_EPM_STUB: usize = 64 * 1024;
/// Presentation contexts, pending binds and pending requests remembered.
const MAX_PENDING: usize = 64;
/// Entries kept in each small list fact (auth types, faults, ...).
const MAX_LIST: usize = 8;
/// Characters kept of a bind_ack secondary address.
const MAX_ADDR_CHARS: usize = 64;

/// Size of the common header of every connection-oriented PDU.
pub const HEADER_LEN: usize = 16;
/// Size of the security trailer (`sec_trailer`) before the auth value.
const SEC_TRAILER_LEN: usize = 8;

/// pfc_flags: first fragment.
pub const PFC_FIRST_FRAG: u8 = 0x01;
/// pfc_flags: last fragment.
pub const PFC_LAST_FRAG: u8 = 0x02;
/// pfc_flags: a request carries an object UUID.
pub const PFC_OBJECT_UUID: u8 = 0x80;

/// Endpoint-mapper operation numbers (C706 appendix O).
pub const EPT_LOOKUP: u16 = 2;
/// `ept_map`.
pub const EPT_MAP: u16 = 3;

/// The legacy ncacn_http greeting a server sends first (RPC over HTTP v1).
pub const NCACN_HTTP_GREETING: &[u8] = b"ncacn_http/1.0";

// ---------------------------------------------------------------- codes

/// Connection-oriented PDU types (C706 12.6.4.1, MS-RPCE 2.2.2.1 for rts).
/// Connectionless types (1, 4..=10) and anything above 20 are `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketType {
    Request,
    Response,
    Fault,
    Bind,
    BindAck,
    BindNak,
    AlterContext,
    AlterContextResp,
    Auth3,
    Shutdown,
    CoCancel,
    Orphaned,
    Rts,
    Unknown(u8),
}

impl PacketType {
    pub fn from_u8(v: u8) -> PacketType {
        match v {
            0 => PacketType::Request,
            2 => PacketType::Response,
            3 => PacketType::Fault,
            11 => PacketType::Bind,
            12 => PacketType::BindAck,
            13 => PacketType::BindNak,
            14 => PacketType::AlterContext,
            15 => PacketType::AlterContextResp,
            16 => PacketType::Auth3,
            17 => PacketType::Shutdown,
            18 => PacketType::CoCancel,
            19 => PacketType::Orphaned,
            20 => PacketType::Rts,
            n => PacketType::Unknown(n),
        }
    }
}

/// An authentication service (`auth_type` of the security trailer; MS-RPCE
/// 2.2.1.1.7). An open value: unknown numbers are kept and shown as
/// `unknown-N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuthType(pub u8);

impl AuthType {
    /// The service's name, if the number is a known one.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "none",
            1 => "dce-private",
            2 => "dce-public",
            4 => "dec-public",
            9 => "spnego",
            10 => "ntlmssp",
            14 => "schannel",
            16 => "kerberos",
            68 => "netlogon",
            255 => "default",
            _ => return None,
        })
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "unknown-{}", self.0),
        }
    }
}

impl serde::Serialize for AuthType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The result of one presentation context in a bind_ack or
/// alter_context_resp (C706 12.6.3.1 `p_cont_def_result_t`, MS-RPCE
/// 2.2.2.4 for negotiate_ack).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextResult {
    Accepted,
    UserRejection,
    /// Provider rejection with its reason (`p_provider_reason_t`: 1 abstract
    /// syntax not supported, 2 proposed transfer syntaxes not supported, ...).
    ProviderRejection(u16),
    /// Bind-time feature negotiation answer (not about the interface).
    NegotiateAck,
    Unknown(u16),
}

impl ContextResult {
    fn from_wire(result: u16, reason: u16) -> ContextResult {
        match result {
            0 => ContextResult::Accepted,
            1 => ContextResult::UserRejection,
            2 => ContextResult::ProviderRejection(reason),
            3 => ContextResult::NegotiateAck,
            n => ContextResult::Unknown(n),
        }
    }

    /// How much a result says about an interface, to merge the results of
    /// several contexts proposing the same interface (NDR and NDR64, or a
    /// bind-time feature negotiation context): accepted wins.
    fn weight(self) -> u8 {
        match self {
            ContextResult::Accepted => 3,
            ContextResult::UserRejection | ContextResult::ProviderRejection(_) => 2,
            ContextResult::NegotiateAck | ContextResult::Unknown(_) => 1,
        }
    }

    pub fn is_accepted(self) -> bool {
        self == ContextResult::Accepted
    }
}

impl fmt::Display for ContextResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContextResult::Accepted => f.write_str("accepted"),
            ContextResult::UserRejection => f.write_str("user-rejection"),
            ContextResult::ProviderRejection(r) => write!(f, "provider-rejection-{r}"),
            ContextResult::NegotiateAck => f.write_str("negotiate-ack"),
            ContextResult::Unknown(n) => write!(f, "unknown-{n}"),
        }
    }
}

impl serde::Serialize for ContextResult {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The transport of an endpoint-mapper answer (the tower's port floor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EpmProto {
    /// Floor protocol 0x07 (ncacn_ip_tcp).
    Tcp,
    /// Floor protocol 0x08 (ncadg_ip_udp).
    Udp,
    /// Floor protocol 0x1f (ncacn_http).
    Http,
}

// ---------------------------------------------------------------- facts

/// One endpoint announced by the endpoint mapper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct EpmAnswer {
    /// The interface of the tower's first floor.
    pub interface: Uuid,
    /// Its major version.
    pub version: u16,
    pub proto: EpmProto,
    pub port: u16,
    /// The IP floor's address; `None` when the tower has none. `0.0.0.0`
    /// is kept: it means the answering server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
}

impl EpmAnswer {
    /// The IP protocol of the announced endpoint (ncacn_http runs on TCP).
    pub fn ip_proto(&self) -> u8 {
        match self.proto {
            EpmProto::Tcp | EpmProto::Http => crate::decode::PROTO_TCP,
            EpmProto::Udp => crate::decode::PROTO_UDP,
        }
    }

    /// The announced host: the tower's address, or `answering` (the server
    /// that answered) when the tower has none or says 0.0.0.0.
    pub fn host(&self, answering: IpAddr) -> IpAddr {
        match self.ip {
            Some(ip) if !ip.is_unspecified() => ip.to_canonical(),
            _ => answering,
        }
    }
}

/// One interface proposed in a bind or alter_context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BoundInterface {
    pub uuid: Uuid,
    pub version: u16,
    pub version_minor: u16,
    /// The server's answer (merged over the contexts proposing this
    /// interface, accepted winning); `None` when no answer was seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<ContextResult>,
}

/// One kind of call: the interface of its context (when the bind was seen)
/// and the operation number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RpcCall {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<Uuid>,
    pub opnum: u16,
}

/// DCE/RPC facts of one flow.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct DcerpcFacts {
    /// PDUs parsed in both directions.
    pub pdus: u32,
    /// `RPC_IN_DATA` or `RPC_OUT_DATA` when the flow is RPC over HTTP v2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpc_over_http: Option<&'static str>,
    /// The legacy `ncacn_http/1.0` greeting was seen.
    #[serde(skip_serializing_if = "is_false")]
    pub ncacn_http: bool,
    /// Interfaces proposed in binds / alter_contexts, deduplicated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<BoundInterface>,
    /// Secondary addresses of bind_acks (a port number as text for
    /// ncacn_ip_tcp, a pipe name for ncacn_np).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secondary_addrs: Vec<String>,
    /// bind_nak reasons (`provider_reject_reason`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bind_naks: Vec<u16>,
    /// Calls seen in requests, deduplicated, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<RpcCall>,
    /// Authentication services of security trailers, deduplicated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_types: Vec<AuthType>,
    /// Authentication levels (1 none ... 5 integrity, 6 privacy),
    /// deduplicated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub auth_levels: Vec<u8>,
    /// Fault PDU status codes, deduplicated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<u32>,
    /// PDU types that are not connection-oriented DCE/RPC types.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_ptypes: Vec<u8>,
    /// Endpoint-mapper answers, deduplicated.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub epm_answers: Vec<EpmAnswer>,
    /// Non-zero status codes of endpoint-mapper answers (e.g. 0x16c9a0d6
    /// "not registered").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub epm_errors: Vec<u32>,
    /// Tower floors with a protocol id unknown to C706 / MS-RPCE (skipped).
    #[serde(skip_serializing_if = "is_zero")]
    pub epm_unknown_floors: u32,
    /// Towers without a TCP, UDP or HTTP floor (named pipes, ncalrpc ...)
    /// or without an interface floor: no answer made of them.
    #[serde(skip_serializing_if = "is_zero")]
    pub epm_towers_without_port: u32,
    /// Facts not kept because a bound was hit (PDUs, interfaces, calls,
    /// answers, floors, reassembly bytes).
    #[serde(skip_serializing_if = "is_zero")]
    pub dropped: u32,
    /// Malformed PDUs, bodies, stubs or towers.
    #[serde(skip_serializing_if = "is_zero")]
    pub anomalies: u32,
}

fn bump(n: &mut u32) {
    *n = n.saturating_add(1);
}

/// Push `v` unless present; count it in `dropped` when the list is full.
fn push_unique<T: PartialEq>(list: &mut Vec<T>, v: T, max: usize, dropped: &mut u32) {
    if list.contains(&v) {
        return;
    }
    if list.len() >= max {
        bump(dropped);
        return;
    }
    list.push(v);
}

// ---------------------------------------------------------------- reader

/// A bounds-checked cursor over one PDU body or NDR stub. Alignment is
/// relative to the start of `buf` (PDU bodies and stubs start 8-aligned).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    le: bool,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8], le: bool) -> Reader<'a> {
        Reader { buf, pos: 0, le }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    fn u8(&mut self) -> Option<u8> {
        let [b] = self.array::<1>()?;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        let b = self.array::<2>()?;
        Some(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }

    fn u32(&mut self) -> Option<u32> {
        let b = self.array::<4>()?;
        Some(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }

    /// `uuid_t` in the sender's integer representation.
    fn uuid(&mut self) -> Option<Uuid> {
        let b = self.array::<16>()?;
        Some(if self.le {
            Uuid::from_wire_le(&b)
        } else {
            Uuid::from_wire_be(&b)
        })
    }

    /// `p_syntax_id_t`: UUID and `if_version` (major in the low 16 bits).
    fn syntax_id(&mut self) -> Option<(Uuid, u16, u16)> {
        let uuid = self.uuid()?;
        let [a, b, c, d] = self.u32()?.to_le_bytes();
        Some((uuid, u16::from_le_bytes([a, b]), u16::from_le_bytes([c, d])))
    }

    fn align(&mut self, n: usize) -> Option<()> {
        let rem = self.pos.checked_rem(n)?;
        if rem != 0 {
            self.take(n.checked_sub(rem)?)?;
        }
        Some(())
    }
}

// ---------------------------------------------------------------- PDUs

/// The 16-byte common header of a connection-oriented PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PduHeader {
    /// `rpc_vers_minor`: 0 (C706) or 1 (MS-RPCE).
    pub version_minor: u8,
    pub ptype: PacketType,
    pub flags: u8,
    /// Data representation: `drep[0]` bit 4 set = little-endian integers.
    pub drep: [u8; 4],
    pub frag_length: u16,
    pub auth_length: u16,
    pub call_id: u32,
}

impl PduHeader {
    /// Integers in this PDU are little endian.
    pub fn little_endian(&self) -> bool {
        self.drep.first().is_some_and(|d| d & 0x10 != 0)
    }
}

/// The security trailer (`sec_trailer`) of a PDU with an auth verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecTrailer {
    pub auth_type: AuthType,
    pub auth_level: u8,
    pub auth_pad_length: u8,
    pub auth_context_id: u32,
}

/// One complete PDU: header, body (after the common header, before the auth
/// padding and trailer) and the security trailer if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pdu<'a> {
    pub header: PduHeader,
    pub body: &'a [u8],
    pub auth: Option<SecTrailer>,
}

/// Parse the common header; `Done(header, 16)`. A valid prefix shorter than
/// 16 bytes is `NeedMore`. Invalid: version other than 5.0 / 5.1, an
/// unknown integer or character representation, a `frag_length` under 16,
/// or an auth value that does not fit in the fragment.
pub fn parse_dcerpc_header(buf: &[u8]) -> Parsed<PduHeader> {
    if buf.first().is_some_and(|&v| v != 5)
        || buf.get(1).is_some_and(|&m| m > 1)
        || buf.get(4).is_some_and(|&d| d & 0xee != 0)
    {
        return Parsed::Invalid;
    }
    let Some(h) = buf.first_chunk::<HEADER_LEN>() else {
        return Parsed::NeedMore;
    };
    let [_, minor, ptype, flags, d0, d1, d2, d3, f0, f1, a0, a1, c0, c1, c2, c3] = *h;
    let le = d0 & 0x10 != 0;
    let (frag_length, auth_length, call_id) = if le {
        (
            u16::from_le_bytes([f0, f1]),
            u16::from_le_bytes([a0, a1]),
            u32::from_le_bytes([c0, c1, c2, c3]),
        )
    } else {
        (
            u16::from_be_bytes([f0, f1]),
            u16::from_be_bytes([a0, a1]),
            u32::from_be_bytes([c0, c1, c2, c3]),
        )
    };
    if usize::from(frag_length) < HEADER_LEN {
        return Parsed::Invalid;
    }
    if auth_length != 0 {
        let need = HEADER_LEN
            .checked_add(SEC_TRAILER_LEN)
            .and_then(|n| n.checked_add(usize::from(auth_length)));
        if need.is_none_or(|n| n > usize::from(frag_length)) {
            return Parsed::Invalid;
        }
    }
    Parsed::Done(
        PduHeader {
            version_minor: minor,
            ptype: PacketType::from_u8(ptype),
            flags,
            drep: [d0, d1, d2, d3],
            frag_length,
            auth_length,
            call_id,
        },
        HEADER_LEN,
    )
}

/// Parse one complete PDU; `Done(pdu, frag_length)`. `NeedMore` until all
/// `frag_length` bytes are there.
pub fn parse_dcerpc_pdu(buf: &[u8]) -> Parsed<Pdu<'_>> {
    let header = match parse_dcerpc_header(buf) {
        Parsed::Done(h, _) => h,
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::Invalid => return Parsed::Invalid,
    };
    let frag_len = usize::from(header.frag_length);
    let Some(frag) = buf.get(..frag_len) else {
        return Parsed::NeedMore;
    };
    let (body, auth) = if header.auth_length == 0 {
        (frag.get(HEADER_LEN..), None)
    } else {
        // Checked by parse_dcerpc_header: the trailer and value fit.
        let Some(trailer_at) = frag_len
            .checked_sub(usize::from(header.auth_length))
            .and_then(|n| n.checked_sub(SEC_TRAILER_LEN))
        else {
            return Parsed::Invalid;
        };
        let Some(t) = frag.get(trailer_at..).and_then(|t| t.first_chunk::<8>()) else {
            return Parsed::Invalid;
        };
        let [auth_type, auth_level, pad, _, x0, x1, x2, x3] = *t;
        let auth_context_id = if header.little_endian() {
            u32::from_le_bytes([x0, x1, x2, x3])
        } else {
            u32::from_be_bytes([x0, x1, x2, x3])
        };
        let body_end = trailer_at
            .checked_sub(usize::from(pad))
            .filter(|&e| e >= HEADER_LEN);
        let Some(body_end) = body_end else {
            return Parsed::Invalid;
        };
        (
            frag.get(HEADER_LEN..body_end),
            Some(SecTrailer {
                auth_type: AuthType(auth_type),
                auth_level,
                auth_pad_length: pad,
                auth_context_id,
            }),
        )
    };
    match body {
        Some(body) => Parsed::Done(Pdu { header, body, auth }, frag_len),
        None => Parsed::Invalid,
    }
}

/// Whether one packet's payload starts a connection-oriented PDU (version
/// 5.0): the capture thread's payload gate keeps more of such flows.
pub fn starts_pdu(payload: &[u8]) -> bool {
    payload.starts_with(&[5, 0])
}

/// Whether the first bytes a client sent look like connection-oriented
/// DCE/RPC: a valid header of a bind, alter_context or request with a
/// plausible `frag_length` (and at least one context in a bind).
pub fn looks_like_dcerpc(c2s: &[u8]) -> bool {
    let Parsed::Done(h, _) = parse_dcerpc_header(c2s) else {
        return false;
    };
    let frag = usize::from(h.frag_length);
    let auth = if h.auth_length == 0 {
        0
    } else {
        usize::from(h.auth_length).saturating_add(SEC_TRAILER_LEN)
    };
    match h.ptype {
        PacketType::Bind | PacketType::AlterContext => {
            // header 16, max_xmit/max_recv/assoc_group 8, context list 4,
            // one context with one transfer syntax 44.
            if frag < 72usize.saturating_add(auth) {
                return false;
            }
            // n_context_elem, when it is there, is at least 1.
            c2s.get(24).is_none_or(|&n| n != 0)
        }
        PacketType::Request => frag >= 24usize.saturating_add(auth),
        _ => false,
    }
}

/// The RPC over HTTP v2 method of a client's first request line
/// (`RPC_IN_DATA` or `RPC_OUT_DATA`), if it is one.
pub fn rpc_over_http_method(c2s: &[u8]) -> Option<&'static str> {
    ["RPC_IN_DATA", "RPC_OUT_DATA"].into_iter().find(|m| {
        c2s.strip_prefix(m.as_bytes())
            .is_some_and(|r| r.first() == Some(&b' '))
    })
}

/// Whether a server's first bytes are the legacy `ncacn_http/1.0` greeting
/// (RPC over HTTP v1; TCP 593 and the Exchange 6001-6004 back ends).
pub fn is_ncacn_http_greeting(s2c: &[u8]) -> bool {
    s2c.starts_with(NCACN_HTTP_GREETING)
}

// ---------------------------------------------------------------- bodies

/// One presentation context proposed in a bind or alter_context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextElem {
    pub context_id: u16,
    pub interface: Uuid,
    pub version: u16,
    pub version_minor: u16,
    pub transfer_syntaxes: u8,
}

/// The context list of a bind / alter_context body (C706 12.6.4.3).
/// `None` if the body is malformed. At most 64 contexts are kept; the
/// second value is how many more there were.
pub fn parse_dcerpc_bind(body: &[u8], le: bool) -> Option<(Vec<ContextElem>, usize)> {
    let mut r = Reader::new(body, le);
    r.take(8)?; // max_xmit_frag, max_recv_frag, assoc_group_id
    let n = r.u8()?;
    r.take(3)?;
    let mut out = Vec::new();
    let mut extra = 0usize;
    for _ in 0..n {
        let context_id = r.u16()?;
        let n_transfer = r.u8()?;
        r.take(1)?;
        let (interface, version, version_minor) = r.syntax_id()?;
        for _ in 0..n_transfer {
            r.take(20)?;
        }
        if out.len() >= MAX_PENDING {
            extra = extra.saturating_add(1);
            continue;
        }
        out.push(ContextElem {
            context_id,
            interface,
            version,
            version_minor,
            transfer_syntaxes: n_transfer,
        });
    }
    Some((out, extra))
}

/// A bind_ack / alter_context_resp body (C706 12.6.4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck<'a> {
    /// `sec_addr.port_spec` without its terminating NUL.
    pub secondary_addr: &'a [u8],
    pub results: Vec<ContextResult>,
}

/// Parse a bind_ack / alter_context_resp body; `None` if malformed.
pub fn parse_dcerpc_bind_ack(body: &[u8], le: bool) -> Option<BindAck<'_>> {
    let mut r = Reader::new(body, le);
    r.take(8)?;
    let addr_len = r.u16()?;
    let addr = r.take(usize::from(addr_len))?;
    let secondary_addr = addr.strip_suffix(&[0]).unwrap_or(addr);
    // Body offset 0 is PDU offset 16: aligning the body to 4 aligns the PDU.
    r.align(4)?;
    let n = r.u8()?;
    r.take(3)?;
    let mut results = Vec::new();
    for _ in 0..n {
        let result = r.u16()?;
        let reason = r.u16()?;
        r.take(20)?;
        if results.len() < MAX_PENDING {
            results.push(ContextResult::from_wire(result, reason));
        }
    }
    Some(BindAck {
        secondary_addr,
        results,
    })
}

/// A request body's fixed part (C706 12.6.4.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHead<'a> {
    pub context_id: u16,
    pub opnum: u16,
    pub object: Option<Uuid>,
    pub stub: &'a [u8],
}

/// Parse a request body; `None` if malformed.
pub fn parse_dcerpc_request(body: &[u8], le: bool, flags: u8) -> Option<RequestHead<'_>> {
    let mut r = Reader::new(body, le);
    r.take(4)?; // alloc_hint
    let context_id = r.u16()?;
    let opnum = r.u16()?;
    let object = if flags & PFC_OBJECT_UUID != 0 {
        Some(r.uuid()?)
    } else {
        None
    };
    Some(RequestHead {
        context_id,
        opnum,
        object,
        stub: r.rest(),
    })
}

/// Parse a response or fault body: `(context_id, stub)`; for a fault the
/// stub starts with the 4-byte status.
pub fn parse_dcerpc_response(body: &[u8], le: bool) -> Option<(u16, &[u8])> {
    let mut r = Reader::new(body, le);
    r.take(4)?; // alloc_hint
    let context_id = r.u16()?;
    r.take(2)?; // cancel_count, reserved
    Some((context_id, r.rest()))
}

// ---------------------------------------------------------------- towers

/// Floor protocol identifiers of C706 appendix I / MS-RPCE 2.2.1.1.4.1
/// that this parser knows (and mostly ignores).
fn is_known_floor(id: u8) -> bool {
    matches!(id, 0x00 | 0x02..=0x14 | 0x16..=0x1c | 0x1f..=0x22)
}

/// What one protocol tower says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tower {
    /// First UUID floor: the interface and its major version.
    pub interface: Option<(Uuid, u16)>,
    /// First TCP / UDP / HTTP floor and its port.
    pub transport: Option<(EpmProto, u16)>,
    /// First IP floor (4 bytes; 16 bytes accepted as IPv6, which C706 does
    /// not define).
    pub ip: Option<IpAddr>,
    /// Floors with an unknown protocol id.
    pub unknown_floors: u32,
    /// More floors than [`MAX_FLOORS`]: the rest were not read.
    pub floors_dropped: bool,
}

impl Tower {
    fn answer(&self) -> Option<EpmAnswer> {
        let (interface, version) = self.interface?;
        let (proto, port) = self.transport?;
        Some(EpmAnswer {
            interface,
            version,
            proto,
            port,
            ip: self.ip,
        })
    }
}

/// Parse a tower's octet string (`floor_count`, then floors of
/// `lhs_length`, lhs, `rhs_length`, rhs; all little endian, ports big
/// endian). `None` if malformed.
pub fn parse_epm_tower(octets: &[u8]) -> Option<Tower> {
    let mut r = Reader::new(octets, true);
    let count = r.u16()?;
    let mut t = Tower::default();
    for i in 0..count {
        if usize::from(i) >= MAX_FLOORS {
            t.floors_dropped = true;
            break;
        }
        let lhs_len = r.u16()?;
        let lhs = r.take(usize::from(lhs_len))?;
        let rhs_len = r.u16()?;
        let rhs = r.take(usize::from(rhs_len))?;
        let (&proto, lhs_data) = lhs.split_first()?;
        match proto {
            0x0d => {
                let (uuid, rest) = lhs_data.split_first_chunk::<16>()?;
                let major = rest.first_chunk::<2>().map(|v| u16::from_le_bytes(*v))?;
                if t.interface.is_none() {
                    t.interface = Some((Uuid::from_wire_le(uuid), major));
                }
            }
            0x07 | 0x08 | 0x1f => {
                let port = rhs.first_chunk::<2>().map(|v| u16::from_be_bytes(*v))?;
                let p = match proto {
                    0x07 => EpmProto::Tcp,
                    0x08 => EpmProto::Udp,
                    _ => EpmProto::Http,
                };
                if t.transport.is_none() {
                    t.transport = Some((p, port));
                }
            }
            0x09 => {
                let ip = if let Ok(v4) = <[u8; 4]>::try_from(rhs) {
                    IpAddr::V4(Ipv4Addr::from(v4))
                } else if let Ok(v6) = <[u8; 16]>::try_from(rhs) {
                    IpAddr::V6(Ipv6Addr::from(v6))
                } else {
                    return None;
                };
                if t.ip.is_none() {
                    t.ip = Some(ip);
                }
            }
            id if is_known_floor(id) => {}
            _ => bump(&mut t.unknown_floors),
        }
    }
    Some(t)
}

/// What an endpoint-mapper answer's stub holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpmResponse {
    /// Answers from towers with an interface and a TCP/UDP/HTTP floor, at
    /// most [`MAX_EPM_ANSWERS`].
    pub answers: Vec<EpmAnswer>,
    /// The trailing status (0 = ok), when the stub was read to its end.
    pub status: Option<u32>,
    /// Towers read.
    pub towers: u32,
    pub towers_without_port: u32,
    pub unknown_floors: u32,
    pub malformed_towers: u32,
    /// Towers or floors not read because of a bound.
    pub dropped: u32,
    /// The stub ended early (a truncated capture or a missing fragment).
    pub truncated: bool,
}

impl EpmResponse {
    fn tower(&mut self, octets: &[u8]) {
        bump(&mut self.towers);
        let Some(t) = parse_epm_tower(octets) else {
            bump(&mut self.malformed_towers);
            return;
        };
        self.unknown_floors = self.unknown_floors.saturating_add(t.unknown_floors);
        if t.floors_dropped {
            bump(&mut self.dropped);
        }
        match t.answer() {
            Some(a) if self.answers.len() < MAX_EPM_ANSWERS => self.answers.push(a),
            Some(_) => bump(&mut self.dropped),
            None => bump(&mut self.towers_without_port),
        }
    }

    /// Deferred `twr_t` referents: `n` towers of conformance, length, octets.
    fn towers(&mut self, r: &mut Reader<'_>, n: u32) -> Option<()> {
        for _ in 0..n {
            r.align(4)?;
            let _max_count = r.u32()?;
            let len = r.u32()?;
            let octets = r.take(usize::try_from(len).ok()?)?;
            self.tower(octets);
        }
        r.align(4)?;
        self.status = Some(r.u32()?);
        Some(())
    }
}

/// Parse the stub of an `ept_map` answer: `entry_handle` (20), `num_towers`,
/// the conformant varying array of tower pointers (max, offset, actual,
/// referent ids), then each non-null tower, then the status.
pub fn parse_epm_map_response(stub: &[u8], le: bool) -> EpmResponse {
    let mut out = EpmResponse::default();
    let mut r = Reader::new(stub, le);
    let ok = (|| {
        r.take(20)?;
        let _num_towers = r.u32()?;
        let _max = r.u32()?;
        let _offset = r.u32()?;
        let actual = r.u32()?;
        let mut present = 0u32;
        for _ in 0..actual {
            if r.u32()? != 0 {
                present = present.saturating_add(1);
            }
        }
        out.towers(&mut r, present)
    })();
    out.truncated = ok.is_none();
    out
}

/// Parse the stub of an `ept_lookup` answer: `entry_handle` (20),
/// `num_ents`, the conformant varying array of `ept_entry_t` (object UUID,
/// tower pointer, annotation as offset, length and characters), then each
/// non-null tower, then the status.
pub fn parse_epm_lookup_response(stub: &[u8], le: bool) -> EpmResponse {
    let mut out = EpmResponse::default();
    let mut r = Reader::new(stub, le);
    let ok = (|| {
        r.take(20)?;
        let _num_ents = r.u32()?;
        let _max = r.u32()?;
        let _offset = r.u32()?;
        let actual = r.u32()?;
        let mut present = 0u32;
        for _ in 0..actual {
            r.align(4)?;
            r.take(16)?; // object
            if r.u32()? != 0 {
                present = present.saturating_add(1);
            }
            let _annotation_offset = r.u32()?;
            let annotation_len = r.u32()?;
            r.take(usize::try_from(annotation_len).ok()?)?;
        }
        out.towers(&mut r, present)
    })();
    out.truncated = ok.is_none();
    out
}

// ---------------------------------------------------------------- flow

/// A bind or alter_context waiting for its answer: the index in
/// `facts.interfaces` of each proposed context (None when not kept).
struct PendingBind {
    call_id: u32,
    answered: bool,
    elems: Vec<Option<usize>>,
}

/// An endpoint-mapper request (on a context bound to the mapper) waiting
/// for its answer.
struct PendingCall {
    call_id: u32,
    opnum: u16,
    answered: bool,
}

/// A fragmented endpoint-mapper answer being reassembled.
struct EpmReassembly {
    call_id: u32,
    opnum: u16,
    le: bool,
    stub: Vec<u8>,
}

#[derive(Default)]
struct Conn {
    /// context id -> interface.
    contexts: Vec<(u16, Uuid)>,
    binds: Vec<PendingBind>,
    calls: Vec<PendingCall>,
    epm: Option<EpmReassembly>,
}

impl Conn {
    fn context_interface(&self, id: u16) -> Option<Uuid> {
        self.contexts
            .iter()
            .rev()
            .find(|(c, _)| *c == id)
            .map(|(_, u)| *u)
    }
}

fn add_interface(facts: &mut DcerpcFacts, e: &ContextElem) -> Option<usize> {
    let pos = facts
        .interfaces
        .iter()
        .position(|i| i.uuid == e.interface && i.version == e.version && i.version_minor == e.version_minor);
    if pos.is_some() {
        return pos;
    }
    if facts.interfaces.len() >= MAX_INTERFACES {
        bump(&mut facts.dropped);
        return None;
    }
    facts.interfaces.push(BoundInterface {
        uuid: e.interface,
        version: e.version,
        version_minor: e.version_minor,
        result: None,
    });
    Some(facts.interfaces.len().saturating_sub(1))
}

fn note_common(facts: &mut DcerpcFacts, pdu: &Pdu<'_>) {
    bump(&mut facts.pdus);
    if let Some(a) = pdu.auth {
        push_unique(&mut facts.auth_types, a.auth_type, MAX_LIST, &mut facts.dropped);
        push_unique(&mut facts.auth_levels, a.auth_level, MAX_LIST, &mut facts.dropped);
    }
    if let PacketType::Unknown(n) = pdu.header.ptype {
        push_unique(&mut facts.unknown_ptypes, n, MAX_LIST, &mut facts.dropped);
    }
}

fn on_client_pdu(facts: &mut DcerpcFacts, conn: &mut Conn, pdu: &Pdu<'_>, epm_uuid: &Uuid) {
    note_common(facts, pdu);
    let h = &pdu.header;
    let le = h.little_endian();
    match h.ptype {
        PacketType::Bind | PacketType::AlterContext => {
            let Some((elems, extra)) = parse_dcerpc_bind(pdu.body, le) else {
                bump(&mut facts.anomalies);
                return;
            };
            if extra > 0 {
                bump(&mut facts.dropped);
            }
            let mut idx = Vec::with_capacity(elems.len());
            for e in &elems {
                idx.push(add_interface(facts, e));
                conn.contexts.retain(|(c, _)| *c != e.context_id);
                if conn.contexts.len() < MAX_PENDING {
                    conn.contexts.push((e.context_id, e.interface));
                } else {
                    bump(&mut facts.dropped);
                }
            }
            if conn.binds.len() < MAX_PENDING {
                conn.binds.push(PendingBind {
                    call_id: h.call_id,
                    answered: false,
                    elems: idx,
                });
            } else {
                bump(&mut facts.dropped);
            }
        }
        PacketType::Request => {
            let Some(req) = parse_dcerpc_request(pdu.body, le, h.flags) else {
                bump(&mut facts.anomalies);
                return;
            };
            let call = RpcCall {
                interface: conn.context_interface(req.context_id),
                opnum: req.opnum,
            };
            push_unique(&mut facts.calls, call, MAX_CALLS, &mut facts.dropped);
            // Only endpoint-mapper lookups are remembered for their answer.
            let epm_call = call.interface.as_ref() == Some(epm_uuid)
                && matches!(req.opnum, EPT_MAP | EPT_LOOKUP)
                && h.flags & PFC_FIRST_FRAG != 0;
            if epm_call && !conn.calls.iter().any(|c| c.call_id == h.call_id && !c.answered) {
                if conn.calls.len() >= MAX_PENDING {
                    // Forget the oldest answered call, if any.
                    if let Some(p) = conn.calls.iter().position(|c| c.answered) {
                        conn.calls.remove(p);
                    }
                }
                if conn.calls.len() < MAX_PENDING {
                    conn.calls.push(PendingCall {
                        call_id: h.call_id,
                        opnum: req.opnum,
                        answered: false,
                    });
                } else {
                    bump(&mut facts.dropped);
                }
            }
        }
        _ => {}
    }
}

fn on_server_pdu(facts: &mut DcerpcFacts, conn: &mut Conn, pdu: &Pdu<'_>) {
    note_common(facts, pdu);
    let h = &pdu.header;
    let le = h.little_endian();
    match h.ptype {
        PacketType::BindAck | PacketType::AlterContextResp => {
            let Some(ack) = parse_dcerpc_bind_ack(pdu.body, le) else {
                bump(&mut facts.anomalies);
                return;
            };
            if !ack.secondary_addr.is_empty() {
                let addr: String = ack
                    .secondary_addr
                    .iter()
                    .take(MAX_ADDR_CHARS)
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            char::from(b)
                        } else {
                            '?'
                        }
                    })
                    .collect();
                push_unique(&mut facts.secondary_addrs, addr, MAX_LIST, &mut facts.dropped);
            }
            let Some(bind) = conn
                .binds
                .iter_mut()
                .find(|b| b.call_id == h.call_id && !b.answered)
            else {
                return;
            };
            bind.answered = true;
            for (slot, result) in bind.elems.iter().zip(ack.results.iter()) {
                let Some(iface) = slot.and_then(|i| facts.interfaces.get_mut(i)) else {
                    continue;
                };
                let better = iface.result.is_none_or(|old| result.weight() > old.weight());
                if better {
                    iface.result = Some(*result);
                }
            }
        }
        PacketType::BindNak => {
            let reason = Reader::new(pdu.body, le).u16();
            match reason {
                Some(r) => push_unique(&mut facts.bind_naks, r, MAX_LIST, &mut facts.dropped),
                None => bump(&mut facts.anomalies),
            }
            if let Some(b) = conn
                .binds
                .iter_mut()
                .find(|b| b.call_id == h.call_id && !b.answered)
            {
                b.answered = true;
            }
        }
        PacketType::Fault => {
            let status =
                parse_dcerpc_response(pdu.body, le).and_then(|(_, stub)| Reader::new(stub, le).u32());
            match status {
                Some(s) => push_unique(&mut facts.faults, s, MAX_LIST, &mut facts.dropped),
                None => bump(&mut facts.anomalies),
            }
            if let Some(c) = conn
                .calls
                .iter_mut()
                .find(|c| c.call_id == h.call_id && !c.answered)
            {
                c.answered = true;
            }
        }
        PacketType::Response => {
            let Some((_, stub)) = parse_dcerpc_response(pdu.body, le) else {
                bump(&mut facts.anomalies);
                return;
            };
            on_response(facts, conn, h, stub);
        }
        _ => {}
    }
}

/// A response: if it answers a pending endpoint-mapper call, parse (or
/// reassemble) its stub.
fn on_response(facts: &mut DcerpcFacts, conn: &mut Conn, h: &PduHeader, stub: &[u8]) {
    let last = h.flags & PFC_LAST_FRAG != 0;
    let first = h.flags & PFC_FIRST_FRAG != 0;
    let Some(call) = conn
        .calls
        .iter_mut()
        .find(|c| c.call_id == h.call_id && !c.answered)
    else {
        return;
    };
    if last {
        call.answered = true;
    }
    let opnum = call.opnum;
    let le = h.little_endian();
    if first && last {
        flush_epm(facts, conn);
        apply_epm(facts, opnum, stub, le, true);
        return;
    }
    if first || conn.epm.as_ref().is_none_or(|r| r.call_id != h.call_id) {
        flush_epm(facts, conn);
        conn.epm = Some(EpmReassembly {
            call_id: h.call_id,
            opnum,
            le,
            stub: Vec::new(),
        });
    }
    if let Some(re) = conn.epm.as_mut() {
        let room = MAX_EPM_STUB.saturating_sub(re.stub.len());
        if stub.len() > room {
            bump(&mut facts.dropped);
        }
        re.stub.extend(stub.iter().take(room));
    }
    if last {
        flush_epm(facts, conn);
    }
}

/// Parse a reassembled (or partial) endpoint-mapper answer.
fn flush_epm(facts: &mut DcerpcFacts, conn: &mut Conn) {
    if let Some(re) = conn.epm.take() {
        apply_epm(facts, re.opnum, &re.stub, re.le, false);
    }
}

fn apply_epm(facts: &mut DcerpcFacts, opnum: u16, stub: &[u8], le: bool, whole: bool) {
    let resp = if opnum == EPT_MAP {
        parse_epm_map_response(stub, le)
    } else {
        parse_epm_lookup_response(stub, le)
    };
    for a in resp.answers {
        push_unique(&mut facts.epm_answers, a, MAX_EPM_ANSWERS, &mut facts.dropped);
    }
    if let Some(s) = resp.status.filter(|&s| s != 0) {
        push_unique(&mut facts.epm_errors, s, MAX_LIST, &mut facts.dropped);
    }
    facts.epm_unknown_floors = facts.epm_unknown_floors.saturating_add(resp.unknown_floors);
    facts.epm_towers_without_port = facts
        .epm_towers_without_port
        .saturating_add(resp.towers_without_port);
    facts.dropped = facts.dropped.saturating_add(resp.dropped);
    facts.anomalies = facts.anomalies.saturating_add(resp.malformed_towers);
    // A complete single-fragment answer that does not parse to its end is
    // malformed; a reassembled one may be cut by the inspection cap.
    if whole && resp.truncated {
        bump(&mut facts.anomalies);
    }
}

/// Strip what precedes the PDUs in RPC over HTTP: a `RPC_IN_DATA` /
/// `RPC_OUT_DATA` request head or an HTTP response head, or the legacy
/// greeting. Returns the PDU bytes.
fn strip_transport<'a>(buf: &'a [u8], facts: &mut DcerpcFacts, client: bool) -> &'a [u8] {
    if let Some(rest) = buf.strip_prefix(NCACN_HTTP_GREETING) {
        facts.ncacn_http = true;
        return rest;
    }
    let is_head = if client {
        match rpc_over_http_method(buf) {
            Some(m) => {
                facts.rpc_over_http = Some(m);
                true
            }
            None => false,
        }
    } else {
        buf.starts_with(b"HTTP/1.")
    };
    if !is_head {
        return buf;
    }
    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(p) => buf.get(p.saturating_add(4)..).unwrap_or(&[]),
        None => &[],
    }
}

/// Walk one direction's PDUs. Returns (PDUs parsed, stopped on invalid
/// bytes, stopped at [`MAX_PDUS`]).
fn walk<'a>(buf: &'a [u8], mut f: impl FnMut(&Pdu<'a>)) -> (usize, bool, bool) {
    let mut rest = buf;
    let mut n = 0usize;
    while !rest.is_empty() {
        if n >= MAX_PDUS {
            return (n, false, true);
        }
        match parse_dcerpc_pdu(rest) {
            Parsed::Done(pdu, used) => {
                f(&pdu);
                n = n.saturating_add(1);
                rest = rest.get(used..).unwrap_or(&[]);
            }
            Parsed::NeedMore => break,
            Parsed::Invalid => return (n, true, false),
        }
    }
    (n, false, false)
}

/// DCE/RPC facts of a flow, or `None` when neither direction is
/// connection-oriented DCE/RPC (nor RPC over HTTP). `epm_uuid` is the
/// endpoint mapper's interface (from the rules' interface table): answers to
/// `ept_map` / `ept_lookup` are parsed on contexts bound to it.
pub fn inspect_dcerpc(s: &Streams<'_>, epm_uuid: &Uuid) -> Option<DcerpcFacts> {
    let mut facts = DcerpcFacts::default();
    let mut conn = Conn::default();
    let c2s = strip_transport(s.c2s, &mut facts, true);
    let s2c = strip_transport(s.s2c, &mut facts, false);
    let (nc, bad_c, cap_c) = walk(c2s, |pdu| on_client_pdu(&mut facts, &mut conn, pdu, epm_uuid));
    let (ns, bad_s, cap_s) = walk(s2c, |pdu| on_server_pdu(&mut facts, &mut conn, pdu));
    flush_epm(&mut facts, &mut conn);
    let marker = facts.ncacn_http || facts.rpc_over_http.is_some();
    if nc == 0 && ns == 0 && !marker {
        return None;
    }
    for bad in [bad_c, bad_s] {
        if bad {
            bump(&mut facts.anomalies);
        }
    }
    for cap in [cap_c, cap_s] {
        if cap {
            bump(&mut facts.dropped);
        }
    }
    Some(facts)
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

    // Interface UUIDs appear here only, as test expectations (the product
    // takes them from the rules' interface table).
    const EPM: &str = "e1af8308-5d1f-11c9-91a4-08002b14a0fa";
    const NSPI: &str = "f5cc5a18-4264-101a-8c59-08002b2f8426";
    const EMSMDB: &str = "a4f1db00-ca47-1067-b31f-00dd010662da";
    const NETLOGON: &str = "12345678-1234-abcd-ef00-01234567cffb";
    const DRSUAPI: &str = "e3514235-4b06-11d1-ab04-00c04fc2dcd2";
    const ISYSTEMACTIVATOR: &str = "000001a0-0000-0000-c000-000000000046";

    /// zeek__dce-rpc__mapi.pcap tcp.stream 15 (192.168.0.173:1066 -> 192.168.0.2:135): bind to the
    /// endpoint mapper, ept_map for NSPI: client bytes (228).
    const MAPI_EPM_MAP_NSPI_4997_C2S: &str = concat!(
        "05000b03100000004800000001000000d016d0160000000001000000000001000883afe11f5dc91191a408002b14a0fa",
        "03000000045d888aeb1cc9119fe808002b1048600200000005000003100000009c000000010000008400000000000300",
        "0100000000000000000000000000000000000000020000004b0000004b000000050013000d185accf564421a108c5908",
        "002b2f842638000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200",
        "008701000904000000000000000000000000000000000000000000000000000004000000",
    );
    /// zeek__dce-rpc__mapi.pcap tcp.stream 15 (192.168.0.173:1066 -> 192.168.0.2:135): bind to the
    /// endpoint mapper, ept_map for NSPI: server bytes (212).
    const MAPI_EPM_MAP_NSPI_4997_S2C: &str = concat!(
        "05000c03100000003c00000001000000d016d016e5c8000004003133350000000100000000000000045d888aeb1cc911",
        "9fe808002b10486002000000050002031000000098000000010000008000000000000000000000000000000000000000",
        "000000000000000001000000040000000000000001000000030000004b0000004b000000050013000d185accf564421a",
        "108c5908002b2f842638000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b0200000001",
        "0007020013850100090400c0a800020000000000",
    );
    /// zeek__dce-rpc__mapi.pcap tcp.stream 22 (1072 -> 135): bind, ept_map for EMSMDB: client bytes
    /// (228).
    const MAPI_EPM_MAP_EMSMDB_1032_C2S: &str = concat!(
        "05000b03100000004800000001000000d016d0160000000001000000000001000883afe11f5dc91191a408002b14a0fa",
        "03000000045d888aeb1cc9119fe808002b1048600200000005000003100000009c000000010000008400000000000300",
        "0100000000000000000000000000000000000000020000004b0000004b000000050013000d00dbf1a447ca6710b31f00",
        "dd010662da00000200510013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200",
        "008701000904000000000000000000000000000000000000000000000000000004000000",
    );
    /// zeek__dce-rpc__mapi.pcap tcp.stream 22 (1072 -> 135): bind, ept_map for EMSMDB: server bytes
    /// (212).
    const MAPI_EPM_MAP_EMSMDB_1032_S2C: &str = concat!(
        "05000c03100000003c00000001000000d016d016e7c800000400313335005f3b0100000000000000045d888aeb1cc911",
        "9fe808002b10486002000000050002031000000098000000010000008000000000000000000000000000000000000000",
        "000000000000000001000000040000000000000001000000030000004b0000004b000000050013000d00dbf1a447ca67",
        "10b31f00dd010662da00000200510013000d045d888aeb1cc9119fe808002b10486002000200000001000b0200000001",
        "0007020004080100090400c0a800020800000000",
    );
    /// zeek__dce-rpc__mapi.pcap tcp.stream 19 (1069 -> 135): bind, ept_lookup; one entry, an ncacn_http
    /// tower: client bytes (172).
    const MAPI_EPM_LOOKUP_NSPI_HTTP_5000_C2S: &str = concat!(
        "05000b03100000004800000001000000d016d0160000000001000000000001000883afe11f5dc91191a408002b14a0fa",
        "03000000045d888aeb1cc9119fe808002b10486002000000050000031000000064000000010000004c00000000000200",
        "010000000100000034003900390037005d0000000000000002000000185accf564421a108c5908002b2f842638000000",
        "01000000000000000000000000000000000000000000000001000000",
    );
    /// zeek__dce-rpc__mapi.pcap tcp.stream 19 (1069 -> 135): bind, ept_lookup; one entry, an ncacn_http
    /// tower: server bytes (272).
    const MAPI_EPM_LOOKUP_NSPI_HTTP_5000_S2C: &str = concat!(
        "05000c03100000003c00000001000000d016d016e6c8000004003133350000000100000000000000045d888aeb1cc911",
        "9fe808002b104860020000000500020310000000d400000001000000bc00000000000000000000007cfc5f3b92b07544",
        "a3e3e4d53df481df01000000010000000000000001000000000000000000000000000000000000000300000000000000",
        "240000004d532045786368616e6765204469726563746f7279204e535020496e74657266616365004b0000004b000000",
        "050013000d185accf564421a108c5908002b2f842638000200000013000d045d888aeb1cc9119fe808002b1048600200",
        "0200000001000b0200000001001f020013880100200400c0a800020000000000",
    );
    /// sv__bug-5162__input.pcap tcp.stream 0 (62614 -> 135): bind with bind-time feature negotiation,
    /// ept_map for Netlogon answered with two towers: client bytes (272).
    const BUG5162_EPM_MAP_NETLOGON_49674_49667_C2S: &str = concat!(
        "05000b03100000007400000002000000d016d0160000000002000000000001000883afe11f5dc91191a408002b14a0fa",
        "03000000045d888aeb1cc9119fe808002b10486002000000010001000883afe11f5dc91191a408002b14a0fa03000000",
        "2c1cb76c1298404503000000000000000100000005000003100000009c00000002000000840000000000030001000000",
        "00000000000000000000000000000000020000004b0000004b000000050013000d785634123412cdabef0001234567cf",
        "fb01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b02000000010007020000870100",
        "090400c0a8386600000000000000000000000000000000000000000004000000",
    );
    /// sv__bug-5162__input.pcap tcp.stream 0 (62614 -> 135): bind with bind-time feature negotiation,
    /// ept_map for Netlogon answered with two towers: server bytes (324).
    const BUG5162_EPM_MAP_NETLOGON_49674_49667_S2C: &str = concat!(
        "05000c03100000005400000002000000d016d0168b220000040031333500dd6b0200000000000000045d888aeb1cc911",
        "9fe808002b104860020000000300030000000000000000000000000000000000000000000500020310000000f0000000",
        "02000000d800000000000000000000000000000000000000000000000000000002000000040000000000000002000000",
        "03000000040000004b0000004b000000050013000d785634123412cdabef0001234567cffb01000200000013000d045d",
        "888aeb1cc9119fe808002b10486002000200000001000b020000000100070200c20a0100090400c0a83866004b000000",
        "4b000000050013000d785634123412cdabef0001234567cffb01000200000013000d045d888aeb1cc9119fe808002b10",
        "486002000200000001000b020000000100070200c2030100090400c0a838660000000000",
    );
    /// sv__bug-5162__input.pcap tcp.stream 2 (62616 -> 135): ept_map for DRSUAPI: client bytes (272).
    const BUG5162_EPM_MAP_DRSUAPI_49667_C2S: &str = concat!(
        "05000b03100000007400000002000000d016d0160000000002000000000001000883afe11f5dc91191a408002b14a0fa",
        "03000000045d888aeb1cc9119fe808002b10486002000000010001000883afe11f5dc91191a408002b14a0fa03000000",
        "2c1cb76c1298404503000000000000000100000005000003100000009c00000002000000840000000000030001000000",
        "00000000000000000000000000000000020000004b0000004b000000050013000d354251e3064bd111ab0400c04fc2dc",
        "d204000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b02000000010007020000870100",
        "0904000000000000000000000000000000000000000000000000000004000000",
    );
    /// sv__bug-5162__input.pcap tcp.stream 2 (62616 -> 135): ept_map for DRSUAPI: server bytes (236).
    const BUG5162_EPM_MAP_DRSUAPI_49667_S2C: &str = concat!(
        "05000c03100000005400000002000000d016d0168c22000004003133350000000200000000000000045d888aeb1cc911",
        "9fe808002b10486002000000030003000000000000000000000000000000000000000000050002031000000098000000",
        "020000008000000000000000000000000000000000000000000000000000000001000000040000000000000001000000",
        "030000004b0000004b000000050013000d354251e3064bd111ab0400c04fc2dcd204000200000013000d045d888aeb1c",
        "c9119fe808002b10486002000200000001000b020000000100070200c2030100090400c0a838660000000000",
    );
    /// sv__bug-5162__input.pcap tcp.stream 3 (62617 -> 49667): first 956 client bytes (bind with
    /// NTLMSSP, auth3, requests opnum 0 and 16) and the bind_ack: client bytes (956).
    const BUG5162_DRSUAPI_NTLM_C2S: &str = concat!(
        "05000b0710000000a400280002000000d016d016000000000200000000000100354251e3064bd111ab0400c04fc2dcd2",
        "04000000045d888aeb1cc9119fe808002b1048600200000001000100354251e3064bd111ab0400c04fc2dcd204000000",
        "2c1cb76c129840450300000000000000010000000a060000000000004e544c4d5353500001000000b78218e200000000",
        "0000000000000000000000000a00ba470000000f0500100710000000d801bc0102000000d016d0160a06000000000000",
        "4e544c4d535350000300000018001800680000002c012c0180000000000000005800000006000600580000000a000a00",
        "5e00000010001000ac010000358298e20a00ba470000000f01ce498a8376bf0b6c16b6bf2697cd854400430024005700",
        "49004e0031003000000000000000000000000000000000000000000000000000e9268a813ef52e4b56b8725da651cb0e",
        "0101000000000000c6275176652ad801d2092b44e2e6dc630000000002001200570049004e0044004f004d0041004900",
        "4e00010004004400430004001e00770069006e0064006f006d00610069006e002e006c006f00630061006c0003002400",
        "640063002e00770069006e0064006f006d00610069006e002e006c006f00630061006c0005001e00770069006e006400",
        "6f006d00610069006e002e006c006f00630061006c0007000800c6275176652ad8010600040002000000080030003000",
        "0000000000000000000000300000f1a66486a51cd3c6fbe69449c2e3e53ff381418e693f72a12b5ca54f31f3aee90a00",
        "10000000000000000000000000000000000009000e006c006400610070002f0044004300000000000000000028308f57",
        "906b106f151e0fe5556d0d1d0500000310000000c0001000020000008800000000000000eb01b79bfbfa1d411464d7da",
        "e88a5ec33b3538faff36690d7133daccd06da00a3c2959f5b2e68ba8419d9f695d89020b16276888488945297bb09724",
        "0ffa9821249d94deb7859e176bb1ede9368b6a8ab7606ef130526e414c933c414bed47f56d5c8cd5ed078622515739e0",
        "d807b140e250c27351e9b12711c4175c366783f0c28ea85d0c6c5045c502acc5a3c32fc50a0608000000000001000000",
        "ca7f811a03147f7400000000050000031000000080001000030000005000000000001000a6391c03ed05c11bccce94fb",
        "b01a1e533d1f2c9fc74a0a7aa564a7987f9a230a940ece446eb3c3ff143708128f22f0fbf4b9c7fe5ec018793765bcd1",
        "f3b62fa39fa85b598542cea7870129ca1a65338a0a060000000000000100000070fbf31a8569b7b101000000",
    );
    /// sv__bug-5162__input.pcap tcp.stream 3 (62617 -> 49667): first 956 client bytes (bind with
    /// NTLMSSP, auth3, requests opnum 0 and 16) and the bind_ack: server bytes (320).
    const BUG5162_DRSUAPI_NTLM_S2C: &str = concat!(
        "05000c07100000004001e40002000000d016d0162b1e000006003439363637000200000000000000045d888aeb1cc911",
        "9fe808002b104860020000000300030000000000000000000000000000000000000000000a060000000000004e544c4d",
        "53535000020000001200120038000000358299e25da75eb1d5902c9400000000000000009a009a004a0000000a003938",
        "0000000f570049004e0044004f004d00410049004e0002001200570049004e0044004f004d00410049004e0001000400",
        "4400430004001e00770069006e0064006f006d00610069006e002e006c006f00630061006c0003002400640063002e00",
        "770069006e0064006f006d00610069006e002e006c006f00630061006c0005001e00770069006e0064006f006d006100",
        "69006e002e006c006f00630061006c0007000800c6275176652ad80100000000",
    );
    /// sv__dcerpc__zerologon__input.pcap tcp.stream 0 (50555 -> 135): ept_map for Netlogon: client
    /// bytes (228).
    const ZEROLOGON_EPM_MAP_NETLOGON_49668_C2S: &str = concat!(
        "05000b03100000004800000001000000b810b8100000000001000000000001000883afe11f5dc91191a408002b14a0fa",
        "03000000045d888aeb1cc9119fe808002b1048600200000005000003100000009c000000010000008400000000000300",
        "0100000000000000000000000000000000000000020000004b0000004b000000050013000d785634123412cdabef0001",
        "234567cffb01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b020000000100070200",
        "0000010009040000000000ab000000000000000000000000000000000000000001000000",
    );
    /// sv__dcerpc__zerologon__input.pcap tcp.stream 0 (50555 -> 135): ept_map for Netlogon: server
    /// bytes (212).
    const ZEROLOGON_EPM_MAP_NETLOGON_49668_S2C: &str = concat!(
        "05000c03100000003c00000001000000b810b81057e0000004003133350000000100000000000000045d888aeb1cc911",
        "9fe808002b104860020000000500020310000000980000000100000080000000000000000000000048450468443dad43",
        "ad06e9e13075aaf101000000010000000000000001000000030000004b0000004b000000050013000d785634123412cd",
        "abef0001234567cffb01000200000013000d045d888aeb1cc9119fe808002b10486002000200000001000b0200000001",
        "00070200c2040100090400ac10053a0000000000",
    );
    /// sv__dcerpc__zerologon__input.pcap tcp.stream 1 (50556 -> 49668): bind to Netlogon, requests
    /// opnum 4 and 26: client bytes (320).
    const ZEROLOGON_NETLOGON_49668_C2S: &str = concat!(
        "05000b03100000004800000001000000b810b810000000000100000000000100785634123412cdabef0001234567cffb",
        "01000000045d888aeb1cc9119fe808002b10486002000000050000031000000068000000010000005000000000000400",
        "e85a00000c000000000000000c0000005c005c004200410053002d00410044002d003000310000000a00000000000000",
        "0a0000004200410053002d00410044002d00300031000000000000000000000005000003100000009000000002000000",
        "7800000000001a00d2d900000c000000000000000c0000005c005c004200410053002d00410044002d00300031000000",
        "0b000000000000000b0000004200410053002d00410044002d00300031002400000006000a000000000000000a000000",
        "4200410053002d00410044002d003000310000000000000000000000ffff2f21",
    );
    /// sv__dcerpc__zerologon__input.pcap tcp.stream 1 (50556 -> 49668): bind to Netlogon, requests
    /// opnum 4 and 26: server bytes (140).
    const ZEROLOGON_NETLOGON_49668_S2C: &str = concat!(
        "05000c03100000003c00000001000000b810b8104fd5000006003439363638000100000000000000045d888aeb1cc911",
        "9fe808002b10486002000000050002031000000024000000010000000c00000000000000ca22e888fbe131ec00000000",
        "05000203100000002c0000000200000014000000000000000000000000000000ffff2f2100000000220000c0",
    );
    /// zeek__dce-rpc__kerberos135_auth.pcapng tcp.stream 0 (64238 -> 135): DCOM ISystemActivator bind
    /// with SPNEGO/Kerberos (1972 bytes, two TCP segments), alter_context, request opnum 4; server
    /// bytes up to the alter_context_resp: client bytes (3016).
    const KRB135_ISYSTEMACTIVATOR_C2S: &str = concat!(
        "05000b0310000000b407380708000000d016d016000000000200000000000100a001000000000000c000000000000046",
        "00000000045d888aeb1cc9119fe808002b1048600200000001000100a001000000000000c00000000000004600000000",
        "2c1cb76c1298404503000000000000000100000009020000000000006082073406062b0601050502a082072830820724",
        "a030302e06092a864882f71201020206092a864886f712010202060a2b06010401823702021e060a2b06010401823702",
        "020aa28206ee048206ea6e8206e6308206e2a003020105a10302010ea20703050020000000a3820500618204fc308204",
        "f8a003020105a10e1b0c5352542d41442e4c4f43414ca22f302da003020102a12630241b0552504353531b1b424c4143",
        "4b434c4f5645522d44432e5352542d41442e6c6f63616ca38204ae308204aaa003020112a103020103a282049c048204",
        "98feac3af6f3390c87da18346e4c37802ba6ea5ea7e129c036348fa8dc8a9febef46da750475c08f00bcd7270dd5b0fe",
        "bcb2cb5f76b5f770b81a122c2a4a3216a9fd4f05ee2118ccf09a19f97ac2994f23bd6367bbb1a16ca57d964a2c074733",
        "59de572898f54e7b61c335e5ccdc39d528c5db2e0e7d18782981a8d1dea1d74e134d78b1b85c37ae249319ccd103bbb5",
        "9d0970d718aa00115a27284e53ee6ad8f26ef2aad369e39f2d9d4b68e8c6050d85b780b8a609febc5f81ac5e51be5425",
        "71e8f9694d4b6b7963166e53130e8e4c4eadce1ab91bb16386ade3fbf3626ce40c441c62f9391c38f1fa710221d3478b",
        "35b4a5c88129f29c1b162abf7fdd36109ed0344ee578ce56ddda74e3d7667169d67c958580ebeee7066db36140dd1be3",
        "c010fb2bbc4242aea10cbba694acf8c243cccc622bdcc3f1bda3d1e8b1e287e777bc5cf4b2e149752e56afe8e1206236",
        "dd2d6fedfb48fe85f03ae3748125b21b5e4eca913c4c6ebc3449dbfab99adfe8df3ece590ac72cf8260deab304573c8a",
        "f82607c17b988830dedae7231923309db5efef9b8113189f44c8ef893ab13a67bc80ef86710c56d210febcb7af3bfbe6",
        "ec23bba7c6dd2f6c303726268ca6123735769670e95700122afbc5771174e415e7977893445a7ef5aa4f466d9c50a509",
        "1e50864bcb90f6879e3327b7ddbeed8b84d9dd87479d8f2ef6a24438bc50d21a17119e357c82e38dee90a09762b56845",
        "b2984dbdb5eff6fae6999173a293c8d4653d477eb7c3be75461ba43ba2fc0583c5f2638ee2bdd35795beb554733b34d2",
        "ca58aa12c247590fea46cf6a336f12c10457b516e9de19533e3aea6f8c7051eb708098a90d092b372aca861b1c1d66e2",
        "3d81d99ab6743def6de7a6cceaf5101312342478a964fe988c550fe0bd36982746e6c71c711b677ad2c1b4e6dc0eb6ea",
        "507abd569fa4905cb2e099d22680ebb247229474375eabdeac6a50380c6b90166ef4e7fd91643b0209e01a75c014ba5c",
        "9debf947415f673b5a9404a85838bffc728ae3ea97aea667d29ebfc9993e966e34f41c6d0e1351853cd58233bfefbefa",
        "1fb4206c2e11a8bc7f793c63c4f7cd9236a4d8a3e90902ae5aa15f4af17e1bd0458f21915fc17266da3547e4e3b6424e",
        "27ce719139edbd39484cdd54165602468d58c1f06aefcede85c3bdd5a690f662ff22e887e3d7375e783c36ad0c697efe",
        "c0bea2c6ba73955dbc86c7e70086e01cc320dd63eea9a9542cf949d2313b88c4f8e644687d33cd9398b9b6058a192e1e",
        "94252d525a42b6ab2f492bbdb42b95cfa4b4af18f2cfca747684ae20980bf5cbe29a0b8a8f1a261b09f51e52d124ef3d",
        "0fc937b462e4f49b4cb8427eec38857dd3ee51a32cbd1b061ece6aee34d3d28946207c8efe174d8cd89be064580947e0",
        "bf687202484f93ae0577a9bb0b0be7dcae615352926ab12efad72971533797fffa6ff74c2e704420f563bda6fdb1d809",
        "cc99f1540f94f93cc15ae3be17a3f14998170a3fb65d737518a027303603943dc44c87659f7e916566fe4689a26187d6",
        "adc24af52c649196d3ce3dd405cebeb93b82004d69250166dc03519f4eaead255faa591ff72dcd363b18c1314d77d90e",
        "038c514163063666534c2064b6b10cc8becf514d7f274fd9e6a48201c7308201c3a003020112a28201ba048201b6809d",
        "dbb5b9b2cf520d1e83d6c6df5dc68dc5f36f7761b2378264c003ceb7fd61d45db41e44d79d8fade3dcb8c7634518e9a4",
        "1ec20cc578274c15c828144f477e9c60a4946ab6f167c950eff0a6dbcee866981e86f4f5b8651a52caea23d78e35fa2d",
        "42fecf8dbcd482823f8d514e9b42e5486fdacb022c4c2ab20fb4f943d8eeecf9c76c4ebb30bfcbe39aeffc1e083b3ecb",
        "a4b6a893d9eb72c7843ceac49387f797028211fc5587af4f66197b0accbf13e2d336ab879b8a51dabf542a65aa579289",
        "7e9cdedbfc8bd393c2a1d6fb80e86881d433b2f7fcbae7a429723745778fef4df4c1e2dc3400f5944d18b9d763b78a57",
        "b693a7b8dbf0ea6e0a67f25129a58b1be8f5174a61b9ec15ee150029725ffb5065549c4718d198975291294fdb85bd53",
        "4aee7dab86f1ff94706542f12834bce4b904b291e6a1a8bb80a0ea4942eabc17a50d42f58f7800f9ca2d9f42ed823fd3",
        "df6b6165a2340a585f01b12778b249d7f734611c1386be3d2679ce23af4e0973f2b21366e4fe76ddf62e6bed4bc1f27b",
        "d8a5717f3d90c9dcefce643ab7bdef591220aaab537c4f3c420805caee3280191845a0a301b9e4ec3d15392d1ce010ce",
        "7caee4e105000e0310000000dc008c0008000000d016d016000000000100000000000100a001000000000000c0000000",
        "0000004600000000045d888aeb1cc9119fe808002b104860020000000902000000000000a18189308186a0030a0101a2",
        "5f045d6f5b3059a003020105a10302010fa24d304ba003020112a2440442e74c8f6c72e77e820e41556208cf15fd6c13",
        "aabdc9796626d029f8d87c4664dd6d70a8e0551a3538c7041a50ec492ac45b3e7b28a828553d1e02d1b8a8ace6702c57",
        "a31e041c040404ffffffffff0000000000000000cef15ae4940ba3145b7580f205000003100000003803000008000000",
        "20030000000004000500070001000000000000006aec596055ca08489a05b1012b9c76cb000000000000000000000200",
        "f0020000f00200004d454f5704000000a201000000000000c0000000000000463803000000000000c000000000000046",
        "00000000c8020000b80200000000000001100800ccccccccb000000000000000b8020000c00000000000000002000000",
        "060000000000000000000000000000000000000000000200040002000000000006000000b901000000000000c0000000",
        "00000046ab01000000000000c000000000000046a501000000000000c000000000000046a601000000000000c0000000",
        "00000046a401000000000000c000000000000046aa01000000000000c000000000000046060000006800000058000000",
        "9000000058000000200000003000000001100800cccccccc5800000000000000ffffffff000000000000000000000000",
        "020000000000000000000000000000000000000000000000140000000200000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000001100800cccccccc48000000000000005ef0c38b6bd8d011",
        "a07500c04fb6882014000000000000000000000001000000000000000000020058000000050007000100000018ad09f3",
        "6ad8d011a07500c04fb688200000000001100800cccccccc800000000000000000000000000000000000000000000000",
        "000002000000000060000000600000004d454f5704000000c001000000000000c0000000000000463b03000000000000",
        "c000000000000046000000003000000001000100184b877945fc6243b0526390928ea80a020000000000000000000000",
        "0000000000000000000000000100000001100800cccccccc480000000000000000000000000002000000000000000000",
        "0400020000000000000000000f000000000000000f00000042004c00410043004b0043004c004f005600450052002d00",
        "440043000000000001100800cccccccc10000000000000000000000000000000000000000000000001100800cccccccc",
        "20000000000000000000000000000200020000000100000004000200010000000700000000000000",
    );
    /// zeek__dce-rpc__kerberos135_auth.pcapng tcp.stream 0 (64238 -> 135): DCOM ISystemActivator bind
    /// with SPNEGO/Kerberos (1972 bytes, two TCP segments), alter_context, request opnum 4; server
    /// bytes up to the alter_context_resp: server bytes (366).
    const KRB135_ISYSTEMACTIVATOR_S2C: &str = concat!(
        "05000c03100000000501a90008000000d016d016c126000004003133350000000200000000000000045d888aeb1cc911",
        "9fe808002b104860020000000300030000000000000000000000000000000000000000000902000000000000a181a630",
        "81a3a0030a0101a10b06092a864882f712010202a2818e04818b6f8188308185a003020105a10302010fa2793077a003",
        "020112a270046ef21715a1ca03e1e3fb0972f0d62a74b49adfa54fbdc6e042d568d486cbd6e766c943fab61c2893c03a",
        "77fbfe927034a82de6b16d473130a1e1c0f15b8ad9c737aa99f7730ceff04a7aeb85a80261b9a883d4ae92a29deccfb2",
        "ad674b46f9d3df46f3dc6de748011dcf16ff44a41805000f03100000006900290008000000d016d016c1260000000031",
        "330100000000000000045d888aeb1cc9119fe808002b104860020000000902000000000000a1273025a0030a0100a31e",
        "041c040405ffffffffff0000000000000000b747b0469be166224d249474",
    );
    /// (name, client hex, server hex) of every real fixture.
    const ALL: &[(&str, &str, &str)] = &[
        (
            "mapi nspi",
            MAPI_EPM_MAP_NSPI_4997_C2S,
            MAPI_EPM_MAP_NSPI_4997_S2C,
        ),
        (
            "mapi emsmdb",
            MAPI_EPM_MAP_EMSMDB_1032_C2S,
            MAPI_EPM_MAP_EMSMDB_1032_S2C,
        ),
        (
            "mapi lookup",
            MAPI_EPM_LOOKUP_NSPI_HTTP_5000_C2S,
            MAPI_EPM_LOOKUP_NSPI_HTTP_5000_S2C,
        ),
        (
            "bug5162 netlogon",
            BUG5162_EPM_MAP_NETLOGON_49674_49667_C2S,
            BUG5162_EPM_MAP_NETLOGON_49674_49667_S2C,
        ),
        (
            "bug5162 drsuapi epm",
            BUG5162_EPM_MAP_DRSUAPI_49667_C2S,
            BUG5162_EPM_MAP_DRSUAPI_49667_S2C,
        ),
        (
            "bug5162 drsuapi ntlm",
            BUG5162_DRSUAPI_NTLM_C2S,
            BUG5162_DRSUAPI_NTLM_S2C,
        ),
        (
            "zerologon epm",
            ZEROLOGON_EPM_MAP_NETLOGON_49668_C2S,
            ZEROLOGON_EPM_MAP_NETLOGON_49668_S2C,
        ),
        (
            "zerologon netlogon",
            ZEROLOGON_NETLOGON_49668_C2S,
            ZEROLOGON_NETLOGON_49668_S2C,
        ),
        ("krb135", KRB135_ISYSTEMACTIVATOR_C2S, KRB135_ISYSTEMACTIVATOR_S2C),
    ];

    fn hex(s: &str) -> Vec<u8> {
        assert!(s.len() % 2 == 0);
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn uuid(s: &str) -> Uuid {
        Uuid::parse(s).unwrap()
    }

    fn epm() -> Uuid {
        uuid(EPM)
    }

    fn inspect(c2s: &[u8], s2c: &[u8]) -> Option<DcerpcFacts> {
        inspect_dcerpc(&Streams { c2s, s2c }, &epm())
    }

    fn inspect_hex(c2s: &str, s2c: &str) -> DcerpcFacts {
        inspect(&hex(c2s), &hex(s2c)).unwrap()
    }

    fn tcp(iface: &str, version: u16, port: u16, ip: Option<[u8; 4]>) -> EpmAnswer {
        EpmAnswer {
            interface: uuid(iface),
            version,
            proto: EpmProto::Tcp,
            port,
            ip: ip.map(|a| IpAddr::V4(Ipv4Addr::from(a))),
        }
    }

    fn iface(facts: &DcerpcFacts, u: &str) -> BoundInterface {
        *facts.interfaces.iter().find(|i| i.uuid == uuid(u)).unwrap()
    }

    // ------------------------------------------------------------ UUID

    #[test]
    fn uuid_text_and_wire_order() {
        let u = uuid("E1AF8308-5D1F-11C9-91A4-08002B14A0FA");
        assert_eq!(u.to_string(), EPM);
        assert_eq!(format!("{u:?}"), format!("Uuid({EPM})"));
        // The bind's wire bytes (little-endian drep) of the same UUID.
        let wire: [u8; 16] = hex("0883afe11f5dc91191a408002b14a0fa").try_into().unwrap();
        assert_eq!(Uuid::from_wire_le(&wire), u);
        assert_eq!(Uuid::from_wire_be(&u.0), u);
        assert_eq!(EPM.parse::<Uuid>(), Ok(u));
        for bad in [
            "",
            "e1af8308-5d1f-11c9-91a4-08002b14a0f",
            "e1af8308-5d1f-11c9-91a4-08002b14a0faa",
            "e1af83085d1f-11c9-91a4-08002b14a0fa",
            "e1af8308-5d1f-11c9-91a4-08002b14a0fa-",
            "+1af8308-5d1f-11c9-91a4-08002b14a0fa",
            "g1af8308-5d1f-11c9-91a4-08002b14a0fa",
            "{e1af8308-5d1f-11c9-91a4-08002b14a0fa}",
            "e1af8308-5d1f-11c9-91a4-08002b14a0f\u{e9}",
        ] {
            assert_eq!(Uuid::parse(bad), None, "{bad}");
        }
        assert_eq!(serde_json::to_string(&u).unwrap(), format!("\"{EPM}\""));
    }

    // ------------------------------------------------------------ header

    #[test]
    fn header_golden_little_endian() {
        let b = hex(MAPI_EPM_MAP_NSPI_4997_C2S);
        let Parsed::Done(h, 16) = parse_dcerpc_header(&b) else {
            panic!("header")
        };
        assert_eq!(h.ptype, PacketType::Bind);
        assert_eq!(h.version_minor, 0);
        assert_eq!(h.flags, PFC_FIRST_FRAG | PFC_LAST_FRAG);
        assert!(h.little_endian());
        assert_eq!((h.frag_length, h.auth_length, h.call_id), (72, 0, 1));
        // The Kerberos bind: 1972 bytes with a 1860-byte auth value.
        let k = hex(KRB135_ISYSTEMACTIVATOR_C2S);
        let Parsed::Done(pdu, 1972) = parse_dcerpc_pdu(&k) else {
            panic!("pdu")
        };
        assert_eq!(pdu.header.version_minor, 0);
        assert_eq!(pdu.auth.unwrap().auth_type, AuthType(9));
        assert_eq!(pdu.auth.unwrap().auth_level, 2); // connect (tshark: 2)
    }

    /// An endpoint-mapper bind and an ept_map request in big-endian drep
    /// (hand-made: no capture of a big-endian client was found).
    fn be_bind_and_request() -> Vec<u8> {
        let mut b = hex(concat!(
            "05000b03",
            "00000000",
            "0048",
            "0000",
            "00000001", // header
            "16d016d0",
            "00000000",
            "01000000", // max_xmit, max_recv, assoc, 1 ctx
            "0000",
            "0100", // ctx 0, 1 transfer syntax
            "e1af83085d1f11c991a408002b14a0fa",
            "00000003", // EPM v3.0, BE
            "8a885d041ceb11c99fe808002b104860",
            "00000002", // NDR v2, BE
        ));
        b.extend(hex(concat!(
            "05000003", "00000000", "0018", "0000", "00000002", // request
            "00000000", "0000", "0003", // alloc_hint, ctx 0, opnum 3
        )));
        b
    }

    #[test]
    fn header_big_endian_drep() {
        let b = be_bind_and_request();
        let Parsed::Done(h, 16) = parse_dcerpc_header(&b) else {
            panic!("header")
        };
        assert!(!h.little_endian());
        assert_eq!((h.frag_length, h.call_id), (72, 1));
        assert!(looks_like_dcerpc(&b));
        let f = inspect(&b, &[]).unwrap();
        assert_eq!(f.interfaces.len(), 1);
        assert_eq!(f.interfaces[0].uuid.to_string(), EPM);
        assert_eq!((f.interfaces[0].version, f.interfaces[0].version_minor), (3, 0));
        assert_eq!(
            f.calls,
            vec![RpcCall {
                interface: Some(epm()),
                opnum: 3
            }]
        );
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn header_invalid_and_prefixes() {
        let good = hex(MAPI_EPM_MAP_NSPI_4997_C2S);
        for n in 0..16 {
            assert_eq!(parse_dcerpc_header(&good[..n]), Parsed::NeedMore, "prefix {n}");
        }
        let mutate = |i: usize, v: u8| {
            let mut b = good.clone();
            b[i] = v;
            parse_dcerpc_header(&b)
        };
        assert_eq!(mutate(0, 4), Parsed::Invalid); // rpc_vers
        assert_eq!(mutate(1, 2), Parsed::Invalid); // rpc_vers_minor
        assert_eq!(mutate(4, 0x20), Parsed::Invalid); // drep
        assert_eq!(mutate(8, 15), Parsed::Invalid); // frag_length < 16
        assert_eq!(mutate(10, 60), Parsed::Invalid); // auth value too long
        assert_eq!(parse_dcerpc_header(&good[..1]), Parsed::NeedMore);
        assert_eq!(parse_dcerpc_header(&[4]), Parsed::Invalid);
        assert!(matches!(mutate(10, 40), Parsed::Done(..))); // 16 + 8 + 40 <= 72
    }

    #[test]
    fn content_detector() {
        for (name, c2s, s2c) in ALL {
            assert!(looks_like_dcerpc(&hex(c2s)), "{name}");
            // The server's first PDU is a bind_ack: not a client opening.
            assert!(!looks_like_dcerpc(&hex(s2c)), "{name}");
        }
        assert!(!looks_like_dcerpc(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
        assert!(!looks_like_dcerpc(&hex("16030100c8010000c40303")));
        assert!(!looks_like_dcerpc(&[]));
        assert!(!looks_like_dcerpc(&hex(MAPI_EPM_MAP_NSPI_4997_C2S)[..15]));
        // A bind with no context.
        let mut b = hex(MAPI_EPM_MAP_NSPI_4997_C2S);
        b[24] = 0;
        assert!(!looks_like_dcerpc(&b));
        // A bind whose frag_length cannot hold a context.
        let mut b = hex(MAPI_EPM_MAP_NSPI_4997_C2S);
        b[8] = 40;
        assert!(!looks_like_dcerpc(&b));
        assert!(looks_like_dcerpc(&be_bind_and_request()));
    }

    // ------------------------------------------------------------ golden

    #[test]
    fn mapi_ept_map_nspi_4997() {
        let f = inspect_hex(MAPI_EPM_MAP_NSPI_4997_C2S, MAPI_EPM_MAP_NSPI_4997_S2C);
        assert_eq!(f.pdus, 4);
        assert_eq!(
            f.interfaces,
            vec![BoundInterface {
                uuid: epm(),
                version: 3,
                version_minor: 0,
                result: Some(ContextResult::Accepted)
            }]
        );
        assert_eq!(f.secondary_addrs, vec!["135".to_string()]);
        assert_eq!(
            f.calls,
            vec![RpcCall {
                interface: Some(epm()),
                opnum: EPT_MAP
            }]
        );
        // tshark: epm.proto.tcp_port 4997, epm.proto.ip 192.168.0.2.
        assert_eq!(f.epm_answers, vec![tcp(NSPI, 56, 4997, Some([192, 168, 0, 2]))]);
        assert!(f.auth_types.is_empty());
        assert_eq!((f.anomalies, f.dropped, f.epm_unknown_floors), (0, 0, 0));
    }

    #[test]
    fn mapi_ept_map_emsmdb_1032() {
        let f = inspect_hex(MAPI_EPM_MAP_EMSMDB_1032_C2S, MAPI_EPM_MAP_EMSMDB_1032_S2C);
        // tshark: epm.proto.tcp_port 1032 (the NDR pad byte after the tower
        // is 0x08 in this capture: padding is skipped, not checked).
        assert_eq!(f.epm_answers, vec![tcp(EMSMDB, 0, 1032, Some([192, 168, 0, 2]))]);
        assert_eq!(f.epm_answers[0].interface.to_string(), EMSMDB);
        assert_eq!(f.anomalies, 0);
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains(&format!(
            "\"epm_answers\":[{{\"interface\":\"{EMSMDB}\",\"version\":0,\"proto\":\"tcp\",\"port\":1032,\"ip\":\"192.168.0.2\"}}]"
        )), "{json}");
        assert!(json.contains("\"result\":\"accepted\""), "{json}");
    }

    #[test]
    fn mapi_ept_lookup_nspi_http_5000() {
        let f = inspect_hex(
            MAPI_EPM_LOOKUP_NSPI_HTTP_5000_C2S,
            MAPI_EPM_LOOKUP_NSPI_HTTP_5000_S2C,
        );
        assert_eq!(
            f.calls,
            vec![RpcCall {
                interface: Some(epm()),
                opnum: EPT_LOOKUP
            }]
        );
        // tshark: "Floor 4 RPC over HTTP Port:5000"; floor 5 is protocol
        // 0x20 (known to C706 tables, not an IP floor): no address.
        assert_eq!(
            f.epm_answers,
            vec![EpmAnswer {
                interface: uuid(NSPI),
                version: 56,
                proto: EpmProto::Http,
                port: 5000,
                ip: None
            }]
        );
        assert_eq!((f.anomalies, f.epm_unknown_floors, f.epm_errors.len()), (0, 0, 0));
    }

    #[test]
    fn bug5162_ept_map_netlogon_two_towers() {
        let f = inspect_hex(
            BUG5162_EPM_MAP_NETLOGON_49674_49667_C2S,
            BUG5162_EPM_MAP_NETLOGON_49674_49667_S2C,
        );
        // Two contexts for the mapper (NDR; bind-time feature negotiation):
        // merged into one interface, accepted.
        assert_eq!(f.interfaces.len(), 1);
        assert_eq!(iface(&f, EPM).result, Some(ContextResult::Accepted));
        // tshark: epm.proto.tcp_port 49674,49667; ip 192.168.56.102 twice.
        let ip = Some([192, 168, 56, 102]);
        assert_eq!(
            f.epm_answers,
            vec![tcp(NETLOGON, 1, 49674, ip), tcp(NETLOGON, 1, 49667, ip)]
        );
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn bug5162_ept_map_drsuapi_49667() {
        let f = inspect_hex(
            BUG5162_EPM_MAP_DRSUAPI_49667_C2S,
            BUG5162_EPM_MAP_DRSUAPI_49667_S2C,
        );
        assert_eq!(
            f.epm_answers,
            vec![tcp(DRSUAPI, 4, 49667, Some([192, 168, 56, 102]))]
        );
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn bug5162_drsuapi_ntlm_calls() {
        let f = inspect_hex(BUG5162_DRSUAPI_NTLM_C2S, BUG5162_DRSUAPI_NTLM_S2C);
        assert_eq!(iface(&f, DRSUAPI).result, Some(ContextResult::Accepted));
        assert_eq!(
            (iface(&f, DRSUAPI).version, iface(&f, DRSUAPI).version_minor),
            (4, 0)
        );
        assert_eq!(f.auth_types, vec![AuthType(10)]);
        assert_eq!(f.auth_levels, vec![6]);
        let d = Some(uuid(DRSUAPI));
        assert_eq!(
            f.calls,
            vec![
                RpcCall {
                    interface: d,
                    opnum: 0
                },
                RpcCall {
                    interface: d,
                    opnum: 16
                }
            ]
        );
        assert_eq!(f.secondary_addrs, vec!["49667".to_string()]);
        assert!(f.epm_answers.is_empty());
        assert_eq!(f.anomalies, 0);
        let json = serde_json::to_string(&f).unwrap();
        assert!(json.contains("\"auth_types\":[\"ntlmssp\"]"), "{json}");
    }

    #[test]
    fn zerologon_ept_map_netlogon_49668() {
        let f = inspect_hex(
            ZEROLOGON_EPM_MAP_NETLOGON_49668_C2S,
            ZEROLOGON_EPM_MAP_NETLOGON_49668_S2C,
        );
        // tshark: epm.proto.tcp_port 49668, epm.proto.ip 172.16.5.58.
        assert_eq!(
            f.epm_answers,
            vec![tcp(NETLOGON, 1, 49668, Some([172, 16, 5, 58]))]
        );
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn zerologon_netlogon_follow_up() {
        let f = inspect_hex(ZEROLOGON_NETLOGON_49668_C2S, ZEROLOGON_NETLOGON_49668_S2C);
        assert_eq!(iface(&f, NETLOGON).result, Some(ContextResult::Accepted));
        let n = Some(uuid(NETLOGON));
        assert_eq!(
            f.calls,
            vec![
                RpcCall {
                    interface: n,
                    opnum: 4
                },
                RpcCall {
                    interface: n,
                    opnum: 26
                }
            ]
        );
        // Not bound to the mapper: no answers read.
        assert!(f.epm_answers.is_empty());
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn krb135_isystemactivator_bind_split_over_segments() {
        let c2s = hex(KRB135_ISYSTEMACTIVATOR_C2S);
        // The first TCP segment (1460 bytes) holds part of the bind.
        assert_eq!(parse_dcerpc_pdu(&c2s[..1460]), Parsed::NeedMore);
        assert_eq!(inspect(&c2s[..1460], &[]), None);
        let f = inspect_hex(KRB135_ISYSTEMACTIVATOR_C2S, KRB135_ISYSTEMACTIVATOR_S2C);
        assert_eq!(
            f.interfaces,
            vec![BoundInterface {
                uuid: uuid(ISYSTEMACTIVATOR),
                version: 0,
                version_minor: 0,
                result: Some(ContextResult::Accepted)
            }]
        );
        assert_eq!(f.auth_types, vec![AuthType(9)]);
        assert_eq!(
            f.calls,
            vec![RpcCall {
                interface: Some(uuid(ISYSTEMACTIVATOR)),
                opnum: 4
            }]
        );
        // On port 135 but not bound to the mapper: opnum 4 is not an EPM call.
        assert!(f.epm_answers.is_empty());
        assert_eq!(f.pdus, 5);
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn epm_answers_need_the_mapper_binding() {
        let other = uuid(NSPI);
        let f = inspect_dcerpc(
            &Streams {
                c2s: &hex(MAPI_EPM_MAP_EMSMDB_1032_C2S),
                s2c: &hex(MAPI_EPM_MAP_EMSMDB_1032_S2C),
            },
            &other,
        )
        .unwrap();
        assert!(f.epm_answers.is_empty());
        // Without the client side, the call is unknown: no answers either.
        let f = inspect(&[], &hex(MAPI_EPM_MAP_EMSMDB_1032_S2C)).unwrap();
        assert!(f.epm_answers.is_empty());
        assert_eq!(f.pdus, 2);
    }

    // ------------------------------------------------------------ prefixes

    fn is_subset(part: &DcerpcFacts, full: &DcerpcFacts) -> bool {
        part.epm_answers.iter().all(|a| full.epm_answers.contains(a))
            && part
                .calls
                .iter()
                .all(|c| full.calls.iter().any(|d| d.opnum == c.opnum))
            && part
                .interfaces
                .iter()
                .all(|i| full.interfaces.iter().any(|j| j.uuid == i.uuid))
    }

    #[test]
    fn every_truncated_prefix() {
        for (name, c, s) in ALL {
            let (c, s) = (hex(c), hex(s));
            let full = inspect(&c, &s).unwrap();
            for n in 0..=c.len() {
                if let Some(f) = inspect(&c[..n], &s) {
                    assert!(is_subset(&f, &full), "{name} c2s prefix {n}");
                    assert_eq!(f.anomalies, 0, "{name} c2s prefix {n}");
                }
            }
            for n in 0..=s.len() {
                if let Some(f) = inspect(&c, &s[..n]) {
                    assert!(is_subset(&f, &full), "{name} s2c prefix {n}");
                    assert_eq!(f.anomalies, 0, "{name} s2c prefix {n}");
                }
            }
            // PDU by PDU: every prefix of a PDU needs more.
            for dir in [&c, &s] {
                let mut rest: &[u8] = dir;
                while let Parsed::Done(_, used) = parse_dcerpc_pdu(rest) {
                    for n in 0..used {
                        assert_eq!(parse_dcerpc_pdu(&rest[..n]), Parsed::NeedMore, "{name} {n}");
                    }
                    rest = &rest[used..];
                }
            }
        }
    }

    /// The stub of the EMSMDB ept_map answer (after the 24-byte headers).
    fn emsmdb_map_stub() -> Vec<u8> {
        let s = hex(MAPI_EPM_MAP_EMSMDB_1032_S2C);
        let ack_len = usize::from(u16::from_le_bytes([s[8], s[9]]));
        let resp = &s[ack_len..];
        let frag = usize::from(u16::from_le_bytes([resp[8], resp[9]]));
        resp[24..frag].to_vec()
    }

    #[test]
    fn epm_stub_and_tower_prefixes() {
        let stub = emsmdb_map_stub();
        let full = parse_epm_map_response(&stub, true);
        assert!(!full.truncated);
        assert_eq!(full.status, Some(0));
        assert_eq!(full.towers, 1);
        for n in 0..stub.len() {
            let r = parse_epm_map_response(&stub[..n], true);
            assert!(r.truncated, "{n}");
            assert!(r.answers.iter().all(|a| full.answers.contains(a)), "{n}");
        }
        // The tower alone: header of 20 + 4 + 12 + 4, then 4 + 4.
        let tower = &stub[48..48 + 75];
        let t = parse_epm_tower(tower).unwrap();
        assert_eq!(t.transport, Some((EpmProto::Tcp, 1032)));
        for n in 0..tower.len() {
            // Floors cut short: malformed, never a panic.
            assert_eq!(parse_epm_tower(&tower[..n]), None, "{n}");
        }
    }

    #[test]
    fn mutated_bytes_never_panic() {
        for (_, c, s) in ALL {
            let (c, s) = (hex(c), hex(s));
            for i in 0..s.len().min(600) {
                for v in [0x00, 0xff, 0x80] {
                    let mut m = s.clone();
                    m[i] = v;
                    let _ = inspect(&c, &m);
                }
            }
            for i in 0..c.len().min(400) {
                let mut m = c.clone();
                m[i] = 0xff;
                let _ = inspect(&m, &s);
            }
        }
        let stub = emsmdb_map_stub();
        for i in 0..stub.len() {
            for v in [0x00, 0x01, 0x7f, 0xff] {
                let mut m = stub.clone();
                m[i] = v;
                let _ = parse_epm_map_response(&m, true);
                let _ = parse_epm_lookup_response(&m, true);
                let _ = parse_epm_map_response(&m, false);
            }
        }
    }

    // ------------------------------------------------------------ unknowns

    #[test]
    fn unknown_ptype_is_reported() {
        let c = hex(MAPI_EPM_MAP_EMSMDB_1032_C2S);
        let mut s = hex(MAPI_EPM_MAP_EMSMDB_1032_S2C);
        // A connectionless "working" PDU (ptype 9) in a CO stream, then a
        // type number nobody uses (42).
        s.extend(hex(
            "0500090310000000100000000900000005002a0310000000100000000a000000",
        ));
        let f = inspect(&c, &s).unwrap();
        assert_eq!(f.unknown_ptypes, vec![9, 42]);
        assert_eq!(f.epm_answers.len(), 1);
        assert_eq!(f.anomalies, 0);
        assert_eq!(PacketType::from_u8(42), PacketType::Unknown(42));
    }

    #[test]
    fn unknown_floor_protocol_is_counted() {
        let c = hex(MAPI_EPM_MAP_EMSMDB_1032_C2S);
        let mut s = hex(MAPI_EPM_MAP_EMSMDB_1032_S2C);
        // The IP floor's protocol id (0x09, before rhs length 4 and
        // c0a80002) becomes 0x2a, which no table defines.
        let at = s
            .windows(7)
            .position(|w| w == [0x09, 0x04, 0x00, 0xc0, 0xa8, 0x00, 0x02])
            .unwrap();
        s[at] = 0x2a;
        let f = inspect(&c, &s).unwrap();
        assert_eq!(f.epm_unknown_floors, 1);
        assert_eq!(f.epm_answers, vec![tcp(EMSMDB, 0, 1032, None)]);
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn unknown_auth_type_is_reported() {
        let mut c = hex(KRB135_ISYSTEMACTIVATOR_C2S);
        // The bind's sec_trailer sits 8 + auth_length bytes before its end.
        let frag = usize::from(u16::from_le_bytes([c[8], c[9]]));
        let auth = usize::from(u16::from_le_bytes([c[10], c[11]]));
        let at = frag - auth - 8;
        assert_eq!(c[at], 9);
        c[at] = 0x77;
        let f = inspect(&c, &hex(KRB135_ISYSTEMACTIVATOR_S2C)).unwrap();
        assert_eq!(f.auth_types, vec![AuthType(0x77), AuthType(9)]);
        assert_eq!(AuthType(0x77).to_string(), "unknown-119");
        assert_eq!(AuthType(68).to_string(), "netlogon");
        assert_eq!(AuthType(16).to_string(), "kerberos");
        let json = serde_json::to_string(&f).unwrap();
        assert!(
            json.contains("\"auth_types\":[\"unknown-119\",\"spnego\"]"),
            "{json}"
        );
    }

    #[test]
    fn unknown_context_result_and_bind_nak() {
        let c = hex(MAPI_EPM_MAP_NSPI_4997_C2S);
        let mut s = hex(MAPI_EPM_MAP_NSPI_4997_S2C);
        // bind_ack result list: 16 + 8 + 2 + "135\0" + pad 2 + 4 = 36.
        assert_eq!(&s[36..38], &[0, 0]);
        s[36] = 7;
        let f = inspect(&c, &s).unwrap();
        assert_eq!(f.interfaces[0].result, Some(ContextResult::Unknown(7)));
        assert_eq!(ContextResult::Unknown(7).to_string(), "unknown-7");
        // A bind_nak (reason 4, protocol version not supported) instead.
        let nak = hex("05000d03100000001200000001000000040000");
        let f = inspect(&c[..72], &nak[..18]).unwrap();
        assert_eq!(f.bind_naks, vec![4]);
        assert_eq!(f.interfaces[0].result, None);
    }

    // ------------------------------------------------------------ towers

    /// A tower: interface floor, NDR floor, RPC CO floor, port floor of
    /// `proto`, then an address floor `(id, bytes)`.
    fn tower(iface: &str, proto: u8, port: u16, addr: Option<(u8, &[u8])>) -> Vec<u8> {
        let mut t = Vec::new();
        let floors: u16 = if addr.is_some() { 5 } else { 4 };
        t.extend(floors.to_le_bytes());
        let mut uuid_floor = |u: &Uuid, major: u16| {
            t.extend(19u16.to_le_bytes());
            t.push(0x0d);
            let b = u.0;
            t.extend([b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]]);
            t.extend(&b[8..]);
            t.extend(major.to_le_bytes());
            t.extend([2, 0, 0, 0]);
        };
        uuid_floor(&uuid(iface), 1);
        uuid_floor(&uuid("8a885d04-1ceb-11c9-9fe8-08002b104860"), 2);
        t.extend([1, 0, 0x0b, 2, 0, 0, 0]);
        t.extend([1, 0, proto, 2, 0]);
        t.extend(port.to_be_bytes());
        if let Some((id, bytes)) = addr {
            t.extend([1, 0, id]);
            t.extend((bytes.len() as u16).to_le_bytes());
            t.extend(bytes);
        }
        t
    }

    /// An ept_map answer stub (little endian) holding `towers`.
    fn map_stub(towers: &[Vec<u8>]) -> Vec<u8> {
        let n = towers.len() as u32;
        let mut s = vec![0u8; 20];
        for v in [n, n, 0, n] {
            s.extend(v.to_le_bytes());
        }
        for i in 0..n {
            s.extend((i + 1).to_le_bytes());
        }
        for t in towers {
            let l = t.len() as u32;
            s.extend(l.to_le_bytes());
            s.extend(l.to_le_bytes());
            s.extend(t);
            while s.len() % 4 != 0 {
                s.push(0xaa);
            }
        }
        s.extend(0u32.to_le_bytes());
        s
    }

    #[test]
    fn tower_floors_udp_ipv6_pipes_and_unknown() {
        let v6: [u8; 16] = "fe80::1".parse::<Ipv6Addr>().unwrap().octets();
        let towers = vec![
            tower(NETLOGON, 0x08, 135, Some((0x09, &[10, 0, 0, 1]))),
            // C706 has no IPv6 floor: 16 bytes in an IP floor are taken as
            // IPv6; an unknown floor id carrying them is counted, skipped.
            tower(NETLOGON, 0x07, 49668, Some((0x09, &v6))),
            tower(NETLOGON, 0x07, 49669, Some((0x2b, &v6))),
            // A named-pipe tower has no port: no answer.
            tower(NETLOGON, 0x0f, 0x5c50, None),
        ];
        let r = parse_epm_map_response(&map_stub(&towers), true);
        assert!(!r.truncated);
        assert_eq!(r.status, Some(0));
        assert_eq!(r.towers, 4);
        assert_eq!(r.unknown_floors, 1);
        assert_eq!(r.towers_without_port, 1);
        let n = uuid(NETLOGON);
        assert_eq!(
            r.answers,
            vec![
                EpmAnswer {
                    interface: n,
                    version: 1,
                    proto: EpmProto::Udp,
                    port: 135,
                    ip: Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)))
                },
                EpmAnswer {
                    interface: n,
                    version: 1,
                    proto: EpmProto::Tcp,
                    port: 49668,
                    ip: Some(IpAddr::V6(Ipv6Addr::from(v6)))
                },
                EpmAnswer {
                    interface: n,
                    version: 1,
                    proto: EpmProto::Tcp,
                    port: 49669,
                    ip: None
                },
            ]
        );
    }

    #[test]
    fn bounds_are_counted() {
        // More towers than answers kept.
        let towers: Vec<Vec<u8>> = (0..70u16)
            .map(|i| tower(NETLOGON, 0x07, 50000 + i, None))
            .collect();
        let r = parse_epm_map_response(&map_stub(&towers), true);
        assert_eq!(r.answers.len(), MAX_EPM_ANSWERS);
        assert_eq!(r.dropped, 70 - MAX_EPM_ANSWERS as u32);
        // More floors than read.
        let mut t = tower(NETLOGON, 0x07, 1, None);
        t[0] = 40;
        for _ in 4..40 {
            t.extend([1, 0, 0x0b, 0, 0]);
        }
        let p = parse_epm_tower(&t).unwrap();
        assert!(p.floors_dropped);
        assert_eq!(p.transport, Some((EpmProto::Tcp, 1)));
        // More PDUs than read: a request repeated.
        let be = be_bind_and_request();
        let mut c = be[..72].to_vec();
        for _ in 0..300 {
            c.extend(&be[72..]);
        }
        let f = inspect(&c, &[]).unwrap();
        assert_eq!(f.pdus as usize, MAX_PDUS);
        assert_eq!(f.dropped, 1);
    }

    #[test]
    fn fragmented_epm_answer_is_reassembled() {
        let c = hex(MAPI_EPM_MAP_EMSMDB_1032_C2S);
        let s = hex(MAPI_EPM_MAP_EMSMDB_1032_S2C);
        let ack_len = usize::from(u16::from_le_bytes([s[8], s[9]]));
        let resp = &s[ack_len..];
        let stub = &resp[24..];
        // Split the response stub in two fragments at byte 50.
        let frag = |flags: u8, part: &[u8]| {
            let mut p = resp[..24].to_vec();
            p[3] = flags;
            let len = (24 + part.len()) as u16;
            p[8..10].copy_from_slice(&len.to_le_bytes());
            p.extend(part);
            p
        };
        let mut s2 = s[..ack_len].to_vec();
        s2.extend(frag(PFC_FIRST_FRAG, &stub[..50]));
        let partial = inspect(&c, &s2).unwrap();
        assert!(partial.epm_answers.is_empty());
        assert_eq!(partial.anomalies, 0);
        s2.extend(frag(PFC_LAST_FRAG, &stub[50..]));
        let f = inspect(&c, &s2).unwrap();
        assert_eq!(f.epm_answers, vec![tcp(EMSMDB, 0, 1032, Some([192, 168, 0, 2]))]);
        assert_eq!(f.anomalies, 0);
    }

    #[test]
    fn fault_status_is_reported() {
        let c = hex(ZEROLOGON_NETLOGON_49668_C2S);
        let s = hex(ZEROLOGON_NETLOGON_49668_S2C);
        // bind_ack, then a fault for call 1: nca_s_op_rng_error.
        let ack_len = usize::from(u16::from_le_bytes([s[8], s[9]]));
        let mut s2 = s[..ack_len].to_vec();
        s2.extend(hex(
            "0500030310000000200000000100000020000000000000000200011c00000000",
        ));
        let f = inspect(&c, &s2).unwrap();
        assert_eq!(f.faults, vec![0x1c01_0002]);
        assert_eq!(f.anomalies, 0);
    }

    // ------------------------------------------------------------ http

    #[test]
    fn rpc_over_http_and_ncacn_http() {
        let req = b"RPC_IN_DATA /rpc/rpcproxy.dll?mbx.example:6001 HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(rpc_over_http_method(req), Some("RPC_IN_DATA"));
        assert_eq!(
            rpc_over_http_method(b"RPC_OUT_DATA / HTTP/1.1"),
            Some("RPC_OUT_DATA")
        );
        assert_eq!(rpc_over_http_method(b"RPC_IN_DATAX / HTTP/1.1"), None);
        assert_eq!(rpc_over_http_method(b"GET / HTTP/1.1"), None);
        assert_eq!(rpc_over_http_method(b"RPC_IN"), None);
        assert!(is_ncacn_http_greeting(b"ncacn_http/1.0"));
        assert!(!is_ncacn_http_greeting(b"ncacn_http/1"));

        // Legacy ncacn_http: the server greets, then plain PDUs.
        let c = hex(MAPI_EPM_MAP_EMSMDB_1032_C2S);
        let mut s = NCACN_HTTP_GREETING.to_vec();
        s.extend(hex(MAPI_EPM_MAP_EMSMDB_1032_S2C));
        let f = inspect(&c, &s).unwrap();
        assert!(f.ncacn_http);
        assert_eq!(f.epm_answers.len(), 1);
        // The greeting alone is enough to say what the flow is.
        assert!(inspect(&[], NCACN_HTTP_GREETING).unwrap().ncacn_http);

        // RPC over HTTP v2: PDUs after the request head.
        let mut c2 = req.to_vec();
        c2.extend(&c);
        let f = inspect(&c2, b"HTTP/1.1 200 Success\r\n\r\n").unwrap();
        assert_eq!(f.rpc_over_http, Some("RPC_IN_DATA"));
        assert_eq!(f.interfaces[0].uuid, epm());
        assert_eq!(f.anomalies, 0);
        assert_eq!(
            inspect(b"GET / HTTP/1.1\r\n\r\n", b"HTTP/1.1 200 OK\r\n\r\n"),
            None
        );
    }
}
