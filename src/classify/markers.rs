//! Product markers: the words in banners, greetings, headers and names that
//! say "this host is an Exchange server" (and which generation), and the
//! HTTP paths that name an Exchange web service. Data in `rules/markers.toml`,
//! loaded and validated like the rules (DESIGN.md: no Exchange words in
//! `src/inspect`).

use std::fmt;

use crate::vocab::Generation;
use crate::vocab::Purpose;

/// Where a marker looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarkerField {
    /// The SMTP server's greeting (220 line).
    SmtpBanner,
    /// One EHLO capability keyword of the SMTP server.
    SmtpEhlo,
    /// The POP3 server's greeting.
    Pop3Greeting,
    /// The IMAP4 server's greeting.
    ImapGreeting,
    /// An HTTP response header (named by `header`).
    HttpHeader,
    /// The TLS server name the client asked for (SNI).
    TlsServerName,
    /// A DNS name of the server's TLS certificate (subject CN or subjectAltName).
    TlsCertificateName,
}

impl MarkerField {
    /// Every field.
    pub const ALL: [MarkerField; 7] = [
        MarkerField::SmtpBanner,
        MarkerField::SmtpEhlo,
        MarkerField::Pop3Greeting,
        MarkerField::ImapGreeting,
        MarkerField::HttpHeader,
        MarkerField::TlsServerName,
        MarkerField::TlsCertificateName,
    ];

    /// The spelling in `markers.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            MarkerField::SmtpBanner => "smtp_banner",
            MarkerField::SmtpEhlo => "smtp_ehlo",
            MarkerField::Pop3Greeting => "pop3_greeting",
            MarkerField::ImapGreeting => "imap_greeting",
            MarkerField::HttpHeader => "http_header",
            MarkerField::TlsServerName => "tls_server_name",
            MarkerField::TlsCertificateName => "tls_certificate_name",
        }
    }

    /// Parses [`MarkerField::as_str`].
    pub fn parse(text: &str) -> Option<MarkerField> {
        MarkerField::ALL.into_iter().find(|f| f.as_str() == text)
    }

    /// The accepted spellings.
    pub fn names() -> String {
        MarkerField::ALL.map(|f| f.as_str()).join(", ")
    }

    /// How a report names what was seen ("SMTP banner").
    pub fn label(self) -> &'static str {
        match self {
            MarkerField::SmtpBanner => "SMTP banner",
            MarkerField::SmtpEhlo => "EHLO keyword",
            MarkerField::Pop3Greeting => "POP3 greeting",
            MarkerField::ImapGreeting => "IMAP4 greeting",
            MarkerField::HttpHeader => "HTTP header",
            MarkerField::TlsServerName => "TLS server name",
            MarkerField::TlsCertificateName => "TLS certificate name",
        }
    }
}

/// What a marker (or a served DCE/RPC interface) says about the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mark {
    /// The host is an Exchange server.
    Exchange,
    /// The host is a domain controller.
    DomainController,
}

impl Mark {
    /// Every mark.
    pub const ALL: [Mark; 2] = [Mark::Exchange, Mark::DomainController];

    /// The spelling in files.
    pub fn as_str(self) -> &'static str {
        match self {
            Mark::Exchange => "exchange",
            Mark::DomainController => "domain_controller",
        }
    }

    /// Parses [`Mark::as_str`].
    pub fn parse(text: &str) -> Option<Mark> {
        Mark::ALL.into_iter().find(|m| m.as_str() == text)
    }

    /// The accepted spellings.
    pub fn names() -> String {
        Mark::ALL.map(|m| m.as_str()).join(", ")
    }
}

impl fmt::Display for Mark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    /// Where it looks.
    pub field: MarkerField,
    /// For `http_header`: the header name, lowercase.
    pub header: Option<String>,
    /// The value contains this (ASCII case-insensitive; stored lowercase).
    pub contains: Option<String>,
    /// The value starts with this (ASCII case-insensitive; stored lowercase).
    pub prefix: Option<String>,
    /// What a match says about the host.
    pub marks: Option<Mark>,
    /// The Exchange generation a match names.
    pub generation: Option<Generation>,
    /// The purpose a match names (a TLS server name such as `autodiscover.*`).
    pub purpose: Option<Purpose>,
    /// Why, for reports.
    pub note: String,
    /// Where it was defined.
    pub file: String,
    pub line: usize,
}

impl Marker {
    /// Whether `value` (of this marker's field, and header when it has one) matches.
    pub fn matches(&self, value: &str) -> bool {
        let v = value.as_bytes();
        if let Some(p) = &self.prefix {
            let ok = v
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()));
            if !ok {
                return false;
            }
        }
        if let Some(c) = &self.contains {
            if !contains_ci(v, c.as_bytes()) {
                return false;
            }
        }
        true
    }
}

/// ASCII case-insensitive substring test; `needle` is lowercase.
fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.iter().zip(needle).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

/// An HTTP path prefix naming a web service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPath {
    /// The path starts with this (ASCII case-insensitive; stored lowercase).
    pub prefix: String,
    /// The purpose it names.
    pub purpose: Purpose,
}

/// An OSI object identifier prefix (dotted) naming an application carried
/// over RFC 1006 (`2.6.` X.400 message handling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsiContext {
    /// The OID starts with these arcs (`2.6` matches 2.6 and 2.6.x, not 2.60).
    pub prefix: String,
    /// The purpose it names.
    pub purpose: Purpose,
}

/// Every marker, HTTP path and OSI context, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markers {
    pub markers: Vec<Marker>,
    pub http_paths: Vec<HttpPath>,
    pub osi_contexts: Vec<OsiContext>,
}

impl Markers {
    /// The markers of `field` matching `value` (and `header`, for HTTP headers).
    pub fn matching<'m>(
        &'m self,
        field: MarkerField,
        header: Option<&'m str>,
        value: &'m str,
    ) -> impl Iterator<Item = &'m Marker> + 'm {
        self.markers.iter().filter(move |m| {
            m.field == field
                && (m.header.is_none()
                    || header
                        .is_some_and(|h| m.header.as_deref().is_some_and(|mh| mh.eq_ignore_ascii_case(h))))
                && m.matches(value)
        })
    }

    /// The purpose an HTTP request path names (longest prefix wins).
    pub fn http_purpose(&self, path: &str) -> Option<Purpose> {
        let p = path.as_bytes();
        self.http_paths
            .iter()
            .filter(|h| {
                p.get(..h.prefix.len())
                    .is_some_and(|head| head.eq_ignore_ascii_case(h.prefix.as_bytes()))
            })
            .max_by_key(|h| h.prefix.len())
            .map(|h| h.purpose)
    }

    /// The purpose a TLS server name names (`autodiscover.*` -> autodiscover).
    pub fn http_purpose_of_name(&self, name: &str) -> Option<Purpose> {
        self.matching(MarkerField::TlsServerName, None, name)
            .find_map(|m| m.purpose)
    }

    /// The purpose and OID of the first OID that an OSI context names.
    pub fn osi_purpose<'o>(&self, oids: &'o [String]) -> Option<(Purpose, &'o str)> {
        oids.iter().find_map(|oid| {
            self.osi_contexts
                .iter()
                .find(|c| {
                    oid == &c.prefix
                        || oid
                            .strip_prefix(c.prefix.as_str())
                            .is_some_and(|rest| rest.starts_with('.'))
                })
                .map(|c| (c.purpose, oid.as_str()))
        })
    }

    /// The header names any marker looks at (lowercase).
    pub fn http_headers(&self) -> impl Iterator<Item = &str> {
        self.markers
            .iter()
            .filter(|m| m.field == MarkerField::HttpHeader)
            .filter_map(|m| m.header.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::rules::RuleSet;

    #[test]
    fn embedded_markers_recognise_exchange_words() {
        let set = RuleSet::embedded();
        let m = set.markers();
        let banner = "mail.contoso.com Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024";
        assert!(m
            .matching(MarkerField::SmtpBanner, None, banner)
            .any(|x| x.marks == Some(Mark::Exchange)));
        assert!(m
            .matching(MarkerField::SmtpBanner, None, "mx ESMTP Postfix")
            .next()
            .is_none());
        let imap = "Microsoft Exchange IMAP4rev1 server version 5.5.2653.23 (EXCH) ready";
        let gens: Vec<Generation> = m
            .matching(MarkerField::ImapGreeting, None, imap)
            .filter_map(|x| x.generation)
            .collect();
        assert_eq!(gens, vec![Generation::V55]);
        let owa: Vec<Generation> = m
            .matching(MarkerField::HttpHeader, Some("X-OWA-Version"), "15.2.1118.7")
            .filter_map(|x| x.generation)
            .collect();
        assert_eq!(owa, vec![Generation::V2019]);
        assert_eq!(
            m.http_purpose("/MAPI/emsmdb/?MailboxId=x"),
            Some(Purpose::MapiHttp)
        );
        assert_eq!(
            m.http_purpose("/rpc/rpcproxy.dll?x:6001"),
            Some(Purpose::OutlookAnywhere)
        );
        assert_eq!(m.http_purpose("/index.html"), None);
        assert_eq!(
            m.http_purpose_of_name("Autodiscover.contoso.com"),
            Some(Purpose::Autodiscover)
        );
        assert_eq!(m.http_purpose_of_name("www.contoso.com"), None);
        assert!(m
            .matching(MarkerField::TlsCertificateName, None, "autodiscover.contoso.com")
            .any(|x| x.marks == Some(Mark::Exchange)));
        assert!(m
            .matching(MarkerField::TlsCertificateName, None, "*.contoso.com")
            .next()
            .is_none());
        let oids = ["1.0.9506.2.1".to_string(), "2.6.0.1.6".to_string()];
        assert_eq!(m.osi_purpose(&oids), Some((Purpose::X400Mta, "2.6.0.1.6")));
        assert_eq!(m.osi_purpose(&["2.60.1".to_string()]), None);
    }

    #[test]
    fn prefix_and_contains_are_case_insensitive() {
        let mk = Marker {
            field: MarkerField::SmtpBanner,
            header: None,
            contains: Some("version: 6.0.3790".into()),
            prefix: None,
            marks: None,
            generation: Some(Generation::V2003),
            purpose: None,
            note: String::new(),
            file: "t".into(),
            line: 1,
        };
        assert!(mk.matches("x Microsoft ESMTP MAIL Service, Version: 6.0.3790.3959 ready"));
        assert!(!mk.matches("x Microsoft ESMTP MAIL Service ready"));
        assert!(!mk.matches(""));
    }
}
