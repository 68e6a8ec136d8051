//! Offline source: classic pcap (µs/ns, both byte orders), pcapng (any mix of
//! link types and timestamp resolutions), optionally gzip-compressed.
//!
//! Reading is done with the pure-Rust `pcap-parser`, which is faster than
//! libpcap for files and reads pcapng whose interfaces differ in link type.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use pcap_parser::pcapng::Block;
use pcap_parser::{create_reader, PcapBlockOwned, PcapError};

use crate::decode::LinkType;

/// Largest record the reader accepts (libpcap's MAXIMUM_SNAPLEN).
pub const MAX_RECORD: u32 = 262_144;
const BUFFER: usize = 1 << 20;

/// One captured frame as read from a file.
#[derive(Debug, Clone, Copy)]
pub struct RawFrame<'a> {
    /// Nanoseconds since the Unix epoch.
    pub ts: i64,
    pub link: LinkType,
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// A problem with an input file. Reading stops at the first one; everything
/// before it has been delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    /// 1-based number of the record that could not be read (0: the file header).
    pub packet: u64,
    /// Byte offset of that record in the (decompressed) file.
    pub offset: u64,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.packet == 0 && self.offset == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: packet {} at byte offset {}: {}",
                self.file.display(),
                self.packet,
                self.offset,
                self.message
            )
        }
    }
}

/// Statistics of one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileStats {
    pub packets: u64,
    pub bytes: u64,
    /// Frames on interfaces whose link type is not supported, by link type.
    pub unsupported_link: Vec<(u32, u64)>,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    /// Records whose timestamp is earlier than the one before.
    pub ts_backwards: u64,
}

impl FileStats {
    fn unsupported(&mut self, lt: u32) {
        match self.unsupported_link.iter_mut().find(|(l, _)| *l == lt) {
            Some((_, n)) => *n += 1,
            None => self.unsupported_link.push((lt, 1)),
        }
    }
}

struct Iface {
    link: Option<LinkType>,
    linktype: u32,
    /// Timestamp units per second.
    units: u64,
    offset_s: i64,
}

fn open(path: &Path) -> Result<Box<dyn Read + Send>, String> {
    let mut f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(|e| format!("cannot read: {e}"))?;
    drop(f);
    let f = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    if n == 2 && magic == [0x1f, 0x8b] {
        Ok(Box::new(flate2::read::MultiGzDecoder::new(
            BufReader::with_capacity(1 << 16, f),
        )))
    } else {
        Ok(Box::new(f))
    }
}

fn err(path: &Path, packet: u64, offset: u64, message: impl Into<String>) -> InputError {
    InputError {
        file: path.to_path_buf(),
        packet,
        offset,
        message: message.into(),
    }
}

fn legacy_claimed_len(data: &[u8], big_endian: bool) -> Option<u32> {
    let b: [u8; 4] = data.get(8..12)?.try_into().ok()?;
    Some(if big_endian {
        u32::from_be_bytes(b)
    } else {
        u32::from_le_bytes(b)
    })
}

/// Reads every frame of `path`, calling `on_frame` for each, and `on_progress`
/// with the number of bytes consumed now and then. Returns the file's
/// statistics, and the error that stopped reading, if any.
pub fn read_file(
    path: &Path,
    mut on_frame: impl FnMut(&RawFrame<'_>),
    mut on_progress: impl FnMut(u64),
) -> (FileStats, Option<InputError>) {
    let mut stats = FileStats::default();
    let input = match open(path) {
        Ok(r) => r,
        Err(m) => return (stats, Some(err(path, 0, 0, m))),
    };
    let mut reader = match create_reader(BUFFER, input) {
        Ok(r) => r,
        Err(PcapError::Eof) => {
            return (stats, Some(err(path, 0, 0, "empty file: not a pcap or pcapng capture")))
        }
        Err(PcapError::HeaderNotRecognized) | Err(PcapError::Incomplete(_)) => {
            return (
                stats,
                Some(err(
                    path,
                    0,
                    0,
                    "not a capture file: no pcap or pcapng header (is it a capture? convert it with `editcap -F pcap`)",
                )),
            )
        }
        Err(e) => return (stats, Some(err(path, 0, 0, format!("cannot read header: {e}")))),
    };
    let mut ifaces: Vec<Iface> = Vec::new();
    let mut legacy: Option<(Option<LinkType>, u32, bool, bool)> = None; // link, linktype, nanos, big endian
    let mut last_ts = i64::MIN;
    let mut record: u64 = 0;
    let mut since_progress: u64 = 0;
    let mut last_ts_interface_ts: i64 = 0;
    loop {
        let offset = reader.consumed() as u64;
        match reader.next() {
            Ok((len, block)) => {
                let mut frame: Option<(i64, Option<LinkType>, u32, &[u8], u32)> = None;
                match block {
                    PcapBlockOwned::LegacyHeader(h) => {
                        let lt = h.network.0 as u32;
                        legacy = Some((
                            LinkType::from_linktype(lt),
                            lt,
                            h.is_nanosecond_precision(),
                            h.is_bigendian(),
                        ));
                    }
                    PcapBlockOwned::Legacy(b) => {
                        record += 1;
                        let (link, lt, nanos, _) = legacy.unwrap_or((None, 0, false, false));
                        if b.caplen > MAX_RECORD {
                            return (
                                stats,
                                Some(err(path, record, offset, format!("record claims {} captured bytes, more than the {} maximum: the file is damaged from here on", b.caplen, MAX_RECORD))),
                            );
                        }
                        let frac = if nanos {
                            i64::from(b.ts_usec)
                        } else {
                            i64::from(b.ts_usec).saturating_mul(1000)
                        };
                        let ts = i64::from(b.ts_sec)
                            .saturating_mul(1_000_000_000)
                            .saturating_add(frac);
                        frame = Some((ts, link, lt, b.data, b.origlen));
                    }
                    PcapBlockOwned::NG(Block::SectionHeader(_)) => ifaces.clear(),
                    PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
                        let lt = idb.linktype.0 as u32;
                        ifaces.push(Iface {
                            link: LinkType::from_linktype(lt),
                            linktype: lt,
                            units: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            offset_s: idb.ts_offset(),
                        });
                    }
                    PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
                        record += 1;
                        let Some(ifc) = ifaces.get(epb.if_id as usize) else {
                            return (stats, Some(err(path, record, offset, format!("packet names interface {} but only {} interfaces were described: the file is damaged", epb.if_id, ifaces.len()))));
                        };
                        let raw = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let ns = (u128::from(raw) * 1_000_000_000u128 / u128::from(ifc.units)) as i64;
                        let ts = ns.saturating_add(ifc.offset_s.saturating_mul(1_000_000_000));
                        let caplen = epb.caplen as usize;
                        let data = epb.data.get(..caplen).unwrap_or(epb.data);
                        frame = Some((ts, ifc.link, ifc.linktype, data, epb.origlen));
                        last_ts_interface_ts = ts;
                    }
                    PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
                        record += 1;
                        let Some(ifc) = ifaces.first() else {
                            return (stats, Some(err(path, record, offset, "simple packet block before any interface description: the file is damaged")));
                        };
                        let caplen = (spb.origlen as usize).min(spb.data.len());
                        let data = spb.data.get(..caplen).unwrap_or(spb.data);
                        frame = Some((last_ts_interface_ts, ifc.link, ifc.linktype, data, spb.origlen));
                    }
                    PcapBlockOwned::NG(_) => {}
                }
                if let Some((ts, link, lt, data, orig_len)) = frame {
                    stats.packets += 1;
                    stats.bytes += u64::from(orig_len.max(data.len() as u32));
                    if stats.first_ts.is_none() {
                        stats.first_ts = Some(ts);
                    }
                    if ts < last_ts {
                        stats.ts_backwards += 1;
                    }
                    last_ts = last_ts.max(ts);
                    stats.last_ts = Some(last_ts);
                    match link {
                        Some(link) => on_frame(&RawFrame {
                            ts,
                            link,
                            data,
                            orig_len,
                        }),
                        None => stats.unsupported(lt),
                    }
                }
                reader.consume(len);
                since_progress += len as u64;
                if since_progress >= 1 << 22 {
                    since_progress = 0;
                    on_progress(reader.consumed() as u64);
                }
            }
            Err(PcapError::Eof) => break,
            Err(PcapError::Incomplete(_)) => {
                if let Err(e) = reader.refill() {
                    let e = format!("read error: {e}");
                    return (stats, Some(err(path, record + 1, offset, e)));
                }
            }
            Err(PcapError::UnexpectedEof) => {
                return (
                    stats,
                    Some(err(path, record + 1, offset, "the file ends in the middle of a record (cut short while copying or capturing?); everything before it was read")),
                );
            }
            Err(PcapError::BufferTooSmall) => {
                let claimed = legacy
                    .and_then(|(_, _, _, be)| legacy_claimed_len(reader.data(), be))
                    .map(|n| format!("record claims {n} captured bytes"))
                    .unwrap_or_else(|| "block claims a length".to_string());
                return (
                    stats,
                    Some(err(
                        path,
                        record + 1,
                        offset,
                        format!(
                            "{claimed}, more than the {MAX_RECORD} maximum: the file is damaged from here on"
                        ),
                    )),
                );
            }
            Err(e) => {
                return (
                    stats,
                    Some(err(
                        path,
                        record + 1,
                        offset,
                        format!("damaged record ({e}); reading of this file stops here"),
                    )),
                );
            }
        }
    }
    on_progress(reader.consumed() as u64);
    (stats, None)
}
