//! The RFC 1006 (TPKT/COTP) inspector on arbitrary client and server bytes.
#![no_main]

use exaudit::inspect::osi::inspect_osi;
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

fuzz_target!(|data: &[u8]| {
    if let Some(s) = split(data) {
        let _ = inspect_osi(&s);
    }
});
