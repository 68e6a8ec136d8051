//! Inspectors: pure parsers over the first bytes of each direction of a flow.
//!
//! Each inspector is a function of the (ordered, bounded) client-to-server and
//! server-to-client byte streams to a small owned fact struct. No I/O, no
//! global state, and no Exchange port, UUID, path or host name in here: those
//! are data in `rules/`.

/// The three answers a wire parser can give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A complete item, and how many bytes it used.
    Done(T, usize),
    /// The bytes so far are a valid prefix: more are needed.
    NeedMore,
    /// The bytes are not this protocol (or are corrupt).
    Invalid,
}

/// The first bytes of both directions of a flow, in stream order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Streams<'a> {
    pub c2s: &'a [u8],
    pub s2c: &'a [u8],
}

pub mod auth;
pub mod ber;
pub mod dcerpc;
pub mod http;
pub mod ldap;
pub mod osi;
pub mod pop3_imap;
pub mod smtp;
pub mod tls;

use crate::vocab::Uuid;

/// For `skip_serializing_if`: leave false flags out of the output.
pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

/// For `skip_serializing_if`: leave zero counters out of the output.
pub(crate) fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Everything the inspectors learnt about one flow (the `app` field). Each
/// protocol's facts are boxed: a flow has one or two of them, and the
/// audit keeps every ended flow, so the empty struct must stay small.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AppFacts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp: Option<Box<smtp::SmtpFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pop3: Option<Box<pop3_imap::Pop3Facts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imap: Option<Box<pop3_imap::ImapFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<tls::TlsFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<http::HttpFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ldap: Option<Box<ldap::LdapFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dcerpc: Option<Box<dcerpc::DcerpcFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub osi: Option<Box<osi::OsiFacts>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Box<auth::AuthFacts>>,
    /// Bytes seen per direction were cut at the inspection cap or by a gap.
    #[serde(skip)]
    pub gap: bool,
    /// The facts were read with the two directions swapped: on a flow
    /// whose direction was a guess, the content says the other side is the
    /// client.
    #[serde(skip)]
    pub reversed: bool,
}

impl AppFacts {
    /// Whether an inspector that reads the client's opening (a TLS
    /// ClientHello, an HTTP request, a DCE/RPC bind or request, an RFC 1006
    /// connect) or the server's greeting (SMTP, POP3, IMAP4) recognised the
    /// flow: then the content tells client from server. LDAP and the
    /// authentication facts do not (their parsers read either side).
    pub fn tells_direction(&self) -> bool {
        self.tls.is_some()
            || self.http.is_some()
            || self.dcerpc.is_some()
            || self.osi.is_some()
            || self.smtp.is_some()
            || self.pop3.is_some()
            || self.imap.is_some()
    }

    /// Whether TLS was negotiated on the flow, directly or after STARTTLS;
    /// `None` when nothing tells.
    pub fn tls_negotiated(&self) -> Option<bool> {
        if let Some(t) = &self.tls {
            return Some(t.client_hello || t.server_hello);
        }
        let starttls = self
            .smtp
            .as_ref()
            .map(|s| s.starttls)
            .or(self.pop3.as_ref().map(|p| p.tls_started))
            .or(self.imap.as_ref().map(|i| i.tls_started))
            .or(self.ldap.as_ref().map(|l| l.starttls));
        starttls
    }

    /// The first HTTP request path seen in clear text.
    pub fn http_path(&self) -> Option<&str> {
        self.http.as_ref()?.requests.first().map(|r| r.path.as_str())
    }
}

/// Position just after the first `needle` (ASCII case-insensitive) in `hay`.
fn after(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
        .map(|p| p.saturating_add(needle.len()))
}

/// Where a TLS handshake record starts in `buf` at or after `from`.
fn tls_record_start(buf: &[u8], from: usize) -> Option<usize> {
    let tail = buf.get(from..)?;
    tail.windows(3)
        .position(|w| {
            w.first() == Some(&0x16) && w.get(1) == Some(&0x03) && w.get(2).is_some_and(|v| *v <= 4)
        })
        .map(|p| p.saturating_add(from))
}

/// What an inspector is given besides the bytes: rule data it needs
/// (never an Exchange constant compiled in).
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The endpoint mapper's interface UUID, from the rules' interface table.
    pub epm: &'a Uuid,
}

/// How an inspector claims a flow.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// A cheap look at the opening bytes: when it says yes, this inspector
    /// owns the flow (whether or not its parse then succeeds) and no later
    /// one is tried.
    Bytes(fn(&Streams<'_>) -> bool),
    /// The parse itself decides: the flow is this protocol when `inspect`
    /// recognises it; otherwise the next inspector is tried.
    Parse,
}

/// An inspector needs more than `--inspect-bytes` per direction.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// Bytes per direction to keep (at least `--inspect-bytes`).
    pub bytes: usize,
    /// Whether one packet's payload starts this protocol's unit (the capture
    /// thread's payload gate asks before the flow's stream exists).
    pub packet: fn(&[u8]) -> bool,
    /// Whether the client's stream so far is this protocol (the flow
    /// worker raises the flow's cap when it is).
    pub stream: fn(&[u8]) -> bool,
}

/// One protocol inspector: how it claims a flow, what it sets in the
/// flow's facts, how many bytes it needs. Adding a protocol is one file in
/// `inspect/`, one field in [`AppFacts`] and one entry in [`INSPECTORS`].
#[derive(Debug, Clone, Copy)]
pub struct Inspector {
    /// The protocol's name (the key of its facts in the `app` field).
    pub name: &'static str,
    /// How it claims the flow.
    pub probe: Probe,
    /// The parse: sets this protocol's facts in `AppFacts`; says whether
    /// it recognised the flow.
    pub inspect: fn(&Streams<'_>, &Context<'_>, &mut AppFacts) -> bool,
    /// More bytes than the default, when the protocol needs them.
    pub budget: Option<Budget>,
}

/// The inspectors, tried in this order; the first that claims a flow is the
/// only one run on it (then STARTTLS and the authentication exchange are
/// read across protocols, in [`inspect_flow`]). Client-opening protocols come
/// first (their probes are exact); the server-greeting ones parse; LDAP, the
/// only one that reads either side, is last.
pub const INSPECTORS: &[Inspector] = &[
    Inspector {
        name: "tls",
        probe: Probe::Bytes(|s| tls::looks_like_tls(s.c2s)),
        inspect: |s, _, f| set(&mut f.tls, tls::inspect_tls(s)),
        budget: None,
    },
    Inspector {
        name: "http",
        probe: Probe::Bytes(|s| http::looks_like_http_request(s.c2s)),
        inspect: |s, cx, f| {
            let found = set(&mut f.http, http::inspect_http(s));
            // Outlook Anywhere: DCE/RPC inside RPC_IN_DATA / RPC_OUT_DATA.
            if dcerpc::rpc_over_http_method(s.c2s).is_some() {
                set(&mut f.dcerpc, dcerpc::inspect_dcerpc(s, cx.epm));
            }
            found
        },
        budget: None,
    },
    Inspector {
        name: "dcerpc",
        probe: Probe::Bytes(|s| dcerpc::looks_like_dcerpc(s.c2s) || dcerpc::is_ncacn_http_greeting(s.s2c)),
        inspect: |s, cx, f| set(&mut f.dcerpc, dcerpc::inspect_dcerpc(s, cx.epm)),
        // Endpoint-mapper lookups answer in several fragments (Samba: 6.8 KB).
        budget: Some(Budget {
            bytes: dcerpc::INSPECT_BYTES,
            packet: dcerpc::starts_pdu,
            stream: dcerpc::looks_like_dcerpc,
        }),
    },
    Inspector {
        name: "osi",
        probe: Probe::Bytes(|s| osi::looks_like_tpkt(s.c2s)),
        inspect: |s, _, f| set(&mut f.osi, osi::inspect_osi(s)),
        budget: None,
    },
    Inspector {
        name: "smtp",
        probe: Probe::Parse,
        inspect: |s, _, f| set(&mut f.smtp, smtp::inspect_smtp(s)),
        budget: None,
    },
    Inspector {
        name: "pop3",
        probe: Probe::Parse,
        inspect: |s, _, f| set(&mut f.pop3, pop3_imap::inspect_pop3(s)),
        budget: None,
    },
    Inspector {
        name: "imap",
        probe: Probe::Parse,
        inspect: |s, _, f| set(&mut f.imap, pop3_imap::inspect_imap(s)),
        budget: None,
    },
    Inspector {
        name: "ldap",
        probe: Probe::Parse,
        inspect: |s, _, f| set(&mut f.ldap, ldap::inspect_ldap(s)),
        budget: None,
    },
];

/// Stores a parse's facts, boxed; says whether there were any.
fn set<T>(slot: &mut Option<Box<T>>, facts: Option<T>) -> bool {
    *slot = facts.map(Box::new);
    slot.is_some()
}

/// The bytes per direction a flow's inspection keeps when its client's
/// stream so far is `c2s`: the budget of the inspector that wants more, or
/// `default` (`--inspect-bytes`).
pub fn stream_budget(c2s: &[u8], default: usize) -> usize {
    INSPECTORS
        .iter()
        .filter_map(|i| i.budget)
        .find(|b| (b.stream)(c2s))
        .map_or(default, |b| b.bytes.max(default))
}

/// The same for one packet's payload, before the flow's stream exists.
pub fn packet_budget(payload: &[u8], default: usize) -> usize {
    INSPECTORS
        .iter()
        .filter_map(|i| i.budget)
        .find(|b| (b.packet)(payload))
        .map_or(default, |b| b.bytes.max(default))
}

/// The most bytes per direction any inspector keeps.
pub fn max_budget(default: usize) -> usize {
    INSPECTORS
        .iter()
        .filter_map(|i| i.budget)
        .map(|b| b.bytes)
        .fold(default, usize::max)
}

/// Runs the inspector that claims the flow's bytes (the first in
/// [`INSPECTORS`]), then STARTTLS and authentication across protocols. `epm`
/// is the endpoint mapper's interface UUID (from the rules' interface table).
pub fn inspect_flow(s: &Streams<'_>, epm: &Uuid) -> AppFacts {
    let mut f = AppFacts::default();
    if s.c2s.is_empty() && s.s2c.is_empty() {
        return f;
    }
    let cx = Context { epm };
    for i in INSPECTORS {
        match i.probe {
            Probe::Bytes(probe) => {
                if probe(s) {
                    (i.inspect)(s, &cx, &mut f);
                    break;
                }
            }
            Probe::Parse => {
                if (i.inspect)(s, &cx, &mut f) {
                    break;
                }
            }
        }
    }
    // STARTTLS: the handshake follows the upgrade command in both directions.
    if f.tls.is_none() && f.tls_negotiated() == Some(true) {
        let upgrade = after(s.c2s, b"STARTTLS\r\n")
            .or_else(|| after(s.c2s, b"STLS\r\n"))
            .unwrap_or(0);
        if let Some(c) = tls_record_start(s.c2s, upgrade) {
            let sc = tls_record_start(s.s2c, 0)
                .and_then(|p| s.s2c.get(p..))
                .unwrap_or_default();
            let inner = Streams {
                c2s: s.c2s.get(c..).unwrap_or_default(),
                s2c: sc,
            };
            f.tls = tls::inspect_tls(&inner).map(Box::new);
        }
    }
    if f.tls.is_none() {
        f.auth = auth::inspect_auth(s).filter(|a| !a.is_empty()).map(Box::new);
    }
    f
}
