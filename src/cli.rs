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

#[derive(Debug, Subcommand)]
pub enum TopologyCommand {
    /// Infer the site's roles from captures and write them as a topology file to correct.
    Infer {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Write the topology here (default: standard output).
        #[arg(long, short = 'o')]
        output: Option<PathBuf>,
        /// Exchange generation to write into the file (traffic cannot tell).
        #[arg(long, default_value = "2019")]
        exchange: String,
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
    /// Capture files, read in the order given.
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
    /// Exchange generation assumed when the topology is inferred.
    #[arg(long, default_value = "2019")]
    pub exchange: String,
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
    /// Never show a progress bar.
    #[arg(long)]
    pub no_progress: bool,
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
