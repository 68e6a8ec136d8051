//! What the policy says about a flow: the verdict, from the rules.
//!
//! The purpose says what a flow *is* (from its content, else its port); the
//! verdict says whether the documentation allows it. Both are computed for
//! every flow, and `exaudit rules explain` asks the same question without a
//! capture.

use crate::classify::rules::{FlowFacts, Matcher, Rule};
use crate::classify::topology::SiteFacts;
use crate::vocab::{Expect, FindingKind, Proto, Severity};
use crate::vocab::{Role, RoleSet};

/// The policy's answer for one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Verdict {
    /// A rule names this path and port.
    Documented,
    /// A ground rule (G1: any port between internal Exchange servers, Lync and
    /// domain controllers) permits it without naming it.
    Allowed,
    /// The policy forbids it (a rule or ground rule G2/G3 says so).
    Violation,
    /// No rule explains it.
    Unexplained,
}

impl Verdict {
    /// Every verdict.
    pub const ALL: [Verdict; 4] = [
        Verdict::Documented,
        Verdict::Allowed,
        Verdict::Violation,
        Verdict::Unexplained,
    ];

    /// The spelling in output: `documented`, `allowed`, `violation`, `unexplained`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Documented => "documented",
            Verdict::Allowed => "allowed",
            Verdict::Violation => "violation",
            Verdict::Unexplained => "unexplained",
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// First port of the dynamic range (IANA, and Windows' RPC default).
pub const DYNAMIC_PORTS: u16 = 49152;

/// Ground rule G1, as findings and explanations cite it.
pub const G1: &str =
    "DOMAIN.md §1, \"Ground rules\", row \"G1\" (Network ports for clients and mail flow in Exchange)";
/// Ground rule G2.
pub const G2: &str =
    "DOMAIN.md §1, \"Ground rules\", row \"G2\" (Network ports for clients and mail flow in Exchange)";
/// Ground rule G3.
pub const G3: &str =
    "DOMAIN.md §1, \"Ground rules\", row \"G3\" (Network ports for clients and mail flow in Exchange)";

/// The verdict on a flow, with what it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement<'r> {
    pub verdict: Verdict,
    /// The rule that matched, if any.
    pub rule: Option<&'r Rule>,
    /// The finding kind the verdict raises (a violation's kind; a documented
    /// rule's note such as `disabled-by-default`; `unknown-service` for an
    /// unexplained service on an Exchange server).
    pub kind: Option<FindingKind>,
    /// Severity of that finding.
    pub severity: Option<Severity>,
    /// The documentation row.
    pub reference: Option<&'static str>,
}

impl Judgement<'_> {
    /// The documentation row as text: the rule's, else the ground rule's.
    pub fn reference_text(&self) -> Option<String> {
        match (self.rule, self.reference) {
            (Some(r), _) => Some(r.reference.to_string()),
            (None, Some(g)) => Some(g.to_string()),
            (None, None) => None,
        }
    }
}

/// Whether the roles hold a role inside the organisation.
pub fn internal(roles: RoleSet) -> bool {
    roles.iter().any(|r| r.is_internal())
}

/// Whether the roles hold an Exchange server role.
pub fn exchange(roles: RoleSet) -> bool {
    roles.contains(Role::Edge)
        || roles.contains(Role::Mailbox)
        || roles.contains(Role::ClientAccess)
        || roles.contains(Role::Hub)
        || roles.contains(Role::UnifiedMessaging)
}

/// Judges a flow: the first matching rule decides; without one, the ground
/// rules do (an Edge involved: G2 `undocumented-flow`; outside -> inside: G3
/// `perimeter-exposure`; a service on an Exchange server: `unknown-service`).
pub fn judge<'r>(
    matcher: &'r Matcher,
    proto: Proto,
    server_port: u16,
    client: RoleSet,
    server: RoleSet,
    site: &SiteFacts,
    facts: &FlowFacts<'_>,
) -> Judgement<'r> {
    if let Some(rule) = matcher.match_flow(proto, server_port, client, server, site, facts) {
        return of_rule(rule);
    }
    let none = Judgement {
        verdict: Verdict::Unexplained,
        rule: None,
        kind: None,
        severity: None,
        reference: None,
    };
    if proto == Proto::Any {
        return none;
    }
    let from_outside = !internal(client) && !client.contains(Role::Edge);
    if client.contains(Role::Edge) || server.contains(Role::Edge) {
        Judgement {
            verdict: Verdict::Violation,
            kind: Some(FindingKind::UndocumentedFlow),
            severity: Some(Severity::Medium),
            reference: Some(G2),
            ..none
        }
    } else if from_outside && internal(server) {
        Judgement {
            verdict: Verdict::Violation,
            kind: Some(FindingKind::PerimeterExposure),
            severity: Some(Severity::High),
            reference: Some(G3),
            ..none
        }
    } else if exchange(server) {
        Judgement {
            kind: Some(FindingKind::UnknownService),
            severity: Some(Severity::Low),
            reference: Some(G1),
            ..none
        }
    } else {
        none
    }
}

/// The verdict a matching rule gives.
pub fn of_rule(rule: &Rule) -> Judgement<'_> {
    let verdict = match rule.expect {
        Expect::Violation => Verdict::Violation,
        // A rule over every port documents no port: a ground rule's permission.
        Expect::Allowed if rule.covers_every_port() => Verdict::Allowed,
        Expect::Allowed => Verdict::Documented,
    };
    Judgement {
        verdict,
        rule: Some(rule),
        kind: rule.kind,
        severity: rule.kind.map(|_| rule.severity),
        reference: None,
    }
}

/// A reviewer's question answered without a capture (`exaudit rules explain`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Explanation {
    /// The purpose the rules give the path (the port's, when no rule names one).
    pub purpose: &'static str,
    /// `documented`, `allowed`, `violation` or `unexplained`.
    pub verdict: &'static str,
    /// The finding kind, when the verdict raises one.
    pub kind: Option<&'static str>,
    /// Its severity.
    pub severity: Option<&'static str>,
    /// The rule id, when a rule matched.
    pub rule: Option<String>,
    /// The documentation row (document, section, table, row).
    pub reference: Option<String>,
}

/// What the policy says about `client -> server proto/port` (`dynamic`: a port
/// the endpoint mapper announced, given as `None`), with the inspector facts of
/// `app` (HTTP path, TLS negotiated).
pub fn explain(
    matcher: &Matcher,
    site: &SiteFacts,
    client: RoleSet,
    server: RoleSet,
    proto: Proto,
    port: Option<u16>,
    app: &FlowFacts<'_>,
) -> Explanation {
    // `app` gives the inspector facts (HTTP path, TLS); the endpoint-mapper marker
    // follows from the port.
    let facts = FlowFacts {
        epm_announced: port.is_none(),
        ..*app
    };
    // An announced port is any port; one of the dynamic range stands for it.
    let p = port.unwrap_or(DYNAMIC_PORTS);
    let j = judge(matcher, proto, p, client, server, site, &facts);
    let purpose = j
        .rule
        .map(|r| r.purpose)
        .filter(|p| *p != crate::vocab::Purpose::Unknown)
        .or_else(|| port.and_then(|p| matcher.purpose_of_port(proto, p)))
        .unwrap_or(crate::vocab::Purpose::Unknown);
    Explanation {
        purpose: purpose.as_str(),
        verdict: j.verdict.as_str(),
        kind: j.kind.map(|k| k.as_str()),
        severity: j.severity.map(|s| s.as_str()),
        rule: j.rule.map(|r| r.id.clone()),
        reference: j.reference_text(),
    }
}
