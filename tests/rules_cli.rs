//! `exaudit rules check|list` and bad rule or topology files, as a user meets them.

mod common;

fn run(args: &[&str]) -> (i32, String, String) {
    let out = common::exaudit(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const GOOD: &str = r#"[meta]
format = "rules"
title = "test"
generations = ["2019"]

[[rule]]
id = "t-smtp"
purpose = "smtp-inbound"
proto = "tcp"
ports = [25]
from = ["internet"]
to = ["edge"]
expect = "allowed"
severity = "info"
reference = { doc = "test", section = "DOMAIN.md §4" }
"#;

#[test]
fn default_rules_check_clean_and_list() {
    let (code, out, err) = run(&["rules", "check"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rules") && out.contains("ok"), "{out}");
    let (code, out, _) = run(&["rules", "list", "--exchange", "2019"]);
    assert_eq!(code, 0);
    assert!(out.contains("e19-edgesync") && out.contains("50636"), "{out}");
}

#[test]
fn bad_rule_file_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOD.replace("severity = \"info\"", "severity = \"urgent\"");
    std::fs::write(dir.path().join("site-rules.toml"), bad).unwrap();
    let (code, _, err) = run(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("site-rules.toml:14"), "{err}");
    assert!(err.contains("severity"), "{err}");
    // `read --rules` refuses it the same way, before reading any capture.
    let cap = common::capture("dns.pcap");
    let (code, _, err) = run(&[
        "read",
        cap.to_str().unwrap(),
        "--rules",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("site-rules.toml:14"), "{err}");
}

#[test]
fn contradicting_rules_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let twin = GOOD.replace("t-smtp", "t-smtp-2").replace(
        "expect = \"allowed\"",
        "expect = \"violation\"\nkind = \"edge-bypass\"",
    );
    let both = format!(
        "{GOOD}\n{}",
        twin.split_once("[[rule]]")
            .unwrap()
            .1
            .replace("id =", "[[rule]]\nid =")
    );
    std::fs::write(dir.path().join("r.toml"), both).unwrap();
    let (code, _, err) = run(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("t-smtp") && err.contains("t-smtp-2"), "{err}");
}

#[test]
fn bad_topology_names_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("site.toml");
    std::fs::write(&t, "[site]\nname = \"x\"\nexchange = \"2019\"\nedge_subscribed = true\n[roles]\nmailbox = [\"10.1.0.300\"]\n").unwrap();
    let cap = common::capture("dns.pcap");
    let (code, _, err) = run(&["read", cap.to_str().unwrap(), "--topology", t.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("site.toml:6") && err.contains("mailbox"), "{err}");
}
