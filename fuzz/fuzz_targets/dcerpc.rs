//! DCE/RPC: the flow inspector (binds, requests, endpoint-mapper answers
//! and their towers), and the EPM stub parsers directly.
#![no_main]

use std::sync::OnceLock;

use exaudit::inspect::dcerpc::{inspect_dcerpc, parse_epm_lookup_response, parse_epm_map_response};
use exaudit::vocab::Uuid;
use exaudit::inspect::Streams;
use libfuzzer_sys::fuzz_target;

/// The first two bytes (little-endian) give where the rest splits into
/// client-to-server and server-to-client bytes.
fn split(data: &[u8]) -> Option<Streams<'_>> {
    let (head, rest) = (data.get(..2)?, data.get(2..)?);
    let at = usize::from(u16::from_le_bytes([head[0], head[1]])) % (rest.len() + 1);
    let (c2s, s2c) = rest.split_at(at);
    Some(Streams { c2s, s2c })
}

fn epm() -> &'static Uuid {
    static EPM: OnceLock<Uuid> = OnceLock::new();
    EPM.get_or_init(|| Uuid::parse("e1af8308-5d1f-11c9-91a4-08002b14a0fa").expect("epm uuid"))
}

fuzz_target!(|data: &[u8]| {
    let Some(s) = split(data) else {
        return;
    };
    let _ = inspect_dcerpc(&s, epm());
    // The same bytes as an EPM answer stub, both byte orders.
    for le in [true, false] {
        let _ = parse_epm_map_response(s.s2c, le);
        let _ = parse_epm_lookup_response(s.s2c, le);
    }
});
