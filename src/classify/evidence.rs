//! Roles and generation from evidence, for captures without a topology file.
//!
//! DESIGN.md, "Roles come from evidence too": a host is what it says and
//! serves. It serves EMSMDB/NSPI/RFR, greets with an Exchange SMTP banner or
//! EHLO keywords, an Exchange POP3/IMAP4 greeting, sends Exchange HTTP
//! response headers, or is asked for `autodiscover.*` -> an Exchange server;
//! it serves DRSUAPI/Netlogon (or LSARPC/SAMR with Kerberos or LDAP) -> a
//! domain controller. Ports are the weakest evidence and decide only where
//! nothing else does. The words are data (`rules/markers.toml`, `marks` in
//! `rules/dcerpc-interfaces.toml`); every inferred host lists its evidence
//! (what was seen, in which flows). Everything kept per host is bounded.

use std::net::IpAddr;

use ip_network::IpNetwork;

use crate::analyze::{endpoints, EndedFlow};
use crate::classify::markers::{Mark, MarkerField, Markers};
use crate::classify::purpose::bound_interfaces;
use crate::classify::rules::RuleSet;
use crate::classify::topology::{is_private, private_block, Site, Topology};
use crate::decode::{PROTO_TCP, PROTO_UDP};
use crate::flow::ConnState;
use crate::inspect::dcerpc::EpmProto;
use crate::vocab::Uuid;
use crate::vocab::{Generation, Role, RoleSet};

/// Clues kept per host.
pub const MAX_CLUES: usize = 16;
/// Flow ids kept per clue.
pub const MAX_CLUE_FLOWS: usize = 4;
/// Ports kept per host and protocol.
pub const MAX_PORTS: usize = 64;

/// What a clue is about, for choosing among a server's roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// SMTP (a banner or EHLO keyword).
    Mail,
    /// A client protocol: MAPI (EMSMDB, NSPI, RFR), web, POP3, IMAP4.
    Client,
    /// Anything else (directory, replication, ...).
    Other,
}

/// One piece of evidence about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clue {
    /// What it says the host is.
    pub mark: Option<Mark>,
    /// How much it weighs towards `mark` (2 is enough alone).
    pub weight: u8,
    /// The Exchange generation it names.
    pub generation: Option<Generation>,
    /// The newest generation it is possible with (an interface served over
    /// direct RPC that later generations take only over HTTP).
    pub until: Option<Generation>,
    /// What service it is about.
    pub service: Service,
    /// What the clue is about (an interface name, a marker's field): clues about
    /// one subject weigh as much as the heaviest of them, not their sum (an
    /// interface announced by the endpoint mapper and then served is one fact).
    pub subject: String,
    /// What was seen, e.g. `serves emsmdb` or `SMTP banner "... Microsoft ESMTP MAIL Service ..."`.
    pub what: String,
    /// The first flows it was seen in.
    pub flows: Vec<u64>,
    /// How many flows showed it.
    pub count: u64,
}

impl Clue {
    /// `what (flows 3, 5)`, `what (flow 3)`, `what (flows 3, 5, ... 12 in all)`.
    pub fn text(&self) -> String {
        let ids: Vec<String> = self.flows.iter().map(|f| f.to_string()).collect();
        let n = if self.flows.len() == 1 { "flow" } else { "flows" };
        if self.count > self.flows.len() as u64 {
            format!(
                "{} ({n} {}, ... {} in all)",
                self.what,
                ids.join(", "),
                self.count
            )
        } else {
            format!("{} ({n} {})", self.what, ids.join(", "))
        }
    }
}

/// What the flows showed of one host, the input of [`infer_topology`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostObservation {
    /// The host.
    pub addr: IpAddr,
    /// TCP ports on which the host accepted a connection (answered a SYN).
    pub served_tcp: Vec<u16>,
    /// UDP ports on which the host answered.
    pub served_udp: Vec<u16>,
    /// Whether a client outside private space (see [`is_private`]) connected to it.
    pub contacted_from_public: bool,
    /// Whether the host opened connections itself.
    pub seen_as_client: bool,
    /// What it said and served (at most [`MAX_CLUES`]).
    pub clues: Vec<Clue>,
}

impl HostObservation {
    /// An observation of `addr` with nothing seen yet.
    pub fn new(addr: IpAddr) -> HostObservation {
        HostObservation {
            addr,
            served_tcp: Vec::new(),
            served_udp: Vec::new(),
            contacted_from_public: false,
            seen_as_client: false,
            clues: Vec::new(),
        }
    }

    fn tcp(&self, port: u16) -> bool {
        self.served_tcp.contains(&port)
    }

    fn any(&self, port: u16) -> bool {
        self.served_tcp.contains(&port) || self.served_udp.contains(&port)
    }

    fn serves_anything(&self) -> bool {
        !self.served_tcp.is_empty() || !self.served_udp.is_empty() || !self.clues.is_empty()
    }

    fn serve(&mut self, proto: u8, port: u16) -> bool {
        let list = match proto {
            PROTO_TCP => &mut self.served_tcp,
            PROTO_UDP => &mut self.served_udp,
            _ => return false,
        };
        if list.contains(&port) || list.len() >= MAX_PORTS {
            return false;
        }
        list.push(port);
        true
    }

    /// Adds a clue (or one more flow to the same clue); returns whether
    /// anything the inference reads changed.
    pub fn add_clue(&mut self, clue: Clue) -> bool {
        if let Some(c) = self
            .clues
            .iter_mut()
            .find(|c| c.what == clue.what && c.mark == clue.mark && c.generation == clue.generation)
        {
            c.count = c.count.saturating_add(clue.count.max(1));
            for f in clue.flows {
                if c.flows.len() < MAX_CLUE_FLOWS && !c.flows.contains(&f) {
                    c.flows.push(f);
                }
            }
            return false;
        }
        if self.clues.len() >= MAX_CLUES {
            return false;
        }
        self.clues.push(clue);
        true
    }

    /// Merges another observation of the same host; returns whether the
    /// inference could change.
    pub fn merge(&mut self, other: HostObservation) -> bool {
        let mut changed = false;
        for p in other.served_tcp {
            changed |= self.serve(PROTO_TCP, p);
        }
        for p in other.served_udp {
            changed |= self.serve(PROTO_UDP, p);
        }
        if other.contacted_from_public && !self.contacted_from_public {
            self.contacted_from_public = true;
            changed = true;
        }
        if other.seen_as_client && !self.seen_as_client {
            self.seen_as_client = true;
            changed = true;
        }
        for c in other.clues {
            changed |= self.add_clue(c);
        }
        changed
    }

    fn weight(&self, mark: Mark) -> u32 {
        let mut best: Vec<(&str, u8)> = Vec::new();
        for c in self.clues.iter().filter(|c| c.mark == Some(mark)) {
            match best.iter_mut().find(|(s, _)| *s == c.subject) {
                Some((_, w)) => *w = (*w).max(c.weight),
                None => best.push((&c.subject, c.weight)),
            }
        }
        best.iter().map(|(_, w)| u32::from(*w)).sum()
    }

    fn does(&self, service: Service) -> bool {
        self.clues
            .iter()
            .any(|c| c.service == service && c.mark == Some(Mark::Exchange))
    }
}

/// Collects per-host observations from ended flows (bounded: public
/// addresses that only connect out are not kept, so a scan from a million
/// sources stays small).
pub struct Observer<'r> {
    rules: &'r RuleSet,
    hosts: hashbrown::HashMap<IpAddr, HostObservation>,
    /// Observations of hosts not kept because [`MAX_HOSTS`] were.
    pub hosts_full: u64,
}

/// Hosts remembered for role inference; further hosts are not observed.
pub const MAX_HOSTS: usize = 65_536;

fn clue(
    mark: Option<Mark>,
    weight: u8,
    generation: Option<Generation>,
    service: Service,
    subject: &str,
    what: String,
    flow: u64,
) -> Clue {
    Clue {
        mark,
        weight,
        generation,
        until: None,
        service,
        subject: subject.to_string(),
        what,
        flows: vec![flow],
        count: 1,
    }
}

/// The clues `markers` give for `value` seen in `field` of flow `flow`.
fn marker_clues(
    markers: &Markers,
    field: MarkerField,
    header: Option<&str>,
    value: &str,
    service: Service,
    flow: u64,
    out: &mut Vec<Clue>,
) {
    for m in markers.matching(field, header, value) {
        let shown: String = value.chars().take(60).collect();
        let what = match header {
            Some(h) => format!("{} {h}: {shown}", field.label()),
            None => format!("{} \"{shown}\"", field.label()),
        };
        out.push(clue(
            m.marks,
            2,
            m.generation,
            service,
            field.as_str(),
            what,
            flow,
        ));
    }
}

impl<'r> Observer<'r> {
    pub fn new(rules: &'r RuleSet) -> Observer<'r> {
        Observer {
            rules,
            hosts: hashbrown::HashMap::new(),
            hosts_full: 0,
        }
    }

    /// What one flow shows, per host (the server, and hosts an
    /// endpoint-mapper answer names).
    pub fn of_flow(rules: &RuleSet, f: &EndedFlow) -> Vec<HostObservation> {
        let ((c, _), (s, port)) = endpoints(&f.flow);
        let mut server = HostObservation::new(s);
        let mut out = Vec::new();
        let served = f.flow.client_server_pkts().1 > 0
            && f.flow.state() != ConnState::REJ
            && f.flow.state() != ConnState::RSTOS0;
        if served {
            server.serve(f.flow.key.proto, port);
            if !is_private(c) {
                server.contacted_from_public = true;
            }
        }
        let id = f.flow.id;
        let markers = rules.markers();
        let mut clues = Vec::new();
        let app = &f.app;
        if let Some(d) = &app.dcerpc {
            for i in bound_interfaces(d, rules) {
                if let Some(mark) = i.marks {
                    let what = if served {
                        format!("serves {}", i.name)
                    } else {
                        format!("asked for {} (no answer seen)", i.name)
                    };
                    let service = if mark == Mark::Exchange {
                        Service::Client
                    } else {
                        Service::Other
                    };
                    let mut c = clue(Some(mark), i.weight, None, service, &i.name, what, id);
                    // Bound over plain TCP, not inside RPC over HTTP.
                    c.until = i.direct_until.filter(|_| served && app.http.is_none());
                    if c.until.is_some() {
                        c.what.push_str(" over direct RPC");
                    }
                    clues.push(c);
                }
            }
            for a in &d.epm_answers {
                let Some(i) = rules.interfaces().get(&Uuid(a.interface.0)) else {
                    continue;
                };
                let Some(mark) = i.marks else { continue };
                let at = a.host(s);
                let proto = match a.proto {
                    EpmProto::Udp => "udp",
                    EpmProto::Tcp | EpmProto::Http => "tcp",
                };
                let what = format!(
                    "the endpoint mapper at {s} announces {} on {proto}/{}",
                    i.name, a.port
                );
                let service = if mark == Mark::Exchange {
                    Service::Client
                } else {
                    Service::Other
                };
                let c = clue(Some(mark), i.weight, None, service, &i.name, what, id);
                if at == s {
                    clues.push(c);
                } else {
                    let mut h = HostObservation::new(at);
                    h.add_clue(c);
                    out.push(h);
                }
            }
        }
        if let Some(m) = &app.smtp {
            marker_clues(
                markers,
                MarkerField::SmtpBanner,
                None,
                &m.banner,
                Service::Mail,
                id,
                &mut clues,
            );
            for cap in &m.capabilities {
                let word = cap.split(' ').next().unwrap_or(cap);
                marker_clues(
                    markers,
                    MarkerField::SmtpEhlo,
                    None,
                    word,
                    Service::Mail,
                    id,
                    &mut clues,
                );
            }
        }
        if let Some(p) = &app.pop3 {
            marker_clues(
                markers,
                MarkerField::Pop3Greeting,
                None,
                &p.greeting,
                Service::Client,
                id,
                &mut clues,
            );
        }
        if let Some(p) = &app.imap {
            marker_clues(
                markers,
                MarkerField::ImapGreeting,
                None,
                &p.greeting,
                Service::Client,
                id,
                &mut clues,
            );
        }
        if let Some(h) = &app.http {
            for x in &h.x_headers {
                marker_clues(
                    markers,
                    MarkerField::HttpHeader,
                    Some(&x.name),
                    &x.value,
                    Service::Client,
                    id,
                    &mut clues,
                );
            }
        }
        if let Some(t) = &app.tls {
            if let Some(sni) = &t.sni {
                marker_clues(
                    markers,
                    MarkerField::TlsServerName,
                    None,
                    sni,
                    Service::Client,
                    id,
                    &mut clues,
                );
            }
            for name in &t.cert_names {
                marker_clues(
                    markers,
                    MarkerField::TlsCertificateName,
                    None,
                    name,
                    Service::Client,
                    id,
                    &mut clues,
                );
            }
        }
        // Directory services by content, when the ports do not show them
        // answered (a one-sided capture, a non-standard port).
        if app.ldap.as_ref().is_some_and(|l| !l.invalid && l.messages > 0) && !served {
            clues.push(clue(
                Some(Mark::DomainController),
                1,
                None,
                Service::Other,
                "ldap",
                "asked for LDAP (no answer seen)".to_string(),
                id,
            ));
        }
        for c in clues {
            server.add_clue(c);
        }
        if served || !server.clues.is_empty() {
            out.push(server);
        }
        let mut client = HostObservation::new(c);
        client.seen_as_client = true;
        out.push(client);
        out
    }

    /// Observes one ended flow; returns whether the inference could change.
    /// At most [`MAX_HOSTS`] hosts are kept; a flow's observations of
    /// further hosts are counted in [`Observer::hosts_full`].
    pub fn observe(&mut self, f: &EndedFlow) -> bool {
        let parts = Observer::of_flow(self.rules, f);
        self.take(parts)
    }

    /// Takes what [`Observer::of_flow`] made of one flow (flows may be
    /// read on all cores, then taken in order); returns whether the
    /// inference could change.
    pub fn take(&mut self, parts: Vec<HostObservation>) -> bool {
        let mut changed = false;
        for o in parts {
            let len = self.hosts.len();
            if let Some(h) = self.hosts.get_mut(&o.addr) {
                changed |= h.merge(o);
            } else if o.serves_anything() || is_private(o.addr) {
                if len < MAX_HOSTS {
                    self.hosts.insert(o.addr, o);
                    changed = true;
                } else {
                    self.hosts_full += 1;
                }
            }
        }
        changed
    }

    /// The observations so far, by address.
    pub fn snapshot(&self) -> Vec<HostObservation> {
        let mut hosts: Vec<HostObservation> = self.hosts.values().cloned().collect();
        hosts.sort_by_key(|h| h.addr);
        hosts
    }

    /// The observations, by address.
    pub fn finish(self) -> Vec<HostObservation> {
        let mut hosts: Vec<HostObservation> = self.hosts.into_values().collect();
        hosts.sort_by_key(|h| h.addr);
        hosts
    }
}

/// The roles inferred for one host, with the reason to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InferredHost {
    /// The host.
    pub addr: IpAddr,
    /// Set for the entry that stands for every client-only host of a
    /// private block: the block (`addr` is its first address).
    pub block: Option<IpNetwork>,
    /// Inferred roles (never empty; `internet` when nothing else fits).
    pub roles: RoleSet,
    /// Why, for the report ("serves emsmdb (flows 3, 5)").
    pub reason: String,
    /// The evidence, one line per clue (empty when only ports spoke).
    pub evidence: Vec<String>,
}

impl InferredHost {
    /// The address, or the block for a group of clients.
    pub fn label(&self) -> String {
        match &self.block {
            Some(b) => b.to_string(),
            None => self.addr.to_string(),
        }
    }
}

/// Client-only private hosts listed one by one per block, at most; past
/// that they are one entry for the block (a site's workstations, or a flood
/// from spoofed private sources, are not thousands of report lines).
pub const CLIENTS_LISTED: usize = 8;

/// The result of [`infer_topology`].
#[derive(Debug, Clone)]
pub struct Inference {
    /// The inferred topology, ready for `to_toml`.
    pub topology: Topology,
    /// Per-host decisions for hosts that got a role other than `internet`.
    pub hosts: Vec<InferredHost>,
}

/// Infers the roles of one host, evidence first:
///
/// 1. domain controller: DC interfaces served (DRSUAPI, Netlogon weigh 2; LSARPC, SAMR,
///    DSSETUP 1) plus Kerberos 88 and LDAP 389 answered (1 each), 2 in all (+ `dns` if it
///    answers 53);
/// 2. Exchange server: Exchange interfaces served (EMSMDB, RFR... 2; NSPI 1, as Global
///    Catalogs serve it too) or markers matched (2), 2 in all. Which role: `edge` when it
///    answers EdgeSync 50636; otherwise by generation and what it does: 2016/2019
///    `mailbox`; 2013 `mailbox` + `client_access`; 2007/2010 `mailbox`, + `client_access`
///    when it serves clients, + `hub` when it speaks SMTP; 2003 `mailbox` (+ `hub` for
///    SMTP); 5.5 and older `mailbox`;
/// 3. only ports: answers TCP 50636 → `edge`; TCP 25 and (443 or 135) → `mailbox`; TCP 25
///    only: contacted from public space → `edge`, otherwise `mailbox`;
/// 4. answers 53 → `dns`;
/// 5. nothing above and private (see [`is_private`]) → `internal_clients`;
/// 6. otherwise `internet`.
pub fn infer_roles(obs: &HostObservation, generation: Generation) -> (RoleSet, String) {
    let mut roles = RoleSet::EMPTY;
    let mut why: Vec<String> = Vec::new();
    let evidence = |mark: Mark| -> Vec<String> {
        obs.clues
            .iter()
            .filter(|c| c.mark == Some(mark))
            .map(Clue::text)
            .collect()
    };
    // Ports alone do not make a public address internal: a public SMTP or
    // DNS server answering private clients is an internet server (a
    // provider's MX, a public resolver). Content (an Exchange banner, an
    // interface served) does, and so does the Edge's perimeter pattern.
    let private = is_private(obs.addr);
    let port_dc = u32::from(obs.any(88)) + u32::from(obs.any(389));
    let dc_clues = obs.weight(Mark::DomainController);
    if dc_clues + port_dc >= 2 && (private || dc_clues >= 1) {
        roles.insert(Role::DomainController);
        let mut w = evidence(Mark::DomainController);
        if obs.any(88) {
            w.push("answers Kerberos 88".into());
        }
        if obs.any(389) {
            w.push("answers LDAP 389".into());
        }
        why.push(w.join("; "));
    }
    if obs.weight(Mark::Exchange) >= 2 {
        let mail = obs.does(Service::Mail) || obs.tcp(25);
        let client = obs.does(Service::Client) || [80, 443, 110, 143, 993, 995].iter().any(|p| obs.tcp(*p));
        if obs.tcp(50636) {
            roles.insert(Role::Edge);
        } else {
            roles.insert(Role::Mailbox);
            match generation {
                Generation::V2013 => roles.insert(Role::ClientAccess),
                Generation::V2010 | Generation::V2007 => {
                    if client {
                        roles.insert(Role::ClientAccess);
                    }
                    if mail {
                        roles.insert(Role::Hub);
                    }
                }
                Generation::V2003 if mail => roles.insert(Role::Hub),
                _ => {}
            }
        }
        let mut w = evidence(Mark::Exchange);
        if obs.tcp(50636) {
            w.push("answers EdgeSync 50636".into());
        }
        why.push(w.join("; "));
    } else if obs.tcp(50636) {
        roles.insert(Role::Edge);
        why.push("answers EdgeSync 50636 (port only)".into());
    } else if obs.tcp(25) && (private || obs.contacted_from_public) {
        if obs.tcp(443) || obs.tcp(135) {
            roles.insert(Role::Mailbox);
            why.push("answers SMTP 25 and HTTPS 443 or RPC 135 (ports only)".into());
        } else if obs.contacted_from_public {
            roles.insert(Role::Edge);
            why.push("answers only SMTP 25, contacted from public addresses (ports only)".into());
        } else {
            roles.insert(Role::Mailbox);
            why.push("answers only SMTP 25, from private addresses (ports only)".into());
        }
    }
    if obs.any(53) && (private || !roles.is_empty()) {
        roles.insert(Role::Dns);
        why.push("answers DNS 53".into());
    }
    if roles.is_empty() && private && (obs.seen_as_client || obs.serves_anything()) {
        roles.insert(Role::InternalClients);
        why.push(if obs.serves_anything() {
            "private address, no recognised server role".into()
        } else {
            "private address, client only".into()
        });
    }
    if roles.is_empty() {
        let why = if obs.serves_anything() {
            "public address; no content names a role, and ports alone do not make a public address internal"
        } else {
            "public address"
        };
        return (RoleSet::from(Role::Internet), why.to_string());
    }
    why.retain(|w| !w.is_empty());
    (roles, why.join("; "))
}

/// The generation the evidence names, with why; `None` when nothing names one.
/// Where hosts name several (a coexistence site), the newest wins and the
/// reason lists the others.
pub fn infer_generation(observations: &[HostObservation]) -> Option<(Generation, String)> {
    let mut named = clue_generations(observations, |c| c.generation);
    // Generation::ALL is newest first, and so is the derived order.
    named.sort_by_key(|a| a.0);
    let Some((best, _)) = named.first().cloned() else {
        return generation_limit(observations);
    };
    let mut why = first_reasons(&named, best);
    let others: Vec<&str> = {
        let mut v: Vec<&str> = named
            .iter()
            .filter(|(g, _)| *g != best)
            .map(|(g, _)| g.as_str())
            .collect();
        v.dedup();
        v
    };
    if !others.is_empty() {
        why.push(format!(
            "also seen: {} (coexistence; the newest is used)",
            others.join(", ")
        ));
    }
    Some((best, why.join("; ")))
}

/// Every clue's generation as `pick` reads it, with `host: clue` beside it.
fn clue_generations(
    observations: &[HostObservation],
    pick: impl Fn(&Clue) -> Option<Generation>,
) -> Vec<(Generation, String)> {
    observations
        .iter()
        .flat_map(|o| {
            o.clues
                .iter()
                .filter_map(|c| pick(c).map(|g| (g, format!("{}: {}", o.addr, c.text()))))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The first three reasons given for `g`.
fn first_reasons(list: &[(Generation, String)], g: Generation) -> Vec<String> {
    list.iter()
        .filter(|(x, _)| *x == g)
        .map(|(_, w)| w.clone())
        .take(3)
        .collect()
}

/// With no generation named: the newest one every "possible only up to"
/// clue allows (Outlook on direct RPC: 2010), with why.
fn generation_limit(observations: &[HostObservation]) -> Option<(Generation, String)> {
    let mut limits = clue_generations(observations, |c| c.until);
    // The oldest limit holds for all (the derived order is newest first).
    limits.sort_by_key(|a| std::cmp::Reverse(a.0));
    let (g, _) = limits.first()?.clone();
    let why = first_reasons(&limits, g);
    Some((
        g,
        format!(
            "{} or earlier: {} (later generations take MAPI only over HTTP); no banner names the version, so the newest possible is used",
            g.as_str(),
            why.join("; ")
        ),
    ))
}

/// Infers a topology from per-host observations. Servers are written as host
/// addresses; internal clients as the private blocks that contain them (so clients not
/// seen yet are covered too, and the more specific server entries still win).
/// `edge_subscribed` is set when an Edge was inferred. `site` gives the name and the
/// generation.
pub fn infer_topology(observations: &[HostObservation], site: Site) -> Inference {
    let generation = site.exchange;
    let mut topo = Topology::new(Site {
        edge_subscribed: false,
        ..site
    });
    let mut hosts = Vec::new();
    let mut edge_seen = false;
    // Client-only private hosts per block: how many, and the first few.
    let mut clients: Vec<(IpNetwork, u64, Vec<InferredHost>)> = Vec::new();
    for obs in observations {
        let addr = obs.addr.to_canonical();
        let (roles, reason) = infer_roles(obs, generation);
        if roles.contains(Role::Internet) {
            continue;
        }
        for role in roles.iter() {
            if role == Role::InternalClients {
                if let Some(block) = private_block(addr) {
                    topo.add(role, block);
                }
            } else {
                let len = if addr.is_ipv4() { 32 } else { 128 };
                if let Ok(net) = IpNetwork::new(addr, len) {
                    topo.add(role, net);
                }
            }
        }
        // Subscribed means EdgeSync: an Edge guessed from SMTP alone (a
        // public mail server the internet reaches) says nothing about a
        // subscription, and must not turn every other public mail server
        // into an "Edge bypass".
        edge_seen |= roles.contains(Role::Edge) && obs.tcp(50636);
        let host = InferredHost {
            addr,
            block: None,
            roles,
            reason,
            evidence: obs
                .clues
                .iter()
                .filter(|c| c.mark.is_some())
                .map(Clue::text)
                .collect(),
        };
        let client_only = roles == RoleSet::from(Role::InternalClients) && !obs.serves_anything();
        match private_block(addr).filter(|_| client_only) {
            Some(block) => {
                let i = clients
                    .iter()
                    .position(|(b, _, _)| *b == block)
                    .unwrap_or_else(|| {
                        clients.push((block, 0, Vec::new()));
                        clients.len() - 1
                    });
                if let Some((_, n, listed)) = clients.get_mut(i) {
                    *n += 1;
                    if listed.len() < CLIENTS_LISTED {
                        listed.push(host);
                    }
                }
            }
            None => hosts.push(host),
        }
    }
    for (block, n, listed) in clients {
        if n as usize <= CLIENTS_LISTED {
            hosts.extend(listed);
        } else {
            let examples: Vec<String> = listed.iter().take(3).map(|h| h.addr.to_string()).collect();
            hosts.push(InferredHost {
                addr: block.network_address(),
                block: Some(block),
                roles: RoleSet::from(Role::InternalClients),
                reason: format!(
                    "{n} private addresses, client only (e.g. {})",
                    examples.join(", ")
                ),
                evidence: Vec::new(),
            });
        }
    }
    topo.set_edge_subscribed(edge_seen);
    Inference {
        topology: topo,
        hosts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn obs(addr: &str, tcp: &[u16], udp: &[u16], public: bool, client: bool) -> HostObservation {
        HostObservation {
            addr: ip(addr),
            served_tcp: tcp.to_vec(),
            served_udp: udp.to_vec(),
            contacted_from_public: public,
            seen_as_client: client,
            clues: Vec::new(),
        }
    }

    #[test]
    fn inference_cases() {
        let dc = infer_roles(
            &obs("10.1.0.20", &[88, 389, 53, 445], &[53, 88], false, true),
            Generation::V2019,
        )
        .0;
        assert_eq!(dc, RoleSet::of(&[Role::DomainController, Role::Dns]));
        let dc_udp = infer_roles(
            &obs("10.1.0.21", &[], &[88, 389], false, false),
            Generation::V2019,
        )
        .0;
        assert_eq!(dc_udp, RoleSet::from(Role::DomainController));
        let edge = infer_roles(
            &obs("203.0.113.10", &[25, 50636], &[], true, true),
            Generation::V2019,
        )
        .0;
        assert_eq!(edge, RoleSet::from(Role::Edge));
        let mbx = infer_roles(
            &obs("10.1.0.11", &[25, 443, 135], &[], false, true),
            Generation::V2019,
        )
        .0;
        assert_eq!(mbx, RoleSet::from(Role::Mailbox));
        let mbx_ext = infer_roles(
            &obs("198.51.100.25", &[25, 443], &[], true, true),
            Generation::V2019,
        )
        .0;
        assert_eq!(mbx_ext, RoleSet::from(Role::Mailbox));
        let only25_pub = infer_roles(&obs("203.0.113.12", &[25], &[], true, true), Generation::V2019).0;
        assert_eq!(only25_pub, RoleSet::from(Role::Edge));
        let only25_int = infer_roles(&obs("10.1.0.13", &[25], &[], false, true), Generation::V2019).0;
        assert_eq!(only25_int, RoleSet::from(Role::Mailbox));
        let dns = infer_roles(&obs("10.1.0.53", &[], &[53], false, false), Generation::V2019).0;
        assert_eq!(dns, RoleSet::from(Role::Dns));
        let client = infer_roles(&obs("192.168.1.50", &[], &[], false, true), Generation::V2019).0;
        assert_eq!(client, RoleSet::from(Role::InternalClients));
        for a in [
            "fd00::5",
            "127.0.0.1",
            "::1",
            "fe80::1",
            "169.254.3.3",
            "172.20.0.1",
        ] {
            let r = infer_roles(&obs(a, &[], &[], false, true), Generation::V2019).0;
            assert_eq!(r, RoleSet::from(Role::InternalClients), "{a}");
        }
        let public_client = infer_roles(&obs("198.51.100.9", &[], &[], false, true), Generation::V2019).0;
        assert_eq!(public_client, RoleSet::from(Role::Internet));
        let public_web = infer_roles(&obs("198.51.100.10", &[443], &[], true, false), Generation::V2019).0;
        assert_eq!(public_web, RoleSet::from(Role::Internet));
    }

    #[test]
    fn infer_topology_builds_a_usable_file() {
        let observations = vec![
            obs("203.0.113.10", &[25, 50636], &[], true, true),
            obs("10.1.0.11", &[25, 443, 135], &[], false, true),
            obs("10.1.0.20", &[88, 389, 53], &[53], false, false),
            obs("10.2.0.7", &[], &[], false, true),
            obs("10.2.0.8", &[], &[], false, true),
            obs("198.51.100.9", &[], &[], false, true),
        ];
        let site = Site {
            name: "inferred".into(),
            exchange: Generation::V2019,
            edge_subscribed: false,
        };
        let inf = infer_topology(&observations, site);
        let t = &inf.topology;
        assert!(t.site().edge_subscribed);
        assert_eq!(inf.hosts.len(), 5);
        assert_eq!(t.role(ip("203.0.113.10")), Role::Edge);
        assert_eq!(t.role(ip("10.1.0.11")), Role::Mailbox);
        assert_eq!(t.role(ip("10.1.0.20")), Role::DomainController);
        assert_eq!(t.role(ip("10.2.0.99")), Role::InternalClients);
        assert_eq!(t.role(ip("198.51.100.9")), Role::Internet);
        assert_eq!(t.declared(Role::InternalClients).len(), 1);
        let back = Topology::parse(&t.to_toml(), "inferred.toml").unwrap();
        assert_eq!(back.role(ip("10.1.0.20")), Role::DomainController);
        assert!(back.roles(ip("10.1.0.20")).contains(Role::Dns));
    }

    #[test]
    fn many_private_clients_are_one_entry_per_block() {
        let mut observations = vec![obs("10.1.0.11", &[25, 443, 135], &[], false, true)];
        for i in 0..5000u32 {
            observations.push(obs(
                &format!("10.2.{}.{}", i / 250, 1 + i % 250),
                &[],
                &[],
                false,
                true,
            ));
        }
        for i in 0..3u32 {
            observations.push(obs(&format!("192.168.1.{}", 10 + i), &[], &[], false, true));
        }
        let site = Site {
            name: "inferred".into(),
            exchange: Generation::V2019,
            edge_subscribed: false,
        };
        let inf = infer_topology(&observations, site);
        let labels: Vec<String> = inf.hosts.iter().map(InferredHost::label).collect();
        // The server, 10.0.0.0/8 as one entry, the three 192.168 clients.
        assert_eq!(labels.len(), 5, "{labels:?}");
        assert_eq!(labels[0], "10.1.0.11");
        let block = inf.hosts.iter().find(|h| h.label() == "10.0.0.0/8").unwrap();
        assert!(
            block
                .reason
                .starts_with("5000 private addresses, client only (e.g. 10.2.0.1, "),
            "{}",
            block.reason
        );
        assert_eq!(block.roles, RoleSet::from(Role::InternalClients));
        assert!(labels.contains(&"192.168.1.12".to_string()), "{labels:?}");
        assert_eq!(inf.topology.role(ip("10.2.3.4")), Role::InternalClients);
        assert_eq!(inf.topology.role(ip("10.1.0.11")), Role::Mailbox);
    }

    fn exchange_clue(what: &str, service: Service, generation: Option<Generation>) -> Clue {
        Clue {
            mark: Some(Mark::Exchange),
            weight: 2,
            generation,
            until: None,
            service,
            subject: what.into(),
            what: what.into(),
            flows: vec![7],
            count: 1,
        }
    }

    #[test]
    fn evidence_outweighs_ports() {
        // Serves EMSMDB on a dynamic port and answers 135, but not 25 or 443:
        // ports alone made it an internal client.
        let mut o = obs("192.168.0.2", &[135, 1126], &[], false, false);
        assert_eq!(
            infer_roles(&o, Generation::V2019).0,
            RoleSet::from(Role::InternalClients)
        );
        o.add_clue(exchange_clue("serves emsmdb", Service::Client, None));
        let (roles, why) = infer_roles(&o, Generation::V2019);
        assert_eq!(roles, RoleSet::from(Role::Mailbox));
        assert!(why.contains("serves emsmdb (flow 7)"), "{why}");
        // 2010: a server that serves clients and speaks SMTP holds three roles.
        o.add_clue(exchange_clue("SMTP banner", Service::Mail, None));
        assert_eq!(
            infer_roles(&o, Generation::V2010).0,
            RoleSet::of(&[Role::Mailbox, Role::ClientAccess, Role::Hub])
        );
        // A public address can be an Exchange server too.
        let mut p = obs("198.51.100.25", &[], &[], true, false);
        p.add_clue(exchange_clue("SMTP banner", Service::Mail, None));
        assert_eq!(infer_roles(&p, Generation::V2019).0, RoleSet::from(Role::Mailbox));
        // A clue of weight 1 alone is not enough, nor twice the same subject
        // (announced by the endpoint mapper, then served).
        let mut g = obs("10.0.0.5", &[1026], &[], false, false);
        for what in ["the endpoint mapper announces x", "serves x"] {
            g.add_clue(Clue {
                weight: 1,
                subject: "x".into(),
                ..exchange_clue(what, Service::Client, None)
            });
        }
        assert_eq!(g.clues.len(), 2);
        assert_eq!(
            infer_roles(&g, Generation::V2019).0,
            RoleSet::from(Role::InternalClients)
        );
    }

    #[test]
    fn domain_controller_from_interfaces_and_directory_ports() {
        let dc_clue = |w: u8, what: &str| Clue {
            mark: Some(Mark::DomainController),
            weight: w,
            generation: None,
            until: None,
            service: Service::Other,
            subject: what.into(),
            what: what.into(),
            flows: vec![3],
            count: 1,
        };
        let mut o = obs("10.0.0.9", &[49667], &[], false, false);
        o.add_clue(dc_clue(2, "serves netlogon"));
        assert_eq!(
            infer_roles(&o, Generation::V2019).0,
            RoleSet::from(Role::DomainController)
        );
        // LSARPC alone is any Windows host; with LDAP answered it is a DC.
        let mut l = obs("10.0.0.10", &[49668], &[], false, false);
        l.add_clue(dc_clue(1, "serves lsarpc"));
        assert!(!infer_roles(&l, Generation::V2019)
            .0
            .contains(Role::DomainController));
        l.served_tcp.push(389);
        assert!(infer_roles(&l, Generation::V2019)
            .0
            .contains(Role::DomainController));
    }

    #[test]
    fn generation_from_evidence_newest_wins_and_says_why() {
        let mut a = obs("10.0.0.1", &[143], &[], false, false);
        a.add_clue(exchange_clue(
            "IMAP4 greeting \"version 5.5\"",
            Service::Client,
            Some(Generation::V55),
        ));
        let mut b = obs("10.0.0.2", &[25], &[], false, false);
        b.add_clue(exchange_clue(
            "SMTP banner \"6.0.3790\"",
            Service::Mail,
            Some(Generation::V2003),
        ));
        assert_eq!(infer_generation(&[a.clone()]).map(|g| g.0), Some(Generation::V55));
        let (g, why) = infer_generation(&[a, b]).unwrap();
        assert_eq!(g, Generation::V2003);
        assert!(
            why.contains("10.0.0.2") && why.contains("also seen: 5.5"),
            "{why}"
        );
        assert!(infer_generation(&[obs("10.0.0.3", &[25], &[], false, false)]).is_none());
    }

    #[test]
    fn clues_are_bounded_and_merged() {
        let mut o = obs("10.0.0.1", &[], &[], false, false);
        for i in 0..100 {
            o.add_clue(exchange_clue(&format!("clue {i}"), Service::Other, None));
        }
        assert_eq!(o.clues.len(), MAX_CLUES);
        let mut p = obs("10.0.0.1", &[], &[], false, false);
        for f in 0..50u64 {
            let mut c = exchange_clue("same", Service::Other, None);
            c.flows = vec![f];
            p.add_clue(c);
        }
        assert_eq!(p.clues.len(), 1);
        assert_eq!(p.clues[0].count, 50);
        assert_eq!(p.clues[0].flows.len(), MAX_CLUE_FLOWS);
        assert_eq!(p.clues[0].text(), "same (flows 0, 1, 2, 3, ... 50 in all)");
    }
}
