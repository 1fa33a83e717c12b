//! Source addresses and the addresses of a name, in network namespaces the tests make (so the
//! ephemeral port range can be narrowed to 500 ports and loopback given more addresses): the
//! connection ceiling refused before any load, a pool of sources that lifts it, ports running
//! out mid-run as errors of kind `ports`, and `--dns round-robin` over a name with two addresses.

use crate::util::run::{in_netns, temp_path};
use crate::util::{self};

/// Loopback with two more addresses, 500 ephemeral ports, and the built-in target on port 8080
/// of every address (bounded in time whatever happens to the test).
const NARROW: &str = "ip addr add 127.0.0.2/8 dev lo && ip addr add 127.0.0.3/8 dev lo \
     && sysctl -qw net.ipv4.ip_local_port_range='60000 60499' || exit 98; \
     ulimit -n 20000; timeout 40 \"$S\" target -l 0.0.0.0:8080 -t 1 >/dev/null 2>&1 & sleep 0.3;";

#[test]
fn twelve_hundred_connections_from_three_sources_past_one_sources_ports_get_no_errors() {
    let _m = util::shared_machine();
    let out = in_netns(
        NARROW,
        false,
        &["bench", "http://127.0.0.1:8080/", "-c", "1200", "-d", "2s", "-q", "--source", "127.0.0.1-127.0.0.3"],
    );
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    assert!(out.requests() > 1200, "{}", out.describe());
    let sources = out.at("/generator/sources").as_array().expect("generator.sources").clone();
    assert_eq!(sources.len(), 3, "{sources:?}");
    for s in &sources {
        // Each source carries its third of the users (one connection each, kept alive).
        assert!(s["connections"].as_u64().unwrap() >= 400, "{sources:?}");
    }
}

#[test]
fn the_same_run_without_sources_is_refused_before_any_load_with_the_numbers() {
    let _m = util::shared_machine();
    let out = in_netns(NARROW, false, &["bench", "http://127.0.0.1:8080/", "-c", "1200", "-d", "2s", "-q"]);
    out.assert_code(2);
    assert!(out.json.is_none(), "a refused run writes no result\n{}", out.describe());
    for says in [
        "1200 connections to 127.0.0.1:8080",
        "1 source address × 500 ephemeral ports (net.ipv4.ip_local_port_range 60000 60499) = 500",
        "--source",
        "3 or more",
        "net.ipv4.ip_local_port_range=",
    ] {
        assert!(out.stderr.contains(says), "`{says}` missing\n{}", out.describe());
    }
}

#[test]
fn a_source_address_this_box_does_not_have_is_refused_naming_it() {
    let _m = util::shared_machine();
    let out = in_netns(
        NARROW,
        false,
        &["bench", "http://127.0.0.1:8080/", "-c", "10", "-d", "1s", "-q", "--source", "127.0.0.1,10.9.9.9"],
    );
    out.assert_code(2);
    assert!(out.stderr.contains("source address 10.9.9.9"), "{}", out.describe());
    let bad =
        in_netns(NARROW, false, &["bench", "http://127.0.0.1:8080/", "-d", "1s", "--source", "10.0.0.9-10.0.0.2"]);
    bad.assert_code(2);
    assert!(bad.stderr.contains("ends before it starts"), "{}", bad.describe());
}

#[test]
fn ports_used_up_mid_run_are_errors_of_kind_ports_with_the_advice() {
    let _m = util::shared_machine();
    // Another process holds 400 of the 500 ports to the target; the run's 300 connections pass
    // the check (it cannot see them) and about 200 find no port.
    let setup =
        format!("{NARROW} timeout 20 \"$S\" bench http://127.0.0.1:8080/ -c 400 -d 8s -q >/dev/null 2>&1 & sleep 1.5;");
    let out = in_netns(&setup, false, &["bench", "http://127.0.0.1:8080/", "-c", "300", "-d", "2s", "-q"]);
    assert!(out.errors_of("ports") > 0, "{}", out.describe());
    assert_eq!(out.errors_of("connect"), 0, "{}", out.describe());
    let reasons = out.at("/totals/error_reasons").to_string();
    assert!(reasons.contains("--source") && reasons.contains("ip_local_port_range"), "{reasons}");
}

/// A name with two loopback addresses in the namespace's own /etc/hosts (a bind mount the test
/// makes in its own mount namespace), the target on both.
fn two_addresses() -> String {
    let hosts = temp_path("hosts");
    std::fs::write(&hosts, "127.0.0.1 svc.test\n127.0.0.2 svc.test\n").expect("write hosts file");
    format!(
        "mount --bind {} /etc/hosts || exit 96; ip addr add 127.0.0.2/8 dev lo || exit 98; \
         timeout 40 \"$S\" target -l 0.0.0.0:8080 -t 1 >/dev/null 2>&1 & sleep 0.3;",
        hosts.display()
    )
}

#[test]
fn round_robin_serves_every_address_of_a_name_and_first_only_the_first() {
    let _m = util::shared_machine();
    let setup = two_addresses();
    let out = in_netns(
        &setup,
        true,
        &["bench", "http://svc.test:8080/", "-c", "20", "-d", "1s", "-q", "--dns", "round-robin"],
    );
    out.assert_code(0);
    let targets = out.at("/generator/targets").as_array().expect("generator.targets").clone();
    let served: Vec<(String, u64, f64)> = targets
        .iter()
        .map(|t| {
            (
                t["address"].as_str().unwrap().to_string(),
                t["connections"].as_u64().unwrap(),
                t["share_percent"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        served,
        vec![("127.0.0.1:8080".into(), 10, 50.0), ("127.0.0.2:8080".into(), 10, 50.0)],
        "{}",
        out.describe()
    );
    assert_eq!(out.errors(), 0, "{}", out.describe());

    let first = in_netns(&setup, true, &["bench", "http://svc.test:8080/", "-c", "20", "-d", "1s", "-q"]);
    first.assert_code(0);
    let conns: Vec<u64> =
        first.at("/generator/targets").as_array().unwrap().iter().map(|t| t["connections"].as_u64().unwrap()).collect();
    assert_eq!(conns, vec![20, 0], "{}", first.describe());
}
