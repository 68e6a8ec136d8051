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

pub use crate::vocab::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};

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
    /// Encapsulations the decoder went through to reach this (innermost)
    /// IP packet, as [`encap`] bits; 0 for a plain frame.
    pub encap: u8,
}

/// Encapsulation bits of [`Packet::encap`], with their summary names.
pub mod encap {
    pub const PPPOE: u8 = 1;
    pub const MPLS: u8 = 2;
    pub const GRE: u8 = 4;
    pub const ERSPAN: u8 = 8;
    pub const VXLAN: u8 = 16;
    pub const GENEVE: u8 = 32;
    /// IPv4 or IPv6 in IPv4 or IPv6 (IP-in-IP, 6in4, 4in6).
    pub const IP_IN_IP: u8 = 64;
    /// Every bit and its name.
    pub const NAMES: [(u8, &str); 7] = [
        (PPPOE, "pppoe"),
        (MPLS, "mpls"),
        (GRE, "gre"),
        (ERSPAN, "erspan"),
        (VXLAN, "vxlan"),
        (GENEVE, "geneve"),
        (IP_IN_IP, "ip_in_ip"),
    ];
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

    /// Whether the frame is malformed or cut short; [`DecodeError::NotIp`]
    /// is a valid frame that simply does not carry IP.
    pub fn is_error(self) -> bool {
        !matches!(self, DecodeError::NotIp)
    }
}

/// Decodes one captured frame. `frame` holds the captured bytes (possibly cut
/// short by the snaplen).
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    parse::decode_frame(link, frame)
}

/// The parsing code: every read is checked, no indexing, no unchecked
/// arithmetic, no `as` conversions (enforced by clippy).
#[deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::as_conversions,
    clippy::cast_possible_truncation
)]
mod parse {
    use super::{
        encap, v4_addr, Addr, DecodeError, Fragment, IcmpError, LinkType, Packet, TcpInfo, Tuple, PROTO_ICMP,
        PROTO_ICMPV6, PROTO_TCP, PROTO_UDP,
    };

    const ETHERTYPE_IPV4: u16 = 0x0800;
    const ETHERTYPE_IPV6: u16 = 0x86dd;
    const ETHERTYPE_VLAN: u16 = 0x8100;
    const ETHERTYPE_QINQ: u16 = 0x88a8;
    const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
    const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
    const ETHERTYPE_MPLS: u16 = 0x8847;
    const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
    /// GRE protocol types: transparent Ethernet bridging, ERSPAN type I/II, III.
    const GRE_ETHERNET: u16 = 0x6558;
    const GRE_ERSPAN_2: u16 = 0x88be;
    const GRE_ERSPAN_3: u16 = 0x22eb;
    const PPP_IPV4: u16 = 0x0021;
    const PPP_IPV6: u16 = 0x0057;
    const PROTO_IPIP: u8 = 4;
    const PROTO_IPV6_IN_IP: u8 = 41;
    const PROTO_GRE: u8 = 47;
    const PORT_VXLAN: u16 = 4789;
    const PORT_GENEVE: u16 = 6081;
    /// Encapsulations followed inside one another before the outer packet is
    /// taken as it is (a crafted tunnel-in-tunnel-in-tunnel is not followed
    /// without bound).
    const MAX_DEPTH: u8 = 4;
    /// MPLS labels followed before giving up.
    const MAX_MPLS_LABELS: usize = 8;
    /// VLAN tags followed before giving up with `TooManyVlanTags`.
    const MAX_VLAN_TAGS: usize = 8;
    /// IPv6 extension headers followed before giving up with `IpInvalid`.
    const MAX_IPV6_EXT_HEADERS: usize = 8;
    /// ARPHRD_NETLINK: SLL frames of the netlink monitor; protocol is a netlink family.
    const ARPHRD_NETLINK: u16 = 824;

    const ETH_HEADER_LEN: usize = 14;
    const VLAN_TAG_LEN: usize = 4;
    const SLL_HEADER_LEN: usize = 16;
    const SLL2_HEADER_LEN: usize = 20;
    const NULL_HEADER_LEN: usize = 4;
    const IPV4_MIN_HEADER_LEN: usize = 20;
    const IPV6_HEADER_LEN: usize = 40;
    /// Ports, sequence, acknowledgement, data offset and flags.
    const TCP_MIN_CAPTURED: usize = 14;
    const TCP_MIN_HEADER_LEN: usize = 20;
    const UDP_HEADER_LEN: usize = 8;
    const ICMP_HEADER_LEN: usize = 8;

    /// BSD address families for IPv4 / IPv6 (NetBSD/OpenBSD, FreeBSD, macOS).
    const AF_INET: u32 = 2;
    const AF_INET6: [u32; 3] = [24, 28, 30];

    #[inline]
    fn be16(b: &[u8], off: usize) -> Option<u16> {
        b.get(off..)?.first_chunk::<2>().map(|a| u16::from_be_bytes(*a))
    }

    #[inline]
    fn be32(b: &[u8], off: usize) -> Option<u32> {
        b.get(off..)?.first_chunk::<4>().map(|a| u32::from_be_bytes(*a))
    }

    #[inline]
    fn byte(b: &[u8], off: usize) -> Option<u8> {
        b.get(off).copied()
    }

    #[inline]
    fn arr<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
        b.get(off..)?.first_chunk::<N>().copied()
    }

    #[inline]
    fn len_u32(n: usize) -> u32 {
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// The first `n` bytes of `b`, or all of `b` when it is shorter.
    #[inline]
    fn clamp(b: &[u8], n: usize) -> &[u8] {
        b.get(..n).unwrap_or(b)
    }

    /// Bytes of `b` from `off`, empty when `off` is past the end.
    #[inline]
    fn tail(b: &[u8], off: usize) -> &[u8] {
        b.get(off..).unwrap_or(&[])
    }

    pub(super) fn decode_frame(link: LinkType, frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
        match link {
            LinkType::Ethernet => ethernet(frame, 0),
            LinkType::LinuxSll => {
                if frame.len() < SLL_HEADER_LEN {
                    return Err(DecodeError::LinkTruncated);
                }
                let arphrd = be16(frame, 2).ok_or(DecodeError::LinkTruncated)?;
                let protocol = be16(frame, 14).ok_or(DecodeError::LinkTruncated)?;
                sll_payload(arphrd, protocol, tail(frame, SLL_HEADER_LEN))
            }
            LinkType::LinuxSll2 => {
                if frame.len() < SLL2_HEADER_LEN {
                    return Err(DecodeError::LinkTruncated);
                }
                let protocol = be16(frame, 0).ok_or(DecodeError::LinkTruncated)?;
                let arphrd = be16(frame, 8).ok_or(DecodeError::LinkTruncated)?;
                sll_payload(arphrd, protocol, tail(frame, SLL2_HEADER_LEN))
            }
            LinkType::Raw => match byte(frame, 0).map(|b| b >> 4) {
                None => Err(DecodeError::LinkTruncated),
                Some(4) => parse_ipv4(frame, 0),
                Some(6) => parse_ipv6(frame, 0),
                Some(_) => Err(DecodeError::IpInvalid),
            },
            LinkType::Ipv4 => parse_ipv4(frame, 0),
            LinkType::Ipv6 => parse_ipv6(frame, 0),
            LinkType::Null | LinkType::Loop => {
                let family = arr::<4>(frame, 0).ok_or(DecodeError::LinkTruncated)?;
                let ip = tail(frame, NULL_HEADER_LEN);
                // Null is host order (either endianness, depending on the
                // capturing machine), Loop is network order; the family values
                // never collide across byte orders, so both are accepted.
                let le = u32::from_le_bytes(family);
                let be = u32::from_be_bytes(family);
                if le == AF_INET || be == AF_INET {
                    parse_ipv4(ip, 0)
                } else if AF_INET6.contains(&le) || AF_INET6.contains(&be) {
                    parse_ipv6(ip, 0)
                } else {
                    Err(DecodeError::NotIp)
                }
            }
        }
    }

    /// Linux cooked (v1 and v2): the protocol field is an ethertype for every
    /// ARPHRD type that carries IP (Ethernet, loopback 772, IPGRE 778, tun
    /// ARPHRD_NONE...); 802.3/802.2 pseudo-protocols (< 0x0600) are not IP.
    #[inline]
    fn sll_payload(arphrd: u16, protocol: u16, rest: &[u8]) -> Result<Packet<'_>, DecodeError> {
        if arphrd == ARPHRD_NETLINK {
            return Err(DecodeError::NotIp);
        }
        ethertype_payload(protocol, rest, 0)
    }

    /// An Ethernet frame (the link, or one carried by a tunnel).
    #[inline]
    fn ethernet(frame: &[u8], depth: u8) -> Result<Packet<'_>, DecodeError> {
        let ethertype = be16(frame, 12).ok_or(DecodeError::LinkTruncated)?;
        ethertype_payload(ethertype, tail(frame, ETH_HEADER_LEN), depth)
    }

    /// Marks a packet found inside an encapsulation.
    #[inline]
    fn inside(p: Result<Packet<'_>, DecodeError>, bit: u8) -> Result<Packet<'_>, DecodeError> {
        p.map(|mut p| {
            p.encap |= bit;
            p
        })
    }

    /// Follows VLAN tags (802.1Q, 802.1ad, old QinQ 0x9100), then IP, or a
    /// PPPoE session or an MPLS label stack (also inside VLANs) to the IP
    /// they carry.
    #[inline]
    fn ethertype_payload(mut ethertype: u16, mut rest: &[u8], depth: u8) -> Result<Packet<'_>, DecodeError> {
        let mut tags = 0usize;
        while matches!(ethertype, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
            if tags >= MAX_VLAN_TAGS {
                return Err(DecodeError::TooManyVlanTags);
            }
            tags = tags.saturating_add(1);
            ethertype = be16(rest, 2).ok_or(DecodeError::LinkTruncated)?;
            rest = tail(rest, VLAN_TAG_LEN);
        }
        match ethertype {
            ETHERTYPE_IPV4 => parse_ipv4(rest, depth),
            ETHERTYPE_IPV6 => parse_ipv6(rest, depth),
            ETHERTYPE_PPPOE_SESSION => inside(pppoe(rest, depth), encap::PPPOE),
            ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => inside(mpls(rest, depth), encap::MPLS),
            _ => Err(DecodeError::NotIp),
        }
    }

    /// PPPoE session stage (RFC 2516): version/type, code, session id and
    /// length, then the PPP protocol (IPv4 0x0021, IPv6 0x0057; LCP, IPCP
    /// and the rest are not IP). The length field bounds the PPP payload.
    fn pppoe(b: &[u8], depth: u8) -> Result<Packet<'_>, DecodeError> {
        let vt = byte(b, 0).ok_or(DecodeError::LinkTruncated)?;
        if vt != 0x11 {
            return Err(DecodeError::NotIp);
        }
        let len = usize::from(be16(b, 4).ok_or(DecodeError::LinkTruncated)?);
        let ppp = clamp(tail(b, 6), len);
        let proto = be16(ppp, 0).ok_or(DecodeError::LinkTruncated)?;
        let ip = tail(ppp, 2);
        match proto {
            PPP_IPV4 => parse_ipv4(ip, depth),
            PPP_IPV6 => parse_ipv6(ip, depth),
            _ => Err(DecodeError::NotIp),
        }
    }

    /// An MPLS label stack (RFC 3032) to its bottom, then what it carries:
    /// IPv4 or IPv6 by the version nibble, or (nibble 0, a pseudowire
    /// control word) an Ethernet frame.
    fn mpls(mut b: &[u8], depth: u8) -> Result<Packet<'_>, DecodeError> {
        for _ in 0..MAX_MPLS_LABELS {
            let entry = be32(b, 0).ok_or(DecodeError::LinkTruncated)?;
            b = tail(b, 4);
            if entry & 0x100 != 0 {
                return match byte(b, 0).map(|v| v >> 4) {
                    Some(4) => parse_ipv4(b, depth),
                    Some(6) => parse_ipv6(b, depth),
                    Some(0) if depth < MAX_DEPTH => ethernet(tail(b, 4), depth.saturating_add(1)),
                    Some(_) => Err(DecodeError::NotIp),
                    None => Err(DecodeError::LinkTruncated),
                };
            }
        }
        Err(DecodeError::NotIp)
    }

    /// GRE (RFC 2784/2890, version 0): checksum, key and sequence fields by
    /// the flags, then IPv4, IPv6, MPLS, a bridged Ethernet frame, or
    /// ERSPAN type I/II (0x88be; type II has the sequence bit and an 8-byte
    /// header) and type III (0x22eb, a 12-byte header and an optional 8-byte
    /// platform subheader) to the mirrored Ethernet frame. `None` when the
    /// payload is something else (PPTP's enhanced GRE, keepalives...).
    fn gre(b: &[u8], depth: u8) -> Option<Result<Packet<'_>, DecodeError>> {
        let flags = be16(b, 0)?;
        if flags & 0x0007 != 0 {
            return None;
        }
        let proto = be16(b, 2)?;
        let mut off = 4usize;
        for bit in [0x8000u16, 0x2000, 0x1000] {
            if flags & bit != 0 {
                off = off.checked_add(4)?;
            }
        }
        let rest = b.get(off..)?;
        let next = depth.checked_add(1)?;
        let inner = match proto {
            0x0800 => parse_ipv4(rest, next),
            0x86dd => parse_ipv6(rest, next),
            ETHERTYPE_MPLS => inside(mpls(rest, next), encap::MPLS),
            GRE_ETHERNET => ethernet(rest, next),
            GRE_ERSPAN_2 if flags & 0x1000 == 0 => inside(ethernet(rest, next), encap::ERSPAN),
            GRE_ERSPAN_2 => inside(ethernet(rest.get(8..)?, next), encap::ERSPAN),
            GRE_ERSPAN_3 => {
                let platform = byte(rest, 11)? & 1 != 0;
                let skip = if platform { 20 } else { 12 };
                inside(ethernet(rest.get(skip..)?, next), encap::ERSPAN)
            }
            _ => return None,
        };
        Some(inside(inner, encap::GRE))
    }

    /// VXLAN (RFC 7348, UDP 4789) with the VNI flag, or Geneve (RFC 8926,
    /// UDP 6081) carrying Ethernet, IPv4 or IPv6; `None` otherwise.
    fn udp_tunnel(port: u16, b: &[u8], depth: u8) -> Option<Result<Packet<'_>, DecodeError>> {
        let next = depth.checked_add(1)?;
        match port {
            PORT_VXLAN => {
                if byte(b, 0)? & 0x08 == 0 {
                    return None;
                }
                Some(inside(ethernet(b.get(8..)?, next), encap::VXLAN))
            }
            PORT_GENEVE => {
                let v = byte(b, 0)?;
                if v >> 6 != 0 {
                    return None;
                }
                let opts = usize::from(v & 0x3f).checked_mul(4)?;
                let rest = b.get(opts.checked_add(8)?..)?;
                let inner = match be16(b, 2)? {
                    GRE_ETHERNET => ethernet(rest, next),
                    0x0800 => parse_ipv4(rest, next),
                    0x86dd => parse_ipv6(rest, next),
                    _ => return None,
                };
                Some(inside(inner, encap::GENEVE))
            }
            _ => None,
        }
    }

    /// The parts of an IP header the transport layer needs.
    struct IpView {
        src: Addr,
        dst: Addr,
        ip_len: u32,
        fragment: Option<Fragment>,
    }

    fn parse_ipv4(ip: &[u8], depth: u8) -> Result<Packet<'_>, DecodeError> {
        let (fixed, _) = ip
            .split_first_chunk::<IPV4_MIN_HEADER_LEN>()
            .ok_or(DecodeError::IpInvalid)?;
        let vihl = byte(fixed, 0).ok_or(DecodeError::IpInvalid)?;
        if vihl >> 4 != 4 {
            return Err(DecodeError::IpInvalid);
        }
        let hlen = usize::from(vihl & 0x0f).saturating_mul(4);
        if hlen < IPV4_MIN_HEADER_LEN || hlen > ip.len() {
            return Err(DecodeError::IpInvalid);
        }
        let total = usize::from(be16(fixed, 2).ok_or(DecodeError::IpInvalid)?);
        // Total length 0: segmentation offload captured before the NIC filled it in.
        let total = if total == 0 { ip.len() } else { total };
        if total < hlen {
            return Err(DecodeError::IpInvalid);
        }
        let id = be16(fixed, 4).ok_or(DecodeError::IpInvalid)?;
        let frag_field = be16(fixed, 6).ok_or(DecodeError::IpInvalid)?;
        let proto = byte(fixed, 9).ok_or(DecodeError::IpInvalid)?;
        let src = v4_addr(arr::<4>(fixed, 12).ok_or(DecodeError::IpInvalid)?);
        let dst = v4_addr(arr::<4>(fixed, 16).ok_or(DecodeError::IpInvalid)?);
        let more = frag_field & 0x2000 != 0;
        let offset = frag_field & 0x1fff;
        let fragment = (more || offset != 0).then_some(Fragment {
            id: u32::from(id),
            offset,
            more,
        });
        // Captured IP payload, without link padding after the datagram.
        let payload = tail(clamp(ip, total), hlen);
        let l4_len = total.saturating_sub(hlen);
        let view = IpView {
            src,
            dst,
            ip_len: len_u32(total),
            fragment,
        };
        if offset != 0 {
            return Ok(unparsed(&view, proto, payload, l4_len));
        }
        transport(&view, proto, payload, l4_len, false, depth)
    }

    fn parse_ipv6(ip: &[u8], depth: u8) -> Result<Packet<'_>, DecodeError> {
        let (fixed, _) = ip
            .split_first_chunk::<IPV6_HEADER_LEN>()
            .ok_or(DecodeError::IpInvalid)?;
        if byte(fixed, 0).ok_or(DecodeError::IpInvalid)? >> 4 != 6 {
            return Err(DecodeError::IpInvalid);
        }
        let plen = usize::from(be16(fixed, 4).ok_or(DecodeError::IpInvalid)?);
        // Payload length 0: jumbogram or segmentation offload; use what was captured.
        let total = if plen == 0 {
            ip.len()
        } else {
            IPV6_HEADER_LEN.saturating_add(plen)
        };
        let next = byte(fixed, 6).ok_or(DecodeError::IpInvalid)?;
        let src: Addr = arr::<16>(fixed, 8).ok_or(DecodeError::IpInvalid)?;
        let dst: Addr = arr::<16>(fixed, 24).ok_or(DecodeError::IpInvalid)?;
        let after = tail(clamp(ip, total), IPV6_HEADER_LEN);
        let l4_total = total.saturating_sub(IPV6_HEADER_LEN);
        let ext = walk_ipv6_ext(next, after).ok_or(DecodeError::IpInvalid)?;
        let payload = tail(after, ext.consumed);
        let l4_len = l4_total.saturating_sub(ext.consumed);
        let view = IpView {
            src,
            dst,
            ip_len: len_u32(total),
            fragment: ext.fragment,
        };
        if ext.fragment.is_some_and(|f| f.offset != 0) {
            return Ok(unparsed(&view, ext.proto, payload, l4_len));
        }
        transport(&view, ext.proto, payload, l4_len, true, depth)
    }

    /// Result of following IPv6 extension headers.
    struct Ipv6Ext {
        /// The upper-layer protocol (or the header the walk stopped at).
        proto: u8,
        /// Bytes of extension headers before the upper layer.
        consumed: usize,
        fragment: Option<Fragment>,
    }

    /// Follows IPv6 extension headers; `None` when one is cut short or there
    /// are more than [`MAX_IPV6_EXT_HEADERS`]. Stops at a non-first fragment.
    fn walk_ipv6_ext(mut next: u8, after: &[u8]) -> Option<Ipv6Ext> {
        let mut off = 0usize;
        let mut fragment = None;
        for _ in 0..=MAX_IPV6_EXT_HEADERS {
            let hdr_len = match next {
                // Hop-by-hop, routing, destination options: 8-octet units, not counting the first 8.
                0 | 43 | 60 => usize::from(byte(after, off.checked_add(1)?)?)
                    .checked_add(1)?
                    .checked_mul(8)?,
                // Authentication header: 4-octet units, not counting the first 2.
                51 => usize::from(byte(after, off.checked_add(1)?)?)
                    .checked_add(2)?
                    .checked_mul(4)?,
                44 => {
                    let field = be16(after, off.checked_add(2)?)?;
                    let id = be32(after, off.checked_add(4)?)?;
                    let offset = field >> 3;
                    let more = field & 1 != 0;
                    if more || offset != 0 {
                        fragment = Some(Fragment { id, offset, more });
                    }
                    if offset != 0 {
                        let proto = byte(after, off)?;
                        let consumed = off.checked_add(8)?;
                        return Some(Ipv6Ext {
                            proto,
                            consumed,
                            fragment,
                        });
                    }
                    8
                }
                // Upper layer, ESP (50), no next header (59) or unknown.
                _ => {
                    return Some(Ipv6Ext {
                        proto: next,
                        consumed: off,
                        fragment,
                    })
                }
            };
            let end = off.checked_add(hdr_len)?;
            if end > after.len() {
                return None;
            }
            next = byte(after, off)?;
            off = end;
        }
        None
    }

    /// A packet whose transport header is not read (non-first fragment).
    #[inline]
    fn unparsed<'a>(view: &IpView, proto: u8, payload: &'a [u8], l4_len: usize) -> Packet<'a> {
        Packet {
            tuple: Tuple {
                src: view.src,
                dst: view.dst,
                proto,
                sport: 0,
                dport: 0,
            },
            ip_len: view.ip_len,
            payload_len: len_u32(l4_len),
            payload: clamp(payload, l4_len),
            tcp: None,
            fragment: view.fragment,
            icmp_error: None,
            encap: 0,
        }
    }

    /// Decodes the transport header. `data` is the captured upper-layer bytes
    /// (already cut at the IP length), `l4_len` the length per the IP header.
    fn transport<'a>(
        view: &IpView,
        proto: u8,
        data: &'a [u8],
        l4_len: usize,
        v6: bool,
        depth: u8,
    ) -> Result<Packet<'a>, DecodeError> {
        // Tunnels: the innermost packet is the flow. A tunnel whose inner
        // packet does not decode stays the outer packet it is; fragments of
        // a tunnel are counted as the outer flow.
        let inner = clamp(data, l4_len);
        if depth < MAX_DEPTH && view.fragment.is_none() {
            let next = depth.saturating_add(1);
            let tunnelled = match proto {
                PROTO_IPIP => Some(inside(parse_ipv4(inner, next), encap::IP_IN_IP)),
                PROTO_IPV6_IN_IP => Some(inside(parse_ipv6(inner, next), encap::IP_IN_IP)),
                PROTO_GRE => gre(inner, depth),
                PROTO_UDP => match (be16(inner, 0), be16(inner, 2)) {
                    (Some(sp), Some(dp)) => [dp, sp]
                        .into_iter()
                        .find(|p| matches!(*p, PORT_VXLAN | PORT_GENEVE))
                        .and_then(|p| udp_tunnel(p, tail(inner, UDP_HEADER_LEN), depth)),
                    _ => None,
                },
                _ => None,
            };
            if let Some(Ok(p)) = tunnelled {
                return Ok(p);
            }
        }
        let mut pkt = unparsed(view, proto, data, l4_len);
        let done = match proto {
            PROTO_TCP => parse_tcp(&mut pkt, data, l4_len),
            PROTO_UDP => parse_udp(&mut pkt, data, l4_len),
            PROTO_ICMP if !v6 => parse_icmp(&mut pkt, data, l4_len, false),
            PROTO_ICMPV6 if v6 => parse_icmp(&mut pkt, data, l4_len, true),
            _ => Some(()),
        };
        match done {
            Some(()) => Ok(pkt),
            // A first fragment may end before the transport header does: keep
            // the fragment (ports 0) rather than dropping it.
            None if view.fragment.is_some() => Ok(unparsed(view, proto, data, l4_len)),
            None => Err(DecodeError::TransportInvalid),
        }
    }

    fn parse_tcp<'a>(pkt: &mut Packet<'a>, data: &'a [u8], l4_len: usize) -> Option<()> {
        if data.len() < TCP_MIN_CAPTURED {
            return None;
        }
        let doff = byte(data, 12)? >> 4;
        let hlen = usize::from(doff).checked_mul(4)?;
        if hlen < TCP_MIN_HEADER_LEN {
            return None;
        }
        pkt.tuple.sport = be16(data, 0)?;
        pkt.tuple.dport = be16(data, 2)?;
        pkt.tcp = Some(TcpInfo {
            flags: byte(data, 13)?,
            seq: be32(data, 4)?,
            ack: be32(data, 8)?,
            // Snaplen 54 on a VLAN or option-carrying packet can cut the window.
            window: be16(data, 14).unwrap_or(0),
        });
        let payload_len = l4_len.saturating_sub(hlen);
        pkt.payload_len = len_u32(payload_len);
        pkt.payload = clamp(tail(data, hlen), payload_len);
        Some(())
    }

    fn parse_udp<'a>(pkt: &mut Packet<'a>, data: &'a [u8], l4_len: usize) -> Option<()> {
        pkt.tuple.sport = be16(data, 0)?;
        pkt.tuple.dport = be16(data, 2)?;
        // The UDP length when sane (0 means offload or jumbogram), else the IP's.
        // A length cut by the snaplen: ports are all the flow table needs.
        let len = match be16(data, 4).map(usize::from) {
            Some(udp_len) if udp_len >= UDP_HEADER_LEN && udp_len <= l4_len => udp_len,
            _ => l4_len,
        };
        let payload_len = len.saturating_sub(UDP_HEADER_LEN);
        pkt.payload_len = len_u32(payload_len);
        pkt.payload = clamp(tail(data, UDP_HEADER_LEN), payload_len);
        Some(())
    }

    /// Whether an ICMP (v4 or v6) type quotes the offending datagram.
    #[inline]
    fn is_icmp_error(icmp_type: u8, v6: bool) -> bool {
        if v6 {
            matches!(icmp_type, 1..=4)
        } else {
            matches!(icmp_type, 3 | 4 | 5 | 11 | 12)
        }
    }

    #[inline]
    fn is_icmp_echo(icmp_type: u8, v6: bool) -> bool {
        if v6 {
            matches!(icmp_type, 128 | 129)
        } else {
            matches!(icmp_type, 0 | 8)
        }
    }

    fn parse_icmp<'a>(pkt: &mut Packet<'a>, data: &'a [u8], l4_len: usize, v6: bool) -> Option<()> {
        let icmp_type = byte(data, 0)?;
        let code = byte(data, 1)?;
        if is_icmp_echo(icmp_type, v6) {
            let ident = be16(data, 4)?;
            pkt.tuple.sport = ident;
            pkt.tuple.dport = ident;
        }
        let payload_len = l4_len.saturating_sub(ICMP_HEADER_LEN);
        pkt.payload_len = len_u32(payload_len);
        pkt.payload = clamp(tail(data, ICMP_HEADER_LEN), payload_len);
        if is_icmp_error(icmp_type, v6) {
            let quote = pkt.payload;
            let quoted = if v6 {
                quoted_ipv6(quote)
            } else {
                quoted_ipv4(quote)
            };
            pkt.icmp_error = Some(IcmpError {
                icmp_type,
                code,
                quoted,
            });
        }
        Some(())
    }

    /// Ports of a quoted transport header (first 8 bytes, may be fewer).
    fn quoted_ports(proto: u8, l4: &[u8], v6: bool) -> (u16, u16) {
        let echo_ident = |icmp_type: u8| {
            if is_icmp_echo(icmp_type, v6) {
                be16(l4, 4).map_or((0, 0), |id| (id, id))
            } else {
                (0, 0)
            }
        };
        match proto {
            PROTO_ICMP if !v6 => byte(l4, 0).map_or((0, 0), echo_ident),
            PROTO_ICMPV6 if v6 => byte(l4, 0).map_or((0, 0), echo_ident),
            // TCP, UDP, DCCP, SCTP, UDP-Lite: ports first.
            PROTO_TCP | PROTO_UDP | 33 | 132 | 136 => match (be16(l4, 0), be16(l4, 2)) {
                (Some(s), Some(d)) => (s, d),
                _ => (0, 0),
            },
            _ => (0, 0),
        }
    }

    fn quoted_ipv4(q: &[u8]) -> Option<Tuple> {
        let vihl = byte(q, 0)?;
        if vihl >> 4 != 4 {
            return None;
        }
        let hlen = usize::from(vihl & 0x0f).checked_mul(4)?;
        let proto = byte(q, 9)?;
        let src = v4_addr(arr::<4>(q, 12)?);
        let dst = v4_addr(arr::<4>(q, 16)?);
        let first_fragment = be16(q, 6).is_some_and(|f| f & 0x1fff == 0);
        let (sport, dport) = if hlen >= IPV4_MIN_HEADER_LEN && first_fragment {
            quoted_ports(proto, tail(q, hlen), false)
        } else {
            (0, 0)
        };
        Some(Tuple {
            src,
            dst,
            proto,
            sport,
            dport,
        })
    }

    fn quoted_ipv6(q: &[u8]) -> Option<Tuple> {
        if byte(q, 0)? >> 4 != 6 {
            return None;
        }
        let next = byte(q, 6)?;
        let src: Addr = arr::<16>(q, 8)?;
        let dst: Addr = arr::<16>(q, 24)?;
        let after = tail(q, IPV6_HEADER_LEN);
        let (proto, sport, dport) = match walk_ipv6_ext(next, after) {
            Some(ext) if ext.fragment.is_none_or(|f| f.offset == 0) => {
                let (s, d) = quoted_ports(ext.proto, tail(after, ext.consumed), true);
                (ext.proto, s, d)
            }
            Some(ext) => (ext.proto, 0, 0),
            // Extension headers cut by the quote: the protocol is unknown past them.
            None => (next, 0, 0),
        };
        Some(Tuple {
            src,
            dst,
            proto,
            sport,
            dport,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 4] = [10, 0, 0, 1];
    const B: [u8; 4] = [10, 0, 0, 2];
    const A6: Addr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const B6: Addr = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    /// Ethernet II header with the given ethertype.
    fn eth(ethertype: u16) -> Vec<u8> {
        let mut v = vec![
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb,
        ];
        v.extend_from_slice(&ethertype.to_be_bytes());
        v
    }

    /// A VLAN tag (TCI + inner ethertype) to follow a tag ethertype.
    fn tag(vid: u16, inner: u16) -> Vec<u8> {
        cat(&[&vid.to_be_bytes(), &inner.to_be_bytes()])
    }

    /// IPv4 header without options; `total` is the total-length field.
    fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], total: u16, id: u16, frag: u16) -> Vec<u8> {
        let mut v = vec![0x45, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&frag.to_be_bytes());
        v.extend_from_slice(&[64, proto, 0, 0]);
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v
    }

    /// IPv6 fixed header; `plen` is the payload-length field.
    fn ipv6(next: u8, src: Addr, dst: Addr, plen: u16) -> Vec<u8> {
        let mut v = vec![0x60, 0, 0, 0];
        v.extend_from_slice(&plen.to_be_bytes());
        v.extend_from_slice(&[next, 64]);
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v
    }

    /// TCP header without options.
    fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8, window: u16) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&sport.to_be_bytes());
        v.extend_from_slice(&dport.to_be_bytes());
        v.extend_from_slice(&seq.to_be_bytes());
        v.extend_from_slice(&ack.to_be_bytes());
        v.extend_from_slice(&[0x50, flags]);
        v.extend_from_slice(&window.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, 0]);
        v
    }

    fn udp(sport: u16, dport: u16, len: u16) -> Vec<u8> {
        cat(&[
            &sport.to_be_bytes(),
            &dport.to_be_bytes(),
            &len.to_be_bytes(),
            &[0, 0],
        ])
    }

    /// IPv4 TCP PSH/ACK 10.0.0.1:49152 -> 10.0.0.2:443 carrying "hello".
    fn ipv4_tcp_hello() -> Vec<u8> {
        let t = tcp(49152, 443, 1000, 2000, tcp_flags::PSH | tcp_flags::ACK, 512);
        cat(&[&ipv4(PROTO_TCP, A, B, 45, 7, 0x4000), &t, b"hello"])
    }

    /// IPv6 UDP [2001:db8::1]:5353 -> [2001:db8::2]:53 carrying "dns!".
    fn ipv6_udp_dns() -> Vec<u8> {
        cat(&[&ipv6(PROTO_UDP, A6, B6, 12), &udp(5353, 53, 12), b"dns!"])
    }

    /// SLL v1 header: packet type, ARPHRD, 6-byte address, protocol.
    fn sll(arphrd: u16, protocol: u16) -> Vec<u8> {
        let mut v = vec![0, 0];
        v.extend_from_slice(&arphrd.to_be_bytes());
        v.extend_from_slice(&[0, 6, 0, 0, 0, 0, 0, 0, 0, 0]);
        v.extend_from_slice(&protocol.to_be_bytes());
        v
    }

    fn assert_hello(p: &Packet<'_>) {
        assert_eq!(p.tuple.src, v4_addr(A));
        assert_eq!(p.tuple.dst, v4_addr(B));
        assert_eq!(p.tuple.proto, PROTO_TCP);
        assert_eq!((p.tuple.sport, p.tuple.dport), (49152, 443));
        assert_eq!(p.ip_len, 45);
        assert_eq!(p.payload_len, 5);
        assert_eq!(p.payload, b"hello");
        assert_eq!(
            p.tcp,
            Some(TcpInfo {
                flags: tcp_flags::PSH | tcp_flags::ACK,
                seq: 1000,
                ack: 2000,
                window: 512
            })
        );
        assert_eq!(p.fragment, None);
        assert_eq!(p.icmp_error, None);
    }

    /// An outer IPv4 header around `inner` (protocol `proto`), 192.0.2.1 -> .2.
    fn outer4(proto: u8, inner: &[u8]) -> Vec<u8> {
        let total = u16::try_from(20 + inner.len()).unwrap();
        cat(&[&ipv4(proto, [192, 0, 2, 1], [192, 0, 2, 2], total, 1, 0), inner])
    }

    /// An outer UDP datagram to `dport` around `inner`.
    fn outer_udp(dport: u16, inner: &[u8]) -> Vec<u8> {
        let len = u16::try_from(8 + inner.len()).unwrap();
        outer4(PROTO_UDP, &cat(&[&udp(40000, dport, len), inner]))
    }

    fn inner_eth() -> Vec<u8> {
        cat(&[&eth(0x0800), &ipv4_tcp_hello()])
    }

    fn decoded(f: &[u8]) -> Packet<'_> {
        decode(LinkType::Ethernet, f).unwrap()
    }

    #[test]
    fn pppoe_session_plain_and_inside_a_vlan() {
        let ip = ipv4_tcp_hello();
        let len = u16::try_from(2 + ip.len()).unwrap();
        let mut pppoe = vec![0x11, 0x00, 0x12, 0x34];
        pppoe.extend_from_slice(&len.to_be_bytes());
        pppoe.extend_from_slice(&[0x00, 0x21]);
        let f = cat(&[&eth(0x8864), &pppoe, &ip, &[0; 6]]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::PPPOE);
        let f = cat(&[&eth(0x8100), &tag(7, 0x8864), &pppoe, &ip]);
        assert_hello(&decoded(&f));
        // LCP (0xc021) is not IP.
        let lcp = cat(&[&eth(0x8864), &[0x11, 0, 0x12, 0x34, 0, 6, 0xc0, 0x21, 1, 1, 0, 4]]);
        assert_eq!(decode(LinkType::Ethernet, &lcp), Err(DecodeError::NotIp));
    }

    #[test]
    fn mpls_label_stacks_to_ip_and_to_a_pseudowire() {
        // Two labels, the second with bottom-of-stack.
        let labels = [0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40];
        let f = cat(&[&eth(0x8847), &labels, &ipv4_tcp_hello()]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::MPLS);
        // Ethernet pseudowire with a control word.
        let f = cat(&[&eth(0x8847), &[0x00, 0x03, 0x01, 0x40], &[0; 4], &inner_eth()]);
        assert_hello(&decoded(&f));
        // No bottom of stack within 8 labels: not IP.
        let f = cat(&[&eth(0x8847), &[0x00, 0x01, 0x00, 0x40].repeat(9)]);
        assert_eq!(decode(LinkType::Ethernet, &f), Err(DecodeError::NotIp));
    }

    #[test]
    fn gre_erspan_and_ip_in_ip_give_the_inner_flow() {
        // GRE with a key carrying IPv4.
        let gre_ip = cat(&[&[0x20, 0x00, 0x08, 0x00, 0, 0, 0, 9], &ipv4_tcp_hello()]);
        let f = cat(&[&eth(0x0800), &outer4(47, &gre_ip)]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::GRE);
        // Transparent Ethernet bridging.
        let gre_eth = cat(&[&[0x00, 0x00, 0x65, 0x58], &inner_eth()]);
        assert_hello(&decoded(&cat(&[&eth(0x0800), &outer4(47, &gre_eth)])));
        // ERSPAN type II: GRE with a sequence number, an 8-byte ERSPAN header.
        let e2 = cat(&[
            &[0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1],
            &[0x10, 0x01, 0, 0, 0, 0, 0, 0],
            &inner_eth(),
        ]);
        let f = cat(&[&eth(0x0800), &outer4(47, &e2)]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::GRE | encap::ERSPAN);
        // ERSPAN type III with the platform subheader (O bit).
        let mut h3 = vec![0x20, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01];
        h3.extend_from_slice(&[0; 8]);
        let e3 = cat(&[&[0x10, 0x00, 0x22, 0xeb, 0, 0, 0, 1], &h3, &inner_eth()]);
        assert_hello(&decoded(&cat(&[&eth(0x0800), &outer4(47, &e3)])));
        // IP-in-IP and 6in4.
        let f = cat(&[&eth(0x0800), &outer4(4, &ipv4_tcp_hello())]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::IP_IN_IP);
        let f = cat(&[&eth(0x0800), &outer4(41, &ipv6_udp_dns())]);
        let p = decoded(&f);
        assert_eq!((p.tuple.sport, p.tuple.dport), (5353, 53));
        // PPTP's enhanced GRE (version 1) stays the outer flow.
        let pptp = cat(&[&[0x30, 0x01, 0x88, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0], &[0; 8]]);
        let f = cat(&[&eth(0x0800), &outer4(47, &pptp)]);
        let p = decoded(&f);
        assert_eq!((p.tuple.proto, p.encap), (47, 0));
    }

    #[test]
    fn vxlan_and_geneve_give_the_inner_flow() {
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 0x2a, 0], &inner_eth()]);
        let f = cat(&[&eth(0x0800), &outer_udp(4789, &vx)]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::VXLAN);
        // Geneve with one 8-byte option, carrying Ethernet.
        let gv = cat(&[&[0x02, 0, 0x65, 0x58, 0, 0, 0x2a, 0], &[0; 8], &inner_eth()]);
        let f = cat(&[&eth(0x0800), &outer_udp(6081, &gv)]);
        let p = decoded(&f);
        assert_hello(&p);
        assert_eq!(p.encap, encap::GENEVE);
        // Not VXLAN after all (no VNI flag): the outer UDP flow.
        let junk = cat(&[&[0x00; 8], &inner_eth()]);
        let f = cat(&[&eth(0x0800), &outer_udp(4789, &junk)]);
        let p = decoded(&f);
        assert_eq!((p.tuple.proto, p.tuple.dport, p.encap), (PROTO_UDP, 4789, 0));
    }

    #[test]
    fn tunnels_in_tunnels_stop_at_the_depth_limit() {
        let mut pkt = ipv4_tcp_hello();
        for _ in 0..10 {
            pkt = outer4(4, &pkt);
        }
        // Followed four deep, then the packet is taken as it is: an
        // IP-in-IP datagram between the tunnel ends, never a panic.
        let p = decode(LinkType::Raw, &pkt).unwrap();
        assert_eq!(p.tuple.proto, 4);
        assert_eq!(p.encap, encap::IP_IN_IP);
    }

    // Real frames copied from public captures.

    /// sv decode-sll2-01 frame 1: SLL2, TCP SYN 192.168.1.253:56478 -> 192.168.1.21:80.
    const SLL2_TCP_SYN: &str = "080000000000000200010406aa763071b0e700004500003c45a94000400670b0c0a801fdc0a80115dc9e00508b0b439300000000a002faf0d70c0000020405b40402080ac5be80530000000001030307";
    /// tcpdump tcp-handshake-nano frame 1: SLL v1 (ARPHRD 772 loopback), TCP SYN 131.155.215.69:46656 -> 137.116.81.94:80.
    const SLL_LOOPBACK_TCP_SYN: &str = "000403040006000000000000000008004500003c29a940004006db5f839bd7458974515eb64000502f842acb00000000a0026a4050c40000020405500402080a436a03620000000001030307";
    /// zeek pop3-starttls frame 1: Null, little-endian AF_INET, TCP SYN 192.168.4.149:54775 -> :110.
    const NULL_LE_TCP_SYN: &str = "02000000450000402dfd400040060000c0a80495c0a80495d5f7006ecf45d90f00000000b002ffff8aad000002043fd8010303040101080a3de8abee0000000004020000";
    /// tcpdump 802.1ad_QinQ frame 1: ARP request in 802.1ad + 802.1Q tags.
    const QINQ_ARP: &str = "ffffffffffff0020d25afb3f88a800c8810007d1080600010800060400010020d25afb3fac154f61000000000000ac154f640000000000000000000000000000";
    /// zeek http-qinq-0 frame 1: two 802.1Q tags, TCP SYN 141.142.228.5:59856 -> 192.150.187.43:80.
    const DOUBLE_8021Q_TCP_SYN: &str = "0010db88d2efc8bcc896d2a08100b0008100b000080045000040df8e400040066dd38d8ee405c096bb2be9d00050fe21323a00000000b002ffff3bc00000020405b4010303040101080a164add200000000004020000";
    /// zeek ipv4 fragmented-4 frame 2: first fragment (MF, offset 0, id 0) of TCP 128.32.46.142:7790 -> 10.0.0.1:80.
    const IPV4_FIRST_FRAGMENT: &str = "000130249d0000b0d0e4131108004510002c00002000ff06e30c80202e8e0a0000011e6e005000e08925002d97f25000ffff4f69000047455420";
    /// zeek ipv4 fragmented-4 frame 3: non-first fragment (MF, offset 6 = 48 bytes), 24 data bytes.
    const IPV4_LATER_FRAGMENT: &str = "000130249d0000b0d0e4131108004510002c00002006ff06e30680202e8e0a0000012e2532662e2e2f77696e6e742f73797374656d33322f636d";
    /// zeek tcp truncated-header frame 3: snaplen 54 of a 60-byte ACK (only the Ethernet padding is cut).
    const SNAP54_TCP_ACK: &str = "eaf61c2d9fd2800b983bb9ec080045000028658e40003306e047c9ba9d4380031af9ed9b00193e1775df40f95253501016d062120000";
    /// zeek tcp truncated-header frame 4: snaplen 54 of a 138-byte PSH/ACK with 84 bytes of payload.
    const SNAP54_TCP_PSH: &str = "800b983bb9eceaf61c2d9fd208004500007c63dd40004006d4a480031af9c9ba9d430019ed9b40f952533e1775df5018e42094650000";

    #[test]
    fn ethernet_ipv4_tcp_golden() {
        let f = cat(&[&eth(0x0800), &ipv4_tcp_hello()]);
        assert_hello(&decode(LinkType::Ethernet, &f).unwrap());
    }

    #[test]
    fn ethernet_ipv6_udp_golden() {
        let f = cat(&[&eth(0x86dd), &ipv6_udp_dns()]);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!(
            p.tuple,
            Tuple {
                src: A6,
                dst: B6,
                proto: PROTO_UDP,
                sport: 5353,
                dport: 53
            }
        );
        assert_eq!((p.ip_len, p.payload_len, p.payload), (52, 4, &b"dns!"[..]));
        assert_eq!(p.tcp, None);
    }

    #[test]
    fn vlan_8021q_tag() {
        let f = cat(&[&eth(0x8100), &tag(100, 0x0800), &ipv4_tcp_hello()]);
        assert_hello(&decode(LinkType::Ethernet, &f).unwrap());
    }

    #[test]
    fn qinq_88a8_then_8100() {
        let f = cat(&[
            &eth(0x88a8),
            &tag(200, 0x8100),
            &tag(100, 0x0800),
            &ipv4_tcp_hello(),
        ]);
        assert_hello(&decode(LinkType::Ethernet, &f).unwrap());
    }

    #[test]
    fn three_vlan_tags_9100_88a8_8100() {
        let f = cat(&[
            &eth(0x9100),
            &tag(1, 0x88a8),
            &tag(2, 0x8100),
            &tag(3, 0x0800),
            &ipv4_tcp_hello(),
        ]);
        assert_hello(&decode(LinkType::Ethernet, &f).unwrap());
    }

    #[test]
    fn eight_tags_decode_nine_are_too_many() {
        let mut eight = eth(0x8100);
        for _ in 0..7 {
            eight.extend(tag(1, 0x8100));
        }
        eight.extend(tag(1, 0x0800));
        eight.extend(ipv4_tcp_hello());
        assert_hello(&decode(LinkType::Ethernet, &eight).unwrap());
        let mut nine = eth(0x8100);
        for _ in 0..8 {
            nine.extend(tag(1, 0x8100));
        }
        nine.extend(tag(1, 0x0800));
        nine.extend(ipv4_tcp_hello());
        assert_eq!(
            decode(LinkType::Ethernet, &nine),
            Err(DecodeError::TooManyVlanTags)
        );
    }

    #[test]
    fn real_double_8021q_tcp_syn() {
        let f = hex(DOUBLE_8021Q_TCP_SYN);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!(to_ip(&p.tuple.src).to_string(), "141.142.228.5");
        assert_eq!(to_ip(&p.tuple.dst).to_string(), "192.150.187.43");
        assert_eq!((p.tuple.sport, p.tuple.dport), (59856, 80));
        assert_eq!(p.tcp.unwrap().flags, tcp_flags::SYN);
        assert_eq!((p.ip_len, p.payload_len), (64, 0));
    }

    #[test]
    fn real_qinq_arp_is_not_ip() {
        assert_eq!(
            decode(LinkType::Ethernet, &hex(QINQ_ARP)),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn arp_lldp_unknown_and_8023_are_not_ip() {
        let arp = cat(&[&eth(0x0806), &[0, 1, 8, 0, 6, 4, 0, 1], &[0; 20]]);
        assert_eq!(decode(LinkType::Ethernet, &arp), Err(DecodeError::NotIp));
        let lldp = cat(&[&eth(0x88cc), &[0x02, 0x07, 0x04, 0, 0, 0, 0, 0, 0]]);
        assert_eq!(decode(LinkType::Ethernet, &lldp), Err(DecodeError::NotIp));
        let unknown = cat(&[&eth(0x1234), &ipv4_tcp_hello()]);
        assert_eq!(decode(LinkType::Ethernet, &unknown), Err(DecodeError::NotIp));
        // 802.3 length field (38) + LLC for STP.
        let stp = cat(&[&eth(38), &[0x42, 0x42, 0x03, 0, 0, 0, 0], &[0; 31]]);
        assert_eq!(decode(LinkType::Ethernet, &stp), Err(DecodeError::NotIp));
        let vlan_arp = cat(&[&eth(0x8100), &tag(5, 0x0806), &[0; 28]]);
        assert_eq!(decode(LinkType::Ethernet, &vlan_arp), Err(DecodeError::NotIp));
    }

    #[test]
    fn sll_v1_ethernet_ipv4() {
        let f = cat(&[&sll(1, 0x0800), &ipv4_tcp_hello()]);
        assert_hello(&decode(LinkType::LinuxSll, &f).unwrap());
        let f6 = cat(&[&sll(1, 0x86dd), &ipv6_udp_dns()]);
        assert_eq!(decode(LinkType::LinuxSll, &f6).unwrap().tuple.dport, 53);
        let arp = cat(&[&sll(1, 0x0806), &[0; 28]]);
        assert_eq!(decode(LinkType::LinuxSll, &arp), Err(DecodeError::NotIp));
        // Protocol 0x0004: 802.2 LLC frame.
        let llc = cat(&[&sll(1, 0x0004), &[0x42, 0x42, 0x03, 0, 0]]);
        assert_eq!(decode(LinkType::LinuxSll, &llc), Err(DecodeError::NotIp));
    }

    #[test]
    fn sll_v1_arphrd_772_loopback() {
        let f = cat(&[&sll(772, 0x0800), &ipv4_tcp_hello()]);
        assert_hello(&decode(LinkType::LinuxSll, &f).unwrap());
        let f = hex(SLL_LOOPBACK_TCP_SYN);
        let p = decode(LinkType::LinuxSll, &f).unwrap();
        assert_eq!(to_ip(&p.tuple.src).to_string(), "131.155.215.69");
        assert_eq!(to_ip(&p.tuple.dst).to_string(), "137.116.81.94");
        assert_eq!((p.tuple.sport, p.tuple.dport), (46656, 80));
        assert_eq!(p.tcp.unwrap().flags, tcp_flags::SYN);
        assert_eq!(p.tcp.unwrap().seq, 0x2f842acb);
    }

    #[test]
    fn sll_v1_ipgre_uses_protocol_as_ethertype() {
        let f = cat(&[&sll(778, 0x0800), &ipv4_tcp_hello()]);
        assert_hello(&decode(LinkType::LinuxSll, &f).unwrap());
    }

    #[test]
    fn sll2_tcp_syn() {
        let f = hex(SLL2_TCP_SYN);
        let p = decode(LinkType::LinuxSll2, &f).unwrap();
        assert_eq!(to_ip(&p.tuple.src).to_string(), "192.168.1.253");
        assert_eq!(to_ip(&p.tuple.dst).to_string(), "192.168.1.21");
        assert_eq!(
            (p.tuple.sport, p.tuple.dport, p.tuple.proto),
            (56478, 80, PROTO_TCP)
        );
        assert_eq!(p.tcp.unwrap().window, 0xfaf0);
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (60, 0, 0));
        let mut sll2 = vec![0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6];
        sll2.extend_from_slice(&[0; 8]);
        assert_hello(&decode(LinkType::LinuxSll2, &cat(&[&sll2, &ipv4_tcp_hello()])).unwrap());
        sll2[0] = 0x08;
        sll2[1] = 0x06;
        assert_eq!(
            decode(LinkType::LinuxSll2, &cat(&[&sll2, &[0; 28]])),
            Err(DecodeError::NotIp)
        );
    }

    #[test]
    fn raw_ipv4_and_ipv6() {
        assert_hello(&decode(LinkType::Raw, &ipv4_tcp_hello()).unwrap());
        assert_eq!(decode(LinkType::Raw, &ipv6_udp_dns()).unwrap().tuple.src, A6);
        assert_hello(&decode(LinkType::Ipv4, &ipv4_tcp_hello()).unwrap());
        assert_eq!(decode(LinkType::Ipv6, &ipv6_udp_dns()).unwrap().tuple.dst, B6);
        let mut bad = ipv4_tcp_hello();
        bad[0] = 0x55;
        assert_eq!(decode(LinkType::Raw, &bad), Err(DecodeError::IpInvalid));
        // Version mismatch with the link type.
        assert_eq!(
            decode(LinkType::Ipv4, &ipv6_udp_dns()),
            Err(DecodeError::IpInvalid)
        );
        assert_eq!(
            decode(LinkType::Ipv6, &ipv4_tcp_hello()),
            Err(DecodeError::IpInvalid)
        );
        assert_eq!(decode(LinkType::Raw, &[]), Err(DecodeError::LinkTruncated));
    }

    #[test]
    fn null_both_byte_orders_and_loop() {
        assert_hello(&decode(LinkType::Null, &cat(&[&[2, 0, 0, 0], &ipv4_tcp_hello()])).unwrap());
        assert_hello(&decode(LinkType::Null, &cat(&[&[0, 0, 0, 2], &ipv4_tcp_hello()])).unwrap());
        for fam in [24u32, 28, 30] {
            let le = cat(&[&fam.to_le_bytes(), &ipv6_udp_dns()]);
            let be = cat(&[&fam.to_be_bytes(), &ipv6_udp_dns()]);
            assert_eq!(decode(LinkType::Null, &le).unwrap().tuple.src, A6);
            assert_eq!(decode(LinkType::Null, &be).unwrap().tuple.src, A6);
            assert_eq!(decode(LinkType::Loop, &be).unwrap().tuple.src, A6);
        }
        assert_hello(&decode(LinkType::Loop, &cat(&[&[0, 0, 0, 2], &ipv4_tcp_hello()])).unwrap());
        // AF_APPLETALK (16): not IP.
        assert_eq!(
            decode(LinkType::Null, &cat(&[&[16, 0, 0, 0], &ipv4_tcp_hello()])),
            Err(DecodeError::NotIp)
        );
        let f = hex(NULL_LE_TCP_SYN);
        let p = decode(LinkType::Null, &f).unwrap();
        assert_eq!(to_ip(&p.tuple.src).to_string(), "192.168.4.149");
        assert_eq!((p.tuple.sport, p.tuple.dport), (54775, 110));
    }

    #[test]
    fn ipv6_hop_by_hop_and_fragment_headers() {
        // Hop-by-hop (8 bytes: router alert + padding) -> fragment (first, M=1) -> UDP.
        let hbh = [44u8, 0, 5, 2, 0, 0, 1, 0];
        let frag = [PROTO_UDP, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef];
        let body = cat(&[&hbh, &frag, &udp(4000, 53, 1208), b"first"]);
        let f = cat(&[&ipv6(0, A6, B6, u16::try_from(body.len()).unwrap()), &body]);
        let p = decode(LinkType::Raw, &f).unwrap();
        assert_eq!(
            p.tuple,
            Tuple {
                src: A6,
                dst: B6,
                proto: PROTO_UDP,
                sport: 4000,
                dport: 53
            }
        );
        assert_eq!(
            p.fragment,
            Some(Fragment {
                id: 0xdeadbeef,
                offset: 0,
                more: true
            })
        );
        assert_eq!(p.ip_len, 40 + 16 + 8 + 5);
        // UDP length (1208) exceeds this fragment: payload from the IP length.
        assert_eq!((p.payload_len, p.payload), (5, &b"first"[..]));

        // Later fragment: offset 150 (1200 bytes), last.
        let frag = [PROTO_UDP, 0, 0x04, 0xb0, 0xde, 0xad, 0xbe, 0xef];
        let body = cat(&[&hbh, &frag, b"rest of it"]);
        let f = cat(&[&ipv6(0, A6, B6, u16::try_from(body.len()).unwrap()), &body]);
        let p = decode(LinkType::Raw, &f).unwrap();
        assert_eq!(
            p.tuple,
            Tuple {
                src: A6,
                dst: B6,
                proto: PROTO_UDP,
                sport: 0,
                dport: 0
            }
        );
        assert_eq!(
            p.fragment,
            Some(Fragment {
                id: 0xdeadbeef,
                offset: 150,
                more: false
            })
        );
        assert_eq!((p.payload_len, p.payload), (10, &b"rest of it"[..]));
        assert_eq!(p.tcp, None);
    }

    #[test]
    fn ipv6_routing_destopts_ah_then_tcp() {
        let routing = [60u8, 0, 0, 0, 0, 0, 0, 0];
        let destopts = [51u8, 0, 1, 4, 0, 0, 0, 0];
        let ah = cat(&[&[PROTO_TCP, 4, 0, 0], &[0u8; 20]]); // (4 + 2) * 4 = 24 bytes
        let t = tcp(1, 2, 3, 4, tcp_flags::SYN, 5);
        let body = cat(&[&routing, &destopts, &ah, &t]);
        let f = cat(&[&ipv6(43, A6, B6, u16::try_from(body.len()).unwrap()), &body]);
        let p = decode(LinkType::Ipv6, &f).unwrap();
        assert_eq!((p.tuple.proto, p.tuple.sport, p.tuple.dport), (PROTO_TCP, 1, 2));
        assert_eq!(p.tcp.unwrap().window, 5);
        assert_eq!(p.fragment, None);
    }

    #[test]
    fn ipv6_esp_and_no_next_stop_the_walk() {
        let hbh = [50u8, 0, 0, 0, 0, 0, 0, 0];
        let body = cat(&[&hbh, &[0xaa; 16]]);
        let f = cat(&[&ipv6(0, A6, B6, 24), &body]);
        let p = decode(LinkType::Ipv6, &f).unwrap();
        assert_eq!((p.tuple.proto, p.tuple.sport, p.tuple.dport), (50, 0, 0));
        assert_eq!((p.payload_len, p.payload.len()), (16, 16));
        let f = cat(&[&ipv6(59, A6, B6, 0), &[]]);
        assert_eq!(decode(LinkType::Ipv6, &f).unwrap().tuple.proto, 59);
    }

    #[test]
    fn ipv6_too_many_extension_headers() {
        let mut body = Vec::new();
        for _ in 0..9 {
            body.extend_from_slice(&[60u8, 0, 0, 0, 0, 0, 0, 0]);
        }
        let f = cat(&[&ipv6(60, A6, B6, u16::try_from(body.len()).unwrap()), &body]);
        assert_eq!(decode(LinkType::Ipv6, &f), Err(DecodeError::IpInvalid));
    }

    #[test]
    fn ipv4_first_and_later_fragments() {
        let f = hex(IPV4_FIRST_FRAGMENT);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!(to_ip(&p.tuple.src).to_string(), "128.32.46.142");
        assert_eq!(
            (p.tuple.proto, p.tuple.sport, p.tuple.dport),
            (PROTO_TCP, 7790, 80)
        );
        assert_eq!(
            p.fragment,
            Some(Fragment {
                id: 0,
                offset: 0,
                more: true
            })
        );
        assert_eq!((p.ip_len, p.payload_len), (44, 4));
        assert_eq!(p.payload, b"GET ");
        assert!(p.tcp.is_some());

        let f = hex(IPV4_LATER_FRAGMENT);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!((p.tuple.proto, p.tuple.sport, p.tuple.dport), (PROTO_TCP, 0, 0));
        assert_eq!(
            p.fragment,
            Some(Fragment {
                id: 0,
                offset: 6,
                more: true
            })
        );
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (44, 24, 24));
        assert_eq!(p.tcp, None);

        // Hand-built: last fragment (MF clear, offset 185) of a UDP datagram.
        let f = cat(&[&ipv4(PROTO_UDP, A, B, 28, 0x1234, 185), b"tailtail"]);
        let p = decode(LinkType::Ipv4, &f).unwrap();
        assert_eq!(
            p.fragment,
            Some(Fragment {
                id: 0x1234,
                offset: 185,
                more: false
            })
        );
        assert_eq!(
            (p.tuple.sport, p.payload_len, p.payload),
            (0, 8, &b"tailtail"[..])
        );
        // A tiny first fragment ending inside the TCP header: kept, ports 0.
        let f = cat(&[
            &ipv4(PROTO_TCP, A, B, 28, 9, 0x2000),
            &[0, 80, 1, 187, 0, 0, 0, 1],
        ]);
        let p = decode(LinkType::Ipv4, &f).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport, p.tcp), (0, 0, None));
        assert!(p.fragment.is_some());
    }

    #[test]
    fn snaplen_54_of_1500_byte_tcp_packet() {
        let t = tcp(50000, 443, 11, 22, tcp_flags::ACK | tcp_flags::PSH, 1024);
        let mut f = cat(&[&eth(0x0800), &ipv4(PROTO_TCP, A, B, 1486, 1, 0x4000), &t]);
        f.resize(1500, 0x5a);
        let p = decode(LinkType::Ethernet, &f[..54]).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport), (50000, 443));
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (1486, 1446, 0));
        assert_eq!(p.tcp.unwrap().seq, 11);
        // Full frame: all of the payload.
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!((p.payload_len, p.payload.len()), (1446, 1446));
        // Cut inside the TCP header, after flags (14 bytes): still counts, window 0.
        let p = decode(LinkType::Ethernet, &f[..48]).unwrap();
        assert_eq!(p.tcp.unwrap().flags, tcp_flags::ACK | tcp_flags::PSH);
        assert_eq!(p.tcp.unwrap().window, 0);
        assert_eq!(p.ip_len, 1486);
        // Ports only: not enough for the flow's TCP state.
        assert_eq!(
            decode(LinkType::Ethernet, &f[..40]),
            Err(DecodeError::TransportInvalid)
        );
    }

    #[test]
    fn real_snaplen_54_captures() {
        let f = hex(SNAP54_TCP_ACK);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport), (60827, 25));
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (40, 0, 0));
        let f = hex(SNAP54_TCP_PSH);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport), (25, 60827));
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (124, 84, 0));
        assert_eq!(p.tcp.unwrap().flags, tcp_flags::PSH | tcp_flags::ACK);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // A 40-byte IPv4 ACK padded to the 60-byte Ethernet minimum.
        let t = tcp(1025, 80, 5, 6, tcp_flags::ACK, 100);
        let f = cat(&[&eth(0x0800), &ipv4(PROTO_TCP, A, B, 40, 1, 0), &t, &[0u8; 6]]);
        assert_eq!(f.len(), 60);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (40, 0, 0));
        // Same for UDP with 2 payload bytes, padded.
        let f = cat(&[
            &eth(0x0800),
            &ipv4(PROTO_UDP, A, B, 30, 1, 0),
            &udp(1, 2, 10),
            b"ok",
            &[0u8; 16],
        ]);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!((p.payload_len, p.payload), (2, &b"ok"[..]));
    }

    #[test]
    fn tso_total_length_zero_uses_captured_length() {
        let t = tcp(1, 2, 3, 4, tcp_flags::ACK, 5);
        let f = cat(&[&ipv4(PROTO_TCP, A, B, 0, 1, 0x4000), &t, &[7u8; 3000]]);
        let p = decode(LinkType::Raw, &f).unwrap();
        assert_eq!((p.ip_len, p.payload_len, p.payload.len()), (3040, 3000, 3000));
    }

    #[test]
    fn udp_length_field() {
        // UDP length smaller than the IP payload: the UDP length wins.
        let f = cat(&[&ipv4(PROTO_UDP, A, B, 36, 1, 0), &udp(1, 2, 10), b"ab", &[0u8; 6]]);
        let p = decode(LinkType::Ipv4, &f).unwrap();
        assert_eq!((p.payload_len, p.payload), (2, &b"ab"[..]));
        // UDP length 0 (offload): the IP length.
        let f = cat(&[&ipv4(PROTO_UDP, A, B, 36, 1, 0), &udp(1, 2, 0), &[1u8; 8]]);
        assert_eq!(decode(LinkType::Ipv4, &f).unwrap().payload_len, 8);
        // Cut before the UDP length: ports still decode.
        let f = cat(&[&ipv4(PROTO_UDP, A, B, 36, 1, 0), &[0, 53, 0, 54]]);
        let p = decode(LinkType::Ipv4, &f).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport, p.payload_len), (53, 54, 8));
        let f = cat(&[&ipv4(PROTO_UDP, A, B, 36, 1, 0), &[0, 53, 0]]);
        assert_eq!(decode(LinkType::Ipv4, &f), Err(DecodeError::TransportInvalid));
    }

    /// ICMP destination unreachable, code 13 (administratively prohibited),
    /// from router 10.0.0.254 to 10.0.0.1, quoting 10.0.0.1:40000 -> 10.0.0.2:443 SYN.
    fn icmp_admin_prohibited_quoting_syn() -> Vec<u8> {
        let inner = cat(&[
            &ipv4(PROTO_TCP, A, B, 60, 77, 0x4000),
            &tcp(40000, 443, 9, 0, tcp_flags::SYN, 64240)[..8],
        ]);
        let icmp = cat(&[&[3u8, 13, 0, 0, 0, 0, 0, 0], &inner]);
        let total = u16::try_from(20 + icmp.len()).unwrap();
        cat(&[&ipv4(PROTO_ICMP, [10, 0, 0, 254], A, total, 3, 0), &icmp])
    }

    #[test]
    fn icmp_dest_unreachable_admin_prohibited_quotes_tcp_syn() {
        let f = cat(&[&eth(0x0800), &icmp_admin_prohibited_quoting_syn()]);
        let p = decode(LinkType::Ethernet, &f).unwrap();
        assert_eq!(
            p.tuple,
            Tuple {
                src: v4_addr([10, 0, 0, 254]),
                dst: v4_addr(A),
                proto: PROTO_ICMP,
                sport: 0,
                dport: 0
            }
        );
        let e = p.icmp_error.unwrap();
        assert_eq!((e.icmp_type, e.code), (3, 13));
        assert_eq!(
            e.quoted,
            Some(Tuple {
                src: v4_addr(A),
                dst: v4_addr(B),
                proto: PROTO_TCP,
                sport: 40000,
                dport: 443
            })
        );
        assert_eq!(p.payload_len, 28);
    }

    #[test]
    fn icmp_error_with_short_quotes() {
        // Quote holds only the inner IP header: ports 0.
        let inner = ipv4(PROTO_UDP, A, B, 100, 1, 0);
        let icmp = cat(&[&[11u8, 0, 0, 0, 0, 0, 0, 0], &inner]);
        let f = cat(&[&ipv4(PROTO_ICMP, B, A, 48, 3, 0), &icmp]);
        let e = decode(LinkType::Ipv4, &f).unwrap().icmp_error.unwrap();
        assert_eq!(
            e.quoted.map(|q| (q.proto, q.sport, q.dport)),
            Some((PROTO_UDP, 0, 0))
        );
        // No quote at all.
        let f = cat(&[&ipv4(PROTO_ICMP, B, A, 28, 3, 0), &[3u8, 1, 0, 0, 0, 0, 0, 0]]);
        let e = decode(LinkType::Ipv4, &f).unwrap().icmp_error.unwrap();
        assert_eq!((e.icmp_type, e.code, e.quoted), (3, 1, None));
    }

    /// ICMPv6 destination unreachable code 1 (administratively prohibited),
    /// quoting a UDP datagram [2001:db8::1]:5353 -> [2001:db8::2]:53.
    fn icmpv6_unreachable_quoting_udp() -> Vec<u8> {
        let inner = cat(&[&ipv6(PROTO_UDP, A6, B6, 12), &udp(5353, 53, 12)]);
        let icmp = cat(&[&[1u8, 1, 0, 0, 0, 0, 0, 0], &inner]);
        let router: Addr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfe];
        cat(&[
            &ipv6(PROTO_ICMPV6, router, A6, u16::try_from(icmp.len()).unwrap()),
            &icmp,
        ])
    }

    #[test]
    fn icmpv6_dest_unreachable_code_1() {
        let f = icmpv6_unreachable_quoting_udp();
        let p = decode(LinkType::Raw, &f).unwrap();
        assert_eq!(
            (p.tuple.proto, p.tuple.dst, p.tuple.sport, p.tuple.dport),
            (PROTO_ICMPV6, A6, 0, 0)
        );
        let e = p.icmp_error.unwrap();
        assert_eq!((e.icmp_type, e.code), (1, 1));
        assert_eq!(
            e.quoted,
            Some(Tuple {
                src: A6,
                dst: B6,
                proto: PROTO_UDP,
                sport: 5353,
                dport: 53
            })
        );
    }

    #[test]
    fn icmp_echo_uses_identifier_as_ports() {
        let echo = cat(&[&[8u8, 0, 0, 0, 0x12, 0x34, 0, 1], b"ping"]);
        let f = cat(&[&ipv4(PROTO_ICMP, A, B, 32, 1, 0), &echo]);
        let p = decode(LinkType::Ipv4, &f).unwrap();
        assert_eq!(
            (p.tuple.proto, p.tuple.sport, p.tuple.dport),
            (PROTO_ICMP, 0x1234, 0x1234)
        );
        assert_eq!((p.payload_len, p.payload, p.icmp_error), (4, &b"ping"[..], None));
        let reply = [129u8, 0, 0, 0, 0xab, 0xcd, 0, 1];
        let f = cat(&[&ipv6(PROTO_ICMPV6, B6, A6, 8), &reply]);
        let p = decode(LinkType::Ipv6, &f).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport), (0xabcd, 0xabcd));
        // Router advertisement (134): informational, ports 0.
        let ra = [134u8, 0, 0, 0, 64, 0, 0, 0];
        let f = cat(&[&ipv6(PROTO_ICMPV6, B6, A6, 8), &ra]);
        let p = decode(LinkType::Ipv6, &f).unwrap();
        assert_eq!((p.tuple.sport, p.tuple.dport, p.icmp_error), (0, 0, None));
        // ICMP cut before the identifier.
        let f = cat(&[&ipv4(PROTO_ICMP, A, B, 32, 1, 0), &[8u8, 0, 0]]);
        assert_eq!(decode(LinkType::Ipv4, &f), Err(DecodeError::TransportInvalid));
    }

    #[test]
    fn unknown_ip_protocol_decodes_with_ports_0() {
        for proto in [47u8, 50, 89, 253] {
            let f = cat(&[&ipv4(proto, A, B, 28, 1, 0), &[1u8; 8]]);
            let p = decode(LinkType::Ipv4, &f).unwrap();
            assert_eq!((p.tuple.proto, p.tuple.sport, p.tuple.dport), (proto, 0, 0));
            assert_eq!((p.payload_len, p.payload.len()), (8, 8));
        }
    }

    #[test]
    fn invalid_ip_headers() {
        let mut f = ipv4_tcp_hello();
        f[0] = 0x44; // IHL 4
        assert_eq!(decode(LinkType::Ipv4, &f), Err(DecodeError::IpInvalid));
        let mut f = ipv4_tcp_hello();
        f[0] = 0x4f; // IHL 15: 60 bytes of header > 45 captured
        assert_eq!(decode(LinkType::Ipv4, &f), Err(DecodeError::IpInvalid));
        let mut f = ipv4_tcp_hello();
        f[2] = 0;
        f[3] = 10; // total length below the header length
        assert_eq!(decode(LinkType::Ipv4, &f), Err(DecodeError::IpInvalid));
        let mut f = ipv4_tcp_hello();
        f[32] = 0x40; // TCP data offset 4
        assert_eq!(decode(LinkType::Ipv4, &f), Err(DecodeError::TransportInvalid));
    }

    #[test]
    fn error_kinds() {
        assert!(!DecodeError::NotIp.is_error());
        for e in [
            DecodeError::LinkTruncated,
            DecodeError::IpInvalid,
            DecodeError::TransportInvalid,
            DecodeError::TooManyVlanTags,
        ] {
            assert!(e.is_error());
            assert!(!e.as_str().is_empty());
        }
    }

    /// (name, link type, frame, link-header length) for every golden fixture.
    fn goldens() -> Vec<(&'static str, LinkType, Vec<u8>, usize)> {
        vec![
            (
                "ethernet_ipv4_tcp",
                LinkType::Ethernet,
                cat(&[&eth(0x0800), &ipv4_tcp_hello()]),
                14,
            ),
            (
                "ethernet_ipv6_udp",
                LinkType::Ethernet,
                cat(&[&eth(0x86dd), &ipv6_udp_dns()]),
                14,
            ),
            (
                "vlan_8021q",
                LinkType::Ethernet,
                cat(&[&eth(0x8100), &tag(100, 0x0800), &ipv4_tcp_hello()]),
                18,
            ),
            (
                "qinq",
                LinkType::Ethernet,
                cat(&[
                    &eth(0x88a8),
                    &tag(200, 0x8100),
                    &tag(100, 0x0800),
                    &ipv4_tcp_hello(),
                ]),
                22,
            ),
            (
                "double_8021q_real",
                LinkType::Ethernet,
                hex(DOUBLE_8021Q_TCP_SYN),
                22,
            ),
            ("qinq_arp_real", LinkType::Ethernet, hex(QINQ_ARP), 22),
            (
                "sll_v1",
                LinkType::LinuxSll,
                cat(&[&sll(1, 0x0800), &ipv4_tcp_hello()]),
                16,
            ),
            (
                "sll_v1_loopback_real",
                LinkType::LinuxSll,
                hex(SLL_LOOPBACK_TCP_SYN),
                16,
            ),
            ("sll2_real", LinkType::LinuxSll2, hex(SLL2_TCP_SYN), 20),
            ("raw_v4", LinkType::Raw, ipv4_tcp_hello(), 1),
            ("raw_v6", LinkType::Raw, ipv6_udp_dns(), 1),
            ("ipv4", LinkType::Ipv4, ipv4_tcp_hello(), 0),
            ("ipv6", LinkType::Ipv6, ipv6_udp_dns(), 0),
            ("null_le_real", LinkType::Null, hex(NULL_LE_TCP_SYN), 4),
            (
                "null_be",
                LinkType::Null,
                cat(&[&[0, 0, 0, 2], &ipv4_tcp_hello()]),
                4,
            ),
            (
                "loop",
                LinkType::Loop,
                cat(&[&30u32.to_be_bytes(), &ipv6_udp_dns()]),
                4,
            ),
            (
                "ipv4_first_fragment_real",
                LinkType::Ethernet,
                hex(IPV4_FIRST_FRAGMENT),
                14,
            ),
            (
                "ipv4_later_fragment_real",
                LinkType::Ethernet,
                hex(IPV4_LATER_FRAGMENT),
                14,
            ),
            ("snap54_real", LinkType::Ethernet, hex(SNAP54_TCP_PSH), 14),
            (
                "icmp_admin_prohibited",
                LinkType::Ipv4,
                icmp_admin_prohibited_quoting_syn(),
                0,
            ),
            (
                "icmpv6_unreachable",
                LinkType::Ipv6,
                icmpv6_unreachable_quoting_udp(),
                0,
            ),
        ]
    }

    #[test]
    fn every_truncated_prefix_is_ok_or_err_never_panics() {
        for (name, link, frame, link_len) in goldens() {
            let full = decode(link, &frame);
            assert!(
                full.is_ok() || full == Err(DecodeError::NotIp),
                "{name}: full frame decodes: {full:?}"
            );
            for n in 0..frame.len() {
                let r = std::panic::catch_unwind(|| decode(link, &frame[..n]));
                let r = r.unwrap_or_else(|_| panic!("{name}: prefix {n} panicked"));
                if n < link_len {
                    assert_eq!(r, Err(DecodeError::LinkTruncated), "{name}: prefix {n}");
                }
                if let Ok(p) = r {
                    assert!(p.payload.len() <= n, "{name}: prefix {n}");
                    assert!(
                        p.payload.len() as u64 <= u64::from(p.payload_len),
                        "{name}: prefix {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        // xorshift: deterministic pseudo-random frames of every link type.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let links = [
            LinkType::Null,
            LinkType::Ethernet,
            LinkType::Raw,
            LinkType::Loop,
            LinkType::LinuxSll,
            LinkType::Ipv4,
            LinkType::Ipv6,
            LinkType::LinuxSll2,
        ];
        let mut buf = [0u8; 128];
        for i in 0..20_000usize {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            // Make IP-looking frames likely.
            buf[0] = if i % 2 == 0 { 0x45 } else { 0x60 };
            let len = (x as usize) % buf.len();
            for link in links {
                let _ = decode(link, &buf[..len]);
            }
        }
    }
}
