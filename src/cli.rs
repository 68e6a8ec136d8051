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
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Capture files, read in the order given.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Output format (default: table on a terminal, ndjson otherwise).
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<Format>,
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
