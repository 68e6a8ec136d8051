//! Live source: a network interface through libpcap (the `pcap` crate).
//!
//! The capture thread only reads frames and hands them to
//! [`pipeline::Capture`], which decodes them into batches; a full channel
//! drops the batch (counted) rather than stalling the reader. The handle is
//! non-blocking and the reader waits with `poll` for at most 100 ms: with
//! TPACKET_V3 a blocking read on an idle interface never returns (the read
//! timeout only runs once a packet arrived), so a quiet link would otherwise
//! hang the stop. Partial batches are shipped within about that time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::decode::LinkType;
use crate::pipeline;
use crate::source::offline::RawFrame;

/// libpcap read timeout, milliseconds.
pub const READ_TIMEOUT_MS: i32 = 100;
/// After a stop request, how long the reader keeps reading what the kernel
/// captured before it (it stops earlier at the first later packet or 100 ms
/// of silence).
pub const DRAIN_LIMIT: Duration = Duration::from_secs(2);

/// How to open the interface.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    pub interface: String,
    pub filter: Option<String>,
    pub snaplen: i32,
    /// Kernel buffer, MiB.
    pub buffer_mib: Option<u32>,
    pub promisc: bool,
}

/// Why the interface could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The process lacks capture rights.
    Permission(String),
    /// No such interface.
    NoDevice(String),
    /// The BPF filter does not compile.
    Filter(String),
    Other(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Permission(m) => write!(
                f,
                "no permission to capture ({m}).\n\
                 Capturing needs the capabilities CAP_NET_RAW and CAP_NET_ADMIN (or root). Grant them to the binary once:\n\
                 \x20   sudo setcap cap_net_raw,cap_net_admin=eip $(command -v exaudit)\n\
                 or run exaudit as root (it switches to --user, default nobody, once the interface is open)."
            ),
            OpenError::NoDevice(m) => write!(f, "{m}; `exaudit live --list-interfaces` lists the interfaces"),
            OpenError::Filter(m) => write!(f, "bad --filter: {m}"),
            OpenError::Other(m) => write!(f, "{m}"),
        }
    }
}

fn classify_error(iface: &str, e: pcap::Error) -> OpenError {
    let text = e.to_string();
    let lower = text.to_lowercase();
    if lower.contains("permission") || lower.contains("not permitted") || lower.contains("eperm") {
        OpenError::Permission(format!("{iface}: {text}"))
    } else if lower.contains("no such device") || lower.contains("doesn't exist") {
        OpenError::NoDevice(format!("interface {iface:?} does not exist ({text})"))
    } else {
        OpenError::Other(format!("cannot capture on {iface}: {text}"))
    }
}

/// An open interface.
pub struct Opened {
    pub cap: pcap::Capture<pcap::Active>,
    pub link: LinkType,
    /// The pcap link-type number (for the evidence file).
    pub linktype: u32,
}

/// Opens the interface, applies the filter.
pub fn open(o: &LiveOptions) -> Result<Opened, OpenError> {
    let mut inactive = pcap::Capture::from_device(o.interface.as_str())
        .map_err(|e| classify_error(&o.interface, e))?
        .promisc(o.promisc)
        .snaplen(o.snaplen.clamp(64, 262_144))
        .timeout(READ_TIMEOUT_MS);
    if let Some(mib) = o.buffer_mib {
        let bytes = i32::try_from(u64::from(mib) << 20).unwrap_or(i32::MAX);
        inactive = inactive.buffer_size(bytes);
    }
    let cap = inactive.open().map_err(|e| classify_error(&o.interface, e))?;
    let mut cap = cap
        .setnonblock()
        .map_err(|e| OpenError::Other(format!("{}: cannot set non-blocking mode: {e}", o.interface)))?;
    if let Some(f) = &o.filter {
        cap.filter(f, true)
            .map_err(|e| OpenError::Filter(format!("{f:?}: {e}")))?;
    }
    let dl = cap.get_datalink().0;
    let linktype = u32::try_from(dl).unwrap_or(u32::MAX);
    let link = LinkType::from_linktype(linktype).ok_or_else(|| {
        OpenError::Other(format!(
            "{}: link type {dl} ({}) is not supported",
            o.interface,
            cap.get_datalink().get_name().unwrap_or_default()
        ))
    })?;
    Ok(Opened { cap, link, linktype })
}

/// One line per interface libpcap can open.
pub fn list_interfaces() -> Result<Vec<String>, String> {
    let devs = pcap::Device::list().map_err(|e| format!("cannot list interfaces: {e}"))?;
    Ok(devs
        .into_iter()
        .map(|d| {
            let addrs: Vec<String> = d.addresses.iter().map(|a| a.addr.to_string()).collect();
            let mut flags = Vec::new();
            if d.flags.is_up() {
                flags.push("up");
            }
            if d.flags.is_running() {
                flags.push("running");
            }
            if d.flags.is_loopback() {
                flags.push("loopback");
            }
            format!(
                "{}\t{}\t{}\t{}",
                d.name,
                flags.join(","),
                addrs.join(" "),
                d.desc.unwrap_or_default()
            )
        })
        .collect())
}

/// Counters the capture thread publishes for the periodic reports.
#[derive(Debug, Default)]
pub struct LiveCounters {
    /// Frames read from libpcap.
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    /// libpcap: packets the kernel received (passed the filter), dropped for
    /// lack of buffer room, dropped by the interface or driver.
    pub received: AtomicU64,
    pub kernel_drops: AtomicU64,
    pub interface_drops: AtomicU64,
    /// Packets in batches dropped because the flow worker was behind.
    pub pipeline_drops: AtomicU64,
}

/// libpcap's counters are 32-bit and wrap: accumulate the deltas in 64 bits.
#[derive(Debug, Default, Clone, Copy)]
struct Wide {
    last: u32,
    total: u64,
}

impl Wide {
    fn update(&mut self, now: u32) -> u64 {
        self.total += u64::from(now.wrapping_sub(self.last));
        self.last = now;
        self.total
    }
}

#[derive(Default)]
struct StatTracker {
    received: Wide,
    dropped: Wide,
    if_dropped: Wide,
}

/// The libpcap statistics at the end of a capture.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PcapStats {
    pub received: u64,
    pub dropped: u64,
    pub if_dropped: u64,
}

/// How the capture loop ended.
#[derive(Debug, Clone, Default)]
pub struct LiveEnd {
    pub stats: PcapStats,
    /// A read error that stopped the capture.
    pub error: Option<String>,
}

fn publish<S: std::hash::BuildHasher>(
    cap: &mut pcap::Capture<pcap::Active>,
    capture: &pipeline::Capture<S>,
    tracker: &mut StatTracker,
    counters: &LiveCounters,
) -> PcapStats {
    let s = match cap.stats() {
        Ok(s) => PcapStats {
            received: tracker.received.update(s.received),
            dropped: tracker.dropped.update(s.dropped),
            if_dropped: tracker.if_dropped.update(s.if_dropped),
        },
        Err(_) => PcapStats {
            received: tracker.received.total,
            dropped: tracker.dropped.total,
            if_dropped: tracker.if_dropped.total,
        },
    };
    counters.received.store(s.received, Ordering::Relaxed);
    counters.kernel_drops.store(s.dropped, Ordering::Relaxed);
    counters.interface_drops.store(s.if_dropped, Ordering::Relaxed);
    counters.packets.store(capture.stats.packets, Ordering::Relaxed);
    counters.bytes.store(capture.stats.bytes, Ordering::Relaxed);
    counters
        .pipeline_drops
        .store(capture.stats.pipeline_drops, Ordering::Relaxed);
    s
}

// `time_t`/`suseconds_t` are not i64 on every target.
#[allow(clippy::useless_conversion)]
fn frame_ts(h: &pcap::PacketHeader) -> i64 {
    i64::from(h.ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(h.ts.tv_usec).saturating_mul(1000))
}

/// Waits until the capture handle is readable or `ms` passed; true when readable.
fn wait_readable(cap: &pcap::Capture<pcap::Active>, ms: i32) -> bool {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
    let timeout = PollTimeout::try_from(ms).unwrap_or(PollTimeout::NONE);
    matches!(poll(&mut fds, timeout), Ok(n) if n > 0)
}

/// Reads frames into `capture` until `stop` is set or `deadline` passes,
/// then reads what the kernel had captured before that moment, and ships the
/// last partial batch (waiting for room: nothing read is dropped at the end).
pub fn run<S: std::hash::BuildHasher>(
    mut cap: pcap::Capture<pcap::Active>,
    link: LinkType,
    capture: &mut pipeline::Capture<S>,
    stop: &AtomicBool,
    deadline: Option<Instant>,
    counters: &LiveCounters,
) -> LiveEnd {
    let mut tracker = StatTracker::default();
    let mut last_ship = Instant::now();
    let mut last_stats = Instant::now();
    let mut error = None;
    // Set when a stop was requested: (wall time of the request, when to give up).
    let mut stopping: Option<(i64, Instant)> = None;
    let mut since_check: u32 = 0;
    loop {
        if stopping.is_none()
            && (stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d))
        {
            stopping = Some((pipeline::wall_ns(), Instant::now() + DRAIN_LIMIT));
        }
        if let Some((_, give_up)) = stopping {
            if Instant::now() >= give_up {
                break;
            }
        }
        match cap.next_packet() {
            Ok(p) => {
                let ts = frame_ts(p.header);
                let f = RawFrame {
                    ts,
                    link,
                    data: p.data,
                    orig_len: p.header.len,
                    record: 0,
                };
                capture.frame(&f);
                // The first packet captured after the stop request: all
                // before it has been read.
                if stopping.is_some_and(|(at, _)| ts > at) {
                    break;
                }
                since_check += 1;
                if since_check >= 64 {
                    since_check = 0;
                    let now = Instant::now();
                    if capture.pending() > 0 && now.duration_since(last_ship) >= Duration::from_millis(100) {
                        capture.flush(false);
                        last_ship = now;
                    }
                    if now.duration_since(last_stats) >= Duration::from_secs(1) {
                        publish(&mut cap, capture, &mut tracker, counters);
                        last_stats = now;
                    }
                }
            }
            Err(pcap::Error::TimeoutExpired) => {
                // Nothing to read: wait for the kernel to hand over a block.
                if !wait_readable(&cap, READ_TIMEOUT_MS) && stopping.is_some() {
                    break;
                }
                capture.flush(false);
                last_ship = Instant::now();
                if last_stats.elapsed() >= Duration::from_millis(500) {
                    publish(&mut cap, capture, &mut tracker, counters);
                    last_stats = Instant::now();
                }
            }
            Err(e) => {
                error = Some(format!("capture stopped: {e}"));
                break;
            }
        }
    }
    capture.flush(true);
    let stats = publish(&mut cap, capture, &mut tracker, counters);
    LiveEnd { stats, error }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_counter_survives_wrap() {
        let mut w = Wide::default();
        assert_eq!(w.update(10), 10);
        assert_eq!(w.update(u32::MAX - 5), u64::from(u32::MAX) - 5);
        assert_eq!(w.update(4), u64::from(u32::MAX) + 5);
    }

    #[test]
    fn permission_error_names_the_capabilities() {
        let e = classify_error(
            "eth0",
            pcap::Error::PcapError(
                "eth0: You don't have permission to capture on that device (socket: Operation not permitted)"
                    .into(),
            ),
        );
        let text = e.to_string();
        assert!(matches!(e, OpenError::Permission(_)));
        assert!(text.contains("CAP_NET_RAW") && text.contains("CAP_NET_ADMIN") && text.contains("setcap"));
    }
}
