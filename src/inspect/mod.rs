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

/// Runs every inspector that recognises the flow's bytes. `epm` is the
/// endpoint mapper's interface UUID (from the rules' interface table).
pub fn inspect_flow(s: &Streams<'_>, epm: &dcerpc::Uuid) -> AppFacts {
    let mut f = AppFacts::default();
    if s.c2s.is_empty() && s.s2c.is_empty() {
        return f;
    }
    if tls::looks_like_tls(s.c2s) {
        f.tls = tls::inspect_tls(s).map(Box::new);
    } else if http::looks_like_http_request(s.c2s) {
        f.http = http::inspect_http(s).map(Box::new);
        if dcerpc::rpc_over_http_method(s.c2s).is_some() {
            f.dcerpc = dcerpc::inspect_dcerpc(s, epm).map(Box::new);
        }
    } else if dcerpc::looks_like_dcerpc(s.c2s) || dcerpc::is_ncacn_http_greeting(s.s2c) {
        f.dcerpc = dcerpc::inspect_dcerpc(s, epm).map(Box::new);
    } else if osi::looks_like_tpkt(s.c2s) {
        f.osi = osi::inspect_osi(s).map(Box::new);
    } else if let Some(smtp) = smtp::inspect_smtp(s) {
        f.smtp = Some(Box::new(smtp));
    } else if let Some(p) = pop3_imap::inspect_pop3(s) {
        f.pop3 = Some(Box::new(p));
    } else if let Some(i) = pop3_imap::inspect_imap(s) {
        f.imap = Some(Box::new(i));
    } else {
        f.ldap = ldap::inspect_ldap(s).map(Box::new);
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
