//! Flow + facts + topology + rules -> one purpose and the rule behind it.

use crate::analyze::{endpoints, EndedFlow};
use crate::rules::{FlowFacts, Matcher, Proto, Purpose, Rule, SiteFacts};
use crate::topology::{RoleSet, Topology};

/// The classification of one flow.
#[derive(Debug, Clone, Copy)]
pub struct Classified<'r> {
    pub purpose: Purpose,
    pub rule: Option<&'r Rule>,
    pub client_roles: RoleSet,
    pub server_roles: RoleSet,
}

/// Classifies flows against one site's rules.
pub struct Classifier<'a> {
    matcher: &'a Matcher,
    topology: &'a Topology,
    site: SiteFacts,
}

impl<'a> Classifier<'a> {
    pub fn new(matcher: &'a Matcher, topology: &'a Topology) -> Classifier<'a> {
        Classifier {
            matcher,
            topology,
            site: topology.site_facts(),
        }
    }

    pub fn topology(&self) -> &Topology {
        self.topology
    }

    pub fn matcher(&self) -> &Matcher {
        self.matcher
    }

    /// The purpose of `f` and the rule that gives it.
    pub fn classify(&self, f: &EndedFlow) -> Classified<'a> {
        let ((client, _), (server, server_port)) = endpoints(&f.flow);
        let client_roles = self.topology.roles(client);
        let server_roles = self.topology.roles(server);
        let rule = Proto::from_ip_protocol(f.flow.key.proto).and_then(|proto| {
            let facts = FlowFacts {
                http_path: f.app.http_path(),
                tls: f.app.tls_negotiated(),
                epm_announced: f.epm.is_some(),
            };
            self.matcher
                .match_flow(proto, server_port, client_roles, server_roles, &self.site, &facts)
        });
        Classified {
            purpose: rule.map(|r| r.purpose).unwrap_or(Purpose::Unknown),
            rule,
            client_roles,
            server_roles,
        }
    }
}
