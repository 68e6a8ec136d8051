//! The port policy as data: rule model, loading, validation, conflict detection, the
//! DCE/RPC interface table, and the flow matcher.
//!
//! Rule files live in `rules/` (schema in `rules/README.md`). The default files are
//! compiled into the binary ([`RuleSet::embedded`]); `--rules DIR` replaces or extends
//! them ([`RuleSet::load_dir`]). Every problem in a file is reported with file, line,
//! column and field, and says what to do ([`Diagnostic`]).
//!
//! Matching ([`Matcher::match_flow`]) uses a per-protocol index from server port to the
//! candidate rules covering it, pre-sorted by precedence, so a flow never scans the
//! whole rule list. Precedence, first match wins:
//!
//! 0. when the server port was announced by the endpoint mapper
//!    ([`FlowFacts::epm_announced`]), the `ports = ["dynamic"]` rules are tried first;
//!    then, when it is a port the site declares ([`SitePorts`]), the rules naming that
//!    `"site:NAME"` port;
//! 1. rules with `app` conditions before rules without (they only match when an
//!    inspector established the fact);
//! 2. fewer ports before more ports (25 before 0-65535);
//! 3. fewer roles in `from` + `to` before more (internet -> edge before internet -> internal);
//! 4. rules with `when` conditions before rules without;
//! 5. load order (file order, then position in the file).
//!
//! Ports come before roles so that, e.g., Edge -> DNS 53 on a DC that is also the DNS
//! server matches the documented DNS rule, not the "Edge -> DC on any port" violation.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::classify::markers::{HttpPath, Mark, Marker, MarkerField, Markers, OsiContext};
use crate::classify::topology::{SiteFacts, SitePort};
use crate::diag::{line_col, Diagnostic, LoadError};
use crate::vocab::{Expect, FindingKind, Generation, Proto, Purpose, Role, RoleSet, Severity, Uuid};

/// Role-list aliases usable in `from` / `to`, besides the role names themselves.
pub const ROLE_ALIASES: &[(&str, &[Role])] = &[
    ("any", &Role::ALL),
    (
        "internal",
        &[
            Role::Mailbox,
            Role::ClientAccess,
            Role::Hub,
            Role::DomainController,
            Role::Dns,
            Role::Lync,
            Role::UnifiedMessaging,
            Role::InternalClients,
        ],
    ),
    (
        "internal_servers",
        &[
            Role::Mailbox,
            Role::ClientAccess,
            Role::Hub,
            Role::DomainController,
            Role::Dns,
            Role::Lync,
            Role::UnifiedMessaging,
        ],
    ),
    (
        "exchange",
        &[
            Role::Edge,
            Role::Mailbox,
            Role::ClientAccess,
            Role::Hub,
            Role::UnifiedMessaging,
        ],
    ),
    (
        "internal_exchange",
        &[
            Role::Mailbox,
            Role::ClientAccess,
            Role::Hub,
            Role::UnifiedMessaging,
        ],
    ),
    ("external", &[Role::Internet, Role::Perimeter]),
    (
        "clients",
        &[Role::Internet, Role::Perimeter, Role::InternalClients],
    ),
];

/// Resolves a role name or alias to a set.
pub fn role_set_by_name(name: &str) -> Option<RoleSet> {
    if let Some(r) = Role::from_name(name) {
        return Some(RoleSet::from(r));
    }
    ROLE_ALIASES
        .iter()
        .find(|(alias, _)| *alias == name)
        .map(|(_, roles)| RoleSet::of(roles))
}

fn role_names() -> String {
    let mut names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
    names.extend(ROLE_ALIASES.iter().map(|(a, _)| *a));
    names.join(", ")
}

// ---------------------------------------------------------------------------
// Rule model
// ---------------------------------------------------------------------------

/// One entry of a rule's `ports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PortSpec {
    /// An inclusive range (a single port is `lo == hi`).
    Range {
        /// First port.
        lo: u16,
        /// Last port (inclusive).
        hi: u16,
    },
    /// `"dynamic"`: any port the endpoint mapper announced for the server.
    Dynamic,
    /// `"site:NAME"`: the port the site's topology declares for NAME (site data, such
    /// as the sender-reputation proxy server's port); matches nothing when not declared.
    Site(SitePort),
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Range { lo, hi } if lo == hi => write!(f, "{lo}"),
            PortSpec::Range { lo, hi } => write!(f, "{lo}-{hi}"),
            PortSpec::Dynamic => f.write_str("dynamic"),
            PortSpec::Site(p) => write!(f, "site:{}", p.as_str()),
        }
    }
}

/// Conditions on the site (`when = { ... }`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct When {
    /// Matches only when the site's `edge_subscribed` equals this.
    pub edge_subscribed: Option<bool>,
}

impl When {
    fn is_empty(&self) -> bool {
        self.edge_subscribed.is_none()
    }

    fn matches(&self, site: &SiteFacts) -> bool {
        self.edge_subscribed
            .is_none_or(|want| want == site.edge_subscribed)
    }
}

/// Conditions on inspector facts (`app = { ... }`). A condition only matches when the
/// inspector established the fact; before inspectors exist such rules never match and
/// the plain rule for the same port applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AppCondition {
    /// The HTTP request path starts with this (ASCII case-insensitive).
    pub http_path_prefix: Option<String>,
    /// TLS was (true) or was not (false) negotiated on the flow.
    pub tls: Option<bool>,
}

impl AppCondition {
    fn is_empty(&self) -> bool {
        self.http_path_prefix.is_none() && self.tls.is_none()
    }

    fn matches(&self, facts: &FlowFacts<'_>) -> bool {
        if let Some(prefix) = &self.http_path_prefix {
            let ok = facts.http_path.is_some_and(|p| {
                p.as_bytes()
                    .get(..prefix.len())
                    .is_some_and(|b| b.eq_ignore_ascii_case(prefix.as_bytes()))
            });
            if !ok {
                return false;
            }
        }
        if let Some(want) = self.tls {
            if facts.tls != Some(want) {
                return false;
            }
        }
        true
    }
}

/// Where a rule comes from in the documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The Microsoft document (and seeds file).
    pub doc: String,
    /// DOMAIN.md section, e.g. "DOMAIN.md §4".
    pub section: String,
    /// Table title.
    pub table: Option<String>,
    /// Row of the table.
    pub row: Option<String>,
}

impl fmt::Display for Reference {
    /// `DOMAIN.md §4, "table", row "row" (doc)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.section)?;
        if let Some(t) = &self.table {
            write!(f, ", \"{t}\"")?;
        }
        if let Some(r) = &self.row {
            write!(f, ", row \"{r}\"")?;
        }
        write!(f, " ({})", self.doc)
    }
}

/// One validated rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Unique kebab-case id, e.g. `e19-smtp-internet-edge`.
    pub id: String,
    /// Purpose given to matching flows.
    pub purpose: Purpose,
    /// Protocol.
    pub proto: Proto,
    /// Server ports; never empty.
    pub ports: Vec<PortSpec>,
    /// Client (initiator) roles.
    pub from: RoleSet,
    /// Server (responder) roles.
    pub to: RoleSet,
    /// Documented or violation.
    pub expect: Expect,
    /// Finding kind; always set for violations.
    pub kind: Option<FindingKind>,
    /// Severity of the finding (`info` when the rule has no kind).
    pub severity: Severity,
    /// Site conditions.
    pub when: When,
    /// Inspector-fact conditions.
    pub app: AppCondition,
    /// Generations the rule applies to.
    pub generations: Vec<Generation>,
    /// G1 path: restrictions on matching flows are `internal-restriction` findings.
    pub unrestricted_path: bool,
    /// Documentation row.
    pub reference: Reference,
    /// Short explanation.
    pub note: Option<String>,
    /// File the rule was loaded from.
    pub file: String,
    /// Line of the rule's `id`.
    pub line: usize,
}

impl Rule {
    /// The ports as written, e.g. `25, 465, 6001-6004, dynamic`.
    pub fn ports_text(&self) -> String {
        self.ports
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Whether the rule uses the endpoint-mapper marker.
    pub fn is_dynamic(&self) -> bool {
        self.ports.contains(&PortSpec::Dynamic)
    }

    /// Whether the rule applies to a site of generation `g`.
    pub fn applies_to(&self, g: Generation) -> bool {
        self.generations.contains(&g)
    }

    /// Whether the rule matches every port (a ground rule's catch-all).
    pub fn covers_every_port(&self) -> bool {
        self.port_width() >= 65536
    }

    fn port_width(&self) -> u32 {
        self.ports
            .iter()
            .map(|p| match p {
                PortSpec::Range { lo, hi } => u32::from(*hi) - u32::from(*lo) + 1,
                PortSpec::Dynamic | PortSpec::Site(_) => 0,
            })
            .sum()
    }

    fn covers_port(&self, port: u32) -> bool {
        self.ports.iter().any(|p| match p {
            PortSpec::Range { lo, hi } => u32::from(*lo) <= port && port <= u32::from(*hi),
            PortSpec::Dynamic | PortSpec::Site(_) => false,
        })
    }

    /// Whether one of the rule's `site:` ports is declared as `port` by the site.
    fn covers_site_port(&self, port: u16, site: &SiteFacts) -> bool {
        self.ports.iter().any(|p| match p {
            PortSpec::Site(sp) => site.ports.get(*sp) == Some(port),
            _ => false,
        })
    }

    /// Whether the rule names a `site:` port.
    pub fn has_site_port(&self) -> bool {
        self.ports.iter().any(|p| matches!(p, PortSpec::Site(_)))
    }

    fn matches_context(
        &self,
        client: RoleSet,
        server: RoleSet,
        site: &SiteFacts,
        facts: &FlowFacts<'_>,
    ) -> bool {
        self.from.intersects(client)
            && self.to.intersects(server)
            && self.when.matches(site)
            && self.app.matches(facts)
    }
}

/// Inspector facts about one flow used by `app` conditions and the dynamic marker.
/// Everything defaults to "not known".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowFacts<'a> {
    /// First HTTP request path, when seen in clear text (or decrypted).
    pub http_path: Option<&'a str>,
    /// Whether TLS was negotiated (implicit or STARTTLS); `None` when not inspected.
    pub tls: Option<bool>,
    /// The server port was announced by an endpoint-mapper answer (an expectation hit).
    pub epm_announced: bool,
}

// ---------------------------------------------------------------------------
// DCE/RPC interface table
// ---------------------------------------------------------------------------

/// One named interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// UUID.
    pub uuid: Uuid,
    /// Short name, e.g. `emsmdb`.
    pub name: String,
    /// What it is.
    pub service: String,
    /// What a host serving it is (markers: `exchange`, `domain_controller`).
    pub marks: Option<Mark>,
    /// How much serving it weighs towards `marks` (a domain controller needs 2:
    /// DRSUAPI or Netlogon alone, LSARPC or SAMR with Kerberos or LDAP).
    pub weight: u8,
    /// The newest generation that serves it to clients over direct RPC
    /// (ncacn_ip_tcp after the endpoint mapper, not RPC over HTTP): Outlook
    /// binding EMSMDB that way means Exchange 2010 or earlier.
    pub direct_until: Option<Generation>,
}

/// UUID <-> short name.
#[derive(Debug, Clone, Default)]
pub struct InterfaceTable {
    entries: Vec<Interface>,
    by_uuid: HashMap<Uuid, usize>,
    by_name: HashMap<String, usize>,
}

impl InterfaceTable {
    /// The name of `uuid`, if known.
    pub fn name_of(&self, uuid: &Uuid) -> Option<&str> {
        let i = *self.by_uuid.get(uuid)?;
        self.entries.get(i).map(|e| e.name.as_str())
    }

    /// The name of the UUID written as text (parsed strictly).
    pub fn name_of_text(&self, uuid: &str) -> Option<&str> {
        self.name_of(&Uuid::parse(uuid)?)
    }

    /// The UUID of `name`.
    pub fn uuid_of(&self, name: &str) -> Option<Uuid> {
        let i = *self.by_name.get(name)?;
        self.entries.get(i).map(|e| e.uuid)
    }

    /// The full entry of `uuid`.
    pub fn get(&self, uuid: &Uuid) -> Option<&Interface> {
        self.entries.get(*self.by_uuid.get(uuid)?)
    }

    /// All entries in file order.
    pub fn iter(&self) -> impl Iterator<Item = &Interface> {
        self.entries.iter()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn push(&mut self, iface: Interface) {
        let i = self.entries.len();
        self.by_uuid.insert(iface.uuid, i);
        self.by_name.insert(iface.name.clone(), i);
        self.entries.push(iface);
    }
}

// ---------------------------------------------------------------------------
// Files and the rule set
// ---------------------------------------------------------------------------

/// What a file in a rules folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// `[meta] format = "rules"`.
    Rules,
    /// `[meta] format = "interfaces"`.
    Interfaces,
    /// `[meta] format = "markers"`: product markers and HTTP paths.
    Markers,
    /// A topology file (has `[site]`), skipped by the rules loader.
    Topology,
}

/// Summary of one loaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFile {
    /// File name.
    pub name: String,
    /// What it holds.
    pub format: FileFormat,
    /// `[meta] title`.
    pub title: String,
    /// `[meta] generations` (rules files).
    pub generations: Vec<Generation>,
    /// Number of rules or interfaces it contributed.
    pub entries: usize,
}

/// The default files compiled into the binary, in load order.
pub const EMBEDDED_FILES: [(&str, &str); 6] = [
    (
        "exchange-2016-2019.toml",
        include_str!("../../rules/exchange-2016-2019.toml"),
    ),
    (
        "exchange-2013.toml",
        include_str!("../../rules/exchange-2013.toml"),
    ),
    (
        "exchange-2010.toml",
        include_str!("../../rules/exchange-2010.toml"),
    ),
    ("exchange-5.5.toml", include_str!("../../rules/exchange-5.5.toml")),
    (
        "dcerpc-interfaces.toml",
        include_str!("../../rules/dcerpc-interfaces.toml"),
    ),
    ("markers.toml", include_str!("../../rules/markers.toml")),
];

/// Two rules that collide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// How they collide.
    pub kind: ConflictKind,
    /// The rule that wins (earlier in load order).
    pub first: String,
    /// The rule that collides with it.
    pub second: String,
    /// Explanation for `rules check`.
    pub message: String,
}

/// How two rules collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// Same proto/ports/from/to/when/app, overlapping generations, different `expect`.
    Contradiction,
    /// Same match conditions and `expect`; the second never matches.
    Shadowed,
}

/// All loaded rules and the interface table.
#[derive(Debug, Clone)]
pub struct RuleSet {
    files: Vec<RuleFile>,
    rules: Vec<Rule>,
    interfaces: InterfaceTable,
    markers: Markers,
}

impl RuleSet {
    /// The default rules compiled into the binary.
    ///
    /// # Panics
    /// Only if the embedded files are invalid, which the unit test
    /// `embedded_rules_load_and_validate` rules out at build time.
    pub fn embedded() -> RuleSet {
        match RuleSet::from_sources(EMBEDDED_FILES.iter().copied()) {
            Ok(set) => set,
            Err(e) => panic!("the embedded rules/ files are invalid (a build defect): {e}"),
        }
    }

    /// Loads `*.toml` from `dir` (not recursive, name order). With `extend`, the files
    /// are added to the defaults and a file with the same name as a default file
    /// replaces it; without, only the folder's files are used. Files with a `[site]`
    /// table (topologies) are skipped. If no loaded file has `format = "interfaces"`,
    /// the embedded interface table is kept.
    pub fn load_dir(dir: &Path, extend: bool) -> Result<RuleSet, LoadError> {
        let dir_name = dir.display().to_string();
        let read_err = |what: String| {
            LoadError::single(Diagnostic {
                file: dir_name.clone(),
                line: 0,
                column: 0,
                field: None,
                message: what,
                help: "give --rules a readable folder of *.toml rule files".to_string(),
            })
        };
        let entries = std::fs::read_dir(dir).map_err(|e| read_err(format!("cannot read the folder: {e}")))?;
        let mut paths = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| read_err(format!("cannot list the folder: {e}")))?;
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "toml") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        let mut sources: Vec<(String, String)> = if extend {
            EMBEDDED_FILES
                .iter()
                .map(|(n, t)| ((*n).to_string(), (*t).to_string()))
                .collect()
        } else {
            Vec::new()
        };
        for path in paths {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let text = std::fs::read_to_string(&path).map_err(|e| {
                LoadError::single(Diagnostic {
                    file: path.display().to_string(),
                    line: 0,
                    column: 0,
                    field: None,
                    message: format!("cannot read the file: {e}"),
                    help: "check the file's permissions and encoding (UTF-8)".to_string(),
                })
            })?;
            if let Some(slot) = sources.iter_mut().find(|(n, _)| *n == name) {
                slot.1 = text;
            } else {
                sources.push((name, text));
            }
        }
        let mut set = RuleSet::from_sources(sources.iter().map(|(n, t)| (n.as_str(), t.as_str())))?;
        if set.files.iter().all(|f| f.format != FileFormat::Rules) {
            return Err(read_err(
                "the folder holds no rules file ([meta] format = \"rules\")".to_string(),
            ));
        }
        if set.files.iter().all(|f| f.format != FileFormat::Interfaces) {
            set.interfaces = RuleSet::embedded().interfaces;
        }
        if set.files.iter().all(|f| f.format != FileFormat::Markers) {
            set.markers = RuleSet::embedded().markers;
        }
        Ok(set)
    }

    /// Loads `(file name, text)` pairs in order. Every problem of every file is
    /// collected before returning.
    pub fn from_sources<'a>(
        sources: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<RuleSet, LoadError> {
        let mut loader = Loader::default();
        for (name, text) in sources {
            loader.load_file(name, text);
        }
        loader.finish()
    }

    /// Every rule, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The loaded files.
    pub fn files(&self) -> &[RuleFile] {
        &self.files
    }

    /// The DCE/RPC interface table.
    pub fn interfaces(&self) -> &InterfaceTable {
        &self.interfaces
    }

    /// The product markers and HTTP paths.
    pub fn markers(&self) -> &Markers {
        &self.markers
    }

    /// The rule with `id`.
    pub fn get(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The rules that apply to generation `g`, in load order.
    pub fn for_generation(&self, g: Generation) -> impl Iterator<Item = &Rule> {
        self.rules.iter().filter(move |r| r.applies_to(g))
    }

    /// A matcher over the rules of generation `g`.
    pub fn matcher(&self, g: Generation) -> Matcher {
        Matcher::new(g, self.for_generation(g).cloned().collect())
    }

    /// Pairs of rules with identical match conditions (proto, ports, from, to, when,
    /// app) and overlapping generations: a different `expect` is a contradiction,
    /// otherwise the second rule is shadowed.
    pub fn conflicts(&self) -> Vec<Conflict> {
        type Key = (Proto, Vec<PortSpec>, RoleSet, RoleSet, When, AppCondition);
        let mut groups: HashMap<Key, Vec<usize>> = HashMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            let mut ports = r.ports.clone();
            ports.sort_unstable();
            ports.dedup();
            groups
                .entry((r.proto, ports, r.from, r.to, r.when.clone(), r.app.clone()))
                .or_default()
                .push(i);
        }
        let mut out = Vec::new();
        let mut keys: Vec<&Vec<usize>> = groups.values().filter(|v| v.len() > 1).collect();
        keys.sort();
        for members in keys {
            for (n, &i) in members.iter().enumerate() {
                for &j in members.iter().skip(n + 1) {
                    let (Some(a), Some(b)) = (self.rules.get(i), self.rules.get(j)) else {
                        continue;
                    };
                    if !a.generations.iter().any(|g| b.generations.contains(g)) {
                        continue;
                    }
                    let (kind, what) = if a.expect != b.expect {
                        (
                            ConflictKind::Contradiction,
                            format!(
                                "`{}` says {} and `{}` says {} for the same flows",
                                a.id, a.expect, b.id, b.expect
                            ),
                        )
                    } else {
                        (
                            ConflictKind::Shadowed,
                            format!("`{}` matches the same flows as `{}`, which wins", b.id, a.id),
                        )
                    };
                    out.push(Conflict {
                        kind,
                        first: a.id.clone(),
                        second: b.id.clone(),
                        message: format!(
                            "{what} ({}:{} and {}:{}); change ports, roles or `when`, or delete one",
                            a.file, a.line, b.file, b.line
                        ),
                    });
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    meta: RawMeta,
    #[serde(default)]
    rule: Vec<RawRule>,
    #[serde(default)]
    interface: Vec<RawInterface>,
    #[serde(default)]
    marker: Vec<RawMarker>,
    #[serde(default)]
    http_path: Vec<RawHttpPath>,
    #[serde(default)]
    osi_context: Vec<RawOsiContext>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    format: Spanned<String>,
    #[serde(default)]
    title: String,
    generations: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    #[allow(dead_code)]
    sources: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    purpose: Spanned<String>,
    proto: Spanned<String>,
    ports: Spanned<Vec<Spanned<toml::Value>>>,
    from: Spanned<Vec<Spanned<String>>>,
    to: Spanned<Vec<Spanned<String>>>,
    expect: Spanned<String>,
    kind: Option<Spanned<String>>,
    severity: Option<Spanned<String>>,
    when: Option<RawWhen>,
    app: Option<RawApp>,
    generations: Option<Spanned<Vec<Spanned<String>>>>,
    #[serde(default)]
    unrestricted_path: bool,
    reference: RawReference,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWhen {
    edge_subscribed: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApp {
    http_path_prefix: Option<Spanned<String>>,
    tls: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawReference {
    doc: String,
    section: String,
    table: Option<String>,
    row: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInterface {
    uuid: Spanned<String>,
    name: Spanned<String>,
    #[serde(default)]
    service: String,
    marks: Option<Spanned<String>>,
    weight: Option<Spanned<i64>>,
    direct_until: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMarker {
    field: Spanned<String>,
    header: Option<String>,
    contains: Option<String>,
    prefix: Option<String>,
    marks: Option<Spanned<String>>,
    generation: Option<Spanned<String>>,
    purpose: Option<Spanned<String>>,
    #[serde(default)]
    note: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOsiContext {
    prefix: Spanned<String>,
    purpose: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpPath {
    prefix: Spanned<String>,
    purpose: Spanned<String>,
}

#[derive(Default)]
struct Loader {
    files: Vec<RuleFile>,
    rules: Vec<Rule>,
    interfaces: InterfaceTable,
    markers: Markers,
    ids: HashMap<String, (String, usize)>,
    iface_sites: HashMap<Uuid, (String, usize)>,
    errors: Vec<Diagnostic>,
}

/// Context for the diagnostics of one file.
struct Src<'a> {
    file: &'a str,
    text: &'a str,
}

impl Src<'_> {
    fn diag(&self, offset: usize, field: &str, message: String, help: String) -> Diagnostic {
        Diagnostic::at(self.file, self.text, offset, Some(field), message, help)
    }
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
        && id
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
}

impl Loader {
    fn load_file(&mut self, file: &str, text: &str) {
        let first_error = self.errors.len();
        self.load_file_inner(file, text);
        if let Some(new) = self.errors.get_mut(first_error..) {
            new.sort_by_key(|d| (d.line, d.column));
        }
    }

    fn load_file_inner(&mut self, file: &str, text: &str) {
        let src = Src { file, text };
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                self.errors.push(Diagnostic::from_toml(file, text, &e));
                return;
            }
        };
        if table.contains_key("site") && !table.contains_key("meta") {
            self.files.push(RuleFile {
                name: file.to_string(),
                format: FileFormat::Topology,
                title: "topology (skipped)".to_string(),
                generations: Vec::new(),
                entries: 0,
            });
            return;
        }
        let raw: RawFile = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                self.errors.push(Diagnostic::from_toml(file, text, &e));
                return;
            }
        };
        let format = match raw.meta.format.get_ref().as_str() {
            "rules" => FileFormat::Rules,
            "interfaces" => FileFormat::Interfaces,
            "markers" => FileFormat::Markers,
            other => {
                self.errors.push(src.diag(
                    raw.meta.format.span().start,
                    "meta.format",
                    format!("unknown file format `{other}`"),
                    "use \"rules\", \"interfaces\" or \"markers\"".to_string(),
                ));
                return;
            }
        };
        if format != FileFormat::Markers
            && !(raw.marker.is_empty() && raw.http_path.is_empty() && raw.osi_context.is_empty())
        {
            self.errors.push(src.diag(
                raw.meta.format.span().start,
                "marker",
                "only a markers file can hold [[marker]] and [[http_path]] entries".to_string(),
                "move them to a file with format = \"markers\"".to_string(),
            ));
        }
        let mut generations = Vec::new();
        if let Some(list) = &raw.meta.generations {
            for g in list {
                match Generation::parse(g.get_ref()) {
                    Some(gen) => generations.push(gen),
                    None => self.errors.push(src.diag(
                        g.span().start,
                        "meta.generations",
                        format!("unknown Exchange generation `{}`", g.get_ref()),
                        format!("use any of {}", Generation::names()),
                    )),
                }
            }
        }
        let entries = match format {
            FileFormat::Rules => {
                if raw.meta.generations.is_none() {
                    self.errors.push(src.diag(
                        raw.meta.format.span().start,
                        "meta.generations",
                        "a rules file must say which Exchange generations it covers".to_string(),
                        format!("add generations = [...] to [meta], from {}", Generation::names()),
                    ));
                }
                if !raw.interface.is_empty() {
                    self.errors.push(src.diag(
                        raw.meta.format.span().start,
                        "interface",
                        "a rules file cannot hold [[interface]] entries".to_string(),
                        "move them to a file with format = \"interfaces\"".to_string(),
                    ));
                }
                let n = raw.rule.len();
                for rr in raw.rule {
                    if let Some(rule) = self.validate_rule(&src, rr, &generations) {
                        self.rules.push(rule);
                    }
                }
                n
            }
            FileFormat::Markers => {
                if !raw.rule.is_empty() || !raw.interface.is_empty() {
                    self.errors.push(src.diag(
                        raw.meta.format.span().start,
                        "rule",
                        "a markers file holds only [[marker]] and [[http_path]] entries".to_string(),
                        "move rules and interfaces to their own files".to_string(),
                    ));
                }
                let n = raw.marker.len() + raw.http_path.len() + raw.osi_context.len();
                for m in raw.marker {
                    self.add_marker(&src, m);
                }
                for h in raw.http_path {
                    self.add_http_path(&src, h);
                }
                for o in raw.osi_context {
                    self.add_osi_context(&src, o);
                }
                n
            }
            _ => {
                if !raw.rule.is_empty() {
                    self.errors.push(src.diag(
                        raw.meta.format.span().start,
                        "rule",
                        "an interfaces file cannot hold [[rule]] entries".to_string(),
                        "move them to a file with format = \"rules\"".to_string(),
                    ));
                }
                let n = raw.interface.len();
                for ri in raw.interface {
                    self.add_interface(&src, ri);
                }
                n
            }
        };
        self.files.push(RuleFile {
            name: file.to_string(),
            format,
            title: raw.meta.title,
            generations,
            entries,
        });
    }

    /// An optional field naming one of a fixed set of values: `Ok(None)`
    /// when absent, `Ok(Some(value))` when it parses, else `Err` with a
    /// diagnostic naming the field, the unknown `what` and the accepted
    /// values.
    fn enum_field<T>(
        &mut self,
        src: &Src<'_>,
        value: &Option<Spanned<String>>,
        field: &str,
        what: &str,
        parse: fn(&str) -> Option<T>,
        names: fn() -> String,
    ) -> Result<Option<T>, ()> {
        let Some(v) = value else { return Ok(None) };
        match parse(v.get_ref()) {
            Some(x) => Ok(Some(x)),
            None => {
                self.errors.push(src.diag(
                    v.span().start,
                    field,
                    format!("unknown {what} `{}`", v.get_ref()),
                    format!("use one of {}", names()),
                ));
                Err(())
            }
        }
    }

    fn add_interface(&mut self, src: &Src<'_>, ri: RawInterface) {
        let Some(uuid) = Uuid::parse(ri.uuid.get_ref()) else {
            self.errors.push(src.diag(
                ri.uuid.span().start,
                "uuid",
                format!("`{}` is not a UUID", ri.uuid.get_ref()),
                "write it as xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx (hex, no braces)".to_string(),
            ));
            return;
        };
        let name = ri.name.get_ref();
        let line = line_col(src.text, ri.uuid.span().start).0;
        if name.is_empty()
            || !name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
        {
            self.errors.push(src.diag(
                ri.name.span().start,
                "name",
                format!("`{name}` is not a valid interface name"),
                "use lowercase letters, digits and `_`".to_string(),
            ));
            return;
        }
        if let Some((f, l)) = self.iface_sites.get(&uuid) {
            self.errors.push(src.diag(
                ri.uuid.span().start,
                "uuid",
                format!("interface {uuid} is already defined at {f}:{l}"),
                "keep one entry per UUID".to_string(),
            ));
            return;
        }
        if self.interfaces.uuid_of(name).is_some() {
            self.errors.push(src.diag(
                ri.name.span().start,
                "name",
                format!("interface name `{name}` is already used"),
                "give each interface its own name".to_string(),
            ));
            return;
        }
        let Ok(marks) = self.enum_field(src, &ri.marks, "marks", "mark", Mark::parse, Mark::names) else {
            return;
        };
        let weight = match &ri.weight {
            None => 2,
            Some(w) => match u8::try_from(*w.get_ref()) {
                Ok(v @ 1..=2) => v,
                _ => {
                    self.errors.push(src.diag(
                        w.span().start,
                        "weight",
                        format!("weight {} is out of range", w.get_ref()),
                        "use 1 (needs more evidence) or 2 (enough alone)".to_string(),
                    ));
                    return;
                }
            },
        };
        let Ok(direct_until) = self.enum_field(
            src,
            &ri.direct_until,
            "direct_until",
            "Exchange generation",
            Generation::parse,
            Generation::names,
        ) else {
            return;
        };
        self.iface_sites.insert(uuid, (src.file.to_string(), line));
        self.interfaces.push(Interface {
            uuid,
            name: name.clone(),
            service: ri.service,
            marks,
            weight,
            direct_until,
        });
    }

    fn add_marker(&mut self, src: &Src<'_>, rm: RawMarker) {
        let at = rm.field.span().start;
        let line = line_col(src.text, at).0;
        let Some(field) = MarkerField::parse(rm.field.get_ref()) else {
            self.errors.push(src.diag(
                at,
                "field",
                format!("unknown marker field `{}`", rm.field.get_ref()),
                format!("use one of {}", MarkerField::names()),
            ));
            return;
        };
        if (field == MarkerField::HttpHeader) != rm.header.is_some() {
            self.errors.push(src.diag(
                at,
                "header",
                "`header` names the HTTP header, and only http_header markers have it".to_string(),
                "add header = \"x-...\" to an http_header marker, or remove it from others".to_string(),
            ));
            return;
        }
        let lower = |s: Option<String>| s.map(|v| v.to_ascii_lowercase()).filter(|v| !v.is_empty());
        let (contains, prefix) = (lower(rm.contains), lower(rm.prefix));
        if contains.is_none() && prefix.is_none() && field != MarkerField::HttpHeader {
            self.errors.push(src.diag(
                at,
                "contains",
                "the marker matches nothing in particular".to_string(),
                "give `contains` or `prefix` (not empty)".to_string(),
            ));
            return;
        }
        let Ok(marks) = self.enum_field(src, &rm.marks, "marks", "mark", Mark::parse, Mark::names) else {
            return;
        };
        let Ok(generation) = self.enum_field(
            src,
            &rm.generation,
            "generation",
            "Exchange generation",
            Generation::parse,
            Generation::names,
        ) else {
            return;
        };
        let Ok(purpose) = self.enum_field(
            src,
            &rm.purpose,
            "purpose",
            "purpose",
            Purpose::parse,
            Purpose::names,
        ) else {
            return;
        };
        if marks.is_none() && generation.is_none() {
            self.errors.push(src.diag(
                at,
                "marks",
                "the marker says nothing about the host".to_string(),
                "give `marks` (exchange, domain_controller) and/or `generation`".to_string(),
            ));
            return;
        }
        self.markers.markers.push(Marker {
            field,
            header: rm.header.map(|h| h.to_ascii_lowercase()),
            contains,
            prefix,
            marks,
            generation,
            purpose,
            note: rm.note,
            file: src.file.to_string(),
            line,
        });
    }

    fn add_osi_context(&mut self, src: &Src<'_>, ro: RawOsiContext) {
        let prefix = ro.prefix.get_ref();
        let arcs_ok = !prefix.is_empty()
            && prefix
                .split('.')
                .all(|a| !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()));
        if !arcs_ok {
            self.errors.push(src.diag(
                ro.prefix.span().start,
                "prefix",
                format!("`{prefix}` is not an object identifier prefix"),
                "write dotted decimal arcs, e.g. \"2.6\"".to_string(),
            ));
            return;
        }
        let Some(purpose) = Purpose::parse(ro.purpose.get_ref()) else {
            self.errors.push(src.diag(
                ro.purpose.span().start,
                "purpose",
                format!("unknown purpose `{}`", ro.purpose.get_ref()),
                format!("use one of {}", Purpose::names()),
            ));
            return;
        };
        self.markers.osi_contexts.push(OsiContext {
            prefix: prefix.clone(),
            purpose,
        });
    }

    fn add_http_path(&mut self, src: &Src<'_>, rh: RawHttpPath) {
        let prefix = rh.prefix.get_ref();
        if !prefix.starts_with('/') {
            self.errors.push(src.diag(
                rh.prefix.span().start,
                "prefix",
                format!("`{prefix}` is not a URL path"),
                "start the prefix with `/`, e.g. \"/mapi/\"".to_string(),
            ));
            return;
        }
        let Some(purpose) = Purpose::parse(rh.purpose.get_ref()) else {
            self.errors.push(src.diag(
                rh.purpose.span().start,
                "purpose",
                format!("unknown purpose `{}`", rh.purpose.get_ref()),
                format!("use one of {}", Purpose::names()),
            ));
            return;
        };
        self.markers.http_paths.push(HttpPath {
            prefix: prefix.to_ascii_lowercase(),
            purpose,
        });
    }

    fn validate_rule(&mut self, src: &Src<'_>, rr: RawRule, file_generations: &[Generation]) -> Option<Rule> {
        let before = self.errors.len();
        let id = rr.id.get_ref().clone();
        let id_at = rr.id.span().start;
        let line = line_col(src.text, id_at).0;
        if !is_kebab(&id) {
            self.errors.push(src.diag(
                id_at,
                "id",
                format!("rule id `{id}` is not kebab-case"),
                "use lowercase letters, digits and single hyphens, e.g. e19-smtp-internet-edge".to_string(),
            ));
        } else if let Some((f, l)) = self.ids.get(&id) {
            self.errors.push(src.diag(
                id_at,
                "id",
                format!("duplicate rule id `{id}` (first defined at {f}:{l})"),
                "rule ids must be unique across all loaded files; rename one".to_string(),
            ));
        } else {
            self.ids.insert(id.clone(), (src.file.to_string(), line));
        }

        let purpose = Purpose::parse(rr.purpose.get_ref());
        if purpose.is_none() {
            self.errors.push(src.diag(
                rr.purpose.span().start,
                "purpose",
                format!("unknown purpose `{}`", rr.purpose.get_ref()),
                format!("use one of {}", Purpose::names()),
            ));
        }
        let proto = Proto::parse(rr.proto.get_ref());
        if proto.is_none() {
            self.errors.push(src.diag(
                rr.proto.span().start,
                "proto",
                format!("unknown protocol `{}`", rr.proto.get_ref()),
                format!("use one of {}", Proto::names()),
            ));
        }
        let expect = Expect::parse(rr.expect.get_ref());
        if expect.is_none() {
            self.errors.push(src.diag(
                rr.expect.span().start,
                "expect",
                format!("unknown expectation `{}`", rr.expect.get_ref()),
                format!("use one of {}", Expect::names()),
            ));
        }
        let kind = match &rr.kind {
            None => None,
            Some(k) => {
                let parsed = FindingKind::parse(k.get_ref());
                if parsed.is_none() {
                    self.errors.push(src.diag(
                        k.span().start,
                        "kind",
                        format!("unknown finding kind `{}`", k.get_ref()),
                        format!("use one of {}", FindingKind::names()),
                    ));
                }
                parsed
            }
        };
        let severity = match &rr.severity {
            None => Some(Severity::Info),
            Some(s) => {
                let parsed = Severity::parse(s.get_ref());
                if parsed.is_none() {
                    self.errors.push(src.diag(
                        s.span().start,
                        "severity",
                        format!("unknown severity `{}`", s.get_ref()),
                        format!("use one of {}", Severity::names()),
                    ));
                }
                parsed
            }
        };
        if expect == Some(Expect::Violation) && rr.kind.is_none() {
            self.errors.push(src.diag(
                rr.expect.span().start,
                "kind",
                format!("rule `{id}` is a violation but has no `kind`"),
                format!("add kind = one of {}", FindingKind::names()),
            ));
        }
        if let (Some(k), Some(e)) = (kind, expect) {
            if e != Expect::Violation && k.says_undocumented() {
                self.errors.push(src.diag(
                    rr.kind.as_ref().map_or(id_at, |k| k.span().start),
                    "kind",
                    format!("rule `{id}` documents its path (expect = \"{e}\") but its kind `{k}` says the path is undocumented"),
                    "use kind = \"configuration-note\" for a documented path with a condition, or expect = \"violation\"".to_string(),
                ));
            }
        }
        if rr.kind.is_some() && rr.severity.is_none() {
            self.errors.push(src.diag(
                id_at,
                "severity",
                format!("rule `{id}` has a `kind` but no `severity`"),
                format!("add severity = one of {}", Severity::names()),
            ));
        }

        let ports = self.parse_ports(src, &rr.ports);
        if proto == Some(Proto::Udp) && ports.iter().any(|p| matches!(p, PortSpec::Site(_))) {
            self.errors.push(src.diag(
                rr.ports.span().start,
                "ports",
                "site ports are TCP ports".to_string(),
                "use proto = \"tcp\" (or \"any\") for a rule with a \"site:NAME\" port".to_string(),
            ));
        }
        let from = self.parse_roles(src, &rr.from, "from");
        let to = self.parse_roles(src, &rr.to, "to");

        let generations = match &rr.generations {
            None => file_generations.to_vec(),
            Some(list) => {
                let mut out = Vec::new();
                for g in list.get_ref() {
                    match Generation::parse(g.get_ref()) {
                        Some(gen) if file_generations.contains(&gen) => out.push(gen),
                        Some(gen) => self.errors.push(src.diag(
                            g.span().start,
                            "generations",
                            format!("generation {gen} is not covered by this file's [meta] generations"),
                            "list only generations from [meta] generations, or add it there".to_string(),
                        )),
                        None => self.errors.push(src.diag(
                            g.span().start,
                            "generations",
                            format!("unknown Exchange generation `{}`", g.get_ref()),
                            format!("use any of {}", Generation::names()),
                        )),
                    }
                }
                if list.get_ref().is_empty() {
                    self.errors.push(src.diag(
                        list.span().start,
                        "generations",
                        "an empty generations list makes the rule apply nowhere".to_string(),
                        "remove the field to inherit [meta] generations, or list some".to_string(),
                    ));
                }
                out
            }
        };

        let when = When {
            edge_subscribed: rr.when.as_ref().and_then(|w| w.edge_subscribed),
        };
        let mut app = AppCondition::default();
        if let Some(a) = &rr.app {
            app.tls = a.tls;
            if let Some(p) = &a.http_path_prefix {
                if !p.get_ref().starts_with('/') {
                    self.errors.push(src.diag(
                        p.span().start,
                        "http_path_prefix",
                        format!("path prefix `{}` does not start with `/`", p.get_ref()),
                        "write the URL path, e.g. \"/mapi/\"".to_string(),
                    ));
                }
                app.http_path_prefix = Some(p.get_ref().clone());
            }
        }

        if self.errors.len() != before {
            return None;
        }
        Some(Rule {
            id,
            purpose: purpose?,
            proto: proto?,
            ports,
            from,
            to,
            expect: expect?,
            kind,
            severity: severity?,
            when,
            app,
            generations,
            unrestricted_path: rr.unrestricted_path,
            reference: Reference {
                doc: rr.reference.doc,
                section: rr.reference.section,
                table: rr.reference.table,
                row: rr.reference.row,
            },
            note: rr.note,
            file: src.file.to_string(),
            line,
        })
    }

    fn parse_ports(&mut self, src: &Src<'_>, ports: &Spanned<Vec<Spanned<toml::Value>>>) -> Vec<PortSpec> {
        const HELP: &str = "write ports as integers (25), \"lo-hi\" ranges (\"6001-6004\"), \"dynamic\" or \"site:NAME\" (sender_reputation_proxy, rfc1006)";
        if ports.get_ref().is_empty() {
            self.errors.push(src.diag(
                ports.span().start,
                "ports",
                "the port list is empty".to_string(),
                HELP.to_string(),
            ));
        }
        let mut out = Vec::new();
        for p in ports.get_ref() {
            let at = p.span().start;
            let mut bad = |msg: String| {
                self.errors.push(src.diag(at, "ports", msg, HELP.to_string()));
            };
            match p.get_ref() {
                toml::Value::Integer(n) => match u16::try_from(*n) {
                    Ok(port) => out.push(PortSpec::Range { lo: port, hi: port }),
                    Err(_) => bad(format!("port {n} is outside 0-65535")),
                },
                toml::Value::String(s) if s == "dynamic" => out.push(PortSpec::Dynamic),
                toml::Value::String(s) if s.starts_with("site:") => {
                    match s.strip_prefix("site:").and_then(SitePort::parse) {
                        Some(p) => out.push(PortSpec::Site(p)),
                        None => bad(format!("`{s}` is not a site port")),
                    }
                }
                toml::Value::String(s) => {
                    let (lo_t, hi_t) = s.split_once('-').unwrap_or((s.as_str(), s.as_str()));
                    match (lo_t.trim().parse::<u16>(), hi_t.trim().parse::<u16>()) {
                        (Ok(lo), Ok(hi)) if lo <= hi => out.push(PortSpec::Range { lo, hi }),
                        (Ok(lo), Ok(hi)) => bad(format!("port range `{s}` is reversed ({lo} > {hi})")),
                        _ => bad(format!("`{s}` is not a port, port range or \"dynamic\"")),
                    }
                }
                other => bad(format!("`{other}` is not a port")),
            }
        }
        out
    }

    fn parse_roles(&mut self, src: &Src<'_>, list: &Spanned<Vec<Spanned<String>>>, field: &str) -> RoleSet {
        if list.get_ref().is_empty() {
            self.errors.push(src.diag(
                list.span().start,
                field,
                "the role list is empty".to_string(),
                format!("list roles from {}", role_names()),
            ));
        }
        let mut set = RoleSet::EMPTY;
        for name in list.get_ref() {
            match role_set_by_name(name.get_ref()) {
                Some(s) => set = set.union(s),
                None => self.errors.push(src.diag(
                    name.span().start,
                    field,
                    format!("unknown role `{}`", name.get_ref()),
                    format!("use one of {}", role_names()),
                )),
            }
        }
        set
    }

    fn finish(self) -> Result<RuleSet, LoadError> {
        if !self.errors.is_empty() {
            return Err(LoadError {
                diagnostics: self.errors,
            });
        }
        Ok(RuleSet {
            files: self.files,
            rules: self.rules,
            interfaces: self.interfaces,
            markers: self.markers,
        })
    }
}

// ---------------------------------------------------------------------------
// Matching
// ---------------------------------------------------------------------------

/// Per-protocol index: server port -> id of a candidate list sorted by precedence.
#[derive(Debug, Clone)]
struct PortIndex {
    /// 65536 entries.
    segment_of_port: Vec<u16>,
    /// Candidate lists (rule indices), shared by all ports with the same candidates.
    lists: Vec<Vec<u32>>,
}

impl PortIndex {
    fn build(rules: &[Rule], order: &[u32], proto: Proto) -> PortIndex {
        let applies = |r: &Rule| (r.proto == proto || r.proto == Proto::Any) && r.port_width() > 0;
        let mut bounds: Vec<u32> = vec![0, 65536];
        for r in rules.iter().filter(|r| applies(r)) {
            for p in &r.ports {
                if let PortSpec::Range { lo, hi } = p {
                    bounds.push(u32::from(*lo));
                    bounds.push(u32::from(*hi) + 1);
                }
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        let mut segment_of_port = vec![0u16; 65536];
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let mut interned: HashMap<Vec<u32>, u16> = HashMap::new();
        for pair in bounds.windows(2) {
            let [start, end] = *pair else { continue };
            let candidates: Vec<u32> = order
                .iter()
                .copied()
                .filter(|&i| {
                    rules
                        .get(i as usize)
                        .is_some_and(|r| applies(r) && r.covers_port(start))
                })
                .collect();
            let id = match interned.get(&candidates) {
                Some(id) => *id,
                None => {
                    let id = u16::try_from(lists.len()).unwrap_or(u16::MAX);
                    lists.push(candidates.clone());
                    interned.insert(candidates, id);
                    id
                }
            };
            if let Some(slots) = segment_of_port.get_mut(start as usize..end as usize) {
                slots.fill(id);
            }
        }
        PortIndex {
            segment_of_port,
            lists,
        }
    }

    fn candidates(&self, port: u16) -> &[u32] {
        self.segment_of_port
            .get(usize::from(port))
            .and_then(|seg| self.lists.get(usize::from(*seg)))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Rules wider than this (UM media on 1024-65535, ground rules on every port) say
/// nothing about what a port is for.
pub const MAX_PORT_PURPOSE_WIDTH: u32 = 1024;

/// The rules of one generation, indexed for matching flows. Build once per run
/// ([`RuleSet::matcher`]); matching does not allocate.
#[derive(Debug, Clone)]
pub struct Matcher {
    generation: Generation,
    rules: Vec<Rule>,
    tcp: PortIndex,
    udp: PortIndex,
    dynamic_tcp: Vec<u32>,
    dynamic_udp: Vec<u32>,
    /// Rules with a `site:` port, in precedence order (tried first when the server
    /// port is one the site declares; site ports are TCP).
    site_tcp: Vec<u32>,
    unrestricted: Vec<(RoleSet, RoleSet)>,
}

impl Matcher {
    /// Indexes `rules` (already selected for `generation`).
    pub fn new(generation: Generation, rules: Vec<Rule>) -> Matcher {
        let mut order: Vec<u32> = (0..rules.len()).filter_map(|i| u32::try_from(i).ok()).collect();
        order.sort_by_key(|&i| {
            rules.get(i as usize).map(|r| {
                (
                    r.app.is_empty(),
                    r.port_width(),
                    r.from.len() + r.to.len(),
                    r.when.is_empty(),
                    i,
                )
            })
        });
        let dynamic = |proto: Proto| -> Vec<u32> {
            order
                .iter()
                .copied()
                .filter(|&i| {
                    rules
                        .get(i as usize)
                        .is_some_and(|r| r.is_dynamic() && (r.proto == proto || r.proto == Proto::Any))
                })
                .collect()
        };
        let dynamic_tcp = dynamic(Proto::Tcp);
        let dynamic_udp = dynamic(Proto::Udp);
        let site_tcp = order
            .iter()
            .copied()
            .filter(|&i| {
                rules
                    .get(i as usize)
                    .is_some_and(|r| r.has_site_port() && r.proto != Proto::Udp)
            })
            .collect();
        let tcp = PortIndex::build(&rules, &order, Proto::Tcp);
        let udp = PortIndex::build(&rules, &order, Proto::Udp);
        let unrestricted = rules
            .iter()
            .filter(|r| r.unrestricted_path)
            .map(|r| (r.from, r.to))
            .collect();
        Matcher {
            generation,
            rules,
            tcp,
            udp,
            dynamic_tcp,
            dynamic_udp,
            site_tcp,
            unrestricted,
        }
    }

    /// The generation the matcher was built for.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The rules it matches against, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule for a flow, by the precedence in the module documentation, or `None`
    /// (purpose `unknown`, no rule). `proto` must be `Tcp` or `Udp` (`Any` matches
    /// nothing); `client`/`server` are the roles of the initiator and the responder.
    pub fn match_flow(
        &self,
        proto: Proto,
        server_port: u16,
        client: RoleSet,
        server: RoleSet,
        site: &SiteFacts,
        facts: &FlowFacts<'_>,
    ) -> Option<&Rule> {
        let (index, dynamic) = match proto {
            Proto::Tcp => (&self.tcp, &self.dynamic_tcp),
            Proto::Udp => (&self.udp, &self.dynamic_udp),
            Proto::Any => return None,
        };
        let hit = |i: &u32| {
            self.rules
                .get(*i as usize)
                .filter(|r| r.matches_context(client, server, site, facts))
        };
        if facts.epm_announced {
            if let Some(r) = dynamic.iter().find_map(hit) {
                return Some(r);
            }
        }
        if proto == Proto::Tcp && site.ports.any_is(server_port) {
            let site_hit = |i: &u32| {
                self.rules
                    .get(*i as usize)
                    .filter(|r| r.covers_site_port(server_port, site))
                    .and_then(|_| hit(i))
            };
            if let Some(r) = self.site_tcp.iter().find_map(site_hit) {
                return Some(r);
            }
        }
        index.candidates(server_port).iter().find_map(hit)
    }

    /// The purpose of the narrowest rule covering `port` (at most
    /// [`MAX_PORT_PURPOSE_WIDTH`] ports wide), whatever the roles: what the
    /// port says when a flow's content says nothing and no rule matched its roles.
    pub fn purpose_of_port(&self, proto: Proto, port: u16) -> Option<Purpose> {
        let index = match proto {
            Proto::Tcp => &self.tcp,
            Proto::Udp => &self.udp,
            Proto::Any => return None,
        };
        index
            .candidates(port)
            .iter()
            .filter_map(|i| self.rules.get(*i as usize))
            .filter(|r| {
                r.purpose != Purpose::Unknown && r.port_width() <= MAX_PORT_PURPOSE_WIDTH && r.app.is_empty()
            })
            .min_by_key(|r| r.port_width())
            .map(|r| r.purpose)
    }

    /// Whether `client -> server` is a G1 path (some rule with `unrestricted_path`
    /// covers the role pair): any port must work, so failed connections there are
    /// `internal-restriction` evidence.
    pub fn is_unrestricted_path(&self, client: RoleSet, server: RoleSet) -> bool {
        self.unrestricted
            .iter()
            .any(|(f, t)| f.intersects(client) && t.intersects(server))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::topology::SitePorts;

    fn site(edge: bool) -> SiteFacts {
        SiteFacts {
            generation: Generation::V2019,
            edge_subscribed: edge,
            ports: SitePorts::default(),
        }
    }

    fn rs(role: Role) -> RoleSet {
        RoleSet::from(role)
    }

    const NONE: FlowFacts<'static> = FlowFacts {
        http_path: None,
        tls: None,
        epm_announced: false,
    };

    #[test]
    fn embedded_rules_load_and_validate() {
        let set = RuleSet::embedded();
        let rules_files = set
            .files()
            .iter()
            .filter(|f| f.format == FileFormat::Rules)
            .count();
        assert_eq!(rules_files, 4);
        assert!(set.rules().len() > 150, "{}", set.rules().len());
        assert!(set.interfaces().len() >= 20);
        for f in set.files() {
            eprintln!("{}: {} entries", f.name, f.entries);
        }
        // every generation has rules
        for g in Generation::ALL {
            assert!(set.for_generation(g).count() > 10, "{g}");
        }
        // no contradictions or shadowed rules in the defaults
        let conflicts = set.conflicts();
        assert!(conflicts.is_empty(), "{conflicts:#?}");
    }

    #[test]
    fn every_purpose_and_kind_used_exists() {
        let set = RuleSet::embedded();
        for r in set.rules() {
            assert_eq!(Purpose::parse(r.purpose.as_str()), Some(r.purpose));
            if let Some(k) = r.kind {
                assert_eq!(FindingKind::parse(k.as_str()), Some(k));
            }
            assert!(!r.generations.is_empty(), "{}", r.id);
            assert!(r.reference.section.starts_with("DOMAIN.md §"), "{}", r.id);
            assert!(r.reference.row.is_some(), "{}", r.id);
            if r.expect == Expect::Violation {
                assert!(r.kind.is_some(), "{}", r.id);
            }
        }
        // the purpose ids are exactly DESIGN.md's 33
        assert_eq!(Purpose::ALL.len(), 33);
        assert_eq!(FindingKind::ALL.len(), 11);
    }

    #[test]
    fn interface_table() {
        let set = RuleSet::embedded();
        let t = set.interfaces();
        assert_eq!(
            t.name_of_text("e1af8308-5d1f-11c9-91a4-08002b14a0fa"),
            Some("epm")
        );
        assert_eq!(
            t.name_of_text("A4F1DB00-CA47-1067-B31F-00DD010662DA"),
            Some("emsmdb")
        );
        let nspi = t.uuid_of("nspi").unwrap();
        assert_eq!(nspi.to_string(), "f5cc5a18-4264-101a-8c59-08002b2f8426");
        for name in [
            "asyncemsmdb",
            "rfr",
            "drsuapi",
            "netlogon",
            "lsarpc",
            "samr",
            "isystemactivator",
            "ioxidresolver",
        ] {
            assert!(t.uuid_of(name).is_some(), "{name}");
        }
        // strict parsing
        for bad in [
            "{e1af8308-5d1f-11c9-91a4-08002b14a0fa}",
            "e1af83085d1f11c991a408002b14a0fa",
            "e1af8308-5d1f-11c9-91a4-08002b14a0f",
            "e1af8308-5d1f-11c9-91a4-08002b14a0fg",
            "e1af8308-5d1f-11c9-91a408-002b14a0fa",
            " e1af8308-5d1f-11c9-91a4-08002b14a0f",
        ] {
            assert!(Uuid::parse(bad).is_none(), "{bad}");
        }
        // wire form (little-endian drep) of the EPM UUID
        let wire = [
            0x08, 0x83, 0xaf, 0xe1, 0x1f, 0x5d, 0xc9, 0x11, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa,
        ];
        assert_eq!(t.name_of(&Uuid::from_wire_le(&wire)), Some("epm"));
    }

    fn minimal(rule_body: &str) -> String {
        format!(
            "[meta]\nformat = \"rules\"\ngenerations = [\"2019\"]\n\n[[rule]]\n{rule_body}reference = {{ doc = \"d\", section = \"DOMAIN.md §3\", row = \"r\" }}\n"
        )
    }

    const GOOD: &str = "id = \"t-one\"\npurpose = \"dns\"\nproto = \"udp\"\nports = [53]\nfrom = [\"internal\"]\nto = [\"dns\"]\nexpect = \"allowed\"\n";

    fn load_err(text: &str) -> String {
        RuleSet::from_sources([("bad.toml", text)])
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn good_minimal_file_loads() {
        let set = RuleSet::from_sources([("ok.toml", minimal(GOOD).as_str())]).unwrap();
        assert_eq!(set.rules().len(), 1);
        assert_eq!(set.rules()[0].line, 6);
        assert_eq!(set.rules()[0].severity, Severity::Info);
    }

    #[test]
    fn unknown_field_is_located() {
        let text = minimal(&format!("{GOOD}colour = \"red\"\n"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:13:"), "{e}");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn bad_severity_is_located() {
        let text = minimal(&format!(
            "{GOOD}kind = \"cleartext-protocol\"\nseverity = \"critical\"\n"
        ));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:14:"), "{e}");
        assert!(e.contains("field `severity`"), "{e}");
        assert!(e.contains("info, low, medium, high"), "{e}");
    }

    #[test]
    fn duplicate_id_is_located() {
        let one = minimal(GOOD);
        let text = format!("{one}\n[[rule]]\n{GOOD}reference = {{ doc = \"d\", section = \"s\" }}\n");
        let e = load_err(&text);
        assert!(e.contains("bad.toml:16:"), "{e}");
        assert!(e.contains("field `id`"), "{e}");
        assert!(e.contains("duplicate rule id `t-one`"), "{e}");
        assert!(e.contains("bad.toml:6"), "{e}");
    }

    #[test]
    fn bad_ports_are_located() {
        let text = minimal(&GOOD.replace("ports = [53]", "ports = [53, \"6004-6001\"]"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:9:"), "{e}");
        assert!(e.contains("field `ports`") && e.contains("reversed"), "{e}");

        let text = minimal(&GOOD.replace("ports = [53]", "ports = [70000]"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:9:") && e.contains("outside"), "{e}");

        let text = minimal(&GOOD.replace("ports = [53]", "ports = []"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:9:") && e.contains("empty"), "{e}");

        let text = minimal(&GOOD.replace("ports = [53]", "ports = [\"5x-9\"]"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:9:") && e.contains("not a port"), "{e}");

        let text = minimal(&GOOD.replace("ports = [53]", "ports = [\"site:proxy\"]"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:9:") && e.contains("not a site port"), "{e}");

        // site ports are TCP; this rule is udp
        let text = minimal(&GOOD.replace("ports = [53]", "ports = [\"site:rfc1006\"]"));
        let e = load_err(&text);
        assert!(e.contains("bad.toml:9:") && e.contains("TCP"), "{e}");
        let tcp = GOOD
            .replace("ports = [53]", "ports = [\"site:rfc1006\"]")
            .replace("\"udp\"", "\"tcp\"");
        let set = RuleSet::from_sources([("ok.toml", minimal(&tcp).as_str())]).unwrap();
        assert_eq!(set.rules()[0].ports_text(), "site:rfc1006");
    }

    #[test]
    fn other_validation_errors() {
        let e = load_err(&minimal(&GOOD.replace("\"dns\"\nproto", "\"mail\"\nproto")));
        assert!(e.contains("bad.toml:7:") && e.contains("field `purpose`"), "{e}");
        let e = load_err(&minimal(&GOOD.replace("[\"dns\"]", "[\"exchange_server\"]")));
        assert!(e.contains("bad.toml:11:") && e.contains("field `to`"), "{e}");
        let e = load_err(&minimal(&GOOD.replace("\"allowed\"", "\"violation\"")));
        assert!(e.contains("field `kind`") && e.contains("no `kind`"), "{e}");
        let e = load_err(&minimal(&format!("{GOOD}kind = \"oops\"\nseverity = \"low\"\n")));
        assert!(e.contains("bad.toml:13:") && e.contains("field `kind`"), "{e}");
        let e = load_err(&minimal(&GOOD.replace("\"t-one\"", "\"T_One\"")));
        assert!(e.contains("kebab-case"), "{e}");
        let e = load_err(&minimal(&GOOD.replace("proto = \"udp\"", "proto = 17")));
        assert!(e.contains("bad.toml:8:") && e.contains("proto"), "{e}");
        let e = load_err(&minimal(&format!("{GOOD}generations = [\"2013\"]\n")));
        assert!(e.contains("field `generations`"), "{e}");
        let e = load_err("[meta]\nformat = \"rules\"\n");
        assert!(e.contains("generations"), "{e}");
        let e = load_err(&minimal(&format!("{GOOD}when = {{ edge = true }}\n")));
        assert!(e.contains("bad.toml:13:") && e.contains("edge"), "{e}");
        let e = load_err("[meta\nformat = 1");
        assert!(e.contains("bad.toml:1:"), "{e}");
    }

    #[test]
    fn errors_in_several_files_are_all_reported() {
        let a = minimal(&GOOD.replace("\"udp\"", "\"icmp\""));
        let b = minimal(&GOOD.replace("\"dns\"\nproto", "\"mail\"\nproto"));
        let e = RuleSet::from_sources([("a.toml", a.as_str()), ("b.toml", b.as_str())]).unwrap_err();
        assert_eq!(e.diagnostics.len(), 3, "{e}"); // icmp, mail, and b's duplicate id
        assert_eq!(e.diagnostics[0].file, "a.toml");
        assert_eq!(e.diagnostics[0].field.as_deref(), Some("proto"));
    }

    #[test]
    fn contradiction_detection() {
        let text = format!(
            "{}\n[[rule]]\n{}kind = \"undocumented-flow\"\nseverity = \"low\"\nreference = {{ doc = \"d\", section = \"s\" }}\n\n[[rule]]\n{}purpose = \"unknown\"\nreference = {{ doc = \"d\", section = \"s\" }}\n",
            minimal(GOOD),
            GOOD.replace("t-one", "t-two").replace("\"allowed\"", "\"violation\""),
            GOOD.replace("t-one", "t-three").replace("purpose = \"dns\"\n", ""),
        );
        let set = RuleSet::from_sources([("c.toml", text.as_str())]).unwrap();
        let c = set.conflicts();
        assert_eq!(c.len(), 3, "{c:#?}");
        let contra: Vec<_> = c
            .iter()
            .filter(|x| x.kind == ConflictKind::Contradiction)
            .collect();
        assert_eq!(contra.len(), 2);
        assert!(contra[0].message.contains("c.toml:6"), "{}", contra[0].message);
        assert!(c
            .iter()
            .any(|x| x.kind == ConflictKind::Shadowed && x.first == "t-one" && x.second == "t-three"));
        // different `when` is not a contradiction
        let text = format!(
            "{}\n[[rule]]\n{}kind = \"edge-bypass\"\nseverity = \"high\"\nwhen = {{ edge_subscribed = true }}\nreference = {{ doc = \"d\", section = \"s\" }}\n",
            minimal(GOOD),
            GOOD.replace("t-one", "t-two").replace("\"allowed\"", "\"violation\""),
        );
        let set = RuleSet::from_sources([("c.toml", text.as_str())]).unwrap();
        assert!(set.conflicts().is_empty());
    }

    #[test]
    fn topology_files_are_skipped() {
        let example = include_str!("../../rules/example-site.toml");
        let set = RuleSet::from_sources([
            ("ok.toml", minimal(GOOD).as_str()),
            ("example-site.toml", example),
        ])
        .unwrap();
        assert_eq!(set.files().len(), 2);
        assert_eq!(set.files()[1].format, FileFormat::Topology);
    }

    #[test]
    fn load_dir_replace_and_extend() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), minimal(GOOD)).unwrap();
        std::fs::write(dir.path().join("README.md"), "not toml").unwrap();
        let replaced = RuleSet::load_dir(dir.path(), false).unwrap();
        assert_eq!(replaced.rules().len(), 1);
        assert!(!replaced.interfaces().is_empty(), "embedded interfaces kept");
        let extended = RuleSet::load_dir(dir.path(), true).unwrap();
        assert_eq!(extended.rules().len(), RuleSet::embedded().rules().len() + 1);
        // a same-named file replaces the default
        std::fs::write(
            dir.path().join("exchange-5.5.toml"),
            minimal(&GOOD.replace("t-one", "t-55")),
        )
        .unwrap();
        let swapped = RuleSet::load_dir(dir.path(), true).unwrap();
        assert!(swapped.get("e55-pop3").is_none());
        assert!(swapped.get("t-55").is_some());
        // errors name the file
        std::fs::write(dir.path().join("zbad.toml"), "[meta]\nformat = \"rulez\"\n").unwrap();
        let e = RuleSet::load_dir(dir.path(), false).unwrap_err().to_string();
        assert!(e.contains("zbad.toml:2:") && e.contains("meta.format"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(RuleSet::load_dir(empty.path(), false).is_err());
        assert!(RuleSet::load_dir(&empty.path().join("nope"), false).is_err());
    }

    /// Every default rule is the answer for at least one flow built from its own
    /// conditions (some single role of `from` x `to`, one of its ports), so no rule is
    /// dead behind a broader one.
    #[test]
    fn every_embedded_rule_is_reachable() {
        let set = RuleSet::embedded();
        let mut dead = Vec::new();
        for g in Generation::ALL {
            let m = set.matcher(g);
            for r in m.rules() {
                // Site ports declared as 8080 (proxy) and 1102 (RFC 1006).
                let s = SiteFacts {
                    generation: g,
                    edge_subscribed: r.when.edge_subscribed.unwrap_or(false),
                    ports: SitePorts {
                        sender_reputation_proxy: Some(8080),
                        rfc1006: Some(1102),
                    },
                };
                let path = r.app.http_path_prefix.as_deref();
                let facts = FlowFacts {
                    http_path: path,
                    tls: r.app.tls,
                    epm_announced: r.is_dynamic(),
                };
                let protos: &[Proto] = match r.proto {
                    Proto::Any => &[Proto::Tcp, Proto::Udp],
                    Proto::Tcp => &[Proto::Tcp],
                    Proto::Udp => &[Proto::Udp],
                };
                let ports: Vec<u16> = r
                    .ports
                    .iter()
                    .flat_map(|p| match p {
                        PortSpec::Range { lo, hi } => vec![*lo, *hi, lo.saturating_add(1).min(*hi)],
                        PortSpec::Dynamic => vec![49667],
                        PortSpec::Site(p) => s.ports.get(*p).into_iter().collect(),
                    })
                    .collect();
                let found = protos.iter().any(|&proto| {
                    ports.iter().any(|&port| {
                        r.from.iter().any(|c| {
                            r.to.iter().any(|sv| {
                                m.match_flow(proto, port, rs(c), rs(sv), &s, &facts)
                                    .is_some_and(|hit| hit.id == r.id)
                            })
                        })
                    })
                });
                if !found {
                    dead.push(format!("{g}: {}", r.id));
                }
            }
        }
        assert!(dead.is_empty(), "unreachable rules: {dead:#?}");
    }

    #[test]
    fn matching_2019_with_edge() {
        let set = RuleSet::embedded();
        let m = set.matcher(Generation::V2019);
        let s = site(true);
        let id = |proto, port, c: Role, sv: RoleSet, f: &FlowFacts<'_>| {
            m.match_flow(proto, port, rs(c), sv, &s, f).map(|r| r.id.as_str())
        };
        let mbx = rs(Role::Mailbox);
        let edge = rs(Role::Edge);
        let dc_dns = RoleSet::of(&[Role::DomainController, Role::Dns]);
        use Proto::*;
        assert_eq!(
            id(Tcp, 25, Role::Internet, edge, &NONE),
            Some("e19-smtp-internet-edge")
        );
        assert_eq!(
            id(Tcp, 25, Role::Edge, mbx, &NONE),
            Some("e19-smtp-edge-to-mailbox")
        );
        assert_eq!(
            id(Tcp, 25, Role::Mailbox, edge, &NONE),
            Some("e19-smtp-mailbox-to-edge")
        );
        assert_eq!(id(Tcp, 50636, Role::Mailbox, edge, &NONE), Some("e19-edgesync"));
        assert_eq!(
            id(Tcp, 50636, Role::Edge, mbx, &NONE),
            Some("e19-edge-initiated-edgesync")
        );
        assert_eq!(id(Udp, 53, Role::Edge, dc_dns, &NONE), Some("e19-dns-edge"));
        assert_eq!(id(Tcp, 389, Role::Edge, dc_dns, &NONE), Some("e19-edge-to-dc"));
        assert_eq!(
            id(Tcp, 443, Role::Edge, mbx, &NONE),
            Some("e19-g2-edge-to-internal-undocumented")
        );
        assert_eq!(
            id(Tcp, 25, Role::Internet, mbx, &NONE),
            Some("e19-edge-bypass-inbound")
        );
        assert_eq!(
            id(Tcp, 25, Role::Mailbox, rs(Role::Internet), &NONE),
            Some("e19-edge-bypass-outbound")
        );
        assert_eq!(
            id(Tcp, 135, Role::Internet, mbx, &NONE),
            Some("e19-g3-internet-rpc-epm")
        );
        assert_eq!(
            id(Tcp, 6002, Role::Internet, mbx, &NONE),
            Some("e19-g3-internet-rpc-http-backend")
        );
        assert_eq!(
            id(Tcp, 8080, Role::Internet, mbx, &NONE),
            Some("e19-g3-internet-undocumented")
        );
        assert_eq!(
            id(Tcp, 443, Role::Internet, mbx, &NONE),
            Some("e19-https-client-access")
        );
        let mapi = FlowFacts {
            http_path: Some("/MAPI/emsmdb?x=1"),
            ..NONE
        };
        assert_eq!(
            id(Tcp, 443, Role::Internet, mbx, &mapi),
            Some("e19-https-mapi-http")
        );
        let odd = FlowFacts {
            http_path: Some("/é"),
            ..NONE
        };
        assert_eq!(
            id(Tcp, 443, Role::Internet, mbx, &odd),
            Some("e19-https-client-access")
        );
        assert_eq!(
            id(Tcp, 143, Role::Internet, mbx, &NONE),
            Some("e19-imap4-external-cleartext")
        );
        let tls = FlowFacts {
            tls: Some(true),
            ..NONE
        };
        assert_eq!(
            id(Tcp, 143, Role::Internet, mbx, &tls),
            Some("e19-imap4-starttls")
        );
        assert_eq!(
            id(Tcp, 143, Role::InternalClients, mbx, &NONE),
            Some("e19-imap4-internal")
        );
        assert_eq!(
            id(Tcp, 2525, Role::Mailbox, mbx, &NONE),
            Some("e19-g1-smtp-intra-org")
        );
        assert_eq!(
            id(Tcp, 135, Role::Mailbox, mbx, &NONE),
            Some("e19-g1-rpc-epm-intra-org")
        );
        assert_eq!(
            id(Tcp, 12345, Role::Mailbox, mbx, &NONE),
            Some("e19-g1-exchange-to-exchange")
        );
        let dynf = FlowFacts {
            epm_announced: true,
            ..NONE
        };
        assert_eq!(
            id(Tcp, 6004, Role::Mailbox, mbx, &dynf),
            Some("e19-g1-rpc-dynamic-intra-org")
        );
        assert_eq!(
            id(Tcp, 49667, Role::Internet, mbx, &dynf),
            Some("e19-g3-internet-rpc-dynamic")
        );
        assert_eq!(
            id(Tcp, 49667, Role::Mailbox, dc_dns, &dynf),
            Some("e19-ad-rpc-dynamic")
        );
        assert_eq!(id(Tcp, 389, Role::Mailbox, dc_dns, &NONE), Some("e19-ad-ldap"));
        assert_eq!(id(Udp, 53, Role::Mailbox, dc_dns, &NONE), Some("e19-dns-mailbox"));
        assert_eq!(
            id(Tcp, 1080, Role::Edge, rs(Role::Internet), &NONE),
            Some("e19-open-proxy-probe")
        );
        assert_eq!(
            id(Tcp, 9999, Role::Edge, rs(Role::Internet), &NONE),
            Some("e19-g2-edge-to-internet-undocumented")
        );
        // nothing documents internal clients -> internal clients
        assert_eq!(
            id(Tcp, 445, Role::InternalClients, rs(Role::InternalClients), &NONE),
            None
        );
        assert_eq!(m.match_flow(Any, 25, rs(Role::Internet), edge, &s, &NONE), None);
        // G1 paths
        assert!(m.is_unrestricted_path(mbx, dc_dns));
        assert!(m.is_unrestricted_path(rs(Role::Lync), mbx));
        assert!(!m.is_unrestricted_path(rs(Role::InternalClients), mbx));
        assert!(!m.is_unrestricted_path(edge, mbx));
    }

    #[test]
    fn matching_without_edge_and_other_generations() {
        let set = RuleSet::embedded();
        let s = site(false);
        let mbx = rs(Role::Mailbox);
        let m = set.matcher(Generation::V2016);
        let r = m
            .match_flow(Proto::Tcp, 25, rs(Role::Internet), mbx, &s, &NONE)
            .unwrap();
        assert_eq!(r.id, "e19-smtp-inbound-no-edge");
        assert_eq!(r.expect, Expect::Allowed);

        let m13 = set.matcher(Generation::V2013);
        let cas = rs(Role::ClientAccess);
        let r = m13
            .match_flow(Proto::Tcp, 25, cas, rs(Role::Internet), &s, &NONE)
            .unwrap();
        assert_eq!(r.id, "e13-smtp-outbound-frontend-proxy");

        let m10 = set.matcher(Generation::V2010);
        let hub = rs(Role::Hub);
        let dynf = FlowFacts {
            epm_announced: true,
            ..NONE
        };
        let r = m10.match_flow(Proto::Tcp, 50000, mbx, hub, &s, &dynf).unwrap();
        assert_eq!(r.id, "e10-rpc-mailbox-hub-dynamic");
        let r = m10.match_flow(Proto::Udp, 3343, mbx, mbx, &s, &NONE).unwrap();
        assert_eq!(r.purpose, Purpose::Cluster);
        let m07 = set.matcher(Generation::V2007);
        assert!(m07.rules().iter().all(|r| r.id.starts_with("e10-")));
        // 2007/2003 load the coexistence matrix (§6), the perimeter check (§1) and the
        // 2010 rows naming roles those versions have (§3-5): their documented baseline.
        assert!(m07.rules().iter().any(|r| r.reference.section.contains("§6")));
        assert!(m07.rules().iter().any(|r| r.id == "e10-https-client-access"));
        assert!(m07.rules().iter().all(|r| r.id != "e10-mapi-rpc-client-cas-epm"));
        let r = m07
            .match_flow(
                Proto::Tcp,
                443,
                rs(Role::Internet),
                rs(Role::ClientAccess),
                &s,
                &NONE,
            )
            .unwrap();
        assert_eq!(r.id, "e10-https-client-access");
        let r = m07
            .match_flow(
                Proto::Tcp,
                88,
                rs(Role::Hub),
                rs(Role::DomainController),
                &s,
                &NONE,
            )
            .unwrap();
        assert_eq!(r.id, "e10-coex-ad-kerberos");

        let m55 = set.matcher(Generation::V55);
        let r = m55.match_flow(Proto::Tcp, 102, mbx, mbx, &s, &NONE).unwrap();
        assert_eq!(r.purpose, Purpose::X400Mta);
        // IMAP4 is 5.5 only; POP3 and LDAP are 5.0 and later (KB 176466).
        let has = |g: Generation, p: Purpose| set.matcher(g).rules().iter().any(|r| r.purpose == p);
        assert!(has(Generation::V55, Purpose::Imap4) && !has(Generation::V50, Purpose::Imap4));
        assert!(has(Generation::V50, Purpose::Pop3) && !has(Generation::V40, Purpose::Pop3));
        assert!(has(Generation::V50, Purpose::Ldap) && !has(Generation::V40, Purpose::Ldap));
        // a site port matches only when the site declares it
        let edge = rs(Role::Edge);
        let perim = rs(Role::Perimeter);
        let m19 = set.matcher(Generation::V2019);
        assert_eq!(
            m19.match_flow(Proto::Tcp, 8080, edge, perim, &s, &NONE)
                .map(|r| r.id.as_str()),
            None
        );
        let proxied = SiteFacts {
            ports: SitePorts {
                sender_reputation_proxy: Some(8080),
                rfc1006: None,
            },
            ..s
        };
        assert_eq!(
            m19.match_flow(Proto::Tcp, 8080, edge, perim, &proxied, &NONE)
                .map(|r| r.id.as_str()),
            Some("e19-sender-reputation-proxy")
        );
        assert_eq!(
            m19.match_flow(Proto::Tcp, 8081, edge, rs(Role::Mailbox), &proxied, &NONE)
                .map(|r| r.id.as_str()),
            Some("e19-g2-edge-to-internal-undocumented")
        );
    }
}
