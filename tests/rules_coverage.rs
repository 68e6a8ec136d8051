//! Every rule of the default rule files is exercised by at least one flow of a
//! capture: for each Exchange generation and Edge setting, a synthetic capture
//! holds one conversation per rule (client and server in the rule's roles, a
//! port of the rule, the HTTP path or STARTTLS the rule asks for, and for the
//! endpoint-mapper rules a real Samba endpoint-mapper answer replayed just
//! before the follow-up connection), and the binary must name that rule.
//! Real captures exercise the common rules too (tests/policy.rs); synthetic
//! flows are needed because no lab can run every generation at once.

mod common;

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use common::pcapgen::{tcp_payloads, Pcap};
use exaudit::classify::rules::{FlowFacts, PortSpec, RuleSet};
use exaudit::classify::topology::{SiteFacts, SitePorts};
use exaudit::vocab::Proto;
use exaudit::vocab::{Generation, Role, RoleSet};

fn addr(role: Role) -> Ipv4Addr {
    match role {
        Role::Internet => Ipv4Addr::new(198, 51, 100, 7),
        Role::Edge => Ipv4Addr::new(10, 9, 0, 10),
        Role::Perimeter => Ipv4Addr::new(10, 9, 0, 99),
        Role::Mailbox => Ipv4Addr::new(10, 1, 0, 11),
        Role::ClientAccess => Ipv4Addr::new(10, 1, 0, 31),
        Role::Hub => Ipv4Addr::new(10, 1, 0, 41),
        Role::DomainController => Ipv4Addr::new(10, 1, 0, 20),
        Role::Dns => Ipv4Addr::new(10, 1, 0, 53),
        Role::Lync => Ipv4Addr::new(10, 1, 0, 61),
        Role::UnifiedMessaging => Ipv4Addr::new(10, 1, 0, 71),
        Role::InternalClients => Ipv4Addr::new(10, 2, 0, 50),
    }
}

fn topology(g: Generation, edge: bool) -> String {
    let mut t = format!(
        "[site]\nname = \"coverage\"\nexchange = \"{}\"\nedge_subscribed = {edge}\nsender_reputation_proxy_port = {}\nrfc1006_port = {}\n[roles]\n",
        g.as_str(),
        SITE_PORTS.sender_reputation_proxy.unwrap_or_default(),
        SITE_PORTS.rfc1006.unwrap_or_default(),
    );
    for role in Role::ALL {
        if role == Role::Internet {
            continue;
        }
        let a = match role {
            Role::Perimeter => "10.9.0.0/16".to_string(),
            Role::InternalClients => "10.2.0.0/16".to_string(),
            r => addr(r).to_string(),
        };
        t.push_str(&format!("{} = [\"{a}\"]\n", role.as_str()));
    }
    t
}

/// The site ports every synthetic site declares, so `"site:NAME"` rules can match.
const SITE_PORTS: SitePorts = SitePorts {
    sender_reputation_proxy: Some(8080),
    rfc1006: Some(1102),
};

fn rs(r: Role) -> RoleSet {
    RoleSet::from(r)
}

#[test]
fn every_default_rule_is_exercised_by_a_flow() {
    let set = RuleSet::embedded();
    let epm = tcp_payloads(&common::capture("epm-map-followup.pcap"), 135);
    assert!(
        epm.len() >= 4,
        "EPM bind/map exchange not found in epm-map-followup.pcap"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut expected: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for g in Generation::ALL.iter().copied() {
        let m = set.matcher(g);
        for edge in [false, true] {
            let site = SiteFacts {
                generation: g,
                edge_subscribed: edge,
                ports: SITE_PORTS,
            };
            let mut pcap = Pcap::new();
            let mut any = false;
            for r in m.rules() {
                if r.when.edge_subscribed.is_some_and(|w| w != edge) {
                    continue;
                }
                let facts = FlowFacts {
                    http_path: r.app.http_path_prefix.as_deref(),
                    tls: r.app.tls,
                    epm_announced: r.is_dynamic(),
                };
                let protos: &[Proto] = match r.proto {
                    Proto::Any => &[Proto::Tcp, Proto::Udp],
                    Proto::Tcp => &[Proto::Tcp],
                    Proto::Udp => &[Proto::Udp],
                };
                let ports: Vec<u16> = r
                    .ports
                    .iter()
                    .flat_map(|p| match p {
                        PortSpec::Range { lo, hi } => vec![*lo, *hi, lo.saturating_add(1).min(*hi)],
                        PortSpec::Dynamic => vec![49152],
                        PortSpec::Site(p) => site.ports.get(*p).into_iter().collect(),
                    })
                    .collect();
                let mut pick = None;
                'search: for &proto in protos {
                    for &port in &ports {
                        for c in r.from.iter() {
                            for sv in r.to.iter() {
                                if m.match_flow(proto, port, rs(c), rs(sv), &site, &facts)
                                    .is_some_and(|h| h.id == r.id)
                                {
                                    pick = Some((proto, port, c, sv));
                                    break 'search;
                                }
                            }
                        }
                    }
                }
                let Some((proto, port, c, sv)) = pick else {
                    continue;
                };
                expected.insert(r.id.clone());
                any = true;
                let (ca, sa) = (addr(c), addr(sv));
                if r.is_dynamic() {
                    // The Samba answer names 127.1.0.20:49152; point it at this server.
                    let segs: Vec<(bool, Vec<u8>)> = epm
                        .iter()
                        .map(|(cl, p)| {
                            let mut p = p.clone();
                            if let Some(i) = p.windows(4).position(|w| w == [127, 1, 0, 20]) {
                                p[i..i + 4].copy_from_slice(&sa.octets());
                            }
                            (*cl, p)
                        })
                        .collect();
                    pcap.replay(ca, sa, 135, &segs);
                    pcap.conversation(ca, sa, port, &[(b"\x05\x00\x0b\x03", b"")]);
                } else if proto == Proto::Udp {
                    pcap.udp_exchange(ca, sa, port, b"request", b"answer");
                } else if let Some(path) = &r.app.http_path_prefix {
                    let req = format!("GET {path}x HTTP/1.1\r\nHost: mail.example\r\n\r\n");
                    pcap.conversation(
                        ca,
                        sa,
                        port,
                        &[(req.as_bytes(), b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")],
                    );
                } else if r.app.tls == Some(true) && port == 143 {
                    pcap.conversation(
                        ca,
                        sa,
                        port,
                        &[
                            (b"", b"* OK IMAP4rev1 ready\r\n"),
                            (b"a1 STARTTLS\r\n", b"a1 OK Begin TLS negotiation now\r\n"),
                            (b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", b""),
                        ],
                    );
                } else if r.app.tls == Some(true) && port == 110 {
                    pcap.conversation(
                        ca,
                        sa,
                        port,
                        &[
                            (b"", b"+OK POP3 ready\r\n"),
                            (b"STLS\r\n", b"+OK Begin TLS negotiation\r\n"),
                            (b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", b""),
                        ],
                    );
                } else if r.app.tls == Some(false) && port == 25 {
                    // SMTP without STARTTLS: the inspector establishes tls = false.
                    pcap.conversation(
                        ca,
                        sa,
                        port,
                        &[
                            (b"", b"220 hub.example ESMTP\r\n"),
                            (b"EHLO a.example\r\n", b"250-hub.example\r\n250 STARTTLS\r\n"),
                            (b"MAIL FROM:<a@a.example>\r\n", b"250 2.1.0 Sender OK\r\n"),
                            (b"QUIT\r\n", b"221 2.0.0 Bye\r\n"),
                        ],
                    );
                } else {
                    pcap.conversation(ca, sa, port, &[(b"hello", b"world")]);
                }
                pcap.wait(1);
            }
            if !any {
                continue;
            }
            let cap = dir.path().join(format!("rules-{}-{edge}.pcap", g.as_str()));
            let topo = dir.path().join(format!("site-{}-{edge}.toml", g.as_str()));
            pcap.write(&cap);
            std::fs::write(&topo, topology(g, edge)).unwrap();
            let (objs, code, stderr) = common::read_ndjson(&[&cap], &["--topology", topo.to_str().unwrap()]);
            assert_eq!(code, 0, "{stderr}");
            for f in common::of_type(&objs, "flow") {
                if let Some(id) = f["rule"].as_str() {
                    seen.insert(id.to_string());
                }
            }
        }
    }
    let all: BTreeSet<String> = set.rules().iter().map(|r| r.id.clone()).collect();
    let never_built: Vec<&String> = all.difference(&expected).collect();
    assert!(
        never_built.is_empty(),
        "rules no flow could be built for: {never_built:?}"
    );
    let missing: Vec<&String> = expected.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "{} of {} rules never named by a flow: {missing:?}",
        missing.len(),
        all.len()
    );
}
