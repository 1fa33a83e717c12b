//! HTTPS: `stampede bench https://...` against an in-process rustls server with certificates
//! made for each test (a CA, leaves, expired and client certificates). The server records each
//! handshake as it saw it, so SNI, ALPN, versions, groups, resumption and client certificates are
//! checked from the server's side, and certificate failures from the client's reasons.

use std::time::Duration;

use rustls::{HandshakeKind, NamedGroup, ProtocolVersion};

use crate::util::tls_server::{Identity, OK, Pki, TlsServer, TlsSettings, arg, groups};
use crate::util::{self, Outcome, Response, Server, TempDir, assert_refused_before_sending, bench};

/// A CA, and a server with a leaf from it for localhost and 127.0.0.1; `ca.pem` in `dir`.
fn trusted_server(dir: &TempDir, tune: impl FnOnce(TlsSettings) -> TlsSettings) -> (Pki, TlsServer, String) {
    let pki = Pki::new("stampede test CA");
    let server = TlsServer::start(tune(TlsSettings::new(pki.server(&["localhost", "127.0.0.1"]))));
    let ca = pki.write_ca(dir).to_str().expect("UTF-8 temp path").to_string();
    (pki, server, ca)
}

/// The error reasons of a run, joined, for searching.
fn reasons(out: &Outcome) -> String {
    let r = out.at("/totals/error_reasons").as_object().expect("error_reasons is an object");
    r.keys().cloned().collect::<Vec<_>>().join(" | ")
}

/// Run a bench that must fail every request with TLS errors: exit 3 (nothing reached), only
/// `tls` errors, no request reaching the server, and a reason containing one of `says`
/// (lowercase).
fn bench_refused(server: &TlsServer, url: &str, args: &[&str], says: &[&str]) -> Outcome {
    let before = server.requests();
    let out = bench(url, args);
    out.assert_code(3);
    assert!(out.errors_of("tls") > 0, "{}\n{}", out.describe(), server.describe());
    assert_eq!(out.errors(), out.errors_of("tls"), "only tls errors expected\n{}", out.describe());
    assert_eq!(out.answered(), 0, "{}", out.describe());
    assert_eq!(server.requests(), before, "a request got through a failed handshake\n{}", server.describe());
    let reasons = reasons(&out).to_lowercase();
    assert!(
        says.iter().any(|s| reasons.contains(s)),
        "the reasons should say one of {says:?}: {reasons}\n{}",
        out.describe()
    );
    assert!(out.stderr.contains("reach"), "stderr should say the target was not reached: {}", out.stderr);
    out
}

// ---------------------------------------------------------------------------------------------
// Keep-alive, trust
// ---------------------------------------------------------------------------------------------

#[test]
fn https_keep_alive_bench_reuses_each_tls_connection() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-keepalive");
    let (_pki, server, ca) = trusted_server(&dir, |s| s);
    let out = bench(&server.url("/ka"), &["-c", "4", "-d", "1s", "-t", "2", "--cacert", &ca]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), server.describe());
    let ok = out.status(200);
    assert!(ok >= 2000, "too few responses over TLS on loopback\n{}", out.describe());
    let shakes = server.handshakes();
    assert_eq!(shakes.len(), 4, "one handshake per connection for {ok} requests\n{}", server.describe());
    assert_eq!(server.connections(), 4, "{}", server.describe());
    assert!(server.failures().is_empty(), "{}", server.describe());
    // Requests read by the server: every answered one, plus at most one in flight per connection.
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        server.requests() >= ok && server.requests() <= ok + 4,
        "server read {}\n{}",
        server.requests(),
        out.describe()
    );
}

/// Regression: over TLS, bytes_in counted the ciphertext received (TLS record headers and tags,
/// session tickets) while bytes_out counted the plaintext request, so the two totals measured
/// different things, and an https run reported other byte counts than the same run over http.
/// Both count the HTTP bytes, as for http (see bench.rs).
#[test]
fn https_bytes_in_and_bytes_out_count_http_bytes_like_http() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-bytes");
    let (_pki, server, ca) = trusted_server(&dir, |s| s);
    let out = bench(&server.url("/bytes"), &["-c", "2", "-d", "300ms", "-t", "1", "--cacert", &ca]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}", out.describe());
    let (ok, requests) = (out.status(200), out.requests());
    let bytes_out = out.u64("/totals/bytes_out");
    assert_eq!(
        out.u64("/totals/bytes_in"),
        ok * OK.len() as u64,
        "{ok} responses of {} HTTP bytes each; bytes_out counts {} bytes per request, the HTTP bytes\n{}",
        OK.len(),
        bytes_out / requests,
        out.describe()
    );
}

/// Regression: a request whose connection failed its TLS handshake was counted in bytes_out
/// although not one byte of it was written (a connect failure counts none).
#[test]
fn a_failed_handshake_counts_no_request_bytes_out() {
    let _m = util::shared_machine();
    let unknown = Pki::new("unknown test CA");
    let server = TlsServer::start(TlsSettings::new(unknown.server(&["localhost", "127.0.0.1"])));
    let out =
        bench_refused(&server, &server.url("/nothing-sent"), &["-c", "1", "-d", "300ms", "-t", "1"], &["not trusted"]);
    assert_eq!(
        out.u64("/totals/bytes_out"),
        0,
        "no request can be written before the handshake is done, yet bytes_out counts {} bytes\n{}",
        out.u64("/totals/bytes_out"),
        out.describe()
    );
}

#[test]
fn untrusted_certificate_is_a_tls_error_unless_insecure() {
    let _m = util::shared_machine();
    // Signed by a CA the client was not told about; the system roots do not know it either.
    let unknown = Pki::new("unknown test CA");
    let server = TlsServer::start(TlsSettings::new(unknown.server(&["localhost", "127.0.0.1"])));
    let args = ["-c", "1", "-d", "500ms", "-t", "1"];
    bench_refused(&server, &server.url("/untrusted"), &args, &["not trusted", "unknown issuer"]);
    assert!(server.handshakes().is_empty(), "{}", server.describe());

    let insecure = bench(&server.url("/untrusted"), &["-c", "2", "-d", "500ms", "-t", "1", "--insecure"]);
    insecure.assert_code(0);
    assert_eq!(insecure.errors(), 0, "{}\n{}", insecure.describe(), server.describe());
    assert!(insecure.status(200) > 100, "{}", insecure.describe());
    // -k is the same flag.
    let short = bench(&server.url("/untrusted"), &["-c", "1", "-d", "300ms", "-t", "1", "-k"]);
    short.assert_code(0);
    assert_eq!(short.errors(), 0, "{}", short.describe());
}

#[test]
fn certificate_for_another_host_name_is_refused_naming_the_host_name() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-wrong-host");
    let pki = Pki::new("stampede test CA");
    let server = TlsServer::start(TlsSettings::new(pki.server(&["other.example"])));
    let ca = pki.write_ca(&dir);
    for url in [server.url("/ip"), server.url_localhost("/name")] {
        let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", arg(&ca)];
        bench_refused(&server, &url, &args, &["not valid for this host name"]);
    }
}

#[test]
fn expired_certificate_is_refused_saying_it_expired() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-expired");
    let pki = Pki::new("stampede test CA");
    let server = TlsServer::start(TlsSettings::new(pki.expired_server(&["localhost", "127.0.0.1"])));
    let ca = pki.write_ca(&dir);
    let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", arg(&ca)];
    bench_refused(&server, &server.url("/expired"), &args, &["expired"]);
}

#[test]
fn self_signed_certificate_given_with_cacert_is_trusted_for_its_own_names_only() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-self-signed");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap().self_signed(&key).unwrap();
    let identity = Identity::from_parts(cert.pem(), key.serialize_pem(), cert.der().clone(), key.serialize_der());
    let server = TlsServer::start(TlsSettings::new(identity));
    let pinned = dir.write("self.pem", &cert.pem());
    let out = bench(&server.url_localhost("/self"), &["-c", "2", "-d", "500ms", "-t", "1", "--cacert", arg(&pinned)]);
    out.assert_code(0);
    assert_eq!(out.errors(), 0, "{}\n{}", out.describe(), server.describe());
    assert!(out.status(200) > 100, "{}", out.describe());
    // The certificate names localhost only: the host name is still checked.
    let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", arg(&pinned)];
    bench_refused(&server, &server.url("/self"), &args, &["not valid for this host name"]);
}

// ---------------------------------------------------------------------------------------------
// What the server sees: SNI, ALPN, versions, groups, resumption, client certificates
// ---------------------------------------------------------------------------------------------

#[test]
fn sni_is_sent_for_host_names_not_ip_literals_and_alpn_offers_h2_and_http_1_1() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-sni");
    let (_pki, server, ca) = trusted_server(&dir, |s| s);
    let named = bench(&server.url_localhost("/sni"), &["-c", "1", "-d", "300ms", "-t", "1", "--cacert", &ca]);
    named.assert_code(0);
    assert_eq!(named.errors(), 0, "{}", named.describe());
    let shakes = server.handshakes();
    assert!(!shakes.is_empty(), "{}", server.describe());
    for h in &shakes {
        assert_eq!(h.sni.as_deref(), Some("localhost"), "{h:?}");
        assert_eq!(h.alpn.as_deref(), Some(&b"http/1.1"[..]), "ALPN negotiated: {h:?}");
    }
    let hellos = server.hellos();
    assert!(!hellos.is_empty());
    for hello in &hellos {
        assert_eq!(hello.sni.as_deref(), Some("localhost"), "{hello:?}");
        // --http auto offers h2 first; this server speaks HTTP/1.1 only and picks it.
        assert_eq!(hello.alpn, Some(vec![b"h2".to_vec(), b"http/1.1".to_vec()]), "ALPN offered: {hello:?}");
    }
    let before = shakes.len();
    let ip = bench(&server.url("/no-sni"), &["-c", "1", "-d", "300ms", "-t", "1", "--cacert", &ca]);
    ip.assert_code(0);
    assert_eq!(ip.errors(), 0, "{}", ip.describe());
    let shakes = server.handshakes();
    assert!(shakes.len() > before, "{}", server.describe());
    assert!(server.hellos().iter().skip(hellos.len()).all(|h| h.sni.is_none()), "{:?}", server.hellos());
    for h in &shakes[before..] {
        assert_eq!(h.sni, None, "an IP literal is not sent as SNI: {h:?}");
        assert_eq!(h.alpn.as_deref(), Some(&b"http/1.1"[..]), "{h:?}");
    }
    let seen = server.hellos().len();
    let h1 =
        bench(&server.url_localhost("/sni"), &["-c", "1", "-d", "300ms", "-t", "1", "--cacert", &ca, "--http", "1.1"]);
    h1.assert_code(0);
    let hellos = server.hellos();
    assert!(hellos.len() > seen);
    for hello in &hellos[seen..] {
        assert_eq!(hello.alpn, Some(vec![b"http/1.1".to_vec()]), "--http 1.1 offers only it: {hello:?}");
    }
}

#[test]
fn tls_1_2_and_1_3_both_work_and_a_version_the_server_lacks_fails() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-versions");
    let (_pki, tls12, ca) = trusted_server(&dir, |s| s.versions(&[&rustls::version::TLS12]));
    let pki13 = Pki::new("stampede test CA 1.3");
    let tls13 = TlsServer::start(
        TlsSettings::new(pki13.server(&["localhost", "127.0.0.1"])).versions(&[&rustls::version::TLS13]),
    );
    let ca13 = dir.write("ca13.pem", &pki13.ca_pem());

    let cases = [
        (&tls12, ca.as_str(), Some("1.2"), ProtocolVersion::TLSv1_2),
        (&tls12, ca.as_str(), None, ProtocolVersion::TLSv1_2),
        (&tls13, arg(&ca13), Some("1.3"), ProtocolVersion::TLSv1_3),
        (&tls13, arg(&ca13), None, ProtocolVersion::TLSv1_3),
    ];
    for (server, ca, version, expect) in cases {
        let before = server.handshakes().len();
        let mut args = vec!["-c", "2", "-d", "300ms", "-t", "1", "--cacert", ca];
        if let Some(v) = version {
            args.extend_from_slice(&["--tls-version", v]);
        }
        let out = bench(&server.url("/v"), &args);
        out.assert_code(0);
        assert_eq!(out.errors(), 0, "--tls-version {version:?}\n{}\n{}", out.describe(), server.describe());
        assert!(out.status(200) > 50, "{}", out.describe());
        let shakes = server.handshakes();
        assert!(shakes.len() > before);
        assert!(shakes[before..].iter().all(|h| h.version == Some(expect)), "{:?}", &shakes[before..]);
    }

    let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", &ca, "--tls-version", "1.3"];
    bench_refused(&tls12, &tls12.url("/v"), &args, &["protocolversion"]);
    let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", arg(&ca13), "--tls-version", "1.2"];
    bench_refused(&tls13, &tls13.url("/v"), &args, &["protocolversion"]);
}

#[test]
fn no_keepalive_opens_a_connection_per_request_and_resumes_the_tls_session() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-resume");
    for version in ["1.3", "1.2"] {
        let (_pki, server, ca) = trusted_server(&dir, |s| s);
        let args = ["-c", "2", "-d", "1s", "-t", "1", "--cacert", &ca, "--no-keepalive", "--tls-version", version];
        let out = bench(&server.url("/resume"), &args);
        out.assert_code(0);
        assert_eq!(out.errors(), 0, "TLS {version}\n{}\n{}", out.describe(), server.describe());
        let ok = out.status(200);
        assert!(ok >= 100, "TLS {version}\n{}", out.describe());
        // One connection per request: as many connections as requests, give or take the two
        // in flight at the end.
        let conns = server.connections();
        assert!(conns >= ok && conns <= ok + 2, "TLS {version}: {conns} connections for {ok} responses");
        let shakes = server.handshakes();
        let resumed = shakes.iter().filter(|h| h.kind == Some(HandshakeKind::Resumed)).count();
        // Only the first connection of each of the two users needs a full handshake; allow a few.
        assert!(
            resumed * 100 >= shakes.len() * 95,
            "TLS {version}: {resumed} of {} handshakes resumed\n{}",
            shakes.len(),
            server.describe()
        );
        assert!(shakes.len() - resumed <= 10, "TLS {version}: {} full handshakes", shakes.len() - resumed);
    }
}

#[test]
fn client_certificate_is_presented_when_the_server_requires_one() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-client-cert");
    let pki = Pki::new("stampede test CA");
    let server = TlsServer::start(TlsSettings::new(pki.server(&["localhost", "127.0.0.1"])).require_client_cert(&pki));
    let ca = pki.write_ca(&dir);
    let (cert, key) = pki.client("load-generator").write(&dir, "client");

    let with = bench(
        &server.url("/mtls"),
        &["-c", "2", "-d", "500ms", "-t", "1", "--cacert", arg(&ca), "--cert", arg(&cert), "--key", arg(&key)],
    );
    with.assert_code(0);
    assert_eq!(with.errors(), 0, "{}\n{}", with.describe(), server.describe());
    assert!(with.status(200) > 100, "{}", with.describe());
    let shakes = server.handshakes();
    assert!(!shakes.is_empty() && shakes.iter().all(|h| h.client_cert), "{shakes:?}");

    let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", arg(&ca)];
    bench_refused(&server, &server.url("/mtls"), &args, &["certificaterequired"]);
    assert!(!server.failures().is_empty(), "the server refused no handshake\n{}", server.describe());

    // A certificate from another CA is refused too.
    let stranger = Pki::new("stranger CA");
    let (cert, key) = stranger.client("intruder").write(&dir, "intruder");
    let args = ["-c", "1", "-d", "500ms", "-t", "1", "--cacert", arg(&ca), "--cert", arg(&cert), "--key", arg(&key)];
    bench_refused(&server, &server.url("/mtls"), &args, &["refused the handshake"]);
}

#[test]
fn tls_groups_x25519_offers_only_x25519_and_browser_groups_negotiate_the_hybrid() {
    let _m = util::shared_machine();
    let dir = TempDir::new("tls-groups");
    let server_groups = [groups::X25519MLKEM768, groups::X25519, groups::SECP256R1];
    let (_pki, server, ca) = trusted_server(&dir, |s| s.groups(&server_groups));

    let x25519 =
        bench(&server.url("/kx"), &["-c", "1", "-d", "300ms", "-t", "1", "--cacert", &ca, "--tls-groups", "x25519"]);
    x25519.assert_code(0);
    assert_eq!(x25519.errors(), 0, "{}", x25519.describe());
    let hellos = server.hellos();
    assert!(!hellos.is_empty());
    assert!(hellos.iter().all(|h| h.groups.as_deref() == Some(&[NamedGroup::X25519][..])), "offered: {hellos:?}");
    let shakes = server.handshakes();
    assert!(!shakes.is_empty());
    assert!(shakes.iter().all(|h| h.group == Some(NamedGroup::X25519)), "negotiated: {shakes:?}");

    let (hellos_before, shakes_before) = (hellos.len(), shakes.len());
    let browser = bench(&server.url("/kx"), &["-c", "1", "-d", "300ms", "-t", "1", "--cacert", &ca]);
    browser.assert_code(0);
    assert_eq!(browser.errors(), 0, "{}", browser.describe());
    let hellos = server.hellos();
    for h in &hellos[hellos_before..] {
        let offered = h.groups.as_deref().unwrap_or_default();
        assert_eq!(offered.first(), Some(&NamedGroup::X25519MLKEM768), "browser order starts with the hybrid: {h:?}");
        assert!(offered.contains(&NamedGroup::X25519), "{h:?}");
    }
    let shakes = server.handshakes();
    assert!(shakes.len() > shakes_before);
    for h in &shakes[shakes_before..] {
        assert_eq!(h.group, Some(NamedGroup::X25519MLKEM768), "{h:?}");
        // A key share for the hybrid was sent up front: no HelloRetryRequest round trip.
        assert_ne!(h.kind, Some(HandshakeKind::FullWithHelloRetryRequest), "{h:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Bad TLS input
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_tls_input_exits_2_before_sending_anything() {
    // A plain server on the port: nothing may even connect to it.
    let server = Server::start(|_| Response::with_length(200, "must not be reached").into());
    let url = format!("https://{}/", server.addr());
    let dir = TempDir::new("tls-bad-input");
    let pki = Pki::new("stampede test CA");
    let (cert, key) = pki.client("client").write(&dir, "client");
    let no_pem = dir.write("no-cert.pem", "this is not a certificate\n");
    let key_only = dir.write("key-only.pem", &pki.client("other").key_pem);
    let garbage_key = dir.write("garbage.key", "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n");
    let (cert, key, no_pem, key_only, garbage_key) =
        (arg(&cert), arg(&key), arg(&no_pem), arg(&key_only), arg(&garbage_key));
    let cases: Vec<(&str, Vec<&str>)> = vec![
        ("--cacert that does not exist", vec!["--cacert", "/nonexistent/ca.pem"]),
        ("--cacert with no PEM certificate", vec!["--cacert", no_pem]),
        ("--cacert with only a key", vec!["--cacert", key_only]),
        ("--cert without --key", vec!["--cert", cert]),
        ("--key without --cert", vec!["--key", key]),
        ("--cert that does not exist", vec!["--cert", "/nonexistent/c.pem", "--key", key]),
        ("--key that is not a key", vec!["--cert", cert, "--key", garbage_key]),
        ("unknown --tls-groups", vec!["--tls-groups", "nope"]),
        ("empty --tls-groups entry", vec!["--tls-groups", "x25519,,p256"]),
        ("--tls-version 1.1", vec!["--tls-version", "1.1"]),
        ("--tls-version junk", vec!["--tls-version", "tls1.3"]),
    ];
    for (what, extra) in cases {
        let json = util::run::temp_path("bad-tls.json");
        let mut args = vec!["bench", url.as_str(), "-d", "1s", "-c", "1", "-q", "--json", json.to_str().unwrap()];
        args.extend_from_slice(&extra);
        let mut out = util::stampede(&args);
        out.json = std::fs::read_to_string(&json).ok().map(|t| serde_json::from_str(&t).unwrap_or_default());
        assert!(out.wall < Duration::from_secs(2), "{what}: took {:?}", out.wall);
        assert_refused_before_sending(&server, &out, what);
    }
}
