use clap::Parser;

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
