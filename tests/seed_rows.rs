//! One test per row of RULES-REVIEW.md §3 ("covered but wrong") and §4 ("missing"),
//! each asking the real binary (`exaudit rules explain --paths`) what the policy says
//! about the row's paths and asserting the verdict the seed document gives. The
//! coexistence-matrix cells (003.X) are grouped by the pair of roles they probe.
//!
//! Roles of the 2003/2007 matrix (rules/README.md): Hub 2007 and 2003 bridgehead =
//! `hub`; CAS 2007 and 2003 front end = `client_access`; Mailbox 2007, public folders
//! and 2003 back end = `mailbox`; SMTP relay (DMZ) = `perimeter`; Outlook and other
//! clients = `internal_clients`; UM = `unified_messaging`.

mod common;

use serde_json::Value;

/// One answer of `rules explain`.
struct Answer(Value);

impl Answer {
    fn field(&self, k: &str) -> &str {
        self.0[k].as_str().unwrap_or("")
    }
    fn verdict(&self) -> &str {
        self.field("verdict")
    }
    fn rule(&self) -> &str {
        self.field("rule")
    }
    fn kind(&self) -> &str {
        self.field("kind")
    }
    fn what(&self) -> String {
        format!(
            "{} -> {} {}: {} ({} {} {})",
            self.field("from"),
            self.field("to"),
            self.field("service"),
            self.verdict(),
            self.rule(),
            self.kind(),
            self.field("severity")
        )
    }
}

/// Asks `rules explain --exchange G [flags] --paths` for `from,to,proto/port` lines
/// (several roles on one side joined with `+`).
fn ask(exchange: &str, flags: &[&str], paths: &[(&str, &str, &str)]) -> Vec<Answer> {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("paths.csv");
    let mut text = String::from("from,to,service\n");
    for (f, t, s) in paths {
        text.push_str(&format!("{f},{t},{s}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let mut args = vec![
        "rules",
        "explain",
        "--exchange",
        exchange,
        "--format",
        "json",
        "--paths",
        csv.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let out = common::exaudit(&args);
    assert!(
        out.status.success(),
        "rules explain failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON array");
    let rows = v.as_array().expect("an array").clone();
    assert_eq!(rows.len(), paths.len());
    rows.into_iter().map(Answer).collect()
}

/// The seed documents the path and port (a rule names them).
fn documented(a: &Answer) {
    assert_eq!(a.verdict(), "documented", "{}", a.what());
}

/// The seed does not document it: a violation, or nothing explains it.
fn not_documented(a: &Answer) {
    assert!(matches!(a.verdict(), "violation" | "unexplained"), "{}", a.what());
}

fn violation(a: &Answer) {
    assert_eq!(a.verdict(), "violation", "{}", a.what());
}

fn all(answers: &[Answer], check: fn(&Answer)) {
    answers.iter().for_each(check);
}

// ---------------------------------------------------------------------------
// §3 Covered but wrong
// ---------------------------------------------------------------------------

// 004 (Exchange 2013): "這些用戶端和服務的目的地是 Client Access Server".

#[test]
fn row_004_csn_1_client_destination_is_the_client_access_server() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "client_access", "tcp/443"),
            ("internal_clients", "client_access", "tcp/443"),
            ("internet", "mailbox+client_access", "tcp/443"),
            ("internet", "mailbox", "tcp/443"),
            ("internal_clients", "mailbox", "tcp/443"),
        ],
    );
    all(&a[..3], documented);
    all(&a[3..], not_documented);
    violation(&a[3]);
}

#[test]
fn row_004_cs_1_internet_to_standalone_mailbox_443_is_not_documented() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "mailbox", "tcp/443"),
            ("perimeter", "mailbox", "tcp/443"),
            ("internet", "client_access", "tcp/443"),
        ],
    );
    violation(&a[0]);
    assert_eq!(a[0].kind(), "perimeter-exposure");
    not_documented(&a[1]);
    documented(&a[2]);
    let m = ask(
        "2013",
        &["--http-path", "/mapi/emsmdb"],
        &[
            ("internet", "client_access", "tcp/443"),
            ("internet", "mailbox", "tcp/443"),
        ],
    );
    documented(&m[0]);
    assert_eq!(m[0].rule(), "e13-https-mapi-http");
    violation(&m[1]);
}

#[test]
fn row_004_cs_2_http_80_goes_to_the_cas() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "client_access", "tcp/80"),
            ("internet", "mailbox", "tcp/80"),
        ],
    );
    documented(&a[0]);
    assert_eq!(a[0].kind(), "cleartext-protocol");
    violation(&a[1]);
}

#[test]
fn row_004_cs_3_imap4_goes_to_the_cas() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "client_access", "tcp/993"),
            ("internal_clients", "client_access", "tcp/143"),
            ("internet", "mailbox", "tcp/993"),
            ("internal_clients", "mailbox", "tcp/143"),
        ],
    );
    all(&a[..2], documented);
    assert_eq!(a[0].kind(), "disabled-by-default");
    all(&a[2..], not_documented);
}

#[test]
fn row_004_cs_4_pop3_goes_to_the_cas() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "client_access", "tcp/995"),
            ("internal_clients", "client_access", "tcp/110"),
            ("internet", "mailbox", "tcp/995"),
            ("internal_clients", "mailbox", "tcp/110"),
        ],
    );
    all(&a[..2], documented);
    all(&a[2..], not_documented);
}

#[test]
fn row_004_cs_5_smtp_submission_587_goes_to_the_cas() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "client_access", "tcp/587"),
            ("internal_clients", "client_access", "tcp/587"),
            ("internet", "mailbox", "tcp/587"),
            ("internal_clients", "mailbox", "tcp/587"),
        ],
    );
    all(&a[..2], documented);
    assert_eq!(a[0].rule(), "e13-smtp-submission");
    all(&a[2..], not_documented);
}

#[test]
fn row_004_cs_5n_client_submission_on_25_goes_to_the_cas() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internal_clients", "client_access", "tcp/25"),
            ("internal_clients", "mailbox", "tcp/25"),
        ],
    );
    documented(&a[0]);
    assert_eq!(a[0].rule(), "e13-smtp-client-25");
    not_documented(&a[1]);
}

#[test]
fn row_004_mf_1_inbound_internet_mail_goes_to_the_cas() {
    let a = ask(
        "2013",
        &[],
        &[
            ("internet", "client_access", "tcp/25"),
            ("internet", "mailbox+client_access", "tcp/25"),
            ("internet", "mailbox", "tcp/25"),
        ],
    );
    all(&a[..2], documented);
    assert_eq!(a[0].rule(), "e13-smtp-inbound-no-edge");
    violation(&a[2]);
}

#[test]
fn row_004_en_2_inbound_mail_never_through_a_standalone_cas() {
    let a = ask(
        "2013",
        &["--edge-subscribed"],
        &[("edge", "client_access", "tcp/25"), ("edge", "mailbox", "tcp/25")],
    );
    violation(&a[0]);
    assert_eq!(a[0].rule(), "e13-g2-edge-to-internal-undocumented");
    documented(&a[1]);
}

#[test]
fn row_004_me_2_edge_delivers_to_mailbox_servers_in_the_subscribed_site() {
    let a = ask(
        "2013",
        &["--edge-subscribed"],
        &[
            ("edge", "mailbox", "tcp/25"),
            ("edge", "mailbox+client_access", "tcp/25"),
            ("edge", "client_access", "tcp/25"),
        ],
    );
    all(&a[..2], documented);
    assert_eq!(a[0].rule(), "e13-smtp-edge-to-mailbox");
    violation(&a[2]);
}

#[test]
fn row_004_me_7_sender_reputation_proxy_is_site_data_and_2013_names_no_probe_ports() {
    // The 2016/2019 probe ports are not in the 2013 page.
    let probes: Vec<(&str, &str, &str)> =
        ["tcp/23", "tcp/80", "tcp/1080", "tcp/1081", "tcp/3128", "tcp/6588"]
            .into_iter()
            .map(|s| ("edge", "internet", s))
            .collect();
    let a = ask("2013", &["--edge-subscribed"], &probes);
    all(&a, violation);
    // The organisation's proxy, on the port the administrator defined.
    let paths = [
        ("edge", "perimeter", "tcp/8080"),
        ("edge", "perimeter", "tcp/8081"),
    ];
    let with = ask(
        "2013",
        &["--edge-subscribed", "--sender-reputation-proxy-port", "8080"],
        &paths,
    );
    documented(&with[0]);
    assert_eq!(with[0].rule(), "e13-sender-reputation-proxy");
    violation(&with[1]);
    let without = ask("2013", &["--edge-subscribed"], &paths);
    all(&without, violation);
}

// 003 (Exchange 2010 data paths).

#[test]
fn row_003_t_4_edge_to_edge_is_25_only() {
    let a = ask(
        "2010",
        &[],
        &[
            ("edge", "edge", "tcp/25"),
            ("edge", "edge", "tcp/389"),
            ("edge", "edge", "tcp/80"),
        ],
    );
    documented(&a[0]);
    assert_eq!(a[0].rule(), "e10-smtp-edge-edge");
    violation(&a[1]);
    violation(&a[2]);
}

#[test]
fn row_003_c_10_cas_to_um_sip_and_its_dynamic_port() {
    let paths = [
        ("client_access", "unified_messaging", "tcp/5060"),
        ("client_access", "unified_messaging", "tcp/5061"),
        ("client_access", "unified_messaging", "tcp/5062"),
        ("client_access", "unified_messaging", "tcp/dynamic"),
        ("client_access", "unified_messaging", "tcp/50123"),
    ];
    for g in ["2010", "2007"] {
        all(&ask(g, &[], &paths), documented);
    }
    // The matrix's VoIP cell (CAS 2007 <-> UM 2007) adds 5065/5066, with 5062.
    let a = ask(
        "2007",
        &[],
        &[
            ("client_access", "unified_messaging", "tcp/5065"),
            ("client_access", "unified_messaging", "tcp/5066"),
            ("client_access", "mailbox", "tcp/5062"),
        ],
    );
    all(&a[..2], documented);
    not_documented(&a[2]);
}

#[test]
fn row_003_u_2_phone_rows_are_about_the_um_server() {
    let a = ask(
        "2010",
        &[],
        &[
            ("internal_clients", "unified_messaging", "tcp/5060"),
            ("internal_clients", "unified_messaging", "tcp/5065"),
            ("internal_clients", "unified_messaging", "tcp/5067"),
            ("internal_clients", "unified_messaging", "tcp/5061"),
            ("internal_clients", "unified_messaging", "tcp/5066"),
            ("internal_clients", "unified_messaging", "tcp/5068"),
            ("internal_clients", "unified_messaging", "tcp/16500"),
            ("internal_clients", "unified_messaging", "udp/30000"),
            ("unified_messaging", "internal_clients", "udp/30000"),
            // not UM: the same ports between other servers are not these rows
            ("hub", "domain_controller", "udp/3268"),
            ("mailbox", "internal_clients", "udp/30000"),
            ("internal_clients", "mailbox", "tcp/5060"),
            ("internal_clients", "hub", "tcp/16500"),
            ("internal_clients", "client_access", "udp/30000"),
        ],
    );
    all(&a[..9], documented);
    assert_eq!(a[7].rule(), "e10-um-rtp-in");
    assert_eq!(a[8].rule(), "e10-um-rtp-out");
    all(&a[9..], not_documented);
}

#[test]
fn row_003_fw_6_rpc_to_hub_and_edge_transport_services() {
    let a = ask(
        "2010",
        &[],
        &[
            ("internal_clients", "hub", "tcp/135"),
            ("client_access", "hub", "tcp/135"),
            ("hub", "edge", "tcp/135"),
            ("hub", "edge", "tcp/dynamic"),
            ("mailbox", "hub", "tcp/dynamic"),
        ],
    );
    all(&a, documented);
    assert_eq!(a[0].rule(), "e10-admin-rpc-epm");
    assert_eq!(a[2].rule(), "e10-transport-rpc-epm");
    // e10-coex-no-outlook-to-hub is a 2003/2007 matrix cell: not applied to 2010,
    // applied to 2007 (Outlook / other clients <-> Hub 2007: no direct connection).
    let a = ask("2010", &[], &[("internal_clients", "hub", "tcp/25")]);
    assert_ne!(a[0].rule(), "e10-coex-no-outlook-to-hub", "{}", a[0].what());
    let a = ask("2007", &[], &[("internal_clients", "hub", "tcp/135")]);
    violation(&a[0]);
    assert_eq!(a[0].rule(), "e10-coex-no-outlook-to-hub");
}

// 001 (KB 176466, Exchange 4.0-5.5).

#[test]
fn row_001_s1a_pop3_is_exchange_5_0_and_later() {
    let p = [("internal_clients", "mailbox", "tcp/110")];
    not_documented(&ask("4.0", &[], &p)[0]);
    documented(&ask("5.0", &[], &p)[0]);
    documented(&ask("5.5", &[], &p)[0]);
}

#[test]
fn row_001_s2a_imap4_is_exchange_5_5_only() {
    let p = [
        ("internal_clients", "mailbox", "tcp/143"),
        ("internet", "mailbox", "tcp/993"),
    ];
    all(&ask("4.0", &[], &p), not_documented);
    all(&ask("5.0", &[], &p), not_documented);
    all(&ask("5.5", &[], &p), documented);
}

#[test]
fn row_001_s3_ldap_is_exchange_5_0_and_later() {
    let p = [
        ("internal_clients", "mailbox", "tcp/389"),
        ("internal_clients", "mailbox", "tcp/636"),
    ];
    all(&ask("4.0", &[], &p), not_documented);
    all(&ask("5.0", &[], &p), documented);
    all(&ask("5.5", &[], &p), documented);
}

#[test]
fn row_001_s6b_x400_102_in_both_directions() {
    let a = ask(
        "5.5",
        &[],
        &[
            ("mailbox", "mailbox", "tcp/102"),
            ("mailbox", "internet", "tcp/102"),
            ("internet", "mailbox", "tcp/102"),
            ("perimeter", "mailbox", "tcp/102"),
        ],
    );
    all(&a, documented);
    assert_eq!(a[2].rule(), "e55-x400-mta-in");
    // IMC/IMS listen on 25 for other SMTP hosts (the note of e55-smtp-inbound).
    let a = ask(
        "4.0",
        &[],
        &[
            ("internet", "mailbox", "tcp/25"),
            ("mailbox", "mailbox", "tcp/25"),
        ],
    );
    all(&a, documented);
}

// 003.X: the coexistence matrix cells e10-coex-smtp got wrong (17).

#[test]
fn row_003_x_relay_and_mailbox_no_direct_connection_on_smtp() {
    for g in ["2007", "2003", "2010"] {
        // relay <-> Mailbox 2007, PF 2007, PF/back end 2003 (8 cells), relay <-> relay
        let a = ask(
            g,
            &[],
            &[
                ("perimeter", "mailbox", "tcp/25"),
                ("mailbox", "perimeter", "tcp/25"),
                ("perimeter", "mailbox", "tcp/587"),
                ("mailbox", "perimeter", "tcp/587"),
                ("perimeter", "perimeter", "tcp/25"),
                ("perimeter", "perimeter", "tcp/587"),
            ],
        );
        all(&a, violation);
    }
}

#[test]
fn row_003_x_hub_and_mailbox_talk_rpc_not_smtp() {
    // Hub 2007 / 2003 bridgehead <-> 2003 PF/back end, Mailbox/PF 2007 (7 cells),
    // 2003 back end <-> Mailbox 2007: RPC, not SMTP.
    let a = ask(
        "2007",
        &[],
        &[
            ("hub", "mailbox", "tcp/25"),
            ("mailbox", "hub", "tcp/25"),
            ("hub", "mailbox", "tcp/587"),
            ("mailbox", "hub", "tcp/587"),
            ("mailbox", "mailbox", "tcp/25"),
            ("mailbox", "mailbox", "tcp/587"),
            ("hub", "mailbox", "tcp/135"),
            ("mailbox", "hub", "tcp/135"),
            ("mailbox", "mailbox", "tcp/dynamic"),
        ],
    );
    all(&a[..6], not_documented);
    all(&a[6..], documented);
}

#[test]
fn row_003_x_smtp_587_only_between_hubs_and_relays_only_to_hubs() {
    let a = ask(
        "2007",
        &[],
        &[
            ("hub", "hub", "tcp/25"),
            ("hub", "hub", "tcp/587"),
            ("hub", "perimeter", "tcp/25"),
            ("perimeter", "hub", "tcp/25"),
            ("hub", "perimeter", "tcp/587"),
            ("perimeter", "hub", "tcp/587"),
        ],
    );
    all(&a[..4], documented);
    assert_eq!(a[1].rule(), "e10-coex-smtp-hub-hub-587");
    all(&a[4..], not_documented);
}

// ---------------------------------------------------------------------------
// §4 Missing
// ---------------------------------------------------------------------------

#[test]
fn row_000_002_me_7b_sender_reputation_proxy_on_the_defined_port() {
    for g in ["2019", "2016"] {
        let paths = [
            ("edge", "perimeter", "tcp/3128"),
            ("edge", "perimeter", "tcp/3129"),
            ("edge", "internet", "tcp/3128"),
        ];
        let a = ask(
            g,
            &["--edge-subscribed", "--sender-reputation-proxy-port", "3128"],
            &paths,
        );
        documented(&a[0]);
        assert_eq!(a[0].rule(), "e19-sender-reputation-proxy");
        assert_eq!(a[0].field("purpose"), "open-proxy-probe");
        violation(&a[1]);
        // open-proxy probe port 3128 to the internet stays the probe rule
        documented(&a[2]);
        assert_eq!(a[2].rule(), "e19-open-proxy-probe");
        let a = ask(g, &["--edge-subscribed"], &paths[..1]);
        violation(&a[0]);
    }
}

#[test]
fn row_003_t_7_um_to_hub_smtp() {
    for g in ["2010", "2007"] {
        let a = ask(
            g,
            &[],
            &[
                ("unified_messaging", "hub", "tcp/25"),
                ("unified_messaging", "edge", "tcp/25"),
            ],
        );
        documented(&a[0]);
        assert_eq!(a[0].rule(), "e10-smtp-um-hub");
        not_documented(&a[1]);
    }
    let a = ask(
        "2010",
        &["--tls", "false"],
        &[("unified_messaging", "hub", "tcp/25")],
    );
    documented(&a[0]);
    assert_eq!(a[0].kind(), "cleartext-protocol");
}

#[test]
fn row_003_t_n1_cleartext_smtp_between_transport_servers_is_flagged() {
    let paths = [
        ("hub", "hub", "tcp/25"),
        ("hub", "edge", "tcp/25"),
        ("edge", "hub", "tcp/25"),
        ("edge", "edge", "tcp/25"),
    ];
    for g in ["2010", "2007"] {
        let plain = ask(g, &["--tls", "false"], &paths);
        for a in &plain {
            documented(a);
            assert_eq!(a.rule(), "e10-smtp-transport-cleartext", "{}", a.what());
            assert_eq!(a.kind(), "cleartext-protocol", "{}", a.what());
            assert_eq!(a.field("severity"), "medium", "{}", a.what());
        }
        let tls = ask(g, &["--tls", "true"], &paths);
        for a in &tls {
            documented(a);
            assert_eq!(a.kind(), "", "{}", a.what());
        }
    }
}

#[test]
fn row_003_m_3_admin_remote_access_smb() {
    let a = ask(
        "2010",
        &[],
        &[
            ("internal_clients", "mailbox", "tcp/445"),
            ("internal_clients", "hub", "tcp/445"),
            ("mailbox", "mailbox", "tcp/445"),
            ("internal_clients", "mailbox", "tcp/135"),
            ("internet", "mailbox", "tcp/445"),
        ],
    );
    all(&a[..4], documented);
    assert_eq!(a[0].rule(), "e10-admin-smb");
    violation(&a[4]);
}

#[test]
fn row_003_c_11_cas_to_earlier_version_mailbox() {
    let a = ask(
        "2010",
        &[],
        &[
            ("client_access", "mailbox", "tcp/80"),
            ("client_access", "mailbox", "tcp/443"),
            ("client_access", "mailbox", "tcp/110"),
            ("client_access", "mailbox", "tcp/143"),
        ],
    );
    all(&a, documented);
}

#[test]
fn row_003_c_13_cas_to_cas_activesync() {
    let a = ask(
        "2010",
        &["--http-path", "/Microsoft-Server-ActiveSync"],
        &[
            ("client_access", "client_access", "tcp/80"),
            ("client_access", "client_access", "tcp/443"),
        ],
    );
    all(&a, documented);
    assert_eq!(a[1].rule(), "e10-cas-cas-proxy-web");
}

#[test]
fn row_003_c_14_cas_to_cas_outlook_web_access() {
    let a = ask(
        "2010",
        &["--http-path", "/owa/"],
        &[("client_access", "client_access", "tcp/443")],
    );
    documented(&a[0]);
}

#[test]
fn row_003_c_15_cas_to_cas_exchange_web_services() {
    let a = ask(
        "2010",
        &["--http-path", "/EWS/Exchange.asmx"],
        &[("client_access", "client_access", "tcp/443")],
    );
    documented(&a[0]);
}

#[test]
fn row_003_c_16_cas_to_cas_pop3() {
    let a = ask("2010", &[], &[("client_access", "client_access", "tcp/995")]);
    documented(&a[0]);
    assert_eq!(a[0].rule(), "e10-cas-cas-proxy-pop3");
}

#[test]
fn row_003_c_17_cas_to_cas_imap4() {
    let a = ask("2010", &[], &[("client_access", "client_access", "tcp/993")]);
    documented(&a[0]);
    assert_eq!(a[0].rule(), "e10-cas-cas-proxy-imap4");
}

#[test]
fn row_003_u_3_um_web_service() {
    let a = ask(
        "2010",
        &[],
        &[
            ("internal_clients", "unified_messaging", "tcp/443"),
            ("internal_clients", "unified_messaging", "tcp/80"),
            ("client_access", "unified_messaging", "tcp/443"),
        ],
    );
    all(&a, documented);
    assert_eq!(a[0].rule(), "e10-um-web-service");
}

#[test]
fn row_003_u_4_um_to_cas_5075_5077() {
    let a = ask(
        "2010",
        &[],
        &[
            ("unified_messaging", "client_access", "tcp/5075"),
            ("unified_messaging", "client_access", "tcp/5076"),
            ("unified_messaging", "client_access", "tcp/5077"),
            ("unified_messaging", "client_access", "tcp/5078"),
        ],
    );
    all(&a[..3], documented);
    assert_eq!(a[0].rule(), "e10-um-to-cas");
    not_documented(&a[3]);
}

#[test]
fn row_003_fw_5_exchange_servers_rpc_to_the_cas() {
    let a = ask(
        "2010",
        &[],
        &[
            ("mailbox", "client_access", "tcp/135"),
            ("hub", "client_access", "tcp/135"),
            ("unified_messaging", "client_access", "tcp/135"),
            ("hub", "client_access", "tcp/dynamic"),
            ("unified_messaging", "client_access", "tcp/dynamic"),
        ],
    );
    all(&a, documented);
    assert_eq!(a[1].rule(), "e10-exchange-to-cas-rpc-epm");
}

#[test]
fn row_001_s6c_rfc1006_port_other_than_102() {
    let paths = [
        ("mailbox", "mailbox", "tcp/1102"),
        ("internet", "mailbox", "tcp/1102"),
    ];
    let a = ask("5.5", &["--rfc1006-port", "1102"], &paths);
    all(&a, documented);
    assert_eq!(a[0].rule(), "e55-x400-mta");
    assert_eq!(a[0].field("purpose"), "x400-mta");
    let a = ask("5.5", &[], &paths);
    all(&a, not_documented);
}

// 003.X: matrix cells that were missing (12) or flagged in one direction only (24).

#[test]
fn row_003_x_clients_and_cas_front_end_no_direct_connection() {
    for g in ["2007", "2003"] {
        let a = ask(
            g,
            &[],
            &[
                // Outlook 2003/2007 and other clients <-> CAS 2007 / 2003 front end
                ("internal_clients", "client_access", "tcp/135"),
                ("internal_clients", "client_access", "tcp/dynamic"),
                ("internal_clients", "client_access", "tcp/8080"),
                ("client_access", "internal_clients", "tcp/135"),
                // CAS 2007 <-> 2003 front end, front end <-> front end
                ("client_access", "client_access", "tcp/443"),
                ("client_access", "client_access", "tcp/80"),
            ],
        );
        all(&a, violation);
        // the self-contradicting cells (CAS 2007 table: other clients POP3/IMAP) and the
        // 2010 baseline (clients -> CAS web): permissive reading
        let a = ask(
            g,
            &[],
            &[
                ("internal_clients", "client_access", "tcp/443"),
                ("internal_clients", "client_access", "tcp/110"),
                ("internal_clients", "client_access", "tcp/995"),
                ("internal_clients", "client_access", "tcp/143"),
                ("internal_clients", "client_access", "tcp/993"),
            ],
        );
        all(&a, documented);
    }
}

#[test]
fn row_003_x_clients_and_hub_no_direct_connection_both_directions() {
    for g in ["2007", "2003"] {
        let a = ask(
            g,
            &[],
            &[
                ("internal_clients", "hub", "tcp/25"),
                ("internal_clients", "hub", "tcp/587"),
                ("internal_clients", "hub", "tcp/135"),
                ("hub", "internal_clients", "tcp/25"),
                ("hub", "internal_clients", "tcp/135"),
            ],
        );
        all(&a, violation);
    }
}

#[test]
fn row_003_x_relay_and_cas_clients_dc_no_direct_connection_both_directions() {
    for g in ["2007", "2003"] {
        let a = ask(
            g,
            &[],
            &[
                ("perimeter", "client_access", "tcp/135"),
                ("client_access", "perimeter", "tcp/25"),
                ("perimeter", "domain_controller", "tcp/389"),
                ("perimeter", "domain_controller", "udp/53"),
                ("domain_controller", "perimeter", "tcp/389"),
                ("perimeter", "internal_clients", "tcp/25"),
                ("internal_clients", "perimeter", "tcp/25"),
            ],
        );
        all(&a, violation);
    }
}

#[test]
fn row_003_x_um_cells() {
    let a = ask(
        "2007",
        &[],
        &[
            ("unified_messaging", "mailbox", "tcp/135"),
            ("unified_messaging", "mailbox", "tcp/dynamic"),
            ("unified_messaging", "domain_controller", "tcp/389"),
            ("unified_messaging", "hub", "tcp/25"),
            ("unified_messaging", "perimeter", "tcp/25"),
            ("internal_clients", "unified_messaging", "tcp/135"),
        ],
    );
    all(&a[..4], documented);
    all(&a[4..], not_documented);
}

// §5.1: the 2010 client and mail-flow baseline applies to 2007/2003 sites.

#[test]
fn baseline_of_2007_and_2003_sites_is_the_2010_client_and_mail_flow_rows() {
    for g in ["2007", "2003"] {
        let a = ask(
            g,
            &[],
            &[
                ("internet", "client_access", "tcp/443"),
                ("internet", "client_access", "tcp/80"),
                ("internet", "hub", "tcp/25"),
                ("hub", "internet", "tcp/25"),
                ("hub", "dns", "udp/53"),
                ("mailbox", "hub", "tcp/135"),
                ("hub", "domain_controller", "tcp/88"),
            ],
        );
        all(&a, documented);
        let a = ask(
            g,
            &["--edge-subscribed"],
            &[
                ("internet", "edge", "tcp/25"),
                ("edge", "internet", "tcp/25"),
                ("edge", "hub", "tcp/25"),
                ("hub", "edge", "tcp/25"),
                ("hub", "edge", "tcp/50636"),
                ("edge", "hub", "tcp/50636"),
                ("internet", "hub", "tcp/25"),
            ],
        );
        all(&a[..5], documented);
        all(&a[5..], violation);
        assert_eq!(a[6].kind(), "edge-bypass");
    }
}

// §5.6: "EWS, MAPI over HTTP, ActiveSync, OAB and Outlook Anywhere are documented on
// 443 only, so on 80 they are undocumented" (DOMAIN.md §2 as corrected); the 80/TCP
// row names only calendar publishing, the OWA redirect and the Autodiscover fallback.
#[test]
fn review_5_6_web_services_on_80_are_undocumented_but_owa_and_autodiscover_are() {
    for (g, cas) in [
        ("2019", "mailbox"),
        ("2016", "mailbox"),
        ("2013", "client_access"),
    ] {
        for path in [
            "/EWS/Exchange.asmx",
            "/mapi/emsmdb/",
            "/Microsoft-Server-ActiveSync",
            "/OAB/x/oab.xml",
            "/rpc/rpcproxy.dll",
        ] {
            let a = ask(g, &["--http-path", path], &[("internet", cas, "tcp/80")]);
            violation(&a[0]);
            assert_eq!(a[0].kind(), "cleartext-protocol", "{g} {path}: {}", a[0].what());
        }
        for path in ["/owa/", "/autodiscover/autodiscover.xml"] {
            let a = ask(g, &["--http-path", path], &[("internet", cas, "tcp/80")]);
            documented(&a[0]);
        }
    }
}
