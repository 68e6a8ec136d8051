//! `table`: the audit for people, on a terminal.

use std::collections::BTreeMap;
use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table as CTable};

use super::{FlowRecord, Report, Summary};

/// How many individual flows the table lists (largest first).
const TOP_FLOWS: usize = 25;

#[derive(Default)]
pub struct Table {
    flows: Vec<FlowRecord>,
    /// (proto, server port, state) -> (flows, packets, bytes)
    services: BTreeMap<(&'static str, u16, &'static str), (u64, u64, u64)>,
}

impl Report for Table {
    fn flow(&mut self, _out: &mut dyn Write, f: &FlowRecord) -> io::Result<()> {
        let e = self
            .services
            .entry((f.proto, f.server_port, f.state))
            .or_default();
        e.0 += 1;
        e.1 += f.c2s_packets + f.s2c_packets;
        e.2 += f.c2s_bytes + f.s2c_bytes;
        self.flows.push(f.clone());
        // Keep only the largest flows, bounded.
        if self.flows.len() >= TOP_FLOWS * 8 {
            self.trim();
        }
        Ok(())
    }

    fn finish(&mut self, out: &mut dyn Write, s: &Summary) -> io::Result<()> {
        self.trim();
        writeln!(
            out,
            "exaudit: {} packets, {} bytes, {} flows",
            s.packets, s.bytes, s.flows
        )?;
        for i in &s.inputs {
            writeln!(
                out,
                "  input {}: {} packets{}",
                i.file,
                i.packets,
                i.error
                    .as_ref()
                    .map(|e| format!("  ERROR: {e}"))
                    .unwrap_or_default()
            )?;
        }
        if let (Some(a), Some(b)) = (&s.first_ts, &s.last_ts) {
            writeln!(out, "  time span: {a} .. {b}")?;
        }
        if !s.decode_errors.is_empty() {
            let errs: Vec<String> = s.decode_errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
            writeln!(out, "  undecoded frames: {}", errs.join(", "))?;
        }
        if s.evictions > 0 {
            writeln!(
                out,
                "  WARNING: {} flows evicted at the flow-table cap",
                s.evictions
            )?;
        }
        writeln!(out)?;
        let mut t = CTable::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec!["proto", "server port", "state", "flows", "packets", "bytes"]);
        for ((proto, port, state), (n, p, b)) in &self.services {
            t.add_row(vec![
                Cell::new(proto),
                Cell::new(port).set_alignment(CellAlignment::Right),
                Cell::new(state),
                Cell::new(n).set_alignment(CellAlignment::Right),
                Cell::new(p).set_alignment(CellAlignment::Right),
                Cell::new(b).set_alignment(CellAlignment::Right),
            ]);
        }
        writeln!(out, "Services\n{t}\n")?;
        let mut t = CTable::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "id", "proto", "client", "server", "state", "history", "c2s pkts", "s2c pkts", "bytes",
        ]);
        for f in &self.flows {
            t.add_row(vec![
                Cell::new(f.id),
                Cell::new(f.proto),
                Cell::new(format!("{}:{}", f.client, f.client_port)),
                Cell::new(format!("{}:{}", f.server, f.server_port)),
                Cell::new(f.state),
                Cell::new(&f.history),
                Cell::new(f.c2s_packets).set_alignment(CellAlignment::Right),
                Cell::new(f.s2c_packets).set_alignment(CellAlignment::Right),
                Cell::new(f.c2s_bytes + f.s2c_bytes).set_alignment(CellAlignment::Right),
            ]);
        }
        writeln!(out, "Largest flows (top {TOP_FLOWS})\n{t}")?;
        writeln!(
            out,
            "\nread in {:.3} s ({} packets/s)",
            s.wall_time_s, s.packets_per_s
        )
    }
}

impl Table {
    fn trim(&mut self) {
        self.flows.sort_by(|a, b| {
            (b.c2s_bytes + b.s2c_bytes)
                .cmp(&(a.c2s_bytes + a.s2c_bytes))
                .then(a.id.cmp(&b.id))
        });
        self.flows.truncate(TOP_FLOWS);
    }
}
