//! A flow's purpose from its own content.

use crate::analyze::EndedFlow;
use crate::classify::rules::{Interface, RuleSet};
use crate::inspect::dcerpc::{ContextResult, DcerpcFacts};
use crate::vocab::{Purpose, Uuid};
use crate::vocab::{Role, RoleSet};

/// Where a flow's purpose came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PurposeSource {
    /// What the flow carried (a bind, a greeting, a path, a server name...).
    Content,
    /// Only its port (and the roles of its ends).
    Port,
    /// Nothing: the purpose is `unknown`.
    None,
}

impl PurposeSource {
    /// `content`, `port`, or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            PurposeSource::Content => "content",
            PurposeSource::Port => "port",
            PurposeSource::None => "none",
        }
    }
}

/// The DCE/RPC interfaces a flow binds that the interface table names (not
/// refused by the server; an unanswered bind counts, as in a one-sided
/// capture), in first-seen order, the endpoint mapper left out.
pub fn bound_interfaces<'r>(d: &DcerpcFacts, rules: &'r RuleSet) -> Vec<&'r Interface> {
    let t = rules.interfaces();
    let mut out: Vec<&Interface> = Vec::new();
    for b in &d.interfaces {
        let refused = matches!(
            b.result,
            Some(ContextResult::UserRejection | ContextResult::ProviderRejection(_))
        );
        if refused {
            continue;
        }
        if let Some(i) = t.get(&Uuid(b.uuid.0)) {
            if i.name != "epm" && !out.iter().any(|o| o.uuid == i.uuid) {
                out.push(i);
            }
        }
    }
    out
}

/// Whether the flow speaks to the endpoint mapper: it binds it, calls it, or
/// carries its answers.
pub fn is_epm(d: &DcerpcFacts, rules: &RuleSet) -> bool {
    let Some(epm) = rules.interfaces().uuid_of("epm") else {
        return !d.epm_answers.is_empty();
    };
    !d.epm_answers.is_empty()
        || d.interfaces.iter().any(|b| b.uuid.0 == epm.0)
        || d.calls.iter().any(|c| c.interface.is_some_and(|u| u.0 == epm.0))
}

/// The content evidence of one flow, read once.
pub struct Seen<'f, 'r> {
    f: &'f EndedFlow,
    epm: bool,
    interfaces: Vec<&'r Interface>,
    announced: Option<&'r Interface>,
}

/// The port of the RPC endpoint mapper (RPCSS also serves DCOM activation there).
const EPM_PORT: u16 = 135;
/// RFC 1006's port, X.400's default (KB 176466).
const X400_PORT: u16 = 102;

fn describe(i: &Interface) -> String {
    if i.service.is_empty() {
        i.name.clone()
    } else {
        format!("{} ({})", i.name, i.service)
    }
}

impl<'f, 'r> Seen<'f, 'r> {
    pub fn of(f: &'f EndedFlow, rules: &'r RuleSet) -> Seen<'f, 'r> {
        let (epm, interfaces) = match &f.app.dcerpc {
            Some(d) => (is_epm(d, rules), bound_interfaces(d, rules)),
            None => (false, Vec::new()),
        };
        let announced = f.epm.as_ref().and_then(|l| {
            let t = rules.interfaces();
            t.uuid_of(&l.interface).and_then(|u| t.get(&u))
        });
        Seen {
            f,
            epm,
            interfaces,
            announced,
        }
    }

    /// Whether the flow is to a dynamic RPC endpoint: the endpoint mapper
    /// announced it, or it binds a known interface away from port 135 (the
    /// mapper's answer was before the capture started).
    pub fn dynamic_endpoint(&self, server_port: u16) -> bool {
        self.f.epm.is_some() || (!self.interfaces.is_empty() && !self.epm && server_port != EPM_PORT)
    }

    /// The purpose the content gives, with what it named; `None` when the
    /// content says nothing (then the port decides).
    pub fn purpose(
        &self,
        client: RoleSet,
        server: RoleSet,
        server_port: u16,
        rules: &RuleSet,
    ) -> Option<(Purpose, Option<String>)> {
        let app = &self.f.app;
        let markers = rules.markers();
        // RPC over HTTP (Outlook Anywhere) before the DCE/RPC inside it.
        if app
            .dcerpc
            .as_ref()
            .is_some_and(|d| d.rpc_over_http.is_some() || d.ncacn_http)
        {
            let named = self.interfaces.first().map(|i| describe(i));
            return Some((Purpose::OutlookAnywhere, named));
        }
        if let Some(path) = app.http_path() {
            if let Some(p) = markers.http_purpose(path) {
                return Some((p, Some(format!("HTTP {path}"))));
            }
        }
        if let Some(d) = &app.dcerpc {
            if self.epm || (server_port == EPM_PORT && self.f.epm.is_none()) {
                let what = if !d.epm_answers.is_empty() {
                    format!("endpoint mapper, {} answers", d.epm_answers.len())
                } else if self.epm {
                    "endpoint mapper".to_string()
                } else {
                    match self.interfaces.first() {
                        Some(i) => format!("{} on the endpoint-mapper port", describe(i)),
                        None => "DCE/RPC on the endpoint-mapper port".to_string(),
                    }
                };
                return Some((Purpose::RpcEpm, Some(what)));
            }
            let named = self
                .announced
                .or(self.interfaces.first().copied())
                .map(describe)
                .or_else(|| self.f.epm.as_ref().map(|l| l.interface.clone()))
                .unwrap_or_else(|| "DCE/RPC, interface not seen".to_string());
            return Some((Purpose::RpcDynamic, Some(named)));
        }
        if let Some(l) = &self.f.epm {
            let named = self
                .announced
                .map(describe)
                .unwrap_or_else(|| l.interface.clone());
            return Some((
                Purpose::RpcDynamic,
                Some(format!("{named}, announced by flow {}", l.epm_flow)),
            ));
        }
        if let Some(o) = &app.osi {
            if let Some((p, oid)) = markers.osi_purpose(&o.oids) {
                return Some((p, Some(format!("RFC 1006, OSI object identifier {oid}"))));
            }
            // ISO transport on the X.400 port with no context seen (yet): X.400,
            // unless the upper layer says otherwise (S7, another OSI application).
            if server_port == X400_PORT && o.oids.is_empty() && !o.s7comm {
                return Some((
                    Purpose::X400Mta,
                    Some("RFC 1006 on 102, application context not seen".to_string()),
                ));
            }
        }
        if let Some(s) = &app.smtp {
            let p = smtp_purpose(client, server, server_port, s.auth_mechanism_used.is_some());
            return Some((p, None));
        }
        if app.pop3.is_some() {
            return Some((Purpose::Pop3, None));
        }
        if app.imap.is_some() {
            return Some((Purpose::Imap4, None));
        }
        if let Some(l) = &app.ldap {
            if !l.invalid && l.messages > 0 {
                let gc = matches!(server_port, 3268 | 3269);
                return Some((if gc { Purpose::LdapGc } else { Purpose::Ldap }, None));
            }
        }
        if let Some(t) = &app.tls {
            if let Some(sni) = &t.sni {
                if let Some(p) = markers.http_purpose_of_name(sni) {
                    return Some((p, Some(format!("TLS server name {sni}"))));
                }
            }
        }
        if let Some(a) = &app.auth {
            if !a.kerberos.is_empty() && app.http.is_none() && app.tls.is_none() {
                return Some((Purpose::Kerberos, Some(a.kerberos.join(", "))));
            }
        }
        None
    }
}

fn exchange_server(r: RoleSet) -> bool {
    r.contains(Role::Mailbox)
        || r.contains(Role::ClientAccess)
        || r.contains(Role::Hub)
        || r.contains(Role::UnifiedMessaging)
}

fn outside(r: RoleSet) -> bool {
    r.contains(Role::Internet) || r.contains(Role::Perimeter)
}

/// The SMTP purpose of a dialogue, by the roles of its ends (DESIGN.md's
/// purpose ids): through the Edge, around it, between internal servers, or
/// a client submitting.
pub fn smtp_purpose(client: RoleSet, server: RoleSet, server_port: u16, authenticated: bool) -> Purpose {
    let c_edge = client.contains(Role::Edge);
    let s_edge = server.contains(Role::Edge);
    if server_port == 587 {
        return Purpose::SmtpSubmission;
    }
    if s_edge {
        return if outside(client) {
            Purpose::SmtpInbound
        } else if c_edge {
            Purpose::SmtpIntraOrg
        } else {
            Purpose::SmtpEdgeOutbound
        };
    }
    if c_edge {
        return if exchange_server(server) {
            Purpose::SmtpEdgeInbound
        } else {
            Purpose::SmtpOutbound
        };
    }
    if exchange_server(server) {
        return if exchange_server(client) {
            Purpose::SmtpIntraOrg
        } else if client.contains(Role::InternalClients) || authenticated {
            Purpose::SmtpSubmission
        } else {
            Purpose::SmtpInbound
        };
    }
    if exchange_server(client) {
        return Purpose::SmtpOutbound;
    }
    // Neither end is a known Exchange server.
    if client.contains(Role::InternalClients) && authenticated {
        Purpose::SmtpSubmission
    } else if outside(server) && !outside(client) {
        Purpose::SmtpOutbound
    } else {
        Purpose::SmtpInbound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(role: Role) -> RoleSet {
        RoleSet::from(role)
    }

    #[test]
    fn smtp_purposes_follow_the_roles_of_the_ends() {
        use Role::*;
        let cases = [
            (Internet, Edge, 25, Purpose::SmtpInbound),
            (Edge, Mailbox, 25, Purpose::SmtpEdgeInbound),
            (Mailbox, Edge, 25, Purpose::SmtpEdgeOutbound),
            (Edge, Internet, 25, Purpose::SmtpOutbound),
            (Mailbox, Internet, 25, Purpose::SmtpOutbound),
            (Internet, Mailbox, 25, Purpose::SmtpInbound),
            (Mailbox, Hub, 25, Purpose::SmtpIntraOrg),
            (Edge, Edge, 25, Purpose::SmtpIntraOrg),
            (InternalClients, Mailbox, 25, Purpose::SmtpSubmission),
            (Internet, Mailbox, 587, Purpose::SmtpSubmission),
            (Internet, Internet, 25, Purpose::SmtpInbound),
            (InternalClients, Internet, 25, Purpose::SmtpOutbound),
        ];
        for (c, s, port, want) in cases {
            assert_eq!(smtp_purpose(r(c), r(s), port, false), want, "{c} -> {s}:{port}");
        }
        assert_eq!(
            smtp_purpose(r(Internet), r(Mailbox), 25, true),
            Purpose::SmtpSubmission
        );
    }
}
