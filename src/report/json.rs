//! `ndjson` (one object per line: flows as they end, then the findings and
//! the summary) and `json` (one document with the same parts, written as the
//! flows end too).

use std::io::{self, Write};

use serde::Serialize;

use crate::audit::{Audit, TopologyInfo};

use crate::audit::records::{FlowRecord, Summary};

/// One flow line of `ndjson`.
pub fn ndjson_flow(r: &FlowRecord, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer(&mut *out, r)?;
    out.write_all(b"\n")
}

/// The findings and the summary after the flows of `ndjson`; `extra` adds
/// fields to the summary record (live: libpcap's counters).
pub fn ndjson_tail(
    a: &Audit,
    extra: &serde_json::Map<String, serde_json::Value>,
    out: &mut dyn Write,
) -> io::Result<()> {
    for f in &a.findings {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    serde_json::to_writer(
        &mut *out,
        &SummaryWithTopology {
            summary: &a.summary,
            topology_info: &a.topology,
            extra,
        },
    )?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct SummaryWithTopology<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    topology_info: &'a TopologyInfo,
    #[serde(flatten)]
    extra: &'a serde_json::Map<String, serde_json::Value>,
}

/// One flow of the `json` document: `first` says whether it is the first.
pub fn json_flow(r: &FlowRecord, first: bool, out: &mut dyn Write) -> io::Result<()> {
    out.write_all(if first { b"{\"flows\":[" } else { b"," })?;
    serde_json::to_writer(&mut *out, r)?;
    Ok(())
}

/// The end of the `json` document: `{"flows":[...],"findings":[...],"summary":{...}}`.
pub fn json_tail(
    a: &Audit,
    extra: &serde_json::Map<String, serde_json::Value>,
    any_flow: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    if !any_flow {
        out.write_all(b"{\"flows\":[")?;
    }
    out.write_all(b"],\"findings\":")?;
    serde_json::to_writer(&mut *out, &a.findings)?;
    out.write_all(b",\"summary\":")?;
    serde_json::to_writer(
        &mut *out,
        &SummaryWithTopology {
            summary: &a.summary,
            topology_info: &a.topology,
            extra,
        },
    )?;
    out.write_all(b"}\n")
}
