//! The shared words: what every stage names and no stage owns. Roles, generations,
//! purposes, severities, finding kinds, transport names, timestamps and DCE/RPC
//! interface UUIDs. This module imports nothing from the crate: it is the bottom floor.

use std::fmt;

use serde::Serialize;
use time::OffsetDateTime;

// ---------------------------------------------------------------------------
// Vocabulary
// ---------------------------------------------------------------------------

/// IP protocol numbers the flow table distinguishes.
pub const PROTO_ICMP: u8 = 1;
pub const PROTO_TCP: u8 = 6;
pub const PROTO_UDP: u8 = 17;
pub const PROTO_ICMPV6: u8 = 58;

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $var:ident => $s:literal,)+ }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vm])* $var,)+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$var,)+];

            /// The spelling used in files and output.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$var => $s,)+ }
            }

            /// Parses the spelling of `as_str`.
            pub fn parse(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }

            /// The accepted spellings, comma separated, for error messages.
            pub fn names() -> String {
                Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Transport protocol of a rule. A flow is always `Tcp` or `Udp`; `Any` only
    /// appears in rules.
    Proto {
        /// TCP.
        Tcp => "tcp",
        /// UDP.
        Udp => "udp",
        /// Both.
        Any => "any",
    }
}

impl Proto {
    /// `Tcp` for IP protocol 6, `Udp` for 17.
    pub fn from_ip_protocol(number: u8) -> Option<Proto> {
        match number {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }
}

string_enum! {
    /// Whether a matching flow is documented or a violation.
    Expect {
        /// Documented.
        Allowed => "allowed",
        /// Forbidden by the policy.
        Violation => "violation",
    }
}

string_enum! {
    /// Severity of a finding; ordered `Info < Low < Medium < High`.
    Severity {
        /// Informational.
        Info => "info",
        /// Low.
        Low => "low",
        /// Medium.
        Medium => "medium",
        /// High.
        High => "high",
    }
}

string_enum! {
    /// The Exchange purpose a flow serves (DESIGN.md, fixed ids).
    Purpose {
        /// internet -> Edge, or internet -> Mailbox/CAS without an Edge.
        SmtpInbound => "smtp-inbound",
        /// Edge -> Mailbox.
        SmtpEdgeInbound => "smtp-edge-inbound",
        /// Mailbox -> Edge.
        SmtpEdgeOutbound => "smtp-edge-outbound",
        /// Edge or Mailbox -> internet.
        SmtpOutbound => "smtp-outbound",
        /// Clients -> 587.
        SmtpSubmission => "smtp-submission",
        /// Between internal Exchange servers.
        SmtpIntraOrg => "smtp-intra-org",
        /// Mailbox -> Edge 50636.
        Edgesync => "edgesync",
        /// RPC endpoint mapper 135.
        RpcEpm => "rpc-epm",
        /// A port announced by the endpoint mapper.
        RpcDynamic => "rpc-dynamic",
        /// MAPI over HTTP.
        MapiHttp => "mapi-http",
        /// RPC over HTTP.
        OutlookAnywhere => "outlook-anywhere",
        /// Exchange Web Services.
        Ews => "ews",
        /// Exchange ActiveSync.
        Activesync => "activesync",
        /// Autodiscover.
        Autodiscover => "autodiscover",
        /// Outlook on the web.
        Owa => "owa",
        /// Offline address book.
        Oab => "oab",
        /// HTTPS to Client Access, service unknown.
        HttpsClientAccess => "https-client-access",
        /// HTTP to Client Access.
        HttpClientAccess => "http-client-access",
        /// IMAP4.
        Imap4 => "imap4",
        /// POP3.
        Pop3 => "pop3",
        /// LDAP.
        Ldap => "ldap",
        /// Global Catalog LDAP.
        LdapGc => "ldap-gc",
        /// Kerberos.
        Kerberos => "kerberos",
        /// DNS.
        Dns => "dns",
        /// SMB.
        Smb => "smb",
        /// X.400 MTA (RFC 1006).
        X400Mta => "x400-mta",
        /// NNTP.
        Nntp => "nntp",
        /// Unified Messaging SIP and control.
        UmSip => "um-sip",
        /// Unified Messaging media.
        UmRtp => "um-rtp",
        /// Failover clustering.
        Cluster => "cluster",
        /// Edge open-proxy probes.
        OpenProxyProbe => "open-proxy-probe",
        /// RPC over HTTP back end 6001-6004.
        RpcHttpBackend => "rpc-http-backend",
        /// No documented purpose.
        Unknown => "unknown",
    }
}

string_enum! {
    /// Kind of finding a rule produces (DESIGN.md).
    FindingKind {
        /// Restriction on an unrestricted (G1) path.
        InternalRestriction => "internal-restriction",
        /// Traffic altered on the wire (SMTP inspection).
        WireAlteration => "wire-alteration",
        /// Mail flow around a subscribed Edge.
        EdgeBypass => "edge-bypass",
        /// Internet -> internal on an undocumented port.
        PerimeterExposure => "perimeter-exposure",
        /// Edge traffic outside sections 3-4, or an undocumented pair.
        UndocumentedFlow => "undocumented-flow",
        /// Credentials seen in clear text.
        CleartextCredentials => "cleartext-credentials",
        /// A cleartext protocol where an encrypted one exists.
        CleartextProtocol => "cleartext-protocol",
        /// Weak TLS.
        WeakTls => "weak-tls",
        /// A service that is disabled by default is in use.
        DisabledByDefault => "disabled-by-default",
        /// Traffic to an Exchange server that no documented purpose explains.
        UnknownService => "unknown-service",
        /// A documented path that exists only under a configuration the
        /// documentation names (e.g. client submission on 25 after an
        /// administrator changed the connector bindings).
        ConfigurationNote => "configuration-note",
    }
}

impl FindingKind {
    /// Kinds that say a path is not documented, or must not be: a rule
    /// that documents its path (`expect` documented or allowed) cannot
    /// raise them.
    pub fn says_undocumented(self) -> bool {
        matches!(
            self,
            FindingKind::InternalRestriction
                | FindingKind::EdgeBypass
                | FindingKind::PerimeterExposure
                | FindingKind::UndocumentedFlow
        )
    }
}

/// A role an address can hold. `as_str` gives the name used in topology files, rule
/// files and output (snake_case, as the `[roles]` keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Any address not declared in the topology.
    Internet,
    /// Edge Transport server (perimeter).
    Edge,
    /// Mailbox server (2016/2019: also the Client Access services).
    Mailbox,
    /// Separate Client Access server (2010/2013; 2003 front end).
    ClientAccess,
    /// Hub Transport server (2007/2010; 2003 bridgehead may also be listed here).
    Hub,
    /// Active Directory domain controller / Global Catalog.
    DomainController,
    /// DNS server.
    Dns,
    /// Lync / Skype for Business / Office Communications Server.
    Lync,
    /// Unified Messaging server (2007/2010): the SIP/RTP rows are about it.
    UnifiedMessaging,
    /// Internal client networks.
    InternalClients,
    /// Perimeter network (DMZ) hosts other than the Edge servers.
    Perimeter,
}

impl Role {
    /// Every role, in bit order.
    pub const ALL: [Role; 11] = [
        Role::Internet,
        Role::Edge,
        Role::Mailbox,
        Role::ClientAccess,
        Role::Hub,
        Role::DomainController,
        Role::Dns,
        Role::Lync,
        Role::UnifiedMessaging,
        Role::InternalClients,
        Role::Perimeter,
    ];

    /// Order in which the primary role of a multi-role address is chosen.
    const PRIMARY_ORDER: [Role; 11] = [
        Role::Edge,
        Role::Mailbox,
        Role::ClientAccess,
        Role::Hub,
        Role::UnifiedMessaging,
        Role::DomainController,
        Role::Dns,
        Role::Lync,
        Role::Perimeter,
        Role::InternalClients,
        Role::Internet,
    ];

    /// The name used in files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Internet => "internet",
            Role::Edge => "edge",
            Role::Mailbox => "mailbox",
            Role::ClientAccess => "client_access",
            Role::Hub => "hub",
            Role::DomainController => "domain_controller",
            Role::Dns => "dns",
            Role::Lync => "lync",
            Role::UnifiedMessaging => "unified_messaging",
            Role::InternalClients => "internal_clients",
            Role::Perimeter => "perimeter",
        }
    }

    /// Parses a role name (exactly as [`Role::as_str`] writes it).
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    fn bit(self) -> u16 {
        1u16 << (self as u16)
    }

    /// True for roles inside the organisation: not `internet`, `perimeter` or `edge`.
    pub fn is_internal(self) -> bool {
        !matches!(self, Role::Internet | Role::Perimeter | Role::Edge)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small set of roles (a bitmask). `Copy`, cheap to test on the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RoleSet(u16);

impl RoleSet {
    /// No role.
    pub const EMPTY: RoleSet = RoleSet(0);
    /// Every role.
    pub const ALL: RoleSet = RoleSet((1 << Role::ALL.len()) - 1);

    /// Builds a set from roles.
    pub fn of(roles: &[Role]) -> RoleSet {
        roles.iter().fold(RoleSet::EMPTY, |s, r| s.with(*r))
    }

    /// This set plus `role`.
    pub fn with(self, role: Role) -> RoleSet {
        RoleSet(self.0 | role.bit())
    }

    /// Adds `role`.
    pub fn insert(&mut self, role: Role) {
        self.0 |= role.bit();
    }

    /// Union of two sets.
    pub fn union(self, other: RoleSet) -> RoleSet {
        RoleSet(self.0 | other.0)
    }

    /// Whether `role` is in the set.
    pub fn contains(self, role: Role) -> bool {
        self.0 & role.bit() != 0
    }

    /// Whether the sets share a role.
    pub fn intersects(self, other: RoleSet) -> bool {
        self.0 & other.0 != 0
    }

    /// True when no role is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Number of roles in the set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The roles, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Role> {
        Role::ALL.into_iter().filter(move |r| self.contains(*r))
    }

    /// The role shown when one name is needed: edge, mailbox, client_access, hub,
    /// domain_controller, dns, lync, perimeter, internal_clients, internet (first present).
    pub fn primary(self) -> Role {
        Role::PRIMARY_ORDER
            .into_iter()
            .find(|r| self.contains(*r))
            .unwrap_or(Role::Internet)
    }
}

impl From<Role> for RoleSet {
    fn from(role: Role) -> RoleSet {
        RoleSet(role.bit())
    }
}

impl fmt::Display for RoleSet {
    /// Role names joined by `+`, e.g. `domain_controller+dns`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for r in self.iter() {
            if !first {
                f.write_str("+")?;
            }
            f.write_str(r.as_str())?;
            first = false;
        }
        if first {
            f.write_str("-")?;
        }
        Ok(())
    }
}

/// Exchange generation of a site. 2007 and 2003 use the coexistence rules of the 2010
/// file; 5.0 and 4.0 use the 5.5 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Generation {
    /// Exchange Server 2019.
    V2019,
    /// Exchange Server 2016.
    V2016,
    /// Exchange Server 2013.
    V2013,
    /// Exchange Server 2010.
    V2010,
    /// Exchange Server 2007.
    V2007,
    /// Exchange Server 2003.
    V2003,
    /// Exchange Server 5.5.
    V55,
    /// Exchange Server 5.0.
    V50,
    /// Exchange Server 4.0.
    V40,
}

impl Generation {
    /// Every generation.
    pub const ALL: [Generation; 9] = [
        Generation::V2019,
        Generation::V2016,
        Generation::V2013,
        Generation::V2010,
        Generation::V2007,
        Generation::V2003,
        Generation::V55,
        Generation::V50,
        Generation::V40,
    ];

    /// The spelling used in files: "2019", "2016", "2013", "2010", "2007", "2003",
    /// "5.5", "5.0", "4.0".
    pub fn as_str(self) -> &'static str {
        match self {
            Generation::V2019 => "2019",
            Generation::V2016 => "2016",
            Generation::V2013 => "2013",
            Generation::V2010 => "2010",
            Generation::V2007 => "2007",
            Generation::V2003 => "2003",
            Generation::V55 => "5.5",
            Generation::V50 => "5.0",
            Generation::V40 => "4.0",
        }
    }

    /// Parses the spelling of [`Generation::as_str`].
    pub fn parse(text: &str) -> Option<Generation> {
        Generation::ALL.into_iter().find(|g| g.as_str() == text)
    }

    /// The accepted spellings, for error messages.
    pub fn names() -> String {
        Generation::ALL.map(|g| g.as_str()).join(", ")
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport protocol name.
pub fn proto_name(p: u8) -> &'static str {
    match p {
        PROTO_TCP => "tcp",
        PROTO_UDP => "udp",
        PROTO_ICMP => "icmp",
        PROTO_ICMPV6 => "icmp6",
        _ => "ip",
    }
}

/// A timestamp (nanoseconds since the epoch) that prints as RFC 3339 in UTC
/// with microseconds, formatted without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ts(pub i64);

impl Ts {
    /// The 27 bytes of `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    fn text(self) -> [u8; 27] {
        let micros = self.0.div_euclid(1000);
        let secs = micros.div_euclid(1_000_000);
        let frac = micros.rem_euclid(1_000_000);
        let t = OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut b = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |at: usize, width: usize, mut v: u64| {
            for i in (at..at + width).rev() {
                if let Some(c) = b.get_mut(i) {
                    *c = b'0' + (v % 10) as u8;
                }
                v /= 10;
            }
        };
        put(0, 4, u64::try_from(t.year()).unwrap_or(0));
        put(5, 2, u64::from(u8::from(t.month())));
        put(8, 2, u64::from(t.day()));
        put(11, 2, u64::from(t.hour()));
        put(14, 2, u64::from(t.minute()));
        put(17, 2, u64::from(t.second()));
        put(20, 6, u64::try_from(frac).unwrap_or(0));
        b
    }
}

impl std::fmt::Display for Ts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.text();
        f.write_str(std::str::from_utf8(&b).unwrap_or("?"))
    }
}

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let b = self.text();
        s.serialize_str(std::str::from_utf8(&b).unwrap_or("?"))
    }
}

/// RFC 3339 in UTC with microseconds.
pub fn rfc3339(ts_ns: i64) -> String {
    Ts(ts_ns).to_string()
}

// ---------------------------------------------------------------- UUID

/// A DCE UUID, stored in canonical (text) byte order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

/// A string that is not a canonical UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUuid;

impl fmt::Display for InvalidUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a UUID (expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, hex digits)")
    }
}

impl std::error::Error for InvalidUuid {}

impl Uuid {
    /// From the 16 bytes of an NDR `uuid_t` in little-endian representation:
    /// the first three fields (u32, u16, u16) are byte-swapped, the last 8
    /// bytes are as on the wire.
    pub fn from_wire_le(b: &[u8; 16]) -> Uuid {
        let [a0, a1, a2, a3, b0, b1, c0, c1, d0, d1, d2, d3, d4, d5, d6, d7] = *b;
        Uuid([a3, a2, a1, a0, b1, b0, c1, c0, d0, d1, d2, d3, d4, d5, d6, d7])
    }

    /// From the 16 bytes of an NDR `uuid_t` in big-endian representation
    /// (the canonical order).
    pub fn from_wire_be(b: &[u8; 16]) -> Uuid {
        Uuid(*b)
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` strictly (36 characters, hyphens at
    /// 8, 13, 18, 23, hex digits elsewhere, either case; no braces or spaces).
    pub fn parse(text: &str) -> Option<Uuid> {
        let b = text.as_bytes();
        if b.len() != 36 {
            return None;
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0usize;
        for (i, c) in b.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if *c != b'-' {
                    return None;
                }
                continue;
            }
            let v = u8::try_from((*c as char).to_digit(16)?).ok()?;
            let byte = out.get_mut(nibbles / 2)?;
            *byte = (*byte << 4) | v;
            nibbles += 1;
        }
        (nibbles == 32).then_some(Uuid(out))
    }
}

impl std::str::FromStr for Uuid {
    type Err = InvalidUuid;
    fn from_str(s: &str) -> Result<Uuid, InvalidUuid> {
        Uuid::parse(s).ok_or(InvalidUuid)
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Uuid({self})")
    }
}

impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_has_microseconds() {
        assert_eq!(rfc3339(1_500_000_000_123_456_789), "2017-07-14T02:40:00.123456Z");
        assert_eq!(rfc3339(1_500_000_000_000_000_000), "2017-07-14T02:40:00.000000Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
    }
}
