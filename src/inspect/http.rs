//! Cleartext HTTP/1.x: the first requests and responses of a connection.
//!
//! Reported: method (any token, e.g. RPC_IN_DATA), path WITHOUT the query
//! string or fragment (queries can carry secrets), Host, the Authorization
//! *scheme* only (never its value), whether Basic credentials were sent,
//! NTLMSSP / Kerberos presence in Authorization and WWW-Authenticate tokens
//! (the base64 is decoded only far enough to see the message kind), the
//! user agent (sanitised, truncated); response status codes, WWW-Authenticate
//! schemes, and the scheme and host of a redirect's Location.
//!
//! Mechanism only: no path means anything here; the path -> purpose table is
//! data in `rules/`.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use super::auth::{find_kerberos, find_ntlmssp, parse_ntlmssp_header, NtlmMessage};
use super::is_false;
use super::{Parsed, Streams};
use base64::Engine as _;

/// Requests (and responses) read per connection, at most.
pub const MAX_HTTP_MESSAGES: usize = 8;
/// A message head (start line and headers) longer than this is not read.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// Header lines read per message, at most.
const MAX_HEADERS: usize = 128;
/// Base64 characters of an auth token decoded, at most.
const MAX_TOKEN_CHARS: usize = 8 * 1024;
/// Chunks skipped in a chunked body, at most.
const MAX_CHUNKS: usize = 256;
const MAX_METHOD_CHARS: usize = 32;
const MAX_PATH_CHARS: usize = 256;
const MAX_HOST_CHARS: usize = 255;
const MAX_AGENT_CHARS: usize = 128;
const MAX_SCHEME_CHARS: usize = 32;
const MAX_LIST: usize = 8;

/// One request's facts.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HttpRequest {
    /// Method token as sent (GET, POST, RPC_IN_DATA, PROPFIND, ...).
    pub method: String,
    /// Request path without query string or fragment; for a CONNECT, the
    /// authority; "*" for an asterisk-form target.
    pub path: String,
    /// HTTP version of the request line ("1.0", "1.1").
    #[serde(skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Host header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Host of an absolute-form target (proxy requests); user info dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri_host: Option<String>,
    /// Authorization scheme (Basic, NTLM, Negotiate, Bearer, Digest, or the
    /// token as sent); never the credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_scheme: Option<String>,
    /// Basic credentials were sent (their value is not kept).
    #[serde(skip_serializing_if = "is_false")]
    pub basic_credentials: bool,
    /// Kind of the NTLMSSP message in the Authorization header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ntlm: Option<&'static str>,
    /// A Kerberos message was in the Authorization (Negotiate) token.
    #[serde(skip_serializing_if = "is_false")]
    pub kerberos: bool,
    /// User-Agent header, sanitised and truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The head was cut short by the inspected bytes; fields are partial.
    #[serde(skip_serializing_if = "is_false")]
    pub truncated: bool,
}

/// HTTP facts of one connection.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HttpFacts {
    /// The first requests, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<HttpRequest>,
    /// Response status codes, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub status_codes: Vec<u16>,
    /// Authentication schemes the server offered in WWW-Authenticate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub www_authenticate: Vec<String>,
    /// Scheme of the first redirect's (3xx) Location, lowercased.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_scheme: Option<String>,
    /// Host of the first redirect's Location (user info and port dropped).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_host: Option<String>,
    /// A 301/302 (or other 3xx) redirected to an https:// URL.
    #[serde(skip_serializing_if = "is_false")]
    pub redirect_to_https: bool,
    /// First Server header, sanitised and truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Vendor response headers (`X-...`), first value of each, sanitised and
    /// truncated; at most [`MAX_X_HEADERS`], none whose name suggests a secret.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub x_headers: Vec<HeaderField>,
    /// Some request carried Basic credentials.
    #[serde(skip_serializing_if = "is_false")]
    pub basic_credentials: bool,
    /// NTLMSSP message kinds seen in auth headers (requests, then responses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ntlm: Vec<&'static str>,
    /// A Kerberos message was seen in a Negotiate token.
    #[serde(skip_serializing_if = "is_false")]
    pub kerberos: bool,
    /// Bytes that are not HTTP came where a message should start (anomaly).
    #[serde(skip_serializing_if = "is_false")]
    pub invalid: bool,
}

/// One response header as the facts keep it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HeaderField {
    /// Lowercase name.
    pub name: String,
    /// Sanitised, truncated value.
    pub value: String,
}

/// Vendor headers kept per flow.
pub const MAX_X_HEADERS: usize = 8;
/// Characters kept of a vendor header's value.
const MAX_X_VALUE: usize = 64;

/// Whether a vendor header may carry a secret (a token, key, cookie or
/// credential) and is therefore never kept.
fn secret_header(name: &[u8]) -> bool {
    [
        "token", "canary", "cookie", "auth", "key", "session", "secret", "password", "sig",
    ]
    .iter()
    .any(|w| {
        name.windows(w.len())
            .any(|x| x.eq_ignore_ascii_case(w.as_bytes()))
    })
}

// ---------------------------------------------------------------- heads

/// A message head: start line and header lines, borrowed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Head<'a> {
    start: &'a [u8],
    headers: Vec<(&'a [u8], &'a [u8])>,
    /// The blank line ending the head was seen.
    complete: bool,
}

/// Split a head into lines. `Done(head, used)` where `used` includes the
/// blank line; with `partial`, a head cut by the end of `buf` is returned
/// with `complete == false` (its last, cut line left out).
fn parse_head(buf: &[u8], partial: bool) -> Parsed<Head<'_>> {
    let window = buf.get(..MAX_HEAD_BYTES).unwrap_or(buf);
    let mut head = Head::default();
    let mut rest = window;
    let mut first = true;
    loop {
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            // No full line left.
            if window.len() >= MAX_HEAD_BYTES && !partial {
                return Parsed::Invalid;
            }
            if partial && !first {
                return Parsed::Done(head, buf.len());
            }
            return Parsed::NeedMore;
        };
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        rest = rest.get(nl.saturating_add(1)..).unwrap_or_default();
        if first {
            head.start = line;
            first = false;
            continue;
        }
        if line.is_empty() {
            head.complete = true;
            let used = window.len().saturating_sub(rest.len());
            return Parsed::Done(head, used);
        }
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            continue; // obsolete line folding: ignored
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Parsed::Invalid;
        };
        let name = line.get(..colon).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Parsed::Invalid;
        }
        let value = trim(line.get(colon.saturating_add(1)..).unwrap_or_default());
        if head.headers.len() < MAX_HEADERS {
            head.headers.push((name, value));
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let Some((f, r)) = s.split_first() {
        if *f == b' ' || *f == b'\t' {
            s = r;
        } else {
            break;
        }
    }
    while let Some((l, r)) = s.split_last() {
        if *l == b' ' || *l == b'\t' {
            s = r;
        } else {
            break;
        }
    }
    s
}

fn header<'a>(head: &Head<'a>, name: &str) -> Option<&'a [u8]> {
    head.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| *v)
}

fn headers<'h, 'a>(head: &'h Head<'a>, name: &'h str) -> impl Iterator<Item = &'a [u8]> + 'h {
    head.headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| *v)
}

/// Printable ASCII (spaces kept), bounded; anything else becomes '?'.
fn sanitize(bytes: &[u8], max: usize) -> String {
    bytes
        .iter()
        .take(max)
        .map(|&b| {
            if (0x20..0x7f).contains(&b) {
                char::from(b)
            } else {
                '?'
            }
        })
        .collect()
}

/// "HTTP/d.d" -> "d.d".
fn http_version(v: &[u8]) -> Option<String> {
    match v {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Some(format!("{}.{}", char::from(*major), char::from(*minor)))
        }
        _ => None,
    }
}

/// Method, target, version of a request line.
fn request_line(line: &[u8]) -> Option<(&[u8], &[u8], String)> {
    let mut parts = line.split(|&b| b == b' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = http_version(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    if method.is_empty()
        || method.len() > MAX_METHOD_CHARS
        || !method.iter().all(|&b| is_tchar(b))
        || target.is_empty()
        || !target.iter().all(|&b| b > 0x20 && b != 0x7f)
    {
        return None;
    }
    Some((method, target, version))
}

/// Path (no query, no fragment) and, for an absolute URI, its host.
fn split_target(target: &[u8]) -> (String, Option<String>) {
    let cut_query = |p: &[u8]| -> String {
        let end = p.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(p.len());
        sanitize(p.get(..end).unwrap_or_default(), MAX_PATH_CHARS)
    };
    if target.first() == Some(&b'/') || target == b"*" {
        return (cut_query(target), None);
    }
    if let Some(scheme_end) = find(target, b"://") {
        let after = target.get(scheme_end.saturating_add(3)..).unwrap_or_default();
        let auth_end = after
            .iter()
            .position(|&b| b == b'/' || b == b'?' || b == b'#')
            .unwrap_or(after.len());
        let authority = after.get(..auth_end).unwrap_or_default();
        let path = after.get(auth_end..).unwrap_or_default();
        let path = if path.first() == Some(&b'/') {
            cut_query(path)
        } else {
            "/".to_string()
        };
        return (path, Some(authority_host(authority, true)));
    }
    // authority-form (CONNECT host:port): never has user info; strip any.
    (authority_host(target, false), None)
}

/// Host of an authority, user info dropped; the port is kept unless asked.
fn authority_host(authority: &[u8], drop_port: bool) -> String {
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(at) => authority.get(at.saturating_add(1)..).unwrap_or_default(),
        None => authority,
    };
    let host = if drop_port {
        if host_port.first() == Some(&b'[') {
            // [v6]:port
            match host_port.iter().position(|&b| b == b']') {
                Some(end) => host_port.get(..end.saturating_add(1)).unwrap_or(host_port),
                None => host_port,
            }
        } else {
            match host_port.iter().position(|&b| b == b':') {
                Some(c) => host_port.get(..c).unwrap_or(host_port),
                None => host_port,
            }
        }
    } else {
        host_port
    };
    sanitize(host, MAX_HOST_CHARS)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Canonical spelling of the common auth schemes; others as sent.
fn scheme_name(token: &[u8]) -> String {
    const KNOWN: [&str; 5] = ["Basic", "NTLM", "Negotiate", "Bearer", "Digest"];
    KNOWN
        .iter()
        .find(|k| k.as_bytes().eq_ignore_ascii_case(token))
        .map(|k| (*k).to_string())
        .unwrap_or_else(|| sanitize(token, MAX_SCHEME_CHARS))
}

/// What an auth token (after the scheme) holds: NTLMSSP kind, Kerberos.
fn inspect_token(scheme: &str, token: &[u8]) -> (Option<NtlmMessage>, bool) {
    if !(scheme == "NTLM" || scheme == "Negotiate") {
        return (None, false);
    }
    let Some(bytes) = decode_base64_prefix(token) else {
        return (None, false);
    };
    let ntlm = match parse_ntlmssp_header(&bytes) {
        Parsed::Done(m, _) => Some(m),
        // Negotiate: NTLMSSP inside SPNEGO.
        _ => find_ntlmssp(&bytes),
    };
    (ntlm, find_kerberos(&bytes).is_some())
}

/// Decode a bounded prefix of a base64 token (standard alphabet, padding
/// optional); the prefix is cut to whole 4-character groups when bounded.
fn decode_base64_prefix(token: &[u8]) -> Option<Vec<u8>> {
    let end = token
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='))
        .unwrap_or(token.len());
    let token = token.get(..end)?;
    let token = if token.len() > MAX_TOKEN_CHARS {
        token.get(..MAX_TOKEN_CHARS)?
    } else {
        token
    };
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    if let Ok(v) = engine.decode(token) {
        return Some(v);
    }
    // A cut token: decode the whole groups.
    let whole = token.len().checked_sub(token.len() % 4)?;
    engine.decode(token.get(..whole)?).ok()
}

// ---------------------------------------------------------------- bodies

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    None,
    Length(u64),
    Chunked,
    /// Until the connection closes, or a tunnel / protocol switch follows:
    /// nothing after it is HTTP we can read.
    ToEnd,
}

fn content_length(head: &Head<'_>) -> Option<u64> {
    let v = header(head, "content-length")?;
    if v.is_empty() || v.len() > 18 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: u64 = 0;
    for d in v {
        n = n.checked_mul(10)?.checked_add(u64::from(d.checked_sub(b'0')?))?;
    }
    Some(n)
}

fn is_chunked(head: &Head<'_>) -> bool {
    headers(head, "transfer-encoding").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| trim(t).eq_ignore_ascii_case(b"chunked"))
    })
}

/// Skip a body; `Done((), used)` or `NeedMore` when it runs past `buf`.
fn skip_body(buf: &[u8], body: Body) -> Parsed<()> {
    match body {
        Body::None => Parsed::Done((), 0),
        Body::ToEnd => Parsed::NeedMore,
        Body::Length(n) => match usize::try_from(n) {
            Ok(n) if n <= buf.len() => Parsed::Done((), n),
            _ => Parsed::NeedMore,
        },
        Body::Chunked => skip_chunked(buf),
    }
}

fn skip_chunked(buf: &[u8]) -> Parsed<()> {
    let mut pos: usize = 0;
    for _ in 0..MAX_CHUNKS {
        let rest = buf.get(pos..).unwrap_or_default();
        let Some(nl) = rest.iter().position(|&b| b == b'\n') else {
            return Parsed::NeedMore;
        };
        let line = rest.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let digits = line.split(|&b| b == b';').next().map(trim).unwrap_or_default();
        if digits.is_empty() || digits.len() > 15 {
            return Parsed::Invalid;
        }
        let mut size: usize = 0;
        for d in digits {
            let Some(v) = char::from(*d).to_digit(16) else {
                return Parsed::Invalid;
            };
            let Some(v) = usize::try_from(v).ok() else {
                return Parsed::Invalid;
            };
            let Some(s) = size.checked_mul(16).and_then(|s| s.checked_add(v)) else {
                return Parsed::Invalid;
            };
            size = s;
        }
        let Some(data_start) = pos.checked_add(nl).and_then(|p| p.checked_add(1)) else {
            return Parsed::Invalid;
        };
        if size == 0 {
            // Trailer section up to a blank line.
            return match parse_head_lines_end(buf.get(data_start..).unwrap_or_default()) {
                Some(n) => Parsed::Done((), data_start.saturating_add(n)),
                None => Parsed::NeedMore,
            };
        }
        let Some(data_end) = data_start.checked_add(size) else {
            return Parsed::Invalid;
        };
        let after = buf.get(data_end..).unwrap_or_default();
        let crlf = if after.starts_with(b"\r\n") {
            2
        } else if after.starts_with(b"\n") {
            1
        } else if after.len() < 2 {
            return Parsed::NeedMore;
        } else {
            return Parsed::Invalid;
        };
        let Some(next) = data_end.checked_add(crlf) else {
            return Parsed::Invalid;
        };
        pos = next;
    }
    Parsed::Invalid
}

/// Length up to and including the first empty line (trailers).
fn parse_head_lines_end(buf: &[u8]) -> Option<usize> {
    let mut pos: usize = 0;
    for _ in 0..MAX_HEADERS {
        let rest = buf.get(pos..)?;
        let nl = rest.iter().position(|&b| b == b'\n')?;
        let line = rest.get(..nl)?;
        let next = pos.checked_add(nl)?.checked_add(1)?;
        if line.is_empty() || line == b"\r" {
            return Some(next);
        }
        pos = next;
    }
    None
}

// ---------------------------------------------------------------- messages

/// Parse one request head at the start of `buf`: `Done((request, body),
/// head_len)`.
fn parse_request(buf: &[u8], partial: bool) -> Parsed<(HttpRequest, Body)> {
    // Reject early on a bad first line, even before the head is complete.
    if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
        let line = buf.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if request_line(line).is_none() {
            return Parsed::Invalid;
        }
    } else if !request_prefix_ok(buf) {
        return Parsed::Invalid;
    }
    let (head, used) = match parse_head(buf, partial) {
        Parsed::Done(h, u) => (h, u),
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::Invalid => return Parsed::Invalid,
    };
    let Some((method, target, version)) = request_line(head.start) else {
        return Parsed::Invalid;
    };
    let (path, uri_host) = split_target(target);
    let mut req = HttpRequest {
        method: sanitize(method, MAX_METHOD_CHARS),
        path,
        version,
        uri_host,
        host: header(&head, "host").map(|h| sanitize(h, MAX_HOST_CHARS)),
        user_agent: header(&head, "user-agent").map(|h| sanitize(h, MAX_AGENT_CHARS)),
        truncated: !head.complete,
        ..HttpRequest::default()
    };
    if let Some(auth) = header(&head, "authorization") {
        let mut it = auth.splitn(2, |&b| b == b' ');
        let scheme = scheme_name(it.next().unwrap_or_default());
        let token = trim(it.next().unwrap_or_default());
        if scheme == "Basic" && !token.is_empty() {
            req.basic_credentials = true;
        }
        let (ntlm, krb) = inspect_token(&scheme, token);
        req.ntlm = ntlm.map(|m| m.name());
        req.kerberos = krb;
        req.auth_scheme = Some(scheme);
    }
    let body = if is_chunked(&head) {
        Body::Chunked
    } else if method == b"CONNECT" {
        Body::ToEnd
    } else {
        content_length(&head).map_or(Body::None, Body::Length)
    };
    Parsed::Done((req, body), used)
}

/// Whether an unfinished first line can still become a request line.
fn request_prefix_ok(buf: &[u8]) -> bool {
    let buf = buf.strip_suffix(b"\r").unwrap_or(buf);
    let mut parts = buf.splitn(2, |&b| b == b' ');
    let method = parts.next().unwrap_or_default();
    if method.len() > MAX_METHOD_CHARS || !method.iter().all(|&b| is_tchar(b)) {
        return false;
    }
    match parts.next() {
        None => true,
        Some(rest) => !method.is_empty() && rest.iter().all(|&b| b >= 0x20 && b != 0x7f),
    }
}

/// One response head's facts.
#[derive(Debug, Clone, Default, PartialEq)]
struct Response {
    status: u16,
    www_authenticate: Vec<String>,
    ntlm: Option<NtlmMessage>,
    kerberos: bool,
    location: Option<(String, String)>,
    server: Option<String>,
    x_headers: Vec<HeaderField>,
}

fn status_line(line: &[u8]) -> Option<u16> {
    let mut parts = line.splitn(3, |&b| b == b' ');
    http_version(parts.next()?)?;
    match parts.next()? {
        [a, b, c] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let d = |x: &u8| u16::from(x.saturating_sub(b'0'));
            Some(
                d(a).saturating_mul(100)
                    .saturating_add(d(b).saturating_mul(10))
                    .saturating_add(d(c)),
            )
        }
        _ => None,
    }
}

fn parse_response(buf: &[u8], request_method: Option<&str>) -> Parsed<(Response, Body)> {
    if let Some(nl) = buf.iter().position(|&b| b == b'\n') {
        let line = buf.get(..nl).unwrap_or_default();
        if status_line(line.strip_suffix(b"\r").unwrap_or(line)).is_none() {
            return Parsed::Invalid;
        }
    } else {
        let n = buf.len().min(5);
        if buf.get(..n) != b"HTTP/".get(..n) {
            return Parsed::Invalid;
        }
    }
    let (head, used) = match parse_head(buf, false) {
        Parsed::Done(h, u) => (h, u),
        Parsed::NeedMore => return Parsed::NeedMore,
        Parsed::Invalid => return Parsed::Invalid,
    };
    let Some(status) = status_line(head.start) else {
        return Parsed::Invalid;
    };
    let mut r = Response {
        status,
        server: header(&head, "server").map(|h| sanitize(h, MAX_AGENT_CHARS)),
        ..Response::default()
    };
    for (name, value) in &head.headers {
        let vendor = name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"x-"));
        if vendor && !secret_header(name) && r.x_headers.len() < MAX_X_HEADERS {
            let name = sanitize(name, MAX_X_VALUE).to_ascii_lowercase();
            if !r.x_headers.iter().any(|h| h.name == name) {
                r.x_headers.push(HeaderField {
                    name,
                    value: sanitize(trim(value), MAX_X_VALUE),
                });
            }
        }
    }
    for v in headers(&head, "www-authenticate") {
        for part in v.split(|&b| b == b',') {
            let part = trim(part);
            let mut it = part.splitn(2, |&b| b == b' ');
            let scheme = it.next().unwrap_or_default();
            if scheme.is_empty() || scheme.contains(&b'=') || !scheme.iter().all(|&b| is_tchar(b)) {
                continue; // an auth-param of the previous challenge
            }
            let scheme = scheme_name(scheme);
            let (ntlm, krb) = inspect_token(&scheme, trim(it.next().unwrap_or_default()));
            r.ntlm = r.ntlm.or(ntlm);
            r.kerberos |= krb;
            if r.www_authenticate.len() < MAX_LIST && !r.www_authenticate.contains(&scheme) {
                r.www_authenticate.push(scheme);
            }
        }
    }
    if (300..400).contains(&status) {
        if let Some(loc) = header(&head, "location") {
            if let Some(scheme_end) = find(loc, b"://") {
                let scheme = sanitize(loc.get(..scheme_end).unwrap_or_default(), 16).to_ascii_lowercase();
                let after = loc.get(scheme_end.saturating_add(3)..).unwrap_or_default();
                let end = after
                    .iter()
                    .position(|&b| b == b'/' || b == b'?' || b == b'#')
                    .unwrap_or(after.len());
                let host = authority_host(after.get(..end).unwrap_or_default(), true);
                r.location = Some((scheme, host));
            }
        }
    }
    let no_body =
        (100..200).contains(&status) || status == 204 || status == 304 || request_method == Some("HEAD");
    let body = if status == 101 || (request_method == Some("CONNECT") && (200..300).contains(&status)) {
        Body::ToEnd
    } else if no_body {
        Body::None
    } else if is_chunked(&head) {
        Body::Chunked
    } else {
        content_length(&head).map_or(Body::ToEnd, Body::Length)
    };
    Parsed::Done((r, body), used)
}

// ---------------------------------------------------------------- inspector

/// Methods recognised from a first line that is not complete yet.
const KNOWN_METHODS: [&[u8]; 24] = [
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"MKCALENDAR",
    b"SUBSCRIBE",
    b"NOTIFY",
    b"RPC_IN_DATA",
    b"RPC_OUT_DATA",
    b"PRI",
];

/// Whether the client's first bytes are an HTTP/1.x request: a complete
/// request line, or (if the line is not complete yet) a known method and a
/// space.
pub fn looks_like_http_request(c2s: &[u8]) -> bool {
    let window = c2s.get(..MAX_HEAD_BYTES).unwrap_or(c2s);
    if let Some(nl) = window.iter().position(|&b| b == b'\n') {
        let line = window.get(..nl).unwrap_or_default();
        return request_line(line.strip_suffix(b"\r").unwrap_or(line)).is_some();
    }
    match window.iter().position(|&b| b == b' ') {
        Some(sp) => {
            let method = window.get(..sp).unwrap_or_default();
            KNOWN_METHODS.contains(&method) && request_prefix_ok(window)
        }
        None => false,
    }
}

/// HTTP facts from the first bytes of both directions; `None` unless the
/// client's first bytes hold at least a request line.
pub fn inspect_http(s: &Streams) -> Option<HttpFacts> {
    let mut f = HttpFacts::default();
    let mut methods: Vec<String> = Vec::new();

    let mut rest = s.c2s;
    while f.requests.len() < MAX_HTTP_MESSAGES && !rest.is_empty() {
        match parse_request(rest, false) {
            Parsed::Done((req, body), used) => {
                note_request(&mut f, &mut methods, req);
                let after = rest.get(used..).unwrap_or_default();
                match skip_body(after, body) {
                    Parsed::Done((), n) => rest = after.get(n..).unwrap_or_default(),
                    _ => break,
                }
            }
            Parsed::NeedMore => {
                if let Parsed::Done((req, _), _) = parse_request(rest, true) {
                    note_request(&mut f, &mut methods, req);
                }
                break;
            }
            Parsed::Invalid => {
                f.invalid = !f.requests.is_empty();
                break;
            }
        }
    }
    if f.requests.is_empty() {
        return None;
    }

    let mut rest = s.s2c;
    let mut i: usize = 0;
    while f.status_codes.len() < MAX_HTTP_MESSAGES && !rest.is_empty() {
        let method = methods.get(i).map(String::as_str);
        match parse_response(rest, method) {
            Parsed::Done((r, body), used) => {
                // An interim 1xx (but not 101) answers no request.
                if !(100..200).contains(&r.status) || r.status == 101 {
                    i = i.saturating_add(1);
                }
                note_response(&mut f, r);
                let after = rest.get(used..).unwrap_or_default();
                match skip_body(after, body) {
                    Parsed::Done((), n) => rest = after.get(n..).unwrap_or_default(),
                    _ => break,
                }
            }
            Parsed::NeedMore => break,
            Parsed::Invalid => {
                f.invalid = true;
                break;
            }
        }
    }
    Some(f)
}

fn note_request(f: &mut HttpFacts, methods: &mut Vec<String>, req: HttpRequest) {
    f.basic_credentials |= req.basic_credentials;
    if let Some(k) = req.ntlm {
        if f.ntlm.len() < MAX_LIST {
            f.ntlm.push(k);
        }
    }
    f.kerberos |= req.kerberos;
    methods.push(req.method.clone());
    f.requests.push(req);
}

fn note_response(f: &mut HttpFacts, r: Response) {
    f.status_codes.push(r.status);
    for s in r.www_authenticate {
        if f.www_authenticate.len() < MAX_LIST && !f.www_authenticate.contains(&s) {
            f.www_authenticate.push(s);
        }
    }
    if let Some(m) = r.ntlm {
        if f.ntlm.len() < MAX_LIST {
            f.ntlm.push(m.name());
        }
    }
    f.kerberos |= r.kerberos;
    if f.server.is_none() {
        f.server = r.server;
    }
    for h in r.x_headers {
        if f.x_headers.len() < MAX_X_HEADERS && !f.x_headers.iter().any(|x| x.name == h.name) {
            f.x_headers.push(h);
        }
    }
    if f.redirect_scheme.is_none() {
        if let Some((scheme, host)) = r.location {
            f.redirect_to_https = scheme == "https";
            f.redirect_scheme = Some(scheme);
            f.redirect_host = Some(host);
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// ndpi__webdav.pcap, tcp stream 1, client side (660 bytes): curl's MKCOL
    /// /webdav with "Authorization: NTLM" NEGOTIATE, then again with the NTLM
    /// AUTHENTICATE (which names a user, domain and workstation).
    const HTTP_WEBDAV_NTLM_C2S: &str = "\
        4d4b434f4c202f77656264617620485454502f312e310d0a486f73743a207777772e646c702d746573742e63\
        6f6d0d0a417574686f72697a6174696f6e3a204e544c4d20546c524d54564e545541414241414141426f4949\
        41414141414141414141414141414141414141414141413d0d0a557365722d4167656e743a206375726c2f37\
        2e36382e300d0a4163636570743a202a2f2a0d0a0d0a4d4b434f4c202f77656264617620485454502f312e31\
        0d0a486f73743a207777772e646c702d746573742e636f6d0d0a417574686f72697a6174696f6e3a204e544c\
        4d20546c524d54564e54554141444141414147414159414541414141436f414b674157414141414241414541\
        41414151414142674147414241424141415441424d4146674541414141414141414141414141426f4b4b416a\
        72764c3938567939767772736b4471744e4952725372384e477739763954632f535937534634496e6f4c7963\
        43666c7551586d77774241514141414141414141446a7345567330396f42712f44527350622f55334d414141\
        4141416741574145514154414251414330415641424641464d4156414174414649414e514142414259415241\
        424d414641414c51425541455541557742554143304155674131414151414667424541457741554141744146\
        514152514254414651414c51425341445541417741574145514154414251414330415641424641464d415641\
        4174414649414e51414841416741496e417a526d7a54326745414141414141414141414864336479356b6248\
        41746447567a6443356a623231585a574a4551565a70646d46754c55786864476c306457526c4c5555324e54\
        51770d0a557365722d4167656e743a206375726c2f372e36382e300d0a4163636570743a202a2f2a0d0a0d0a";

    /// Same flow, server side (2327 bytes): IIS 401 with "WWW-Authenticate: NTLM"
    /// CHALLENGE and an HTML body, then 405 with a body.
    const HTTP_WEBDAV_NTLM_S2C: &str = "\
        485454502f312e312034303120556e617574686f72697a65640d0a436f6e74656e742d547970653a20746578\
        742f68746d6c3b20636861727365743d75732d61736369690d0a5365727665723a204d6963726f736f66742d\
        485454504150492f322e300d0a5757572d41757468656e7469636174653a204e544c4d20546c524d54564e54\
        55414143414141414377414c4144674141414147676f6f43304e6e32444d396e533941414141414141414141\
        4148674165414244414141414367423854774141414139455446417456455654564331534e51494146674245\
        41457741554141744146514152514254414651414c5142534144554141514157414551415441425141433041\
        5641424641464d4156414174414649414e514145414259415241424d414641414c5142554145554155774255\
        414330415567413141414d414667424541457741554141744146514152514254414651414c51425341445541\
        4277414941434a774d305a7330396f424141414141413d3d0d0a446174653a205468752c203131204a756c20\
        323032342030383a32383a313420474d540d0a436f6e74656e742d4c656e6774683a203334310d0a0d0a3c21\
        444f43545950452048544d4c205055424c494320222d2f2f5733432f2f4454442048544d4c20342e30312f2f\
        454e2222687474703a2f2f7777772e77332e6f72672f54522f68746d6c342f7374726963742e647464223e0d\
        0a3c48544d4c3e3c484541443e3c5449544c453e4e6f7420417574686f72697a65643c2f5449544c453e0d0a\
        3c4d45544120485454502d45515549563d22436f6e74656e742d547970652220436f6e74656e743d22746578\
        742f68746d6c3b20636861727365743d75732d6173636969223e3c2f484541443e0d0a3c424f44593e3c6832\
        3e4e6f7420417574686f72697a65643c2f68323e0d0a3c68723e3c703e48545450204572726f72203430312e\
        2054686520726571756573746564207265736f7572636520726571756972657320757365722061757468656e\
        7469636174696f6e2e3c2f703e0d0a3c2f424f44593e3c2f48544d4c3e0d0a485454502f312e312034303520\
        4d6574686f64204e6f7420416c6c6f7765640d0a416c6c6f773a20434f50592c2050524f5046494e442c2044\
        454c4554452c204d4f56452c2050524f5050415443482c204c4f434b2c20554e4c4f434b0d0a436f6e74656e\
        742d547970653a20746578742f68746d6c0d0a5365727665723a204d6963726f736f66742d4949532f31302e\
        300d0a50657273697374656e742d417574683a20747275650d0a582d506f77657265642d42793a204153502e\
        4e45540d0a446174653a205468752c203131204a756c20323032342030383a32383a313420474d540d0a436f\
        6e74656e742d4c656e6774683a20313239330d0a0d0a3c21444f43545950452068746d6c205055424c494320\
        222d2f2f5733432f2f445444205848544d4c20312e30205374726963742f2f454e222022687474703a2f2f77\
        77772e77332e6f72672f54522f7868746d6c312f4454442f7868746d6c312d7374726963742e647464223e0d\
        0a3c68746d6c20786d6c6e733d22687474703a2f2f7777772e77332e6f72672f313939392f7868746d6c223e\
        0d0a3c686561643e0d0a3c6d65746120687474702d65717569763d22436f6e74656e742d547970652220636f\
        6e74656e743d22746578742f68746d6c3b20636861727365743d69736f2d383835392d31222f3e0d0a3c7469\
        746c653e343035202d20485454502076657262207573656420746f2061636365737320746869732070616765\
        206973206e6f7420616c6c6f7765642e3c2f7469746c653e0d0a3c7374796c6520747970653d22746578742f\
        637373223e0d0a3c212d2d0d0a626f64797b6d617267696e3a303b666f6e742d73697a653a2e37656d3b666f\
        6e742d66616d696c793a56657264616e612c20417269616c2c2048656c7665746963612c2073616e732d7365\
        7269663b6261636b67726f756e643a234545454545453b7d0d0a6669656c647365747b70616464696e673a30\
        2031357078203130707820313570783b7d200d0a68317b666f6e742d73697a653a322e34656d3b6d61726769\
        6e3a303b636f6c6f723a234646463b7d0d0a68327b666f6e742d73697a653a312e37656d3b6d617267696e3a\
        303b636f6c6f723a234343303030303b7d200d0a68337b666f6e742d73697a653a312e32656d3b6d61726769\
        6e3a313070782030203020303b636f6c6f723a233030303030303b7d200d0a236865616465727b7769647468\
        3a3936253b6d617267696e3a302030203020303b70616464696e673a367078203225203670782032253b666f\
        6e742d66616d696c793a22747265627563686574204d53222c2056657264616e612c2073616e732d73657269\
        663b636f6c6f723a234646463b0d0a6261636b67726f756e642d636f6c6f723a233535353535353b7d0d0a23\
        636f6e74656e747b6d617267696e3a30203020302032253b706f736974696f6e3a72656c61746976653b7d0d\
        0a2e636f6e74656e742d636f6e7461696e65727b6261636b67726f756e643a234646463b77696474683a3936\
        253b6d617267696e2d746f703a3870783b70616464696e673a313070783b706f736974696f6e3a72656c6174\
        6976653b7d0d0a2d2d3e0d0a3c2f7374796c653e0d0a3c2f686561643e0d0a3c626f64793e0d0a3c64697620\
        69643d22686561646572223e3c68313e536572766572204572726f723c2f68313e3c2f6469763e0d0a3c6469\
        762069643d22636f6e74656e74223e0d0a203c64697620636c6173733d22636f6e74656e742d636f6e746169\
        6e6572223e3c6669656c647365743e0d0a20203c68323e343035202d20485454502076657262207573656420\
        746f2061636365737320746869732070616765206973206e6f7420616c6c6f7765642e3c2f68323e0d0a2020\
        3c68333e546865207061676520796f7520617265206c6f6f6b696e6720666f722063616e6e6f742062652064\
        6973706c61796564206265636175736520616e20696e76616c6964206d6574686f6420284854545020766572\
        622920776173207573656420746f20617474656d7074206163636573732e3c2f68333e0d0a203c2f6669656c\
        647365743e3c2f6469763e0d0a3c2f6469763e0d0a3c2f626f64793e0d0a3c2f68746d6c3e0d0a";

    /// ndpi__webdav.pcap, tcp stream 0, client side (337 bytes): two PROPFINDs
    /// from Microsoft-WebDAV-MiniRedir, no auth.
    const HTTP_WEBDAV_REDIRECT_C2S: &str = "\
        50524f5046494e44202f77656264617620485454502f312e310d0a436f6e6e656374696f6e3a204b6565702d\
        416c6976650d0a557365722d4167656e743a204d6963726f736f66742d5765624441562d4d696e6952656469\
        722f31302e302e31393034350d0a44657074683a20300d0a7472616e736c6174653a20660d0a436f6e74656e\
        742d4c656e6774683a20300d0a486f73743a203130342e3135362e3134392e360d0a0d0a50524f5046494e44\
        202f7765626461762f20485454502f312e310d0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a\
        557365722d4167656e743a204d6963726f736f66742d5765624441562d4d696e6952656469722f31302e302e\
        31393034350d0a44657074683a20300d0a7472616e736c6174653a20660d0a436f6e74656e742d4c656e6774\
        683a20300d0a486f73743a203130342e3135362e3134392e360d0a0d0a";

    /// Same flow, server side (1633 bytes): Apache 301 to http://.../webdav/
    /// with a body, then 207 Multi-Status with a body.
    const HTTP_WEBDAV_REDIRECT_S2C: &str = "\
        485454502f312e3120333031204d6f766564205065726d616e656e746c790d0a446174653a205468752c2032\
        332046656220323032332031363a32303a343720474d540d0a5365727665723a204170616368652f322e342e\
        353220285562756e7475290d0a4c6f636174696f6e3a20687474703a2f2f3130342e3135362e3134392e362f\
        7765626461762f0d0a436f6e74656e742d4c656e6774683a203331350d0a4b6565702d416c6976653a207469\
        6d656f75743d352c206d61783d3130300d0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a436f\
        6e74656e742d547970653a20746578742f68746d6c3b20636861727365743d69736f2d383835392d310d0a0d\
        0a3c21444f43545950452048544d4c205055424c494320222d2f2f494554462f2f4454442048544d4c20322e\
        302f2f454e223e0a3c68746d6c3e3c686561643e0a3c7469746c653e333031204d6f766564205065726d616e\
        656e746c793c2f7469746c653e0a3c2f686561643e3c626f64793e0a3c68313e4d6f766564205065726d616e\
        656e746c793c2f68313e0a3c703e54686520646f63756d656e7420686173206d6f766564203c612068726566\
        3d22687474703a2f2f3130342e3135362e3134392e362f7765626461762f223e686572653c2f613e2e3c2f70\
        3e0a3c68723e0a3c616464726573733e4170616368652f322e342e353220285562756e747529205365727665\
        72206174203130342e3135362e3134392e3620506f72742038303c2f616464726573733e0a3c2f626f64793e\
        3c2f68746d6c3e0a485454502f312e3120323037204d756c74692d5374617475730d0a446174653a20546875\
        2c2032332046656220323032332031363a32303a343720474d540d0a5365727665723a204170616368652f32\
        2e342e353220285562756e7475290d0a436f6e74656e742d4c656e6774683a203833380d0a4b6565702d416c\
        6976653a2074696d656f75743d352c206d61783d39390d0a436f6e6e656374696f6e3a204b6565702d416c69\
        76650d0a436f6e74656e742d547970653a20746578742f786d6c3b20636861727365743d227574662d38220d\
        0a0d0a3c3f786d6c2076657273696f6e3d22312e302220656e636f64696e673d227574662d38223f3e0a3c44\
        3a6d756c746973746174757320786d6c6e733a443d224441563a223e0a3c443a726573706f6e736520786d6c\
        6e733a6c70313d224441563a2220786d6c6e733a6c70323d22687474703a2f2f6170616368652e6f72672f64\
        61762f70726f70732f223e0a3c443a687265663e2f7765626461762f3c2f443a687265663e0a3c443a70726f\
        70737461743e0a3c443a70726f703e0a3c6c70313a7265736f75726365747970653e3c443a636f6c6c656374\
        696f6e2f3e3c2f6c70313a7265736f75726365747970653e0a3c6c70313a6372656174696f6e646174653e32\
        3032332d30322d32315431373a31343a35305a3c2f6c70313a6372656174696f6e646174653e0a3c6c70313a\
        6765746c6173746d6f6469666965643e5475652c2032312046656220323032332031373a31343a353020474d\
        543c2f6c70313a6765746c6173746d6f6469666965643e0a3c6c70313a676574657461673e22393030302d35\
        663533386561643032633437223c2f6c70313a676574657461673e0a3c443a737570706f727465646c6f636b\
        3e0a3c443a6c6f636b656e7472793e0a3c443a6c6f636b73636f70653e3c443a6578636c75736976652f3e3c\
        2f443a6c6f636b73636f70653e0a3c443a6c6f636b747970653e3c443a77726974652f3e3c2f443a6c6f636b\
        747970653e0a3c2f443a6c6f636b656e7472793e0a3c443a6c6f636b656e7472793e0a3c443a6c6f636b7363\
        6f70653e3c443a7368617265642f3e3c2f443a6c6f636b73636f70653e0a3c443a6c6f636b747970653e3c44\
        3a77726974652f3e3c2f443a6c6f636b747970653e0a3c2f443a6c6f636b656e7472793e0a3c2f443a737570\
        706f727465646c6f636b3e0a3c443a6c6f636b646973636f766572792f3e0a3c443a676574636f6e74656e74\
        747970653e68747470642f756e69782d6469726563746f72793c2f443a676574636f6e74656e74747970653e\
        0a3c2f443a70726f703e0a3c443a7374617475733e485454502f312e3120323030204f4b3c2f443a73746174\
        75733e0a3c2f443a70726f70737461743e0a3c2f443a726573706f6e73653e0a3c2f443a6d756c7469737461\
        7475733e0a";

    /// ndpi__WebattackRCE.pcap tcp stream 70 (159 bytes): Nikto's HTTP/1.0
    /// GET /Autodiscover/Autodiscover.xml, no Host header.
    const HTTP_NIKTO_AUTODISCOVER: &str = "\
        474554202f4175746f646973636f7665722f4175746f646973636f7665722e786d6c20485454502f312e300d\
        0a557365722d4167656e743a204d6f7a696c6c612f352e303020284e696b746f2f322e312e36292028457661\
        73696f6e733a4e6f6e65292028546573743a686561646572733a2049495320696e7465726e616c204950290d\
        0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a0d0a";

    /// ndpi__WebattackRCE.pcap tcp stream 76 (147 bytes): GET /EWS/Exchange.asmx.
    const HTTP_NIKTO_EWS: &str = "\
        474554202f4557532f45786368616e67652e61736d7820485454502f312e300d0a557365722d4167656e743a\
        204d6f7a696c6c612f352e303020284e696b746f2f322e312e3629202845766173696f6e733a4e6f6e652920\
        28546573743a686561646572733a2049495320696e7465726e616c204950290d0a436f6e6e656374696f6e3a\
        204b6565702d416c6976650d0a0d0a";

    /// ndpi__WebattackRCE.pcap tcp stream 732 (184 bytes): GET of a path with a
    /// query string ("?/c+dir") that must not be kept.
    const HTTP_NIKTO_QUERY: &str = "\
        474554202f7270632f2e2e2563302561662e2e2f2e2e2563302561662e2e2f77696e6e742f73797374656d33\
        322f636d642e6578653f2f632b64697220485454502f312e310d0a486f73743a203132372e302e302e310d0a\
        557365722d4167656e743a204d6f7a696c6c612f352e303020284e696b746f2f322e312e3629202845766173\
        696f6e733a4e6f6e65292028546573743a303033313935290d0a436f6e6e656374696f6e3a204b6565702d41\
        6c6976650d0a0d0a";

    /// zeek__http-qinq-0.pcap, client side (136 bytes): wget GET.
    const HTTP_QINQ_WGET_C2S: &str = "\
        474554202f646f776e6c6f61642f4348414e4745532e62726f2d6175782e74787420485454502f312e310d0a\
        557365722d4167656e743a20576765742f312e3134202864617277696e31322e322e30290d0a416363657074\
        3a202a2f2a0d0a486f73743a2062726f2e6f72670d0a436f6e6e656374696f6e3a204b6565702d416c697665\
        0d0a0d0a";

    /// Same flow, server side, first 320 bytes: 200 OK head (Content-Length
    /// 4705) and the start of the body.
    const HTTP_QINQ_WGET_S2C_PREFIX: &str = "\
        485454502f312e3120323030204f4b0d0a446174653a205468752c203037204d617220323031332032313a34\
        333a303720474d540d0a5365727665723a204170616368652f322e342e3320284665646f7261290d0a4c6173\
        742d4d6f6469666965643a205765642c2032392041756720323031322032333a34393a323720474d540d0a45\
        5461673a2022313236312d34633837303335386136666330220d0a4163636570742d52616e6765733a206279\
        7465730d0a436f6e74656e742d4c656e6774683a20343730350d0a4b6565702d416c6976653a2074696d656f\
        75743d352c206d61783d3130300d0a436f6e6e656374696f6e3a204b6565702d416c6976650d0a436f6e7465\
        6e742d547970653a20746578742f706c61696e3b20636861727365743d5554462d380d0a0d0a0a302e323620\
        7c20323031322d30382d3234";

    /// ndpi__WebattackRCE.pcap tcp stream 72 (157 bytes): GET
    /// /Microsoft-Server-ActiveSync.
    const HTTP_NIKTO_ACTIVESYNC: &str = "\
        474554202f4d6963726f736f66742d5365727665722d41637469766553796e6320485454502f312e300d0a43\
        6f6e6e656374696f6e3a204b6565702d416c6976650d0a557365722d4167656e743a204d6f7a696c6c612f35\
        2e303020284e696b746f2f322e312e3629202845766173696f6e733a4e6f6e65292028546573743a68656164\
        6572733a2049495320696e7465726e616c204950290d0a0d0a";

    /// Synthetic (no public capture has HTTP Basic): an RPC over HTTP request
    /// with the RFC 7617 example credentials "Aladdin:open sesame" and a
    /// query string carrying a token.
    const HTTP_BASIC_RPC_IN_DATA_SYNTHETIC: &[u8] =
        b"RPC_IN_DATA /rpc/rpcproxy.dll?mail.example:6001&token=s3cr3t HTTP/1.1\r\n\
Host: mail.example\r\n\
Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\
User-Agent: MSRPC\r\n\
Content-Length: 1073741824\r\n\
\r\n\
\x05\x00\x14\x03";

    fn facts(c: &[u8], s: &[u8]) -> HttpFacts {
        inspect_http(&Streams { c2s: c, s2c: s }).unwrap()
    }

    #[test]
    fn golden_webdav_ntlm() {
        let c = hex(HTTP_WEBDAV_NTLM_C2S);
        let s = hex(HTTP_WEBDAV_NTLM_S2C);
        assert!(looks_like_http_request(&c));
        let f = facts(&c, &s);
        assert_eq!(f.requests.len(), 2);
        let r = &f.requests[0];
        assert_eq!((r.method.as_str(), r.path.as_str()), ("MKCOL", "/webdav"));
        assert_eq!(r.version, "1.1");
        assert_eq!(r.host.as_deref(), Some("www.dlp-test.com"));
        assert_eq!(r.auth_scheme.as_deref(), Some("NTLM"));
        assert_eq!(r.ntlm, Some("negotiate"));
        assert_eq!(r.user_agent.as_deref(), Some("curl/7.68.0"));
        assert!(!r.basic_credentials && !r.truncated);
        assert_eq!(f.requests[1].ntlm, Some("authenticate"));
        assert_eq!(f.status_codes, vec![401, 405]);
        assert_eq!(f.www_authenticate, vec!["NTLM"]);
        assert_eq!(f.ntlm, vec!["negotiate", "authenticate", "challenge"]);
        assert_eq!(f.server.as_deref(), Some("Microsoft-HTTPAPI/2.0"));
        assert!(!f.basic_credentials && !f.kerberos && !f.invalid);
        // Nothing of the NTLM AUTHENTICATE (user, domain, host) is kept.
        let j = serde_json::to_string(&f).unwrap();
        for s in ["TlRMTVNT", "WebDAV", "ivan", "Latitude", "DLP-TEST"] {
            assert!(!j.contains(s), "{s} in {j}");
        }
    }

    #[test]
    fn golden_webdav_redirect_and_body_skipping() {
        let c = hex(HTTP_WEBDAV_REDIRECT_C2S);
        let s = hex(HTTP_WEBDAV_REDIRECT_S2C);
        let f = facts(&c, &s);
        let paths: Vec<_> = f.requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, vec!["/webdav", "/webdav/"]);
        assert_eq!(f.requests[0].method, "PROPFIND");
        assert_eq!(
            f.requests[0].user_agent.as_deref(),
            Some("Microsoft-WebDAV-MiniRedir/10.0.19045")
        );
        assert_eq!(f.status_codes, vec![301, 207]);
        assert_eq!(f.redirect_scheme.as_deref(), Some("http"));
        assert_eq!(f.redirect_host.as_deref(), Some("104.156.149.6"));
        assert!(!f.redirect_to_https);
        // The same 301 pointing at https:// is the documented redirect.
        let s2 = String::from_utf8_lossy(&s).replacen("http://", "https://", 1);
        let f = facts(&c, s2.as_bytes());
        assert!(f.redirect_to_https);
        assert_eq!(f.redirect_scheme.as_deref(), Some("https"));
    }

    #[test]
    fn golden_nikto_exchange_paths() {
        for (fx, method, path) in [
            (HTTP_NIKTO_AUTODISCOVER, "GET", "/Autodiscover/Autodiscover.xml"),
            (HTTP_NIKTO_EWS, "GET", "/EWS/Exchange.asmx"),
            (HTTP_NIKTO_ACTIVESYNC, "GET", "/Microsoft-Server-ActiveSync"),
        ] {
            let c = hex(fx);
            let f = facts(&c, &[]);
            assert_eq!(f.requests.len(), 1);
            let r = &f.requests[0];
            assert_eq!((r.method.as_str(), r.path.as_str()), (method, path));
            assert_eq!(r.version, "1.0");
            assert_eq!(r.host, None);
            assert!(r.user_agent.as_deref().unwrap().contains("Nikto/2.1.6"));
            assert!(f.status_codes.is_empty());
        }
    }

    #[test]
    fn query_string_is_never_kept() {
        let f = facts(&hex(HTTP_NIKTO_QUERY), &[]);
        let r = &f.requests[0];
        assert_eq!(r.path, "/rpc/..%c0%af../..%c0%af../winnt/system32/cmd.exe");
        assert!(!serde_json::to_string(&f).unwrap().contains("dir"));
    }

    #[test]
    fn golden_qinq_wget_with_cut_body() {
        let f = facts(&hex(HTTP_QINQ_WGET_C2S), &hex(HTTP_QINQ_WGET_S2C_PREFIX));
        let r = &f.requests[0];
        assert_eq!(r.path, "/download/CHANGES.bro-aux.txt");
        assert_eq!(r.host.as_deref(), Some("bro.org"));
        assert_eq!(r.user_agent.as_deref(), Some("Wget/1.14 (darwin12.2.0)"));
        assert_eq!(f.status_codes, vec![200]);
        assert_eq!(f.server.as_deref(), Some("Apache/2.4.3 (Fedora)"));
        assert!(!f.invalid);
    }

    #[test]
    fn basic_credentials_flagged_never_kept() {
        let f = facts(HTTP_BASIC_RPC_IN_DATA_SYNTHETIC, b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\", Negotiate, NTLM\r\nContent-Length: 0\r\n\r\n");
        let r = &f.requests[0];
        assert_eq!(r.method, "RPC_IN_DATA");
        assert_eq!(r.path, "/rpc/rpcproxy.dll");
        assert_eq!(r.auth_scheme.as_deref(), Some("Basic"));
        assert!(r.basic_credentials && f.basic_credentials);
        assert_eq!(f.www_authenticate, vec!["Basic", "Negotiate", "NTLM"]);
        let j = serde_json::to_string(&f).unwrap();
        for secret in [
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ",
            "Aladdin",
            "open sesame",
            "s3cr3t",
            "token",
        ] {
            assert!(!j.contains(secret), "{secret} in {j}");
        }
    }

    #[test]
    fn unknown_method_reported_not_failed() {
        let f = facts(
            b"FROBNICATE /x?y=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            b"HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(f.requests[0].method, "FROBNICATE");
        assert_eq!(f.requests[0].path, "/x");
        assert_eq!(f.status_codes, vec![501]);
        assert!(looks_like_http_request(b"FROBNICATE /x HTTP/1.1\r\n"));
        // Unknown auth scheme: kept as sent (bounded), no credentials flag.
        let f = facts(b"GET / HTTP/1.1\r\nAuthorization: X-Custom abc\r\n\r\n", &[]);
        assert_eq!(f.requests[0].auth_scheme.as_deref(), Some("X-Custom"));
        assert!(!f.basic_credentials);
    }

    #[test]
    fn absolute_and_authority_targets() {
        let f = facts(b"GET http://user:pw@proxy.example:8080/a/b?q=1 HTTP/1.1\r\n\r\nCONNECT mx.example:25 HTTP/1.1\r\nHost: mx.example:25\r\n\r\n", &[]);
        assert_eq!(f.requests[0].path, "/a/b");
        assert_eq!(f.requests[0].uri_host.as_deref(), Some("proxy.example"));
        assert_eq!(f.requests[1].method, "CONNECT");
        assert_eq!(f.requests[1].path, "mx.example:25");
        assert!(!serde_json::to_string(&f).unwrap().contains("pw"));
    }

    #[test]
    fn chunked_bodies_and_interim_responses() {
        let c = b"POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
        let s = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\nX-T: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 302 Found\r\nLocation: https://owa.example/x\r\nContent-Length: 0\r\n\r\n";
        let f = facts(c, s);
        let paths: Vec<_> = f.requests.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, vec!["/a", "/b", "/c"]);
        assert_eq!(f.status_codes, vec![100, 200, 200, 302]);
        assert!(f.redirect_to_https);
        assert_eq!(f.redirect_host.as_deref(), Some("owa.example"));
    }

    #[test]
    fn head_cut_by_inspection_cap_gives_partial_request() {
        let c = hex(HTTP_WEBDAV_NTLM_C2S);
        let f = facts(&c[..60], &[]);
        let r = &f.requests[0];
        assert!(r.truncated);
        assert_eq!(r.method, "MKCOL");
        assert_eq!(r.host.as_deref(), Some("www.dlp-test.com"));
    }

    #[test]
    fn every_prefix_never_panics() {
        let fixtures: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (hex(HTTP_WEBDAV_NTLM_C2S), hex(HTTP_WEBDAV_NTLM_S2C)),
            (hex(HTTP_WEBDAV_REDIRECT_C2S), hex(HTTP_WEBDAV_REDIRECT_S2C)),
            (hex(HTTP_NIKTO_AUTODISCOVER), vec![]),
            (hex(HTTP_NIKTO_QUERY), vec![]),
            (hex(HTTP_QINQ_WGET_C2S), hex(HTTP_QINQ_WGET_S2C_PREFIX)),
            (HTTP_BASIC_RPC_IN_DATA_SYNTHETIC.to_vec(), vec![]),
        ];
        for (c, s) in &fixtures {
            let head_len = match parse_request(c, false) {
                Parsed::Done(_, used) => used,
                other => panic!("{other:?}"),
            };
            let sp = c.iter().position(|&b| b == b' ').unwrap();
            for n in 0..c.len() {
                let p = &c[..n];
                if n < head_len {
                    assert!(matches!(parse_request(p, false), Parsed::NeedMore), "prefix {n}");
                    // Known once the method and its space are there.
                    assert!(n <= sp || looks_like_http_request(p), "prefix {n}");
                }
                let _ = inspect_http(&Streams { c2s: p, s2c: s });
            }
            for n in 0..s.len() {
                let _ = inspect_http(&Streams { c2s: c, s2c: &s[..n] });
                let r = parse_response(&s[..n], Some("GET"));
                assert!(!matches!(r, Parsed::Invalid), "response prefix {n}");
            }
        }
    }

    #[test]
    fn garbage_is_none() {
        for g in [
            &b""[..],
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01][..],
            &b"\x00\x01\x02\x03 / HTTP/1.1\r\n"[..],
            &b"EHLO mail.example\r\n"[..],
            &b"hello world\r\n\r\n"[..],
        ] {
            assert_eq!(
                inspect_http(&Streams {
                    c2s: g,
                    s2c: b"HTTP/1.1 200 OK\r\n\r\n"
                }),
                None
            );
            assert!(!looks_like_http_request(g), "{g:?}");
        }
        // Garbage where a response should be is an anomaly, not a failure.
        let f = facts(b"GET / HTTP/1.1\r\n\r\n", b"SSH-2.0-OpenSSH\r\n");
        assert!(f.invalid);
        assert!(f.status_codes.is_empty());
    }
}
