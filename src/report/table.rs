//! `table`: the audit for people, on a terminal.

use std::io::{self, Write};

use comfy_table::{presets::UTF8_FULL_CONDENSED, ContentArrangement, Table};

use crate::audit::Audit;

pub fn table(a: &Audit, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "exaudit audit")?;
    for l in super::header_lines(a) {
        writeln!(out, "  {l}")?;
    }
    for sec in super::sections(a) {
        writeln!(out, "\n{}", sec.title)?;
        if let Some(n) = &sec.note {
            writeln!(out, "  {n}")?;
        }
        if sec.rows.is_empty() {
            continue;
        }
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED);
        t.set_content_arrangement(ContentArrangement::Dynamic);
        t.set_width(160);
        t.set_header(sec.header.clone());
        for r in &sec.rows {
            t.add_row(r.clone());
        }
        writeln!(out, "{t}")?;
    }
    Ok(())
}
