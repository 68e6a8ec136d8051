//! `ndjson` (one object per line, streamed) and `json` (one document).

use std::io::{self, Write};

use super::{FlowRecord, Report, Summary};

pub struct Ndjson;

impl Report for Ndjson {
    fn flow(&mut self, out: &mut dyn Write, f: &FlowRecord) -> io::Result<()> {
        serde_json::to_writer(&mut *out, f)?;
        out.write_all(b"\n")
    }
    fn finish(&mut self, out: &mut dyn Write, s: &Summary) -> io::Result<()> {
        serde_json::to_writer(&mut *out, s)?;
        out.write_all(b"\n")
    }
}

/// Streams `{"flows":[...],"findings":[...],"summary":{...}}`.
#[derive(Default)]
pub struct Json {
    started: bool,
}

impl Report for Json {
    fn flow(&mut self, out: &mut dyn Write, f: &FlowRecord) -> io::Result<()> {
        out.write_all(if self.started { b",\n" } else { b"{\"flows\":[\n" })?;
        self.started = true;
        serde_json::to_writer(&mut *out, f)?;
        Ok(())
    }
    fn finish(&mut self, out: &mut dyn Write, s: &Summary) -> io::Result<()> {
        if !self.started {
            out.write_all(b"{\"flows\":[")?;
        }
        out.write_all(b"\n],\"findings\":[],\"summary\":")?;
        serde_json::to_writer(&mut *out, s)?;
        out.write_all(b"}\n")
    }
}
