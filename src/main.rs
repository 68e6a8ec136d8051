use clap::Parser;

// The flow worker and the audit allocate and free small objects by the
// million; mimalloc frees them much faster than glibc's allocator (measured
// in the closing note of the streaming-engine change).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use exaudit::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Read(args) => exaudit::run::read(args),
        Command::Live(args) => exaudit::live::live(args),
        Command::Rules(cmd) => exaudit::run::rules(cmd),
        Command::Topology(cmd) => exaudit::run::topology(cmd),
    };
    std::process::exit(code);
}
