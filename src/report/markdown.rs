//! `markdown`: the audit for a review document.

use std::io::{self, Write};

use crate::audit::Audit;

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(a: &Audit, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "# Exchange network audit\n")?;
    for l in super::header_lines(a) {
        writeln!(out, "- {}", cell(&l))?;
    }
    for sec in super::sections(a) {
        writeln!(out, "\n## {}\n", sec.title)?;
        if let Some(n) = &sec.note {
            writeln!(out, "{n}\n")?;
        }
        if sec.rows.is_empty() {
            continue;
        }
        writeln!(
            out,
            "| {} |",
            sec.header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | ")
        )?;
        writeln!(out, "|{}", "---|".repeat(sec.header.len()))?;
        for r in &sec.rows {
            writeln!(
                out,
                "| {} |",
                r.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")
            )?;
        }
    }
    Ok(())
}
