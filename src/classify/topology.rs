//! Site topology: which addresses hold which Exchange role.
//!
//! The user writes a small TOML file (shape in DESIGN.md and `rules/example-site.toml`):
//! a `[site]` table (name, Exchange generation, whether an Edge is subscribed) and a
//! `[roles]` table with one list of addresses or CIDR prefixes (IPv4 or IPv6) per role.
//! Lookups go through a longest-prefix-match table ([`ip_network_table`]), never a linear
//! scan. The most specific listed prefix decides; an address listed under several roles
//! with the same prefix (a DC that is also the DNS server) holds all of them. Addresses
//! that no prefix covers are [`Role::Internet`].
//!
//! Without a topology file the tool infers one from evidence
//! ([`crate::classify::evidence::infer_topology`]) and can write it back out in the same
//! shape ([`Topology::to_toml`]).

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use ip_network::IpNetwork;
use ip_network_table::IpNetworkTable;
use serde::Deserialize;
use toml::Spanned;

use crate::diag::{Diagnostic, LoadError};
use crate::vocab::{Generation, Role, RoleSet};

/// A port that is site data: the administrator chooses it, the topology's `[site]`
/// table declares it, and rules name it as `"site:NAME"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SitePort {
    /// `site:sender_reputation_proxy`: the TCP port of the proxy server sender
    /// reputation uses to reach the internet (`Set-SenderReputationConfig
    /// -ProxyServerPort`; topology key `sender_reputation_proxy_port`).
    SenderReputationProxy,
    /// `site:rfc1006`: an X.400 MTA port other than 102 (the "RFC1006 Port Number"
    /// registry value; topology key `rfc1006_port`).
    Rfc1006,
}

impl SitePort {
    /// Every site port.
    pub const ALL: [SitePort; 2] = [SitePort::SenderReputationProxy, SitePort::Rfc1006];

    /// The NAME of `"site:NAME"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SitePort::SenderReputationProxy => "sender_reputation_proxy",
            SitePort::Rfc1006 => "rfc1006",
        }
    }

    /// Parses the NAME of `"site:NAME"`.
    pub fn parse(name: &str) -> Option<SitePort> {
        SitePort::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The site ports a topology declares ([`SitePort`]); `None` when not declared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct SitePorts {
    /// `sender_reputation_proxy_port`.
    pub sender_reputation_proxy: Option<u16>,
    /// `rfc1006_port`.
    pub rfc1006: Option<u16>,
}

impl SitePorts {
    /// The declared port of `p`.
    pub fn get(&self, p: SitePort) -> Option<u16> {
        match p {
            SitePort::SenderReputationProxy => self.sender_reputation_proxy,
            SitePort::Rfc1006 => self.rfc1006,
        }
    }

    /// Whether some site port is `port`.
    pub fn any_is(&self, port: u16) -> bool {
        SitePort::ALL.into_iter().any(|p| self.get(p) == Some(port))
    }
}

/// Facts about the site used by `when` conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SiteFacts {
    /// Exchange generation.
    pub generation: Generation,
    /// Whether an Edge is subscribed.
    pub edge_subscribed: bool,
    /// Ports the site declares (`"site:NAME"` in rules).
    pub ports: SitePorts,
}

/// The `[site]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Site name, free text.
    pub name: String,
    /// Exchange generation; selects the rule file.
    pub exchange: Generation,
    /// Whether an Edge Transport server is subscribed to the site.
    pub edge_subscribed: bool,
}

/// The roles an address holds and the one to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleLookup {
    /// Every role of the most specific matching prefix (`internet` when unlisted).
    pub roles: RoleSet,
    /// [`RoleSet::primary`] of `roles`.
    pub primary: Role,
}

/// A parsed site topology with a longest-prefix-match table.
pub struct Topology {
    site: Site,
    /// `[site]` ports the administrator chose (`sender_reputation_proxy_port`,
    /// `rfc1006_port`); rules name them as `"site:NAME"`.
    site_ports: SitePorts,
    /// Declared prefixes per role, in file order, indexed by `Role as usize`.
    declared: [Vec<IpNetwork>; Role::ALL.len()],
    table: IpNetworkTable<RoleSet>,
}

impl Clone for Topology {
    fn clone(&self) -> Topology {
        let mut copy = Topology::new(self.site.clone());
        copy.site_ports = self.site_ports;
        for role in Role::ALL {
            for net in self.declared(role) {
                copy.add(role, *net);
            }
        }
        copy
    }
}

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Topology")
            .field("site", &self.site)
            .field("declared", &self.declared)
            .finish_non_exhaustive()
    }
}

impl Topology {
    /// An empty topology: every address is `internet`.
    pub fn new(site: Site) -> Topology {
        Topology {
            site,
            site_ports: SitePorts::default(),
            declared: Default::default(),
            table: IpNetworkTable::new(),
        }
    }

    /// Declares that `net` holds `role` (an address is a /32 or /128 network).
    /// Declaring `internet` is ignored: unlisted addresses are internet already.
    pub fn add(&mut self, role: Role, net: IpNetwork) {
        if role == Role::Internet {
            return;
        }
        if let Some(list) = self.declared.get_mut(role as usize) {
            if !list.contains(&net) {
                list.push(net);
            }
        }
        if let Some(set) = self.table.exact_match_mut(net) {
            set.insert(role);
        } else {
            self.table.insert(net, RoleSet::from(role));
        }
    }

    /// Reads and parses a topology file.
    pub fn load(path: &Path) -> Result<Topology, LoadError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            LoadError::single(Diagnostic {
                file: file.clone(),
                line: 0,
                column: 0,
                field: None,
                message: format!("cannot read the topology file: {e}"),
                help: "check the path given to --topology".to_string(),
            })
        })?;
        Topology::parse(&text, &file)
    }

    /// Parses topology TOML text; `file` names the source in error messages.
    pub fn parse(text: &str, file: &str) -> Result<Topology, LoadError> {
        let raw: RawTopology =
            toml::from_str(text).map_err(|e| LoadError::single(Diagnostic::from_toml(file, text, &e)))?;
        let mut errors = Vec::new();
        let exchange = match Generation::parse(raw.site.exchange.get_ref()) {
            Some(g) => g,
            None => {
                errors.push(Diagnostic::at(
                    file,
                    text,
                    raw.site.exchange.span().start,
                    Some("site.exchange"),
                    format!("unknown Exchange generation `{}`", raw.site.exchange.get_ref()),
                    format!("use one of {}", Generation::names()),
                ));
                Generation::V2019
            }
        };
        let mut topo = Topology::new(Site {
            name: raw.site.name,
            exchange,
            edge_subscribed: raw.site.edge_subscribed,
        });
        topo.site_ports = SitePorts {
            sender_reputation_proxy: raw.site.sender_reputation_proxy_port,
            rfc1006: raw.site.rfc1006_port,
        };
        let lists: [(Role, &Option<Vec<Spanned<String>>>); 10] = [
            (Role::Edge, &raw.roles.edge),
            (Role::Mailbox, &raw.roles.mailbox),
            (Role::ClientAccess, &raw.roles.client_access),
            (Role::Hub, &raw.roles.hub),
            (Role::DomainController, &raw.roles.domain_controller),
            (Role::Dns, &raw.roles.dns),
            (Role::Lync, &raw.roles.lync),
            (Role::UnifiedMessaging, &raw.roles.unified_messaging),
            (Role::InternalClients, &raw.roles.internal_clients),
            (Role::Perimeter, &raw.roles.perimeter),
        ];
        for (role, list) in lists {
            for item in list.iter().flatten() {
                match parse_network(item.get_ref()) {
                    Ok(net) => topo.add(role, net),
                    Err((message, help)) => errors.push(Diagnostic::at(
                        file,
                        text,
                        item.span().start,
                        Some(&format!("roles.{}", role.as_str())),
                        message,
                        help,
                    )),
                }
            }
        }
        if errors.is_empty() {
            Ok(topo)
        } else {
            Err(LoadError { diagnostics: errors })
        }
    }

    /// The `[site]` table.
    pub fn site(&self) -> &Site {
        &self.site
    }

    /// The `[site]` ports (`"site:NAME"` in rules).
    pub fn site_ports(&self) -> SitePorts {
        self.site_ports
    }

    /// Sets whether an Edge is subscribed (inference decides it from what it saw).
    pub fn set_edge_subscribed(&mut self, subscribed: bool) {
        self.site.edge_subscribed = subscribed;
    }

    /// Site facts for rule matching.
    pub fn site_facts(&self) -> SiteFacts {
        SiteFacts {
            generation: self.site.exchange,
            edge_subscribed: self.site.edge_subscribed,
            ports: self.site_ports,
        }
    }

    /// Roles of `addr`: those of the longest matching prefix, or `internet`.
    /// IPv4-mapped IPv6 addresses are looked up as IPv4.
    pub fn lookup(&self, addr: IpAddr) -> RoleLookup {
        let roles = self
            .table
            .longest_match(addr.to_canonical())
            .map(|(_, set)| *set)
            .filter(|set| !set.is_empty())
            .unwrap_or(RoleSet::from(Role::Internet));
        RoleLookup {
            roles,
            primary: roles.primary(),
        }
    }

    /// Roles of `addr` (see [`Topology::lookup`]).
    pub fn roles(&self, addr: IpAddr) -> RoleSet {
        self.lookup(addr).roles
    }

    /// Primary role of `addr` (see [`Topology::lookup`]).
    pub fn role(&self, addr: IpAddr) -> Role {
        self.lookup(addr).primary
    }

    /// The prefixes declared for `role`, in file order.
    pub fn declared(&self, role: Role) -> &[IpNetwork] {
        self.declared.get(role as usize).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Writes the topology in the file shape (`[site]`, `[roles]`); host prefixes are
    /// written as bare addresses. `hub` and `unified_messaging` are written only when not empty.
    pub fn to_toml(&self) -> String {
        let mut out = String::new();
        out.push_str("[site]\n");
        out.push_str(&format!(
            "name = {}\n",
            toml::Value::String(self.site.name.clone())
        ));
        out.push_str(&format!("exchange = \"{}\"\n", self.site.exchange));
        out.push_str(&format!("edge_subscribed = {}\n", self.site.edge_subscribed));
        if let Some(p) = self.site_ports.sender_reputation_proxy {
            out.push_str(&format!("sender_reputation_proxy_port = {p}\n"));
        }
        if let Some(p) = self.site_ports.rfc1006 {
            out.push_str(&format!("rfc1006_port = {p}\n"));
        }
        out.push_str("\n[roles]\n");
        for role in Role::ALL {
            let optional = matches!(role, Role::Hub | Role::UnifiedMessaging);
            if role == Role::Internet || (optional && self.declared(role).is_empty()) {
                continue;
            }
            let items: Vec<String> = self
                .declared(role)
                .iter()
                .map(|n| format!("\"{}\"", format_network(n)))
                .collect();
            out.push_str(&format!("{} = [{}]\n", role.as_str(), items.join(", ")));
        }
        out
    }
}

/// Formats a network: bare address for a host prefix, CIDR otherwise.
pub fn format_network(net: &IpNetwork) -> String {
    let full = if net.is_ipv4() { 32 } else { 128 };
    if net.netmask() == full {
        net.network_address().to_string()
    } else {
        net.to_string()
    }
}

/// Parses "addr" or "addr/len" strictly (no host bits set).
fn parse_network(text: &str) -> Result<IpNetwork, (String, String)> {
    let (addr_text, len_text) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text.trim().parse().map_err(|_| {
        (
            format!("`{text}` is not an IP address or CIDR prefix"),
            "write an IPv4/IPv6 address (10.1.0.11, 2001:db8::11) or a prefix (10.2.0.0/16)".to_string(),
        )
    })?;
    let max = if addr.is_ipv4() { 32u8 } else { 128u8 };
    let len = match len_text {
        None => max,
        Some(l) => match l.trim().parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => {
                return Err((
                    format!("`{text}` has a bad prefix length"),
                    format!("the prefix length must be 0..={max}"),
                ))
            }
        },
    };
    IpNetwork::new(addr, len).map_err(|_| {
        let suggestion = IpNetwork::new_truncate(addr, len)
            .map(|n| n.to_string())
            .unwrap_or_default();
        (
            format!("`{text}` has host bits set after the /{len} prefix"),
            format!("did you mean `{suggestion}`?"),
        )
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    site: RawSite,
    #[serde(default)]
    roles: RawRoles,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    name: String,
    exchange: Spanned<String>,
    #[serde(default)]
    edge_subscribed: bool,
    /// The sender-reputation proxy server's TCP port (Set-SenderReputationConfig
    /// -ProxyServerPort); the proxy host is listed under a role (perimeter or internal).
    sender_reputation_proxy_port: Option<u16>,
    /// The X.400 MTAs' RFC 1006 port when changed from 102 (every MTA uses the same).
    rfc1006_port: Option<u16>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRoles {
    edge: Option<Vec<Spanned<String>>>,
    mailbox: Option<Vec<Spanned<String>>>,
    client_access: Option<Vec<Spanned<String>>>,
    hub: Option<Vec<Spanned<String>>>,
    domain_controller: Option<Vec<Spanned<String>>>,
    dns: Option<Vec<Spanned<String>>>,
    lync: Option<Vec<Spanned<String>>>,
    unified_messaging: Option<Vec<Spanned<String>>>,
    internal_clients: Option<Vec<Spanned<String>>>,
    perimeter: Option<Vec<Spanned<String>>>,
}

/// Private, loopback, link-local and unique-local blocks; inferred internal clients are
/// written as the blocks that contain them.
const PRIVATE_BLOCKS: [(&str, u8); 8] = [
    ("10.0.0.0", 8),
    ("172.16.0.0", 12),
    ("192.168.0.0", 16),
    ("127.0.0.0", 8),
    ("169.254.0.0", 16),
    ("fc00::", 7),
    ("fe80::", 10),
    ("::1", 128),
];

/// The private block (RFC 1918, loopback, link-local, ULA fc00::/7) containing `addr`.
pub fn private_block(addr: IpAddr) -> Option<IpNetwork> {
    let addr = addr.to_canonical();
    PRIVATE_BLOCKS.iter().find_map(|(base, len)| {
        let base: IpAddr = base.parse().ok()?;
        let net = IpNetwork::new(base, *len).ok()?;
        net.contains(addr).then_some(net)
    })
}

/// Whether `addr` is private, loopback, link-local or unique-local.
pub fn is_private(addr: IpAddr) -> bool {
    // The blocks of PRIVATE_BLOCKS, without parsing them (called per flow).
    match addr.to_canonical() {
        IpAddr::V4(a) => a.is_private() || a.is_loopback() || a.is_link_local(),
        IpAddr::V6(a) => {
            let s0 = a.segments()[0];
            a.is_loopback() || s0 & 0xfe00 == 0xfc00 || s0 & 0xffc0 == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_private_agrees_with_the_private_blocks() {
        for a in [
            "10.1.2.3",
            "9.255.255.255",
            "11.0.0.0",
            "172.16.0.1",
            "172.31.255.255",
            "172.32.0.0",
            "172.15.255.255",
            "192.168.5.5",
            "192.169.0.0",
            "127.0.0.1",
            "169.254.1.1",
            "169.255.0.0",
            "8.8.8.8",
            "fc00::1",
            "fdff::1",
            "fe00::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "::1",
            "::2",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = a.parse().unwrap();
            assert_eq!(is_private(ip), private_block(ip).is_some(), "{a}");
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const EXAMPLE: &str = include_str!("../../rules/example-site.toml");

    #[test]
    fn example_parses_and_looks_up() {
        let t = Topology::parse(EXAMPLE, "example-site.toml").unwrap();
        assert_eq!(t.site().name, "contoso");
        assert_eq!(t.site().exchange, Generation::V2019);
        assert!(t.site().edge_subscribed);
        // longest prefix: the Edge /32 wins over the perimeter /28
        assert_eq!(t.role(ip("203.0.113.10")), Role::Edge);
        assert_eq!(t.roles(ip("203.0.113.10")), RoleSet::from(Role::Edge));
        assert_eq!(t.role(ip("203.0.113.11")), Role::Perimeter);
        assert_eq!(t.role(ip("10.1.0.11")), Role::Mailbox);
        // a DC that is also DNS holds both, primary is the DC
        let dc = t.lookup(ip("10.1.0.20"));
        assert_eq!(dc.primary, Role::DomainController);
        assert!(dc.roles.contains(Role::Dns));
        assert_eq!(dc.roles.to_string(), "domain_controller+dns");
        assert_eq!(t.role(ip("10.2.33.4")), Role::InternalClients);
        // unlisted
        assert_eq!(t.role(ip("198.51.100.7")), Role::Internet);
        assert_eq!(t.role(ip("10.3.0.1")), Role::Internet);
        assert_eq!(t.role(ip("2001:db8::1")), Role::Internet);
        // v4-mapped v6 is looked up as v4
        assert_eq!(t.role(ip("::ffff:10.1.0.11")), Role::Mailbox);
    }

    #[test]
    fn ipv6_and_nested_prefixes() {
        let text = r#"
[site]
name = "v6"
exchange = "2016"
[roles]
mailbox = ["2001:db8:1::11"]
internal_clients = ["2001:db8::/32", "10.0.0.0/8"]
perimeter = ["2001:db8:ff::/48"]
domain_controller = ["10.9.0.0/16"]
"#;
        let t = Topology::parse(text, "v6.toml").unwrap();
        assert!(!t.site().edge_subscribed);
        assert_eq!(t.role(ip("2001:db8:1::11")), Role::Mailbox);
        assert_eq!(t.role(ip("2001:db8:1::12")), Role::InternalClients);
        assert_eq!(t.role(ip("2001:db8:ff::5")), Role::Perimeter);
        assert_eq!(t.role(ip("2001:db9::1")), Role::Internet);
        assert_eq!(t.role(ip("10.9.1.1")), Role::DomainController);
        assert_eq!(t.role(ip("10.8.1.1")), Role::InternalClients);
    }

    #[test]
    fn bad_topology_errors_name_file_line_field() {
        let text = "[site]\nname = \"x\"\nexchange = \"2019\"\n[roles]\nmailbox = [\"10.1.0.300\"]\n";
        let e = Topology::parse(text, "site.toml").unwrap_err().to_string();
        assert!(e.contains("site.toml:5:"), "{e}");
        assert!(e.contains("roles.mailbox"), "{e}");

        let text = "[site]\nname = \"x\"\nexchange = \"2019\"\n[roles]\nmailbox = [\"10.1.0.1/8\"]\n";
        let e = Topology::parse(text, "site.toml").unwrap_err().to_string();
        assert!(e.contains("site.toml:5:") && e.contains("10.0.0.0/8"), "{e}");

        let text = "[site]\nname = \"x\"\nexchange = \"2021\"\n";
        let e = Topology::parse(text, "site.toml").unwrap_err().to_string();
        assert!(e.contains("site.toml:3:") && e.contains("site.exchange"), "{e}");

        let text = "[site]\nname = \"x\"\nexchange = \"2019\"\n[roles]\nmailbox = []\nexchange_server = [\"10.0.0.1\"]\n";
        let e = Topology::parse(text, "site.toml").unwrap_err().to_string();
        assert!(e.contains("site.toml:6:") && e.contains("exchange_server"), "{e}");

        let text = "[site]\nname = \"x\"\nexchange = \"2019\"\nedge_subscribed = \"yes\"\n";
        let e = Topology::parse(text, "site.toml").unwrap_err().to_string();
        assert!(e.contains("site.toml:4:") && e.contains("edge_subscribed"), "{e}");
    }

    #[test]
    fn to_toml_round_trips() {
        let t = Topology::parse(EXAMPLE, "example-site.toml").unwrap();
        let out = t.to_toml();
        let back = Topology::parse(&out, "out.toml").unwrap();
        assert_eq!(back.site(), t.site());
        for role in Role::ALL {
            assert_eq!(back.declared(role), t.declared(role), "{role}");
        }
        assert!(out.contains("edge = [\"203.0.113.10\"]"), "{out}");
        assert!(out.contains("internal_clients = [\"10.2.0.0/16\"]"), "{out}");
        assert!(out.contains("client_access = []"), "{out}");
        assert!(out.contains("perimeter = [\"203.0.113.0/28\"]"), "{out}");
        assert_eq!(t.clone().role(ip("203.0.113.11")), Role::Perimeter);
        assert!(!out.contains("hub"), "{out}");
        assert_eq!(back.to_toml(), out);
    }

    #[test]
    fn site_ports_parse_and_round_trip() {
        let text = "[site]\nname = \"x\"\nexchange = \"2013\"\nedge_subscribed = true\nsender_reputation_proxy_port = 8080\nrfc1006_port = 1102\n[roles]\nperimeter = [\"203.0.113.0/28\"]\n";
        let t = Topology::parse(text, "site.toml").unwrap();
        assert_eq!(t.site_ports().sender_reputation_proxy, Some(8080));
        assert_eq!(t.site_facts().ports.rfc1006, Some(1102));
        let back = Topology::parse(&t.to_toml(), "out.toml").unwrap();
        assert_eq!(back.site_ports(), t.site_ports());
        assert_eq!(t.clone().site_ports(), t.site_ports());
        let plain = Topology::parse(EXAMPLE, "example-site.toml").unwrap();
        assert_eq!(plain.site_ports(), SitePorts::default());
        let bad = text.replace("8080", "70000");
        let e = Topology::parse(&bad, "site.toml").unwrap_err().to_string();
        assert!(e.contains("site.toml:5:"), "{e}");
    }

    #[test]
    fn role_names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::from_name(r.as_str()), Some(r));
        }
        for g in Generation::ALL {
            assert_eq!(Generation::parse(g.as_str()), Some(g));
        }
        assert_eq!(RoleSet::EMPTY.primary(), Role::Internet);
        assert_eq!(RoleSet::ALL.len(), 11);
    }
}
