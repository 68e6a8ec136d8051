//! Link/IP/transport decoding of one frame. The first byte picks the link
//! type, the rest is the frame.
#![no_main]

use exaudit::decode::{decode, LinkType};
use libfuzzer_sys::fuzz_target;

const LINKS: [LinkType; 8] = [
    LinkType::Null,
    LinkType::Ethernet,
    LinkType::Raw,
    LinkType::Loop,
    LinkType::LinuxSll,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::LinuxSll2,
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    if let Ok(p) = decode(link, frame) {
        // The packet borrows the frame: its payload lies inside it.
        assert!(p.payload.len() <= frame.len());
        let fp = frame.as_ptr() as usize;
        let pp = p.payload.as_ptr() as usize;
        assert!(p.payload.is_empty() || (pp >= fp && pp + p.payload.len() <= fp + frame.len()));
    }
});
