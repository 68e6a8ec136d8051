//! Policy checks over classified flows (DOMAIN.md), deduplicated into one
//! finding per kind, host pair and service, with counts and evidence.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Serialize;

use crate::analyze::{endpoints, EndedFlow};
use crate::classify::Classified;
use crate::flow::{ConnState, Direction};
use crate::vocab::rfc3339;
use crate::vocab::{Expect, FindingKind, Purpose, Severity};
use crate::vocab::{Role, RoleSet};

/// Flow ids listed per finding (the counts cover all of them).
pub const MAX_FLOW_IDS: usize = 20;
/// Distinct client addresses listed per finding.
pub const MAX_CLIENTS: usize = 5;
/// Distinct findings kept by the streaming API ([`Findings::streaming`]);
/// hits on further ones are counted in [`Findings::overflow`].
pub const MAX_FINDINGS: usize = 10_000;
/// Server endpoints remembered as accepting connections in streaming mode.
pub const MAX_ACCEPTING: usize = 65_536;

/// A finding as the output contract prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    #[serde(rename = "type")]
    pub record: &'static str,
    pub id: String,
    pub kind: &'static str,
    pub severity: &'static str,
    pub flows: Vec<u64>,
    pub summary: String,
    pub reference: String,
    pub rule: Option<String>,
    pub evidence: Evidence,
}

/// What the finding rests on.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Evidence {
    pub flow_count: u64,
    pub packets: u64,
    pub first_ts: String,
    pub last_ts: String,
    pub client: String,
    pub clients_distinct: u64,
    pub client_examples: Vec<String>,
    pub server: String,
    pub service: String,
    pub client_role: String,
    pub server_role: String,
    /// Connection states of the flows, with counts.
    pub states: BTreeMap<String, u64>,
    /// Other flows the finding cites (e.g. the endpoint-mapper answer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub related_flows: Vec<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    kind: FindingKind,
    client: ClientKey,
    server: IpAddr,
    service: String,
}

/// Who a finding is about on the client side: one address for hosts with a
/// server role, or a whole group (every internet address, every plain
/// internal client) so that a scan, a flood or a thousand workstations
/// doing the same thing is one finding with counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum ClientKey {
    Group(Role),
    Addr(IpAddr),
}

impl ClientKey {
    fn of(client: IpAddr, roles: RoleSet) -> ClientKey {
        let grouped = !roles.is_empty()
            && roles
                .iter()
                .all(|r| matches!(r, Role::Internet | Role::InternalClients));
        if grouped {
            ClientKey::Group(roles.primary())
        } else if internal(roles) {
            ClientKey::Addr(client)
        } else {
            ClientKey::Group(Role::Internet)
        }
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientKey::Group(r) => f.write_str(r.as_str()),
            ClientKey::Addr(a) => a.fmt(f),
        }
    }
}

/// Distinct client addresses counted exactly per finding, at most.
pub const MAX_DISTINCT: usize = 65_536;

struct Acc {
    severity: Severity,
    reference: String,
    rule: Option<String>,
    summary: String,
    flow_ids: Vec<u64>,
    flow_count: u64,
    packets: u64,
    first: i64,
    last: i64,
    clients: Vec<IpAddr>,
    clients_distinct: u64,
    /// Distinct clients so far (up to [`MAX_DISTINCT`]; past that, each
    /// client not in the set counts as new).
    seen: hashbrown::HashSet<IpAddr>,
    client_role: Role,
    server_role: Role,
    states: BTreeMap<String, u64>,
    related: Vec<u64>,
    details: Vec<String>,
    /// Distinct server ports, for findings over many ports.
    ports: hashbrown::HashSet<u16>,
    order: usize,
}

/// What [`Findings::judge`] found on one flow.
pub struct Judged {
    hits: Vec<Hit>,
    unknown: Option<DirectionUnknown>,
}

/// One observation of a policy problem on one flow.
struct Hit {
    kind: FindingKind,
    severity: Severity,
    reference: String,
    rule: Option<String>,
    summary: String,
    related: Option<u64>,
    detail: Option<String>,
}

/// Collects findings one flow at a time as flows end ([`Findings::streaming`]
/// and [`Findings::observe`]), with ids fixed when a finding first appears.
#[derive(Default)]
pub struct Findings {
    acc: hashbrown::HashMap<Key, Acc>,
    /// Streaming: server endpoints seen accepting (bounded).
    accepting: hashbrown::HashSet<(IpAddr, u16, u8)>,
    /// Streaming: most distinct findings kept.
    max: usize,
    /// Streaming: hits on findings not kept because `max` was reached.
    pub overflow: u64,
    /// Flows whose direction is a guess and whose direction-dependent
    /// findings were withheld because only one reading breaks the policy.
    pub direction_unknown: u64,
    /// The first [`MAX_DIRECTION_UNKNOWN`] of them.
    pub direction_unknown_listed: Vec<DirectionUnknown>,
}

/// Flows listed as "direction unknown" (all are counted).
pub const MAX_DIRECTION_UNKNOWN: usize = 100;

/// A flow whose direction is a guess (no handshake seen, ports that do not
/// tell, content that does not either) where one reading breaks the policy
/// and the other does not: listed, not raised.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DirectionUnknown {
    pub flow: u64,
    /// The reading as recorded: `client (role) -> server:port (role)`.
    pub as_recorded: String,
    /// The direction-dependent finding kinds it would raise.
    pub as_recorded_would_raise: Vec<&'static str>,
    /// The other reading, which raises none.
    pub reversed: String,
}

/// Finding kinds whose meaning depends on which side is the client.
fn direction_dependent(kind: FindingKind) -> bool {
    matches!(
        kind,
        FindingKind::PerimeterExposure
            | FindingKind::EdgeBypass
            | FindingKind::UndocumentedFlow
            | FindingKind::UnknownService
            | FindingKind::InternalRestriction
    )
}

/// The ended flow read the other way round (the client as the server).
fn reversed(f: &EndedFlow) -> EndedFlow {
    let mut r = f.clone();
    r.flow.turn();
    r.epm = None;
    r
}

fn pair_of(f: &EndedFlow, c: &Classified<'_>) -> String {
    let ((client, _), (server, port)) = endpoints(&f.flow);
    Pair {
        client,
        cr: c.client_roles.primary(),
        server,
        port,
        sr: c.server_roles.primary(),
    }
    .to_string()
}

fn kinds_of(hits: &[Hit]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = hits
        .iter()
        .filter(|h| direction_dependent(h.kind))
        .map(|h| h.kind.as_str())
        .collect();
    v.dedup();
    v
}

/// The hits of one flow. On a flow whose direction is a guess (both sides
/// spoke), the direction-dependent ones stand only when the reversed
/// reading breaks the policy too; otherwise they are dropped and the flow
/// is returned as "direction unknown".
fn judged<'r>(
    f: &EndedFlow,
    c: &Classified<'r>,
    accepting: &hashbrown::HashSet<(IpAddr, u16, u8)>,
    is_unrestricted: &impl Fn(RoleSet, RoleSet) -> bool,
    reclassify: &impl Fn(&EndedFlow) -> Classified<'r>,
) -> (Vec<Hit>, Option<DirectionUnknown>) {
    let mut hits = check(f, c, accepting, is_unrestricted);
    // Where one side sent nothing, the side that did is the client: a
    // reading with a silent client is no reading.
    let (cp, sp) = f.flow.client_server_pkts();
    if f.flow.direction != Direction::Guessed || cp == 0 || sp == 0 {
        return (hits, None);
    }
    let mine = kinds_of(&hits);
    if mine.is_empty() {
        return (hits, None);
    }
    let r = reversed(f);
    let rc = reclassify(&r);
    let rhits = check(&r, &rc, accepting, is_unrestricted);
    let theirs = kinds_of(&rhits);
    if !theirs.is_empty() {
        // Both readings break the policy.
        return (hits, None);
    }
    hits.retain(|h| !direction_dependent(h.kind));
    let unknown = DirectionUnknown {
        flow: f.flow.id,
        as_recorded: pair_of(f, c),
        as_recorded_would_raise: mine,
        reversed: pair_of(&r, &rc),
    };
    (hits, Some(unknown))
}

/// A server address and port that accepted a TCP connection somewhere.
fn accepted(f: &EndedFlow) -> bool {
    matches!(
        f.flow.state(),
        ConnState::S1 | ConnState::SF | ConnState::S2 | ConnState::S3 | ConnState::RSTO | ConnState::RSTR
    ) || (f.flow.key.proto != crate::decode::PROTO_TCP && f.flow.client_server_pkts().1 > 0)
}

/// The server endpoint of a flow that accepted it (a REJ elsewhere on that
/// endpoint is a restriction), for the first pass of an offline audit.
pub fn accepting_endpoint(f: &EndedFlow) -> Option<(IpAddr, u16, u8)> {
    accepted(f).then(|| {
        let (_, (s, p)) = endpoints(&f.flow);
        (s, p, f.flow.key.proto)
    })
}

/// The server answered at all (not S0/REJ/RSTOS0/SH with no reply).
fn answered(f: &EndedFlow) -> bool {
    accepted(f)
        || matches!(f.flow.state(), ConnState::OTH | ConnState::SHR | ConnState::RSTRH)
            && f.flow.client_server_pkts().1 > 0
}

fn failed(f: &EndedFlow) -> Option<&'static str> {
    if f.flow.icmp.prohibited {
        return Some("answered by ICMP administratively prohibited");
    }
    match f.flow.state() {
        ConnState::S0 => Some("never answered (S0)"),
        ConnState::REJ => Some("rejected by a reset (REJ)"),
        _ => None,
    }
}

pub use crate::classify::verdict::DYNAMIC_PORTS;

/// Service key of unexplained attempts nobody answered, whatever the port:
/// a port scan is one finding per server, not one per port.
const UNANSWERED: &str = "/unanswered";

/// The service a finding is about. Unexplained or endpoint-mapper-announced
/// flows to ports of the dynamic range are one service per server
/// (`tcp/49152-65535`, `tcp/49152-65535 (emsmdb)`), and so are unexplained
/// attempts that got no answer on any port (a scan; see [`UNANSWERED`]):
/// the ports are counted and the first go to the details.
fn service_of(f: &EndedFlow, c: &Classified) -> String {
    let ((_, _), (_, port)) = endpoints(&f.flow);
    let proto = crate::vocab::proto_name(f.flow.key.proto);
    // Unexplained: no rule gave the flow its purpose.
    let unexplained = c.rule.is_none_or(|r| r.purpose == Purpose::Unknown);
    match &f.epm {
        None if unexplained && !answered(f) => format!("{proto}{UNANSWERED}"),
        Some(l) if port >= DYNAMIC_PORTS => {
            format!("{proto}/{DYNAMIC_PORTS}-65535 ({})", l.interface)
        }
        Some(l) => format!("{proto}/{port} ({})", l.interface),
        None if unexplained && port >= DYNAMIC_PORTS => format!("{proto}/{DYNAMIC_PORTS}-65535"),
        None if unexplained => format!("{proto}/{port}"),
        None => format!("{proto}/{port} ({})", c.purpose),
    }
}

impl Findings {
    /// An empty collector for [`Findings::observe`], keeping at most `max`
    /// distinct findings.
    pub fn streaming(max: usize) -> Findings {
        Findings {
            max,
            ..Findings::default()
        }
    }

    /// [`Findings::streaming`] that already knows the server endpoints a
    /// first pass saw accepting connections (at most [`MAX_ACCEPTING`]), so
    /// a REJ before the first acceptance counts as it does after.
    pub fn streaming_knowing(max: usize, accepting: hashbrown::HashSet<(IpAddr, u16, u8)>) -> Findings {
        Findings {
            max,
            accepting,
            ..Findings::default()
        }
    }

    /// Streaming: evaluates one ended flow and returns the ids of the
    /// findings it supports. Ids are `F<n>` in order of first appearance and
    /// never change. A REJ counts against a port only if that port was seen
    /// accepting before, here or in the first pass ([`Findings::streaming_knowing`];
    /// up to [`MAX_ACCEPTING`] endpoints are remembered).
    pub fn observe<'r>(
        &mut self,
        f: &EndedFlow,
        c: &Classified<'r>,
        is_unrestricted: impl Fn(RoleSet, RoleSet) -> bool,
        reclassify: impl Fn(&EndedFlow) -> Classified<'r>,
    ) -> Vec<String> {
        self.note_accepting(f);
        let j = self.judge(f, c, is_unrestricted, reclassify);
        self.record(f, c, j)
    }

    /// The policy problems of one flow, against the accepting endpoints
    /// known now; pure, so flows of a batch are judged on all cores when a
    /// first pass already knows every accepting endpoint. [`Findings::record`]
    /// then counts them, in flow order.
    pub fn judge<'r>(
        &self,
        f: &EndedFlow,
        c: &Classified<'r>,
        is_unrestricted: impl Fn(RoleSet, RoleSet) -> bool,
        reclassify: impl Fn(&EndedFlow) -> Classified<'r>,
    ) -> Judged {
        let (hits, unknown) = judged(f, c, &self.accepting, &is_unrestricted, &reclassify);
        Judged { hits, unknown }
    }

    /// Counts what [`Findings::judge`] found on `f`; returns the ids of the
    /// findings it supports.
    pub fn record(&mut self, f: &EndedFlow, c: &Classified<'_>, j: Judged) -> Vec<String> {
        self.note_accepting(f);
        self.note_unknown(j.unknown);
        let mut ids = Vec::new();
        for h in j.hits {
            if let Some(order) = self.add(f, c, h) {
                let id = format!("F{}", order + 1);
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids
    }

    fn note_accepting(&mut self, f: &EndedFlow) {
        if accepted(f) && self.accepting.len() < MAX_ACCEPTING {
            let (_, (s, p)) = endpoints(&f.flow);
            self.accepting.insert((s, p, f.flow.key.proto));
        }
    }

    fn note_unknown(&mut self, unknown: Option<DirectionUnknown>) {
        if let Some(u) = unknown {
            self.direction_unknown += 1;
            if self.direction_unknown_listed.len() < MAX_DIRECTION_UNKNOWN {
                self.direction_unknown_listed.push(u);
            }
        }
    }

    /// Distinct findings so far.
    pub fn len(&self) -> usize {
        self.acc.len()
    }

    pub fn is_empty(&self) -> bool {
        self.acc.is_empty()
    }

    /// Streaming: the findings so far, most severe first, with the ids
    /// [`Findings::observe`] gave them; `since` = n keeps only the findings
    /// that appeared after the first n.
    pub fn snapshot(&self, since: usize) -> Vec<Finding> {
        let mut entries: Vec<(&Key, &Acc)> = self.acc.iter().filter(|(_, a)| a.order >= since).collect();
        entries.sort_by(|a, b| b.1.severity.cmp(&a.1.severity).then(a.1.order.cmp(&b.1.order)));
        entries
            .into_iter()
            .map(|(k, a)| to_finding(format!("F{}", a.order + 1), k, a))
            .collect()
    }

    /// Adds a hit; returns the finding's order of appearance, or `None`
    /// when a new finding was refused at the streaming cap.
    fn add(&mut self, f: &EndedFlow, c: &Classified<'_>, h: Hit) -> Option<usize> {
        let ((client, _), (server, port)) = endpoints(&f.flow);
        let service = service_of(f, c);
        let many_ports = service.contains("-65535") || service.ends_with(UNANSWERED);
        let port_detail = many_ports.then(|| format!("port {port}"));
        let key = Key {
            kind: h.kind,
            client: ClientKey::of(client, c.client_roles),
            server,
            service,
        };
        let order = self.acc.len();
        if self.max > 0 && order >= self.max && !self.acc.contains_key(&key) {
            self.overflow += 1;
            return None;
        }
        let a = self.acc.entry(key).or_insert_with(|| Acc {
            severity: h.severity,
            reference: h.reference.clone(),
            rule: h.rule.clone(),
            summary: h.summary.clone(),
            flow_ids: Vec::new(),
            flow_count: 0,
            packets: 0,
            first: f.flow.first_ts,
            last: f.flow.last_ts,
            clients: Vec::new(),
            clients_distinct: 0,
            seen: hashbrown::HashSet::new(),
            client_role: c.client_roles.primary(),
            server_role: c.server_roles.primary(),
            states: BTreeMap::new(),
            related: Vec::new(),
            details: Vec::new(),
            ports: hashbrown::HashSet::new(),
            order,
        });
        a.severity = a.severity.max(h.severity);
        if a.flow_ids.len() < MAX_FLOW_IDS {
            a.flow_ids.push(f.flow.id);
        }
        a.flow_count += 1;
        let (cp, sp) = f.flow.client_server_pkts();
        a.packets += cp + sp;
        a.first = a.first.min(f.flow.first_ts);
        a.last = a.last.max(f.flow.last_ts);
        if !a.seen.contains(&client) {
            a.clients_distinct += 1;
            if a.seen.len() < MAX_DISTINCT {
                a.seen.insert(client);
            }
            if a.clients.len() < MAX_CLIENTS {
                a.clients.push(client);
            }
        }
        *a.states.entry(f.flow.state().as_str().to_string()).or_insert(0) += 1;
        if let Some(r) = h.related {
            if !a.related.contains(&r) && a.related.len() < MAX_FLOW_IDS {
                a.related.push(r);
            }
        }
        if many_ports {
            a.ports.insert(port);
        }
        for d in h.detail.into_iter().chain(port_detail) {
            if !a.details.contains(&d) && a.details.len() < 8 {
                a.details.push(d);
            }
        }
        Some(a.order)
    }
}

fn to_finding(id: String, k: &Key, a: &Acc) -> Finding {
    // A grouped finding names how many clients it covers, not just the first.
    let mut summary = a.summary.clone();
    if let (ClientKey::Group(_), Some(first)) = (k.client, a.clients.first()) {
        if a.clients_distinct > 1 {
            if let Some(rest) = summary.strip_prefix(&first.to_string()) {
                summary = format!("{} hosts, e.g. {first}{rest}", a.clients_distinct);
            }
        }
    }
    // A finding over the dynamic range names the range, not its first port;
    // one over unanswered attempts names its port, or how many there were.
    let first_port = a.details.iter().find_map(|d| d.strip_prefix("port "));
    let mut service = k.service.clone();
    if let Some(p) = first_port {
        if k.service.contains("-65535") {
            summary = summary.replacen(&format!(":{p} ("), &format!(":{DYNAMIC_PORTS}-65535 ("), 1);
        } else if let Some(proto) = k.service.strip_suffix(UNANSWERED) {
            let n = a.ports.len();
            if n > 1 {
                let lo = a.ports.iter().min().copied().unwrap_or(0);
                let hi = a.ports.iter().max().copied().unwrap_or(0);
                service = format!("{proto}/{n} ports in {lo}-{hi} (unanswered)");
                let others = n - 1;
                summary =
                    summary.replacen(&format!(":{p} ("), &format!(":{p} and {others} other ports ("), 1);
            } else {
                service = format!("{proto}/{p}");
            }
        }
    }
    Finding {
        record: "finding",
        id,
        kind: k.kind.as_str(),
        severity: a.severity.as_str(),
        flows: a.flow_ids.clone(),
        summary,
        reference: a.reference.clone(),
        rule: a.rule.clone(),
        evidence: Evidence {
            flow_count: a.flow_count,
            packets: a.packets,
            first_ts: rfc3339(a.first),
            last_ts: rfc3339(a.last),
            client: k.client.to_string(),
            clients_distinct: a.clients_distinct,
            client_examples: a.clients.iter().map(|c| c.to_string()).collect(),
            server: k.server.to_string(),
            service,
            client_role: a.client_role.as_str().to_string(),
            server_role: a.server_role.as_str().to_string(),
            states: a.states.clone(),
            related_flows: a.related.clone(),
            details: a.details.clone(),
        },
    }
}

use crate::classify::verdict::{internal, G1};
const SEC2_80: &str = "DOMAIN.md §2, \"Clients and services\", row \"Unencrypted web (80/TCP)\": credentials over 80 are a finding";
const SEC2_POP3: &str = "DOMAIN.md §2, \"Clients and services\", row \"POP3 clients\" (110/TCP, 995/TCP secure POP3); credentials seen in clear are a finding as on 80/TCP";
const SEC2_IMAP: &str = "DOMAIN.md §2, \"Clients and services\", row \"IMAP4 clients\" (143/TCP, 993/TCP secure IMAP); credentials seen in clear are a finding as on 80/TCP";
const SEC2_SMTP: &str = "DOMAIN.md §2, \"Clients and services\", row \"Authenticated SMTP clients\" (587/TCP, TLS); credentials seen in clear are a finding as on 80/TCP";
const SEC5_LDAP: &str = "DOMAIN.md §5, row \"Any role -> Active Directory\" (LDAP 389/3268, Kerberos); a simple bind sends the password in clear, a finding as on 80/TCP";

fn check(
    f: &EndedFlow,
    c: &Classified<'_>,
    accepting: &hashbrown::HashSet<(IpAddr, u16, u8)>,
    is_unrestricted: &impl Fn(RoleSet, RoleSet) -> bool,
) -> Vec<Hit> {
    let mut hits = Vec::new();
    let ((client, _), (server, port)) = endpoints(&f.flow);
    let (cr, sr) = (c.client_roles.primary(), c.server_roles.primary());
    // Formatted only into the findings that use it.
    let pair = Pair {
        client,
        cr,
        server,
        port,
        sr,
    };
    let g1_path = is_unrestricted(c.client_roles, c.server_roles);

    // G1: failed connections on paths that must not be restricted.
    if g1_path {
        if let Some(how) = failed(f) {
            let documented = c.rule.is_some_and(|r| r.purpose != Purpose::Unknown);
            let seen_open = accepting.contains(&(server, port, f.flow.key.proto));
            let counts = f.flow.state() != ConnState::REJ || documented || seen_open || f.epm.is_some();
            if counts {
                let (summary, related) = match &f.epm {
                    Some(l) => (
                        format!(
                            "the endpoint mapper (flow {}) announced {server}:{port} for {}, but the connection from {client} was {how}: a firewall restricts RPC between Exchange servers / domain controllers",
                            l.epm_flow, l.interface
                        ),
                        Some(l.epm_flow),
                    ),
                    None => (format!("{pair} was {how}: traffic on this path must not be restricted"), None),
                };
                hits.push(Hit {
                    kind: FindingKind::InternalRestriction,
                    severity: Severity::High,
                    reference: G1.to_string(),
                    rule: c.rule.map(|r| r.id.clone()),
                    summary,
                    related,
                    detail: None,
                });
            }
        }
    }

    // Rules that name a finding kind.
    if let Some(rule) = c.rule {
        let attempt_counts =
            rule.kind == Some(FindingKind::UndocumentedFlow) && rule.expect == Expect::Violation;
        let redirect_only = rule.kind == Some(FindingKind::CleartextProtocol)
            && f.app.http.as_ref().is_some_and(|h| {
                h.redirect_to_https
                    && !h.status_codes.is_empty()
                    && h.status_codes
                        .iter()
                        .all(|s| matches!(s, 301 | 302 | 303 | 307 | 308))
            });
        if let Some(kind) = rule.kind {
            let info_only = rule.expect == Expect::Allowed
                && rule.severity == Severity::Info
                && kind == FindingKind::UnknownService;
            if !redirect_only
                && (answered(f) || attempt_counts)
                && !(info_only && g1_path && failed(f).is_some())
            {
                // The summary says what the kind says.
                let what = match (rule.expect, kind) {
                    (Expect::Violation, _) => "violates rule",
                    (_, FindingKind::ConfigurationNote) => {
                        "is documented only under a configuration condition, rule"
                    }
                    (_, FindingKind::UnknownService) => {
                        "is allowed by a ground rule but no rule names its service, rule"
                    }
                    (_, FindingKind::DisabledByDefault) => "uses a service that is disabled by default, rule",
                    (_, FindingKind::CleartextProtocol) => {
                        "is documented but in clear text where an encrypted form exists, rule"
                    }
                    _ => "is documented, with a finding noted by rule",
                };
                hits.push(Hit {
                    kind,
                    severity: rule.severity,
                    reference: rule.reference.to_string(),
                    rule: Some(rule.id.clone()),
                    summary: format!(
                        "{pair} {what} {}{}",
                        rule.id,
                        rule.note.as_ref().map(|n| format!(": {n}")).unwrap_or_default()
                    ),
                    related: None,
                    detail: None,
                });
            }
        }
    } else if let (Some(kind), Some(severity), Some(reference)) =
        (c.judgement.kind, c.judgement.severity, c.judgement.reference)
    {
        // No rule explains the flow: the ground rules judged it (classify::verdict).
        let (raise, summary) = match kind {
            FindingKind::UndocumentedFlow => (
                answered(f) || f.flow.state() == ConnState::S0,
                format!("{pair}: no documented Edge Transport path (DOMAIN.md §3-4) covers this flow"),
            ),
            FindingKind::PerimeterExposure => (
                answered(f),
                format!("{pair}: an internal host answers the internet on an undocumented port"),
            ),
            _ => (
                answered(f),
                format!("{pair}: no rule explains this service on an Exchange server"),
            ),
        };
        if raise {
            hits.push(Hit {
                kind,
                severity,
                reference: reference.to_string(),
                rule: None,
                summary,
                related: None,
                detail: None,
            });
        }
    }

    // What the inspectors saw.
    let exch_path = g1_path;
    if let Some(s) = &f.app.smtp {
        if s.banner_masked || s.capabilities_masked > 0 || s.commands_masked > 0 {
            let mut what = Vec::new();
            if s.banner_masked {
                what.push("the server banner is masked with asterisks".to_string());
            }
            if s.capabilities_masked > 0 {
                what.push(format!(
                    "{} EHLO capabilities are replaced by XXXX",
                    s.capabilities_masked
                ));
            }
            if s.commands_masked > 0 {
                what.push(format!(
                    "{} client commands are replaced by XXXX",
                    s.commands_masked
                ));
            }
            hits.push(Hit {
                kind: FindingKind::WireAlteration,
                severity: if exch_path { Severity::High } else { Severity::Medium },
                reference: G1.to_string(),
                rule: c.rule.map(|r| r.id.clone()),
                summary: format!("{pair}: SMTP altered on the wire ({}), the signature of a firewall's SMTP inspection (e.g. Cisco ASA ESMTP)", what.join("; ")),
                related: None,
                detail: Some("masking breaks STARTTLS and Exchange authentication between servers".into()),
            });
        }
        if s.auth_before_tls {
            hits.push(cleartext_credentials(
                c,
                &pair,
                format!("SMTP AUTH {}", s.auth_mechanism_used.as_deref().unwrap_or("")).trim(),
                SEC2_SMTP,
            ));
        }
    }
    if let Some(p) = &f.app.pop3 {
        if p.cleartext_login {
            hits.push(cleartext_credentials(
                c,
                &pair,
                &format!("POP3 {}", p.login_mechanism.as_deref().unwrap_or("login")),
                SEC2_POP3,
            ));
        }
    }
    if let Some(p) = &f.app.imap {
        if p.cleartext_login {
            hits.push(cleartext_credentials(
                c,
                &pair,
                &format!("IMAP {}", p.login_mechanism.as_deref().unwrap_or("login")),
                SEC2_IMAP,
            ));
        }
    }
    if let Some(h) = &f.app.http {
        if h.basic_credentials {
            hits.push(cleartext_credentials(c, &pair, "HTTP Basic credentials", SEC2_80));
        }
        if !h.ntlm.is_empty() && h.ntlm.contains(&"authenticate") {
            hits.push(cleartext_credentials(
                c,
                &pair,
                "an NTLM authentication (a challenge response an eavesdropper can crack or relay)",
                SEC2_80,
            ));
        }
    }
    if let Some(l) = &f.app.ldap {
        if l.simple_with_password && !l.starttls {
            hits.push(cleartext_credentials(
                c,
                &pair,
                "an LDAP simple bind with a password",
                SEC5_LDAP,
            ));
        }
    }
    if let Some(t) = &f.app.tls {
        if t.weak {
            hits.push(Hit {
                kind: FindingKind::WeakTls,
                severity: Severity::Medium,
                reference: "DOMAIN.md §2, \"Clients and services\": encrypted connections (TLS); versions below TLS 1.2 are deprecated".into(),
                rule: c.rule.map(|r| r.id.clone()),
                summary: {
                    let sni = t.sni.as_ref().map(|s| format!(" (SNI {s})")).unwrap_or_default();
                    // "1.0" is TLS 1.0, "ssl3" SSL 3.0.
                    let label = |v: &str| match v.strip_prefix("ssl") {
                        Some(n) => format!("SSL {n}.0"),
                        None => format!("TLS {v}"),
                    };
                    match (&t.version, t.server_hello) {
                        (Some(v), true) => format!("{pair}: {} negotiated{sni}", label(v)),
                        _ => format!(
                            "{pair}: the client offered only {}{sni}, and no server answer was seen",
                            t.client_versions
                                .first()
                                .map_or("versions below TLS 1.2".to_string(), |v| format!("{} and older", label(v)))
                        ),
                    }
                },
                related: None,
                detail: None,
            });
        }
    }
    hits
}

/// `client (role) -> server:port (role)`, formatted on use.
struct Pair {
    client: IpAddr,
    cr: Role,
    server: IpAddr,
    port: u16,
    sr: Role,
}

impl std::fmt::Display for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) -> {}:{} ({})",
            self.client, self.cr, self.server, self.port, self.sr
        )
    }
}

fn cleartext_credentials(c: &Classified<'_>, pair: &Pair, what: &str, reference: &str) -> Hit {
    Hit {
        kind: FindingKind::CleartextCredentials,
        severity: Severity::High,
        reference: reference.to_string(),
        rule: c.rule.map(|r| r.id.clone()),
        summary: format!("{pair}: {what} sent in clear text (the credential itself is not recorded)"),
        related: None,
        detail: None,
    }
}
