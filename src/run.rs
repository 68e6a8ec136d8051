//! Turns validated arguments into a run and an exit code.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};

use crate::analyze::Analyzer;
use crate::audit;
use crate::cli::{FailOn, FlowArgs, ReadArgs, RulesCommand, TopologyCommand};
use crate::flow::FlowConfig;
use crate::pipeline::{run_offline_filtered, PipelineConfig, RunStats};
use crate::report::{render, Format};
use crate::rules::{Proto, SiteFacts};
use crate::rules::{RuleSet, Severity};
use crate::topology::{Generation, Role, RoleSet, Topology};

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

/// Reads captures through the pipeline and the analyzer.
fn analyze_files(
    files: &[PathBuf],
    cfg: PipelineConfig,
    filter: Option<&str>,
    rules: &RuleSet,
    progress: bool,
    inspect_thread: bool,
) -> (
    RunStats,
    Vec<crate::analyze::EndedFlow>,
    crate::flow::expect::ExpectStats,
) {
    let files = &expand_inputs(files)[..];
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let bar = if progress && io::stderr().is_terminal() && total > 16 << 20 {
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
    let sizes: Vec<u64> = files
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
    let mut analyzer = Analyzer::new(rules.interfaces(), cfg.inspect_bytes);
    // With a core to spare, the end-of-flow inspectors run on a thread of
    // their own; otherwise inline on the flow worker.
    let stats = std::thread::scope(|s| {
        let inspector = inspect_thread.then(|| {
            let (itx, irx) = crossbeam_channel::bounded(1024);
            analyzer.inspect_on(itx);
            let epm = analyzer.epm();
            // Should the spawn fail, the channel is closed and the analyzer
            // inspects inline.
            std::thread::Builder::new()
                .name("exaudit-inspect".into())
                .spawn_scoped(s, move || crate::analyze::inspector(irx, epm))
        });
        let stats = run_offline_filtered(files, cfg, filter, progress, &mut analyzer);
        analyzer.stop_offload();
        if let Some(Ok(Ok(facts))) = inspector.map(|r| r.map(|h| h.join())) {
            analyzer.attach(facts);
        }
        stats
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let expect = analyzer.expect_stats();
    (stats, analyzer.ended, expect)
}

/// Whether the end-of-flow inspectors get a thread of their own: only with
/// a third core, as the capture thread and the flow worker use two. On the
/// 2-core benchmark machine the extra thread gained nothing (best of six:
/// 1.43 s with it, 1.39 s without) and held 27 MiB more.
fn inspect_thread() -> bool {
    std::thread::available_parallelism().is_ok_and(|n| n.get() >= 3)
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
                        crate::report::rfc3339(o.ts),
                        crate::report::rfc3339(o.clock)
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
    let (stats, flows, expect) = analyze_files(
        &args.files,
        args.flow.config(),
        args.filter.as_deref(),
        &rules,
        !args.no_progress,
        inspect_thread(),
    );
    let t1 = std::time::Instant::now();
    let hwm_read = peak_rss_mib();
    let topo = topology.as_ref().map(|(t, p)| (t, p.clone()));
    let audit = audit::build(&stats, flows, &rules, topo, exchange, expect);
    let t2 = std::time::Instant::now();
    let hwm_audit = peak_rss_mib();
    if let Err(e) = write_output(args.output.as_deref(), |w| render(format, &audit, w)) {
        eprintln!("exaudit: {e}");
        return EXIT_ERROR;
    }
    let t3 = std::time::Instant::now();
    let worst = audit
        .findings
        .iter()
        .filter_map(|f| Severity::parse(f.severity))
        .max();
    // The process ends next: returning the audit's memory to the allocator
    // flow by flow would only cost time (0.2 s for 200k flows).
    std::mem::forget(audit);
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
            let (stats, flows, _) = analyze_files(files, cfg, None, &rules, true, inspect_thread());
            let (inference, _, why) = audit::infer(&flows, &rules, g);
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
        ports: crate::rules::SitePorts {
            sender_reputation_proxy: args.sender_reputation_proxy_port,
            rfc1006: args.rfc1006_port,
        },
    };
    let mut answers: Vec<(String, String, String, Explanation)> = Vec::new();
    let mut one = |from: &str, to: &str, service: &str| -> Result<(), String> {
        let c = explain_roles(from, "--from")?;
        let s = explain_roles(to, "--to")?;
        let (proto, port) = explain_service(service)?;
        let app = crate::rules::FlowFacts {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The inspector thread and inline inspection learn the same facts.
    #[test]
    fn inspector_thread_and_inline_agree() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("captures");
        let files: Vec<PathBuf> = [
            "epm-rpcdump.pcap",
            "epm-map-followup.pcap",
            "smtp-starttls.pcap",
            "http-exchange-paths.pcap",
            "ldap-simple-bind.pcap",
            "pop3-imap.pcap",
        ]
        .iter()
        .map(|f| dir.join(f))
        .collect();
        let rules = RuleSet::embedded();
        let facts = |thread: bool| {
            let (_, flows, _) = analyze_files(&files, PipelineConfig::default(), None, &rules, false, thread);
            let mut v: Vec<(u64, String)> = flows
                .iter()
                .map(|e| (e.flow.id, format!("{:?} {:?}", e.app, e.epm)))
                .collect();
            v.sort();
            v
        };
        let inline = facts(false);
        assert!(inline.len() > 20, "{} flows", inline.len());
        assert!(
            inline.iter().filter(|(_, f)| f.contains("Some(")).count() > 5,
            "the captures' inspected facts are missing: {inline:?}"
        );
        assert_eq!(facts(true), inline);
    }
}
