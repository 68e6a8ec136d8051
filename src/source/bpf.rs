//! `--filter EXPR` on files: a BPF expression compiled by libpcap, with the
//! syntax and meaning of `tcpdump -r FILE EXPR`. libpcap compiles a filter
//! for one link type, so the program is compiled per link type as frames of
//! each appear (a pcapng file may mix them).

use pcap::{BpfProgram, Capture, Linktype};

use crate::decode::LinkType;

/// The libpcap DLT of a link type, as `pcap_open_dead` wants it.
fn dlt(link: LinkType) -> i32 {
    match link {
        LinkType::Null => 0,
        LinkType::Ethernet => 1,
        LinkType::Raw => 12,
        LinkType::Loop => 108,
        LinkType::LinuxSll => 113,
        LinkType::Ipv4 => 228,
        LinkType::Ipv6 => 229,
        LinkType::LinuxSll2 => 276,
    }
}

/// Compiles `expr` for `link`, or libpcap's error.
pub fn compile(expr: &str, link: LinkType) -> Result<BpfProgram, String> {
    let dead = Capture::dead(Linktype(dlt(link))).map_err(|e| e.to_string())?;
    dead.compile(expr, true).map_err(|e| e.to_string())
}

/// A filter: the expression and its program per link type seen so far.
pub struct Filter {
    expr: String,
    programs: Vec<(LinkType, Option<BpfProgram>)>,
    /// Link types the expression does not compile for, with libpcap's error
    /// (their frames never match).
    pub errors: Vec<(LinkType, String)>,
}

impl Filter {
    pub fn new(expr: &str) -> Filter {
        Filter {
            expr: expr.to_string(),
            programs: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Whether a frame of `link` with bytes `data` passes the filter.
    pub fn matches(&mut self, link: LinkType, data: &[u8]) -> bool {
        let i = match self.programs.iter().position(|(l, _)| *l == link) {
            Some(i) => i,
            None => {
                let p = match compile(&self.expr, link) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        self.errors.push((link, e));
                        None
                    }
                };
                self.programs.push((link, p));
                self.programs.len() - 1
            }
        };
        self.programs
            .get(i)
            .and_then(|(_, p)| p.as_ref())
            .is_some_and(|p| p.filter(data))
    }
}
