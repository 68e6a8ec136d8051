//! `csv`: the flow rows.

use std::io::{self, Write};

use crate::audit::records::FlowRecord;

pub const HEADER: &str = "id,proto,client,client_port,server,server_port,client_role,server_role,first_ts,last_ts,state,history,direction,c2s_packets,c2s_bytes,s2c_packets,s2c_bytes,purpose,rule,findings\n";

/// Quotes a field when it holds a comma, quote or newline.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One flow row.
pub fn row(f: &FlowRecord, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        f.id,
        f.proto,
        f.client,
        f.client_port,
        f.server,
        f.server_port,
        field(&f.client_role.map(|r| r.to_string()).unwrap_or_default()),
        field(&f.server_role.map(|r| r.to_string()).unwrap_or_default()),
        f.first_ts,
        f.last_ts,
        f.state,
        field(f.history.as_str()),
        f.direction,
        f.c2s_packets,
        f.c2s_bytes,
        f.s2c_packets,
        f.s2c_bytes,
        field(f.purpose.unwrap_or("")),
        field(f.rule.as_deref().unwrap_or("")),
        field(&f.findings.join(" ")),
    )
}
