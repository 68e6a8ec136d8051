//! `ndjson` (one object per line: flows, findings, then the summary) and
//! `json` (one document with the same parts).

use std::io::{self, Write};

use serde::Serialize;

use crate::audit::{Audit, TopologyInfo};
use crate::findings::Finding;

use super::{FlowRecord, Summary};

pub fn ndjson(a: &Audit, out: &mut dyn Write) -> io::Result<()> {
    for f in &a.flows {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    for f in &a.findings {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")?;
    }
    serde_json::to_writer(
        &mut *out,
        &SummaryWithTopology {
            summary: &a.summary,
            topology_info: &a.topology,
        },
    )?;
    out.write_all(b"\n")
}

#[derive(Serialize)]
struct SummaryWithTopology<'a> {
    #[serde(flatten)]
    summary: &'a Summary,
    topology_info: &'a TopologyInfo,
}

#[derive(Serialize)]
struct Document<'a> {
    flows: &'a [FlowRecord],
    findings: &'a [Finding],
    summary: SummaryWithTopology<'a>,
}

pub fn json(a: &Audit, out: &mut dyn Write) -> io::Result<()> {
    let doc = Document {
        flows: &a.flows,
        findings: &a.findings,
        summary: SummaryWithTopology {
            summary: &a.summary,
            topology_info: &a.topology,
        },
    };
    serde_json::to_writer(&mut *out, &doc)?;
    out.write_all(b"\n")
}
