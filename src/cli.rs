//! Command-line definitions (clap) only.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "exaudit",
    version,
    about = "Passive packet-capture auditor for Microsoft Exchange networks"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit capture files (.pcap, .pcapng, optionally .gz).
    Read(ReadArgs),
    /// Audit a network interface live (libpcap), e.g. a SPAN port, for days.
    Live(LiveArgs),
    /// Validate or list the policy rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Work with site topology files.
    #[command(subcommand)]
    Topology(TopologyCommand),
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a rules folder (default: the embedded rules): errors name file, line and field;
    /// rules that contradict or shadow each other are reported.
    Check {
        /// Folder of *.toml rule files.
        dir: Option<PathBuf>,
    },
    /// What the policy says about a path, without a capture: purpose, verdict, finding
    /// kind and severity, rule and documentation row.
    Explain(ExplainArgs),
    /// List the rules that apply to an Exchange generation.
    List {
        /// Folder of *.toml rule files (default: the embedded rules).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// Exchange generation: 2019, 2016, 2013, 2010, 2007, 2003, 5.5, 5.0, 4.0.
        #[arg(long, default_value = "2019")]
        exchange: String,
    },
}

/// `exaudit rules explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The service: PROTO/PORT, e.g. tcp/443, udp/53, or tcp/dynamic (a port the
    /// endpoint mapper announced).
    #[arg(required_unless_present = "paths")]
    pub service: Option<String>,
    /// The client's role (a topology role name, or internet); several, comma separated,
    /// for a server holding several roles.
    #[arg(long, required_unless_present = "paths")]
    pub from: Option<String>,
    /// The server's role(s).
    #[arg(long, required_unless_present = "paths")]
    pub to: Option<String>,
    /// Exchange generation: 2019, 2016, 2013, 2010, 2007, 2003, 5.5, 5.0, 4.0.
    #[arg(long, default_value = "2019")]
    pub exchange: String,
    /// The site has a subscribed Edge Transport server.
    #[arg(long)]
    pub edge_subscribed: bool,
    /// The first HTTP request path, for rules that look at it (e.g. /mapi/).
    #[arg(long)]
    pub http_path: Option<String>,
    /// Whether TLS was negotiated (implicit or STARTTLS), for rules that look at it
    /// (e.g. cleartext SMTP between Hub Transport servers): true or false.
    #[arg(long)]
    pub tls: Option<bool>,
    /// The site's sender-reputation proxy server port (topology
    /// `sender_reputation_proxy_port`), for rules naming "site:sender_reputation_proxy".
    #[arg(long)]
    pub sender_reputation_proxy_port: Option<u16>,
    /// The site's X.400 RFC 1006 port when not 102 (topology `rfc1006_port`).
    #[arg(long)]
    pub rfc1006_port: Option<u16>,
    /// A CSV file of paths to answer at once, one `from,to,proto/port` per line (a
    /// header line and `#` comments are skipped), e.g. from a firewall rule export.
    #[arg(long, conflicts_with_all = ["service", "from", "to"])]
    pub paths: Option<PathBuf>,
    /// Folder of *.toml rule files (default: the embedded rules).
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value = "table")]
    pub format: ExplainFormat,
}

/// Output of `rules explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExplainFormat {
    /// Lines for people.
    Table,
    /// One JSON object (an array of them with --paths).
    Json,
}

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Infer the site's roles from captures and write them as a topology file to correct.
    Infer {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the topology here (default: standard output).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Exchange generation to write into the file (default: what banners and version
        /// headers say, else 2019).
        #[arg(long)]
        exchange: Option<String>,
    },
}

/// Finding severities for --fail-on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    /// Never fail because of findings.
    Never,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture files (pcap or pcapng, plain, gzip or zstd, told by content),
    /// read in the order given; `-` is standard input, a directory every
    /// capture in it.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Site topology (TOML); without it the roles are inferred from the traffic.
    #[arg(long, short = 't')]
    pub topology: Option<PathBuf>,
    /// Folder of rule files replacing the embedded defaults.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// With --rules: add the folder's rules to the defaults instead of replacing them.
    #[arg(long, requires = "rules")]
    pub extend_rules: bool,
    /// Exchange generation when the topology is inferred: 2019, 2016, 2013, 2010, 2007,
    /// 2003, 5.5, 5.0, 4.0 (default: what banners and version headers say, else 2019).
    #[arg(long)]
    pub exchange: Option<String>,
    /// Output format (default: table on a terminal, ndjson otherwise).
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,
    /// Exit with code 1 when a finding of this severity or worse exists.
    #[arg(long, value_enum, default_value = "never")]
    pub fail_on: FailOn,
    /// Write the output to this file (atomically) instead of standard output.
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub flow: FlowArgs,
    /// Keep only the packets this BPF expression matches, with the syntax
    /// and meaning of `tcpdump -r FILE EXPR` (compiled by libpcap).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Flows in memory (ended and held, plus those still tracked) up to which
    /// the audit needs one read of the input. Past this many, files are read
    /// a second time (the first read keeps only bounded per-host evidence)
    /// and standard input is audited as its flows end, the roles learnt on
    /// the way. Memory stays bounded either way; 0 always takes the second read.
    #[arg(long, default_value_t = 262_144, value_name = "N")]
    pub hold_flows: usize,
}

#[derive(Debug, Args, Clone)]
pub struct FlowArgs {
    /// Hard cap on tracked flows; beyond it flows are evicted (and counted).
    #[arg(long, default_value_t = 1_000_000)]
    pub max_flows: usize,
    /// Idle timeout of open TCP connections, seconds.
    #[arg(long, default_value_t = 300)]
    pub tcp_timeout: u32,
    /// How long a closed TCP connection is kept for stragglers, seconds.
    #[arg(long, default_value_t = 30)]
    pub tcp_closed_timeout: u32,
    /// Idle timeout of UDP flows, seconds.
    #[arg(long, default_value_t = 60)]
    pub udp_timeout: u32,
    /// Idle timeout of ICMP and other flows, seconds.
    #[arg(long, default_value_t = 60)]
    pub icmp_timeout: u32,
    /// Bytes of each direction of a flow given to the protocol inspectors (0: no inspection).
    #[arg(long, default_value_t = 4096)]
    pub inspect_bytes: usize,
    /// Flows inspected at once; beyond it new flows are tracked but not inspected (counted).
    #[arg(long, default_value_t = 65_536)]
    pub max_inspecting: usize,
}

/// A duration: a number with a unit `ms`, `s`, `m`, `h` or `d` (`90s`, `5m`,
/// `2h`); a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a duration: write e.g. 60s, 5m, 2h, 1d"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "" | "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86400.0,
        u => return Err(format!("unknown unit {u:?} in {text:?}: use ms, s, m, h or d")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("{text:?} is not a positive duration"));
    }
    Ok(std::time::Duration::from_secs_f64(secs))
}

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture on (see --list-interfaces).
    #[arg(long, short = 'i', required_unless_present = "list_interfaces")]
    pub interface: Option<String>,
    /// List the interfaces libpcap can open, and exit.
    #[arg(long)]
    pub list_interfaces: bool,
    /// Site topology (TOML); without it the roles are re-inferred from the traffic at each interval.
    #[arg(long, short = 't')]
    pub topology: Option<PathBuf>,
    /// Folder of rule files replacing the embedded defaults.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// With --rules: add the folder's rules to the defaults instead of replacing them.
    #[arg(long, requires = "rules")]
    pub extend_rules: bool,
    /// Exchange generation when the topology is inferred: 2019, 2016, 2013, 2010, 2007,
    /// 2003, 5.5, 5.0, 4.0 (default: what banners and version headers say, else 2019).
    #[arg(long)]
    pub exchange: Option<String>,
    /// BPF capture filter (tcpdump syntax), applied in the kernel.
    #[arg(long)]
    pub filter: Option<String>,
    /// Bytes kept of each packet (large enough for TLS hellos).
    #[arg(long, default_value_t = 65535)]
    pub snaplen: i32,
    /// Kernel capture buffer, MiB (default: libpcap's, 2 MiB on Linux).
    #[arg(long)]
    pub buffer_size: Option<u32>,
    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// How often a compact audit is printed (packets/s, drops, purposes, new findings).
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub interval: std::time::Duration,
    /// Stop after this long (default: until SIGINT/SIGTERM).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<std::time::Duration>,
    /// Write the flows (NDJSON, one line per flow as it ends), then the findings and the summary, here (default: standard output).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Write the periodic and final audits here instead of standard error.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the packets of flows that raised findings to this pcap file.
    #[arg(long)]
    pub evidence: Option<PathBuf>,
    /// With --evidence: packets kept from the start of each flow.
    #[arg(long, default_value_t = 20)]
    pub evidence_packets: u32,
    /// With --evidence: most bytes written to the evidence file.
    #[arg(long, default_value_t = 256 << 20)]
    pub evidence_max_bytes: u64,
    /// When started as root: user to switch to once the interface is open.
    #[arg(long, default_value = "nobody")]
    pub user: String,
    #[command(flatten)]
    pub flow: FlowArgs,
}
