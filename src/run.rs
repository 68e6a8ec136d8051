//! Turns validated arguments into a run and an exit code.

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::cli::{FlowArgs, ReadArgs};
use crate::flow::FlowConfig;
use crate::pipeline::{run_offline, PipelineConfig};
use crate::report::{new_report, FlowRecord, Format, Summary};

/// Exit codes.
pub const EXIT_OK: i32 = 0;
pub const EXIT_FINDINGS: i32 = 1;
pub const EXIT_ERROR: i32 = 2;

impl FlowArgs {
    pub fn config(&self) -> PipelineConfig {
        PipelineConfig {
            inspect_bytes: self.inspect_bytes,
            max_inspecting: self.max_inspecting,
            flow: self.flow_config(),
        }
    }

    pub fn flow_config(&self) -> FlowConfig {
        FlowConfig {
            max_flows: self.max_flows.max(1),
            tcp_timeout_s: self.tcp_timeout,
            tcp_closed_timeout_s: self.tcp_closed_timeout,
            udp_timeout_s: self.udp_timeout,
            icmp_timeout_s: self.icmp_timeout,
            other_timeout_s: self.icmp_timeout,
        }
    }
}

/// Where results go: standard output, or a temporary file renamed into
/// place at the end so readers never see half a report.
enum Out {
    Stdout(io::BufWriter<io::Stdout>),
    File(io::BufWriter<tempfile::NamedTempFile>, std::path::PathBuf),
}

impl Out {
    fn new(path: Option<&Path>) -> Result<Out, String> {
        match path {
            None => Ok(Out::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout()))),
            Some(p) => {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(Path::new("."));
                let tmp = tempfile::NamedTempFile::new_in(dir)
                    .map_err(|e| format!("cannot create an output file in {}: {e}", dir.display()))?;
                Ok(Out::File(
                    io::BufWriter::with_capacity(1 << 16, tmp),
                    p.to_path_buf(),
                ))
            }
        }
    }
    fn writer(&mut self) -> &mut dyn Write {
        match self {
            Out::Stdout(w) => w,
            Out::File(w, _) => w,
        }
    }
    fn commit(self) -> Result<(), String> {
        match self {
            Out::Stdout(mut w) => w.flush().map_err(|e| e.to_string()),
            Out::File(w, path) => {
                let tmp = w
                    .into_inner()
                    .map_err(|e| format!("cannot write {}: {}", path.display(), e.error()))?;
                tmp.persist(&path)
                    .map_err(|e| format!("cannot write {}: {}", path.display(), e.error))?;
                Ok(())
            }
        }
    }
}

fn is_broken_pipe(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::BrokenPipe
}

/// `exaudit read`.
pub fn read(args: &ReadArgs) -> i32 {
    let format = args
        .format
        .unwrap_or(if io::stdout().is_terminal() && args.output.is_none() {
            Format::Table
        } else {
            Format::Ndjson
        });
    let mut out = match Out::new(args.output.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("exaudit: {e}");
            return EXIT_ERROR;
        }
    };
    let total: u64 = args
        .files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if !args.no_progress && io::stderr().is_terminal() && total > 16 << 20 {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let sizes: Vec<u64> = args
        .files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let progress = {
        let bar = bar.clone();
        move |i: usize, consumed: u64| {
            if let Some(b) = &bar {
                let before: u64 = sizes.iter().take(i).sum();
                b.set_position((before + consumed).min(total));
            }
        }
    };
    let mut report = new_report(format);
    let mut write_error: Option<io::Error> = None;
    let stats = {
        let w = out.writer();
        let mut sink = |f: crate::flow::Flow, _r: crate::flow::EndReason| {
            if write_error.is_some() {
                return;
            }
            let rec = FlowRecord::from_flow(&f);
            if let Err(e) = report.flow(w, &rec) {
                write_error = Some(e);
            }
        };
        run_offline(&args.files, args.flow.config(), progress, &mut sink)
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let summary = Summary::new(&stats);
    if write_error.is_none() {
        if let Err(e) = report.finish(out.writer(), &summary) {
            write_error = Some(e);
        }
    }
    if let Some(e) = write_error {
        if is_broken_pipe(&e) {
            return EXIT_OK;
        }
        eprintln!("exaudit: cannot write the report: {e}");
        return EXIT_ERROR;
    }
    if let Err(e) = out.commit() {
        if !e.contains("Broken pipe") {
            eprintln!("exaudit: {e}");
            return EXIT_ERROR;
        }
    }
    for (path, f) in &stats.capture.files {
        if f.ts_backwards > 0 {
            eprintln!(
                "exaudit: warning: {}: {} packets have a timestamp earlier than the packet before",
                path.display(),
                f.ts_backwards
            );
        }
        for (lt, n) in &f.unsupported_link {
            eprintln!("exaudit: warning: {}: {n} packets on an interface with unsupported link type {lt} were skipped", path.display());
        }
    }
    for w in stats.capture.files.windows(2) {
        if let (Some(prev), Some(next)) = (w[0].1.last_ts, w[1].1.first_ts) {
            if next < prev {
                eprintln!(
                    "exaudit: warning: {} starts before {} ends: files are read in the order given",
                    w[1].0.display(),
                    w[0].0.display()
                );
            }
        }
    }
    if stats.capture.errors.is_empty() {
        EXIT_OK
    } else {
        for e in &stats.capture.errors {
            eprintln!("exaudit: error: {e}");
        }
        EXIT_ERROR
    }
}
