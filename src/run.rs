//! Turns validated arguments into a run and an exit code.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::analyze::Analyzer;
use crate::audit::engine::{Engine, Every, RecordOut, Survey};
use crate::audit::records::Summary;
use crate::classify::rules::RuleSet;
use crate::classify::topology::SiteFacts;
use crate::classify::topology::Topology;
use crate::cli::{FailOn, FlowArgs, ReadArgs, RulesCommand, TopologyCommand};
use crate::flow::FlowConfig;
use crate::pipeline::{run_offline_filtered, PipelineConfig, RunStats};
use crate::report::{Format, Streamer};
use crate::vocab::Proto;
use crate::vocab::Severity;
use crate::vocab::{Generation, Role, RoleSet};

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
/// A target that is not a regular file (`/dev/null`, a FIFO, a terminal) is
/// written directly: renaming a file over it would replace the device.
enum Out {
    Stdout(io::BufWriter<io::Stdout>),
    File(io::BufWriter<tempfile::NamedTempFile>, PathBuf),
    Special(io::BufWriter<std::fs::File>),
}

impl Out {
    fn new(path: Option<&Path>) -> Result<Out, String> {
        match path {
            None => Ok(Out::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout()))),
            Some(p) if std::fs::metadata(p).is_ok_and(|m| !m.is_file() && !m.is_dir()) => {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
                Ok(Out::Special(io::BufWriter::with_capacity(1 << 16, f)))
            }
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
            Out::Special(w) => w,
        }
    }

    fn commit(self) -> io::Result<()> {
        match self {
            Out::Stdout(mut w) => w.flush(),
            Out::Special(mut w) => w.flush(),
            Out::File(w, path) => {
                let tmp = w.into_inner().map_err(|e| e.into_error())?;
                tmp.persist(&path).map_err(|e| e.error)?;
                Ok(())
            }
        }
    }
}

/// Writes `f` to `path` (or stdout) with the same atomic and broken-pipe rules.
fn write_output(path: Option<&Path>, f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), String> {
    let mut out = Out::new(path)?;
    let res = f(out.writer()).and_then(|()| out.commit());
    written(path, res)
}

/// The one broken-pipe rule: a reader that went away (`| head`) is not an
/// error; any other write error names the output.
fn written(path: Option<&Path>, res: io::Result<()>) -> Result<(), String> {
    match res {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!(
            "cannot write {}: {e}",
            path.map(|p| p.display().to_string())
                .unwrap_or_else(|| "standard output".into())
        )),
    }
}

pub fn load_rules(dir: Option<&Path>, extend: bool) -> Result<RuleSet, String> {
    match dir {
        None => Ok(RuleSet::embedded()),
        Some(d) => RuleSet::load_dir(d, extend).map_err(|e| format!("{e}")),
    }
}

pub fn generation(text: &str) -> Result<Generation, String> {
    Generation::parse(text).ok_or_else(|| {
        format!(
            "unknown Exchange generation {text:?}: use one of {}",
            Generation::names()
        )
    })
}

/// The inputs as given, with each directory replaced by the captures in it
/// (regular files whose first bytes are pcap, pcapng, gzip or zstd, in name
/// order, not descending into subdirectories); the other files are named in
/// a warning.
fn expand_inputs(files: &[PathBuf]) -> Vec<PathBuf> {
    use crate::source::offline::{content_of, Content};
    let mut out = Vec::new();
    for f in files {
        if !f.is_dir() {
            out.push(f.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        match std::fs::read_dir(f) {
            Ok(entries) => {
                for e in entries.flatten() {
                    let p = e.path();
                    if !p.is_file() {
                        continue;
                    }
                    let mut head = [0u8; 4];
                    let n = std::fs::File::open(&p)
                        .and_then(|mut h| io::Read::read(&mut h, &mut head))
                        .unwrap_or(0);
                    if content_of(head.get(..n).unwrap_or_default()) == Content::Other {
                        skipped.push(
                            p.file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                        );
                    } else {
                        found.push(p);
                    }
                }
            }
            Err(e) => eprintln!("exaudit: error: {}: cannot list the directory: {e}", f.display()),
        }
        found.sort();
        skipped.sort();
        if !skipped.is_empty() {
            eprintln!(
                "exaudit: warning: {}: {} files are not captures and were skipped ({})",
                f.display(),
                skipped.len(),
                skipped.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if found.is_empty() {
            eprintln!("exaudit: warning: {}: no capture in this directory", f.display());
        }
        out.extend(found);
    }
    out
}

/// A progress bar on a terminal for inputs over 16 MiB, else `None`.
fn progress_bar(files: &[PathBuf], show: bool, label: &str) -> Option<ProgressBar> {
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    if !(show && io::stderr().is_terminal() && total > 16 << 20) {
        return None;
    }
    let b = ProgressBar::new(total);
    b.set_style(
        ProgressStyle::with_template(&format!(
            "{label}{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{bytes}}/{{total_bytes}} ({{eta}})"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    Some(b)
}

/// Reads the inputs once through the pipeline and the analyzer, handing
/// each ended flow to `sink`.
fn analyze_files(
    files: &[PathBuf],
    cfg: PipelineConfig,
    filter: Option<&str>,
    rules: &RuleSet,
    bar: Option<ProgressBar>,
    sink: impl FnMut(crate::analyze::EndedFlow, usize),
) -> (RunStats, crate::flow::expect::ExpectStats) {
    let sizes: Vec<u64> = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .collect();
    let progress = {
        let bar = bar.clone();
        move |i: usize, consumed: u64| {
            if let Some(b) = &bar {
                let before: u64 = sizes.iter().take(i).sum();
                b.set_position(before + consumed);
            }
        }
    };
    let mut analyzer = Analyzer::new(rules.interfaces(), cfg.inspect_bytes, sink);
    let stats = run_offline_filtered(files, cfg, filter, progress, &mut analyzer);
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    (stats, analyzer.expect_stats())
}

/// Flows ended between re-inferences of the roles when they are learnt
/// while reading (standard input past the holding budget).
const LEARN_EVERY_FLOWS: u64 = 4096;

/// Flows audited together when a first pass saw the whole input.
const AUDIT_BATCH: usize = 4096;

/// Where `read`'s first pass puts ended flows.
enum Stage<'r, 'w> {
    /// Within the holding budget: the flows, to audit after the pass.
    Holding(Vec<crate::analyze::EndedFlow>, Survey<'r>),
    /// Past it, on files: only the survey; the files are read again.
    Surveying(Survey<'r>),
    /// Past it, on standard input: auditing as flows end.
    Streaming(Box<Engine<'r, 'w>>),
    /// Between two of the above.
    Moving,
}

/// What the first pass needs to start auditing mid-way.
struct Plan<'r> {
    rules: &'r RuleSet,
    topology: Option<(&'r Topology, String)>,
    exchange: Option<Generation>,
    hold: usize,
    rereadable: bool,
}

impl<'r> Plan<'r> {
    /// The engine for an input whose first pass (all of it) is `survey`:
    /// it audits in batches on all cores.
    fn engine<'w>(&self, survey: Survey<'r>) -> Engine<'r, 'w> {
        let mut e = match &self.topology {
            Some((t, file)) => Engine::given(self.rules, t, file.clone(), Some(survey)),
            None => Engine::surveyed(self.rules, self.exchange, survey),
        };
        e.batched(AUDIT_BATCH);
        e
    }

    fn take<'w>(
        &self,
        stage: &mut Stage<'r, 'w>,
        out: &mut Option<Box<dyn RecordOut + 'w>>,
        e: crate::analyze::EndedFlow,
        tracked: usize,
    ) {
        match stage {
            Stage::Holding(held, _) => {
                // Surveyed after the read, on all cores (or below, past the budget).
                held.push(e);
                // The budget counts the flows held and those still in the
                // table: a flood filling the table is not held as well.
                if held.len().saturating_add(tracked) <= self.hold {
                    return;
                }
            }
            Stage::Surveying(survey) => {
                survey.add(&e);
                return;
            }
            Stage::Streaming(engine) => {
                engine.flow_ended(e);
                return;
            }
            Stage::Moving => return,
        }
        // Past the holding budget.
        let Stage::Holding(held, mut survey) = std::mem::replace(stage, Stage::Moving) else {
            return;
        };
        survey.add_all(&held);
        if self.rereadable {
            drop(held);
            *stage = Stage::Surveying(survey);
            return;
        }
        let mut engine = match &self.topology {
            Some((t, file)) => Engine::given(self.rules, t, file.clone(), Some(survey)),
            None => Engine::learning(
                self.rules,
                self.exchange,
                Some(survey),
                Every::Flows(LEARN_EVERY_FLOWS),
            ),
        };
        if let Some(o) = out.take() {
            engine.write_to(o);
        }
        for e in held {
            engine.flow_ended(e);
        }
        *stage = Stage::Streaming(Box::new(engine));
    }
}

/// The process's peak resident set so far, MiB (0 where /proc is missing).
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb / 1024)
}

fn warn_inputs(stats: &RunStats) {
    for (path, f) in &stats.capture.files {
        if f.ts_backwards > 0 {
            eprintln!(
                "exaudit: warning: {}: {} packets have a timestamp earlier than the packet before",
                path.display(),
                f.ts_backwards
            );
        }
        if f.clock_jumps > 0 {
            let listed: Vec<String> = stats
                .capture
                .clock_outliers
                .iter()
                .filter(|o| stats.capture.files.get(o.file).is_some_and(|(p, _)| p == path))
                .map(|o| {
                    format!(
                        "packet {} says {}, the packets around it {}",
                        o.record,
                        crate::vocab::rfc3339(o.ts),
                        crate::vocab::rfc3339(o.clock)
                    )
                })
                .collect();
            let more = f.clock_jumps.saturating_sub(listed.len() as u64);
            eprintln!(
                "exaudit: warning: {}: {} packets have a timestamp off the capture's clock while the packets after them are back on it ({}{}); taken as clock glitches, they count at the time of the packets around them and neither end nor split flows",
                path.display(),
                f.clock_jumps,
                listed.join("; "),
                if more > 0 { format!("; {more} more") } else { String::new() }
            );
        }
        for (lt, n) in &f.unsupported_link {
            eprintln!(
                "exaudit: warning: {}: {n} packets on an interface with unsupported link type {lt} were skipped",
                path.display()
            );
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
    for e in &stats.capture.filter_errors {
        eprintln!(
            "exaudit: warning: --filter does not compile for frames of link type {e}; they were left out"
        );
    }
    if stats.table.evicted > 0 {
        eprintln!(
            "exaudit: warning: {} flows were evicted at the flow-table cap (--max-flows); their records end early",
            stats.table.evicted
        );
    }
    for e in &stats.capture.errors {
        eprintln!("exaudit: error: {e}");
    }
}

fn fail_threshold(f: FailOn) -> Option<Severity> {
    match f {
        FailOn::Info => Some(Severity::Info),
        FailOn::Low => Some(Severity::Low),
        FailOn::Medium => Some(Severity::Medium),
        FailOn::High => Some(Severity::High),
        FailOn::Never => None,
    }
}

/// The rules, the topology (with the file it came from) and the generation
/// assumed for an inferred topology, as `read` and `live` take them.
pub type PolicyInputs = (RuleSet, Option<(Topology, String)>, Option<Generation>);

/// Loads what the policy engine needs; errors name the file, line and field.
pub fn policy_inputs(
    rules: Option<&Path>,
    extend: bool,
    topology: Option<&Path>,
    exchange: Option<&str>,
) -> Result<PolicyInputs, String> {
    let rules = load_rules(rules, extend)?;
    let topology = match topology {
        Some(p) => Some((
            Topology::load(p).map_err(|e| e.to_string())?,
            p.display().to_string(),
        )),
        None => None,
    };
    let exchange = match exchange {
        Some(e) => Some(generation(e)?),
        None => None,
    };
    Ok((rules, topology, exchange))
}

/// `exaudit read`.
pub fn read(args: &ReadArgs) -> i32 {
    let (rules, topology, exchange) = match policy_inputs(
        args.rules.as_deref(),
        args.extend_rules,
        args.topology.as_deref(),
        args.exchange.as_deref(),
    ) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("exaudit: {e}");
            return EXIT_ERROR;
        }
    };
    let format = args
        .format
        .unwrap_or(if io::stdout().is_terminal() && args.output.is_none() {
            Format::Table
        } else {
            Format::Ndjson
        });
    // EXAUDIT_TIMINGS=1 prints where the wall time went (for benchmarks).
    let timings = std::env::var_os("EXAUDIT_TIMINGS").is_some();
    let t0 = std::time::Instant::now();
    // A filter libpcap cannot compile is an error before anything is read.
    if let Some(expr) = &args.filter {
        if let Err(e) = crate::source::bpf::compile(expr, crate::decode::LinkType::Ethernet) {
            eprintln!("exaudit: --filter {expr:?}: {e} (the syntax is tcpdump's: man pcap-filter)");
            return EXIT_ERROR;
        }
    }
    let files = expand_inputs(&args.files);
    let plan = Plan {
        rules: &rules,
        topology: topology.as_ref().map(|(t, p)| (t, p.clone())),
        exchange,
        hold: args.hold_flows,
        rereadable: !files.iter().any(|f| f.as_os_str() == "-"),
    };
    let mut out = match Out::new(args.output.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("exaudit: {e}");
            return EXIT_ERROR;
        }
    };
    // First pass: hold the flows within the budget, survey them all.
    let mut stage = Stage::Holding(Vec::new(), Survey::new(&rules));
    let mut sink_out: Option<Box<dyn RecordOut + '_>> = Some(Box::new(Streamer::new(format, out.writer())));
    let (mut stats, mut expect) = analyze_files(
        &files,
        args.flow.config(),
        args.filter.as_deref(),
        &rules,
        progress_bar(&files, !args.no_progress, ""),
        |e, tracked| plan.take(&mut stage, &mut sink_out, e, tracked),
    );
    let t1 = std::time::Instant::now();
    let hwm_read = peak_rss_mib();
    let engine = match std::mem::replace(&mut stage, Stage::Moving) {
        Stage::Streaming(engine) => *engine,
        Stage::Holding(held, mut survey) => {
            survey.add_all(&held);
            let mut engine = plan.engine(survey);
            engine.exit_frees();
            if let Some(o) = sink_out.take() {
                engine.write_to(o);
            }
            for e in held {
                engine.flow_ended(e);
            }
            engine
        }
        Stage::Surveying(survey) => {
            // Second pass, with what the first knew of the whole input.
            let mut engine = plan.engine(survey);
            if let Some(o) = sink_out.take() {
                engine.write_to(o);
            }
            (stats, expect) = analyze_files(
                &files,
                args.flow.config(),
                args.filter.as_deref(),
                &rules,
                progress_bar(&files, !args.no_progress, "second read "),
                |e, _| {
                    engine.flow_ended(e);
                },
            );
            engine
        }
        Stage::Moving => plan.engine(Survey::new(&rules)),
    };
    let t2 = std::time::Instant::now();
    let hwm_audit = peak_rss_mib();
    let (audit, res) = engine.finish(Summary::new(&stats), expect, &serde_json::Map::new());
    drop(sink_out);
    drop(stage);
    if let Err(e) = written(args.output.as_deref(), res.and_then(|()| out.commit())) {
        eprintln!("exaudit: {e}");
        return EXIT_ERROR;
    }
    let t3 = std::time::Instant::now();
    let worst = audit
        .findings
        .iter()
        .filter_map(|f| Severity::parse(f.severity))
        .max();
    if timings {
        eprintln!(
            "exaudit: timings: read+flows {:.3}s, audit {:.3}s, render {:.3}s, rest {:.3}s; peak RSS after read {} MiB, after audit {} MiB, at the end {} MiB",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            t3.elapsed().as_secs_f64(),
            hwm_read,
            hwm_audit,
            peak_rss_mib()
        );
    }
    warn_inputs(&stats);
    if !stats.capture.errors.is_empty() {
        return EXIT_ERROR;
    }
    if let Some(min) = fail_threshold(args.fail_on) {
        if worst.is_some_and(|w| w >= min) {
            return EXIT_FINDINGS;
        }
    }
    EXIT_OK
}

/// `exaudit rules check|list`.
pub fn rules(cmd: &RulesCommand) -> i32 {
    match cmd {
        RulesCommand::Check { dir } => {
            let rules = match load_rules(dir.as_deref(), false) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return EXIT_ERROR;
                }
            };
            let conflicts = rules.conflicts();
            for c in &conflicts {
                eprintln!("{}", c.message);
            }
            let files: Vec<String> = rules.files().iter().map(|f| f.name.clone()).collect();
            println!(
                "{} rules and {} DCE/RPC interfaces in {} files ({}): {}",
                rules.rules().len(),
                rules.interfaces().len(),
                files.len(),
                files.join(", "),
                if conflicts.is_empty() {
                    "ok".to_string()
                } else {
                    format!("{} conflicts", conflicts.len())
                }
            );
            if conflicts.is_empty() {
                EXIT_OK
            } else {
                EXIT_ERROR
            }
        }
        RulesCommand::Explain(args) => match explain(args) {
            Ok(()) => EXIT_OK,
            Err(e) => {
                eprintln!("exaudit: {e}");
                EXIT_ERROR
            }
        },
        RulesCommand::List { rules, exchange } => {
            let set = match load_rules(rules.as_deref(), false) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return EXIT_ERROR;
                }
            };
            let g = match generation(exchange) {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("exaudit: {e}");
                    return EXIT_ERROR;
                }
            };
            let res = write_output(None, |w| {
                let mut t = comfy_table::Table::new();
                t.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
                t.set_header(vec![
                    "id",
                    "purpose",
                    "proto",
                    "ports",
                    "from",
                    "to",
                    "expect",
                    "kind",
                    "severity",
                    "reference",
                ]);
                for r in set.for_generation(g) {
                    t.add_row(vec![
                        r.id.clone(),
                        r.purpose.to_string(),
                        r.proto.to_string(),
                        r.ports_text(),
                        r.from.to_string(),
                        r.to.to_string(),
                        r.expect.to_string(),
                        r.kind.map(|k| k.to_string()).unwrap_or_default(),
                        r.severity.to_string(),
                        r.reference.to_string(),
                    ]);
                }
                writeln!(w, "{t}")
            });
            match res {
                Ok(()) => EXIT_OK,
                Err(e) => {
                    eprintln!("exaudit: {e}");
                    EXIT_ERROR
                }
            }
        }
    }
}

/// `exaudit topology infer`.
pub fn topology(cmd: &TopologyCommand) -> i32 {
    match cmd {
        TopologyCommand::Infer {
            files,
            output,
            exchange,
        } => {
            let g = match exchange.as_deref().map(generation).transpose() {
                Ok(g) => g,
                Err(e) => {
                    eprintln!("exaudit: {e}");
                    return EXIT_ERROR;
                }
            };
            let rules = RuleSet::embedded();
            // The inspectors run: roles come from what hosts say and serve.
            let cfg = PipelineConfig::default();
            let files = expand_inputs(files);
            let mut survey = Survey::new(&rules);
            let (stats, _) = analyze_files(
                &files,
                cfg,
                None,
                &rules,
                progress_bar(&files, true, ""),
                |e, _| {
                    survey.add(&e);
                },
            );
            let (inference, _, why) = survey.infer(g);
            eprintln!("exaudit: Exchange {} ({why})", inference.topology.site().exchange);
            for h in &inference.hosts {
                eprintln!("exaudit: {} -> {} ({})", h.label(), h.roles, h.reason);
            }
            let text = format!(
                "# Inferred by exaudit from {} packets in {}.\n# Check every role: addresses not listed are `internet`.\n{}",
                stats.capture.packets,
                files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
                inference.topology.to_toml()
            );
            warn_inputs(&stats);
            if let Err(e) = write_output(output.as_deref(), |w| w.write_all(text.as_bytes())) {
                eprintln!("exaudit: {e}");
                return EXIT_ERROR;
            }
            if stats.capture.errors.is_empty() {
                EXIT_OK
            } else {
                EXIT_ERROR
            }
        }
    }
}

/// Parses a role list for `rules explain`: topology role names (and `internet`),
/// comma separated.
fn explain_roles(text: &str, what: &str) -> Result<RoleSet, String> {
    let mut set = RoleSet::EMPTY;
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        match Role::from_name(name) {
            Some(r) => set.insert(r),
            None => {
                let valid: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
                return Err(format!(
                    "unknown role `{name}` for {what}: use one of {}",
                    valid.join(", ")
                ));
            }
        }
    }
    if set.is_empty() {
        return Err(format!("{what} names no role"));
    }
    Ok(set)
}

/// Parses `tcp/443`, `udp/53` or `tcp/dynamic`.
fn explain_service(text: &str) -> Result<(Proto, Option<u16>), String> {
    let bad = || {
        format!("`{text}` is not a service: write PROTO/PORT with PROTO tcp or udp and PORT 0-65535 or `dynamic`, e.g. tcp/443")
    };
    let (proto, port) = text.trim().split_once('/').ok_or_else(bad)?;
    let proto = match proto.to_ascii_lowercase().as_str() {
        "tcp" => Proto::Tcp,
        "udp" => Proto::Udp,
        _ => return Err(bad()),
    };
    if port.eq_ignore_ascii_case("dynamic") {
        return Ok((proto, None));
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    Ok((proto, Some(port)))
}

/// `exaudit rules explain`.
fn explain(args: &crate::cli::ExplainArgs) -> Result<(), String> {
    use crate::classify::verdict::{explain as explain_path, Explanation};
    let set = load_rules(args.rules.as_deref(), false)?;
    let g = generation(&args.exchange)?;
    let matcher = set.matcher(g);
    let site = SiteFacts {
        generation: g,
        edge_subscribed: args.edge_subscribed,
        ports: crate::classify::topology::SitePorts {
            sender_reputation_proxy: args.sender_reputation_proxy_port,
            rfc1006: args.rfc1006_port,
        },
    };
    let mut answers: Vec<(String, String, String, Explanation)> = Vec::new();
    let mut one = |from: &str, to: &str, service: &str| -> Result<(), String> {
        let c = explain_roles(from, "--from")?;
        let s = explain_roles(to, "--to")?;
        let (proto, port) = explain_service(service)?;
        let app = crate::classify::rules::FlowFacts {
            http_path: args.http_path.as_deref(),
            tls: args.tls,
            epm_announced: false,
        };
        let e = explain_path(&matcher, &site, c, s, proto, port, &app);
        answers.push((from.trim().into(), to.trim().into(), service.trim().into(), e));
        Ok(())
    };
    match &args.paths {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("{}: cannot read the paths file: {e}", file.display()))?;
            for (n, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with('#') {
                    continue;
                }
                let cols: Vec<&str> = line.split(',').map(str::trim).collect();
                if n == 0 && cols.first().is_some_and(|c| c.eq_ignore_ascii_case("from")) {
                    continue;
                }
                let [from, to, service] = cols.as_slice() else {
                    return Err(format!(
                        "{}:{}: expected `from,to,proto/port` (3 columns), found {}",
                        file.display(),
                        n + 1,
                        cols.len()
                    ));
                };
                // Several roles on one side are written with `+` inside a CSV cell.
                one(&from.replace('+', ","), &to.replace('+', ","), service)
                    .map_err(|e| format!("{}:{}: {e}", file.display(), n + 1))?;
            }
        }
        None => one(
            args.from.as_deref().unwrap_or_default(),
            args.to.as_deref().unwrap_or_default(),
            args.service.as_deref().unwrap_or_default(),
        )?,
    }
    write_output(None, |w| match args.format {
        crate::cli::ExplainFormat::Json => {
            if args.paths.is_some() {
                let rows: Vec<serde_json::Value> = answers
                    .iter()
                    .map(|(f, t, s, e)| {
                        let mut v = serde_json::to_value(e).unwrap_or_default();
                        if let Some(m) = v.as_object_mut() {
                            m.insert("from".into(), f.clone().into());
                            m.insert("to".into(), t.clone().into());
                            m.insert("service".into(), s.clone().into());
                        }
                        v
                    })
                    .collect();
                serde_json::to_writer_pretty(&mut *w, &rows).map_err(io::Error::from)?;
            } else if let Some((_, _, _, e)) = answers.first() {
                serde_json::to_writer_pretty(&mut *w, e).map_err(io::Error::from)?;
            }
            writeln!(w)
        }
        crate::cli::ExplainFormat::Table => {
            let edge = if args.edge_subscribed {
                "an Edge subscribed"
            } else {
                "no Edge subscribed"
            };
            for (f, t, s, e) in &answers {
                writeln!(w, "{f} -> {t} {s} (Exchange {g}, {edge})")?;
                writeln!(w, "  purpose:   {}", e.purpose)?;
                writeln!(w, "  verdict:   {}", e.verdict)?;
                if let (Some(k), Some(sev)) = (e.kind, e.severity) {
                    writeln!(w, "  finding:   {k} ({sev})")?;
                }
                writeln!(w, "  rule:      {}", e.rule.as_deref().unwrap_or("none"))?;
                writeln!(w, "  reference: {}", e.reference.as_deref().unwrap_or("none"))?;
            }
            Ok(())
        }
    })
}
