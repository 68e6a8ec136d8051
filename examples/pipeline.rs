//! The packet pipeline alone (issue 2's "full pipeline"): the capture thread
//! reads and decodes, batches cross the channel, the flow worker keeps the
//! table (TCP state, history, timeouts) and writes every ended flow's record
//! as an ndjson line (to a sink: formatting, not disk, is what is measured).
//! No inspectors, no classification, no findings. Compare with
//! `examples/rawread` on the same file (`scripts/bench.sh` runs both).
//!
//!     cargo run --release --example pipeline -- FILE

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use exaudit::audit::records::FlowRecord;
use exaudit::flow::{EndReason, Flow};
use exaudit::pipeline::{run_offline, PipelineConfig};

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    let (Some(file), None) = (args.next(), args.next()) else {
        eprintln!("usage: pipeline FILE");
        return ExitCode::from(2);
    };
    let files = [PathBuf::from(file)];
    let cfg = PipelineConfig {
        inspect_bytes: 0,
        ..PipelineConfig::default()
    };
    let started = Instant::now();
    let mut flows: u64 = 0;
    let mut packets_in_flows: u64 = 0;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::sink());
    let mut written: u64 = 0;
    let mut handler = |f: Flow, _r: EndReason| {
        let rec = FlowRecord::from_flow(&f);
        flows += 1;
        packets_in_flows += rec.c2s_packets + rec.s2c_packets;
        let mut line = Vec::with_capacity(512);
        if serde_json::to_writer(&mut line, &rec).is_ok() {
            line.push(b'\n');
            written += line.len() as u64;
            let _ = out.write_all(&line);
        }
    };
    let stats = run_offline(&files, cfg, |_, _| {}, &mut handler);
    let secs = started.elapsed().as_secs_f64();
    if let Some(e) = stats.capture.errors.first() {
        eprintln!("pipeline: {e}");
        return ExitCode::from(2);
    }
    let packets = stats.capture.packets;
    println!(
        "packets={packets} bytes={} flows={flows} peak_flows={} evictions={} packets_in_flows={packets_in_flows} ndjson_bytes={written} seconds={secs:.3} packets_per_s={:.0}",
        stats.capture.bytes,
        stats.table.peak_flows,
        stats.table.evicted,
        packets as f64 / secs
    );
    ExitCode::SUCCESS
}
