//! The hand-written decoder (src/decode.rs) against etherparse, a
//! well-kept decoder, frame by frame on every capture in captures/ and
//! ../shared/captures/: wherever etherparse reads an unfragmented TCP or
//! UDP packet from a frame without tunnels (Ethernet with up to three VLAN
//! tags, Linux cooked v1, raw IP), exaudit must decode the same addresses,
//! protocol and ports. Encapsulations etherparse does not read (PPPoE, MPLS,
//! GRE, VXLAN...) are left to the tshark comparisons.

mod common;

use std::net::IpAddr;

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use exaudit::decode::{self, to_ip, LinkType};
use exaudit::source::offline::read_file;

type Five = (IpAddr, IpAddr, u8, u16, u16);

fn oracle(link: LinkType, data: &[u8]) -> Option<Five> {
    let sliced = match link {
        LinkType::Ethernet => SlicedPacket::from_ethernet(data),
        LinkType::LinuxSll => SlicedPacket::from_linux_sll(data),
        LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => SlicedPacket::from_ip(data),
        _ => return None,
    }
    .ok()?;
    let (src, dst, payload) = match sliced.net? {
        NetSlice::Ipv4(v4) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            v4.payload().clone(),
        ),
        NetSlice::Ipv6(v6) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
            v6.payload().clone(),
        ),
        NetSlice::Arp(_) => return None,
    };
    if payload.fragmented {
        return None;
    }
    match sliced.transport? {
        TransportSlice::Tcp(t) => Some((src, dst, 6, t.source_port(), t.destination_port())),
        TransportSlice::Udp(u) => Some((src, dst, 17, u.source_port(), u.destination_port())),
        _ => None,
    }
}

#[test]
fn decoder_agrees_with_etherparse_on_every_capture() {
    let mut inputs = common::capture_files(&common::repo().join("captures"));
    match (common::shared_public(), common::shared_corpus()) {
        (Some(p), Some(c)) => {
            inputs.extend(common::capture_files(&p));
            inputs.extend(common::capture_files(&c.join("captures")));
        }
        _ => common::skip(
            "the shared part of decoder_agrees_with_etherparse_on_every_capture",
            "public and corpus",
        ),
    }
    let mut compared = 0u64;
    let mut mismatches: Vec<String> = Vec::new();
    for path in &inputs {
        let mut n = 0u64;
        let _ = read_file(
            path,
            |f| {
                n += 1;
                let Some(theirs) = oracle(f.link, f.data) else {
                    return;
                };
                let ours = decode::decode(f.link, f.data);
                let same = match &ours {
                    Ok(p) if p.encap != 0 => return,
                    Ok(p) => {
                        let t = p.tuple;
                        (to_ip(&t.src), to_ip(&t.dst), t.proto, t.sport, t.dport) == theirs
                    }
                    Err(_) => false,
                };
                compared += 1;
                if !same && mismatches.len() < 20 {
                    mismatches.push(format!(
                        "{} frame {n}: etherparse {theirs:?}, exaudit {:?}",
                        path.display(),
                        ours.map(|p| p.tuple)
                    ));
                }
            },
            |_| {},
        );
    }
    assert!(compared > 1000, "only {compared} frames compared");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    eprintln!(
        "{compared} frames of {} captures agree with etherparse",
        inputs.len()
    );
}
