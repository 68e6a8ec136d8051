//! Flow + facts + topology + rules -> what the flow is (its purpose, from
//! evidence) and what the policy says about it (its verdict, from the rules).
//!
//! DESIGN.md, "The classifier": the purpose comes from the flow's own content
//! first (an endpoint-mapper bind on any port is `rpc-epm`, a connection the
//! mapper announced or that binds a known interface is `rpc-dynamic`, an SMTP
//! dialogue is `smtp-*` by the roles of its ends, an HTTP path or TLS server
//! name gives the web service, ...), and from the port only when the content
//! says nothing. The verdict comes from the rules matched on roles, protocol,
//! port and facts.

pub mod evidence;
pub mod markers;
pub mod purpose;
pub mod rules;
pub mod topology;
pub mod verdict;

use crate::analyze::{endpoints, EndedFlow};
use crate::classify::rules::{FlowFacts, Matcher, Rule, RuleSet};
use crate::classify::topology::SiteFacts;
use crate::classify::topology::Topology;
use crate::vocab::RoleSet;
use crate::vocab::{Proto, Purpose};

pub use purpose::{PurposeSource, Seen};
pub use verdict::{Judgement, Verdict};

/// The classification of one flow.
#[derive(Debug, Clone)]
pub struct Classified<'r> {
    /// What the flow is.
    pub purpose: Purpose,
    /// Where the purpose came from.
    pub source: PurposeSource,
    /// What the content named, e.g. `emsmdb (Exchange store, MAPI over RPC)`.
    pub detail: Option<String>,
    /// What the policy says.
    pub judgement: Judgement<'r>,
    /// The rule that matched (also in `judgement`).
    pub rule: Option<&'r Rule>,
    pub client_roles: RoleSet,
    pub server_roles: RoleSet,
}

impl Classified<'_> {
    /// The verdict.
    pub fn verdict(&self) -> Verdict {
        self.judgement.verdict
    }
}

/// Classifies flows against one site's rules.
pub struct Classifier<'a> {
    matcher: &'a Matcher,
    topology: &'a Topology,
    rules: &'a RuleSet,
    site: SiteFacts,
}

impl<'a> Classifier<'a> {
    pub fn new(matcher: &'a Matcher, topology: &'a Topology, rules: &'a RuleSet) -> Classifier<'a> {
        Classifier {
            matcher,
            topology,
            rules,
            site: topology.site_facts(),
        }
    }

    pub fn topology(&self) -> &Topology {
        self.topology
    }

    pub fn matcher(&self) -> &Matcher {
        self.matcher
    }

    /// The purpose and verdict of `f`.
    pub fn classify(&self, f: &EndedFlow) -> Classified<'a> {
        let ((client, _), (server, server_port)) = endpoints(&f.flow);
        let client_roles = self.topology.roles(client);
        let server_roles = self.topology.roles(server);
        let seen = Seen::of(f, self.rules);
        let proto = Proto::from_ip_protocol(f.flow.key.proto);
        let judgement = match proto {
            Some(proto) => {
                let facts = FlowFacts {
                    http_path: f.app.http_path(),
                    tls: f.app.tls_negotiated(),
                    epm_announced: seen.dynamic_endpoint(server_port),
                };
                verdict::judge(
                    self.matcher,
                    proto,
                    server_port,
                    client_roles,
                    server_roles,
                    &self.site,
                    &facts,
                )
            }
            None => verdict::judge(
                self.matcher,
                Proto::Any,
                server_port,
                client_roles,
                server_roles,
                &self.site,
                &FlowFacts::default(),
            ),
        };
        let (purpose, source, detail) =
            match seen.purpose(client_roles, server_roles, server_port, self.rules) {
                Some((p, detail)) => (p, PurposeSource::Content, detail),
                None => match judgement
                    .rule
                    .map(|r| r.purpose)
                    .filter(|p| *p != Purpose::Unknown)
                {
                    Some(p) => (p, PurposeSource::Port, None),
                    None => match proto.and_then(|p| self.matcher.purpose_of_port(p, server_port)) {
                        Some(p) => (p, PurposeSource::Port, None),
                        None => (Purpose::Unknown, PurposeSource::None, None),
                    },
                },
            };
        Classified {
            purpose,
            source,
            detail,
            rule: judgement.rule,
            judgement,
            client_roles,
            server_roles,
        }
    }
}
