//! Frames -> borrowed packet view: link layer, IPv4/IPv6, TCP/UDP/ICMP.
//!
//! Never panics, never allocates: every frame either decodes into a [`Packet`]
//! borrowing the frame, or is rejected with a [`DecodeError`] counted by reason.

/// Link-layer framing of a capture interface (pcap LINKTYPE_* values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_NULL (0): BSD loopback, 4-byte host-order family.
    Null,
    /// LINKTYPE_ETHERNET (1).
    Ethernet,
    /// LINKTYPE_RAW (101) and DLT_RAW (12/14 on some systems): raw IPv4 or IPv6.
    Raw,
    /// LINKTYPE_LOOP (108): OpenBSD loopback, 4-byte network-order family.
    Loop,
    /// LINKTYPE_LINUX_SLL (113): Linux cooked v1.
    LinuxSll,
    /// LINKTYPE_IPV4 (228).
    Ipv4,
    /// LINKTYPE_IPV6 (229).
    Ipv6,
    /// LINKTYPE_LINUX_SLL2 (276): Linux cooked v2.
    LinuxSll2,
}

impl LinkType {
    /// Maps a pcap/pcapng link-type number; `None` for unsupported types.
    pub fn from_linktype(n: u32) -> Option<LinkType> {
        match n {
            0 => Some(LinkType::Null),
            1 => Some(LinkType::Ethernet),
            12 | 14 | 101 => Some(LinkType::Raw),
            108 => Some(LinkType::Loop),
            113 => Some(LinkType::LinuxSll),
            228 => Some(LinkType::Ipv4),
            229 => Some(LinkType::Ipv6),
            276 => Some(LinkType::LinuxSll2),
            _ => None,
        }
    }
}

/// An address in 16 bytes: IPv6 as is, IPv4 as an IPv4-mapped IPv6 address
/// (`::ffff:a.b.c.d`), so flow keys have one fixed size.
pub type Addr = [u8; 16];

/// Maps an IPv4 address into [`Addr`].
pub const fn v4_addr(o: [u8; 4]) -> Addr {
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, o[0], o[1], o[2], o[3]]
}

/// Renders an [`Addr`] back to a std address (IPv4-mapped -> IPv4).
pub fn to_ip(a: &Addr) -> std::net::IpAddr {
    let v6 = std::net::Ipv6Addr::from(*a);
    match v6.to_ipv4_mapped() {
        Some(v4) => std::net::IpAddr::V4(v4),
        None => std::net::IpAddr::V6(v6),
    }
}

/// IP protocol numbers the flow table distinguishes.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

/// TCP flag bits as on the wire (byte 13 of the TCP header).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
}

/// A 5-tuple as seen in one packet (not canonical).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuple {
    pub src: Addr,
    pub dst: Addr,
    pub proto: u8,
    pub sport: u16,
    pub dport: u16,
}

/// TCP header fields the flow table uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub window: u16,
}

/// Part of a fragmented IPv4/IPv6 datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment {
    /// IPv4 identification (16 bits) or IPv6 fragment identification (32 bits).
    pub id: u32,
    /// Fragment offset in 8-byte units.
    pub offset: u16,
    pub more: bool,
}

/// An ICMP/ICMPv6 error message and the packet it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    pub icmp_type: u8,
    pub code: u8,
    /// The tuple of the quoted (offending) packet, as it was sent: `src` is the
    /// host that sent the original packet. `None` when the quote is too short
    /// to read addresses; ports are 0 when the quote is too short for them.
    pub quoted: Option<Tuple>,
}

/// A decoded frame, borrowing its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Outermost IP header's addresses and the transport protocol/ports.
    /// Ports are 0 for protocols without ports, for non-first fragments and
    /// for ICMP other than echo; ICMP/ICMPv6 echo request and reply carry the
    /// echo identifier in both `sport` and `dport`.
    pub tuple: Tuple,
    /// Total IP length from the IP header (header + payload), the real size on
    /// the wire even when the capture was cut short by the snaplen.
    pub ip_len: u32,
    /// Transport payload length according to the headers (not the captured size).
    pub payload_len: u32,
    /// Captured transport payload bytes (may be shorter than `payload_len`).
    pub payload: &'a [u8],
    /// TCP fields, when `tuple.proto == PROTO_TCP` and the header was captured.
    pub tcp: Option<TcpInfo>,
    /// Set when the IP datagram is a fragment (first or later).
    pub fragment: Option<Fragment>,
    /// Set for ICMP/ICMPv6 error messages (destination unreachable, time
    /// exceeded, parameter problem, packet too big, source quench, redirect).
    pub icmp_error: Option<IcmpError>,
}

/// Why a frame could not be decoded into a [`Packet`]. Counted by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecodeError {
    /// Frame shorter than its link-layer header.
    LinkTruncated,
    /// A valid frame that does not carry IP (ARP, STP, LLC, LLDP...).
    NotIp,
    /// The IP header is cut short or its version/length fields are invalid.
    IpInvalid,
    /// The transport header (TCP/UDP/ICMP) is cut short or invalid; the frame is
    /// not counted against a flow.
    TransportInvalid,
    /// More VLAN tags than the decoder follows (8).
    TooManyVlanTags,
}

impl DecodeError {
    /// Stable snake_case name used in the summary record.
    pub fn as_str(self) -> &'static str {
        match self {
            DecodeError::LinkTruncated => "link_truncated",
            DecodeError::NotIp => "not_ip",
            DecodeError::IpInvalid => "ip_invalid",
            DecodeError::TransportInvalid => "transport_invalid",
            DecodeError::TooManyVlanTags => "too_many_vlan_tags",
        }
    }
}

/// Decodes one captured frame. `frame` holds the captured bytes (possibly cut
/// short by the snaplen).
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    let _ = (link, frame);
    Err(DecodeError::NotIp)
}
