//! The read limit: how fast `exaudit::source::offline::read_file` alone goes
//! through a capture, with a callback that only counts packets and bytes.
//! The full pipeline can never be faster than this.
//!
//! ```text
//! cargo run --release --example rawread -- FILE
//! ```
//!
//! Prints one line: `packets=N bytes=B seconds=S packets_per_s=P mb_per_s=M`
//! (MB = 10^6 bytes of captured frame data).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use exaudit::source::offline::read_file;

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(file), None) = (args.next(), args.next()) else {
        eprintln!("usage: rawread FILE");
        return ExitCode::from(2);
    };
    let path = PathBuf::from(file);
    let started = Instant::now();
    let mut packets: u64 = 0;
    let mut bytes: u64 = 0;
    // Touch one byte of every frame so the read cannot be optimised away.
    let mut touch: u8 = 0;
    let (_stats, error) = read_file(
        &path,
        |f| {
            packets += 1;
            bytes += f.data.len() as u64;
            touch ^= f.data.get(f.data.len() / 2).copied().unwrap_or(0);
        },
        |_| {},
    );
    let secs = started.elapsed().as_secs_f64();
    std::hint::black_box(touch);
    if let Some(e) = error {
        eprintln!("rawread: {e}");
        return ExitCode::from(2);
    }
    println!(
        "packets={packets} bytes={bytes} seconds={secs:.3} packets_per_s={:.0} mb_per_s={:.1}",
        packets as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    ExitCode::SUCCESS
}
