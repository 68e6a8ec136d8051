use clap::Parser;
use exaudit::cli::{Cli, Command};

fn main() {
    let cli = Cli::parse();
    let code = match &cli.command {
        Command::Read(args) => exaudit::run::read(args),
    };
    std::process::exit(code);
}
