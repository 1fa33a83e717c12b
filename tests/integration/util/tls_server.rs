//! HTTPS for tests: certificates made in-process ([`Pki`]: a CA, leaves for any names, expired
//! ones, client certificates), and a thread-per-connection rustls server ([`TlsServer`]) that
//! answers every request with a small 200 and records each handshake as the server saw it (SNI,
//! ALPN and groups offered, version, group and kind negotiated).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};
use rustls::crypto::{SupportedKxGroup, aws_lc_rs};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{HandshakeKind, NamedGroup, ProtocolVersion, RootCertStore, ServerConfig, ServerConnection};

use super::TempDir;

/// How often a connection thread blocked in a read looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// The one response: small, keep-alive.
pub const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// The same, for a request that asked to close.
const OK_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

/// A certificate and its key, as PEM (for files) and DER (for the server).
pub struct Identity {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Identity {
    pub fn from_parts(
        cert_pem: String,
        key_pem: String,
        cert_der: CertificateDer<'static>,
        key_der: Vec<u8>,
    ) -> Identity {
        Identity { cert_pem, key_pem, cert_der, key_der }
    }

    pub fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }

    /// Write `<name>.pem` and `<name>.key` into `dir`; returns their paths.
    pub fn write(&self, dir: &TempDir, name: &str) -> (PathBuf, PathBuf) {
        (dir.write(&format!("{name}.pem"), &self.cert_pem), dir.write(&format!("{name}.key"), &self.key_pem))
    }
}

/// A test certificate authority.
pub struct Pki {
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

impl Pki {
    /// A fresh CA called `name`.
    pub fn new(name: &str) -> Pki {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = params.self_signed(&ca_key).expect("self-sign the CA");
        Pki { ca, ca_key }
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// Write the CA certificate to `ca.pem` in `dir`.
    pub fn write_ca(&self, dir: &TempDir) -> PathBuf {
        dir.write("ca.pem", &self.ca_pem())
    }

    /// The CA as the only root (for verifying client certificates).
    pub fn roots(&self) -> Arc<RootCertStore> {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.der().clone()).expect("add the CA");
        Arc::new(roots)
    }

    /// A server certificate for these names (DNS names or IP literals), valid for a century.
    pub fn server(&self, names: &[&str]) -> Identity {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, None)
    }

    /// A server certificate for these names that expired in 2001.
    pub fn expired_server(&self, names: &[&str]) -> Identity {
        self.issue(names, ExtendedKeyUsagePurpose::ServerAuth, Some((2000, 2001)))
    }

    /// A client certificate.
    pub fn client(&self, name: &str) -> Identity {
        self.issue(&[name], ExtendedKeyUsagePurpose::ClientAuth, None)
    }

    fn issue(&self, names: &[&str], usage: ExtendedKeyUsagePurpose, years: Option<(i32, i32)>) -> Identity {
        let key = KeyPair::generate().expect("leaf key");
        let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(names.clone()).expect("leaf params");
        params.distinguished_name.push(DnType::CommonName, names.first().cloned().unwrap_or_default());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![usage];
        params.use_authority_key_identifier_extension = true;
        if let Some((from, to)) = years {
            params.not_before = rcgen::date_time_ymd(from, 1, 1);
            params.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let cert = params.signed_by(&key, &self.ca, &self.ca_key).expect("sign the leaf");
        Identity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

/// What the server accepts.
pub struct TlsSettings {
    pub identity: Identity,
    /// `None`: TLS 1.2 and 1.3.
    pub versions: Option<Vec<&'static rustls::SupportedProtocolVersion>>,
    /// Groups in the server's order of preference. `None`: the provider's defaults.
    pub groups: Option<Vec<&'static dyn SupportedKxGroup>>,
    /// Require a client certificate issued by this CA.
    pub client_ca: Option<Arc<RootCertStore>>,
}

impl TlsSettings {
    pub fn new(identity: Identity) -> TlsSettings {
        TlsSettings { identity, versions: None, groups: None, client_ca: None }
    }

    pub fn versions(self, versions: &[&'static rustls::SupportedProtocolVersion]) -> TlsSettings {
        TlsSettings { versions: Some(versions.to_vec()), ..self }
    }

    pub fn groups(self, groups: &[&'static dyn SupportedKxGroup]) -> TlsSettings {
        TlsSettings { groups: Some(groups.to_vec()), ..self }
    }

    pub fn require_client_cert(self, ca: &Pki) -> TlsSettings {
        TlsSettings { client_ca: Some(ca.roots()), ..self }
    }
}

/// A ClientHello as the server's certificate resolver saw it (full handshakes only: a resumed
/// TLS 1.3 handshake does not ask for a certificate).
#[derive(Debug, Clone)]
pub struct Hello {
    pub sni: Option<String>,
    pub alpn: Option<Vec<Vec<u8>>>,
    pub groups: Option<Vec<NamedGroup>>,
}

/// A completed handshake as the server saw it.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub sni: Option<String>,
    pub alpn: Option<Vec<u8>>,
    pub version: Option<ProtocolVersion>,
    pub group: Option<NamedGroup>,
    pub kind: Option<HandshakeKind>,
    /// A client certificate was presented (and verified).
    pub client_cert: bool,
}

#[derive(Default)]
struct Counters {
    stop: AtomicBool,
    connections: AtomicU64,
    requests: AtomicU64,
    hellos: Mutex<Vec<Hello>>,
    handshakes: Mutex<Vec<Handshake>>,
    /// Handshakes that failed on the server's side, with rustls's reason.
    failures: Mutex<Vec<String>>,
}

/// The certificate resolver: always the one certificate, and a note of every ClientHello.
struct Recorder {
    key: Arc<CertifiedKey>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recorder")
    }
}

impl ResolvesServerCert for Recorder {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let seen = Hello {
            sni: hello.server_name().map(str::to_string),
            alpn: hello.alpn().map(|a| a.map(<[u8]>::to_vec).collect()),
            groups: hello.named_groups().map(<[NamedGroup]>::to_vec),
        };
        self.counters.hellos.lock().unwrap().push(seen);
        Some(self.key.clone())
    }
}

/// A running HTTPS server on 127.0.0.1; stops (joining its threads) when dropped.
pub struct TlsServer {
    addr: SocketAddr,
    counters: Arc<Counters>,
    acceptor: Option<JoinHandle<()>>,
}

impl TlsServer {
    pub fn start(settings: TlsSettings) -> TlsServer {
        let mut provider = aws_lc_rs::default_provider();
        if let Some(groups) = &settings.groups {
            provider.kx_groups = groups.clone();
        }
        let provider = Arc::new(provider);
        let versions = settings.versions.clone().unwrap_or_else(|| rustls::ALL_VERSIONS.to_vec());
        let builder =
            ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(&versions).expect("versions");
        let builder = match &settings.client_ca {
            Some(roots) => {
                let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .expect("client verifier");
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let key =
            CertifiedKey::from_der(vec![settings.identity.cert_der.clone()], settings.identity.key_der(), &provider)
                .expect("server key");
        let counters = Arc::new(Counters::default());
        let recorder = Recorder { key: Arc::new(key), counters: counters.clone() };
        let mut config = builder.with_cert_resolver(Arc::new(recorder));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // Stateful resumption (TLS 1.2 session ids, TLS 1.3 tickets kept here), room for a run.
        config.session_storage = ServerSessionMemoryCache::new(16 * 1024);
        let config = Arc::new(config);

        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let c = counters.clone();
        let acceptor = thread::Builder::new()
            .name(format!("tls-server-{}", addr.port()))
            .spawn(move || accept_loop(listener, config, c))
            .expect("spawn the acceptor");
        TlsServer { addr, counters, acceptor: Some(acceptor) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `https://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }

    /// `https://localhost:port{path}`.
    pub fn url_localhost(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// TCP connections accepted.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Requests read (and answered).
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }

    /// Completed handshakes.
    pub fn handshakes(&self) -> Vec<Handshake> {
        self.counters.handshakes.lock().unwrap().clone()
    }

    /// ClientHellos of full handshakes.
    pub fn hellos(&self) -> Vec<Hello> {
        self.counters.hellos.lock().unwrap().clone()
    }

    /// Handshakes that failed on the server's side, with the reason.
    pub fn failures(&self) -> Vec<String> {
        self.counters.failures.lock().unwrap().clone()
    }

    /// One line about what the server saw, for assertion messages.
    pub fn describe(&self) -> String {
        let shakes = self.handshakes();
        format!(
            "server: {} connections, {} requests, {} handshakes (first: {:?}), {} failures (first: {:?})",
            self.connections(),
            self.requests(),
            shakes.len(),
            shakes.first(),
            self.failures().len(),
            self.failures().first()
        )
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.counters.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
    }
}

fn accept_loop(listener: TcpListener, config: Arc<ServerConfig>, counters: Arc<Counters>) {
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for stream in listener.incoming() {
        if counters.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let (config, c) = (config.clone(), counters.clone());
        threads.retain(|t| !t.is_finished());
        match thread::Builder::new().name("tls-conn".into()).spawn(move || serve(stream, config, &c)) {
            Ok(t) => threads.push(t),
            Err(e) => eprintln!("tls test server: cannot spawn a connection thread: {e}"),
        }
    }
    for t in threads {
        let _ = t.join();
    }
}

fn retry(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// Handshake, then answer requests until the peer closes, asks to close, or the server stops.
fn serve(mut tcp: TcpStream, config: Arc<ServerConfig>, counters: &Counters) {
    let _ = tcp.set_nodelay(true);
    let _ = tcp.set_read_timeout(Some(POLL));
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(2)));
    let Ok(mut conn) = ServerConnection::new(config) else { return };
    while conn.is_handshaking() {
        if counters.stop.load(Ordering::SeqCst) {
            return;
        }
        match conn.complete_io(&mut tcp) {
            Ok((0, 0)) => {
                // No progress and not blocked: end of stream during the handshake (the client
                // gave up, its own checks failed).
                counters.failures.lock().unwrap().push("the client closed the connection during the handshake".into());
                return;
            }
            Ok(_) => {}
            Err(e) if retry(&e) => {}
            Err(e) => {
                counters.failures.lock().unwrap().push(e.to_string());
                // The alert is out; close gently so it is read rather than lost to a reset.
                let _ = tcp.shutdown(Shutdown::Write);
                drain(&mut tcp, counters);
                return;
            }
        }
    }
    counters.handshakes.lock().unwrap().push(Handshake {
        sni: conn.server_name().map(str::to_string),
        alpn: conn.alpn_protocol().map(<[u8]>::to_vec),
        version: conn.protocol_version(),
        group: conn.negotiated_key_exchange_group().map(|g| g.name()),
        kind: conn.handshake_kind(),
        client_cert: conn.peer_certificates().is_some_and(|c| !c.is_empty()),
    });
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        if counters.stop.load(Ordering::SeqCst) {
            return;
        }
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4) {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            buf.drain(..end);
            counters.requests.fetch_add(1, Ordering::SeqCst);
            let close = head.contains("\r\nconnection: close");
            let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
            if stream.write_all(if close { OK_CLOSE } else { OK }).and_then(|_| stream.flush()).is_err() {
                return;
            }
            if close {
                conn.send_close_notify();
                let _ = conn.complete_io(&mut tcp);
                let _ = tcp.shutdown(Shutdown::Write);
                drain(&mut tcp, counters);
                return;
            }
            continue;
        }
        let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
        match stream.read(&mut tmp) {
            Ok(0) => return,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if retry(&e) => {}
            Err(_) => return,
        }
    }
}

/// Read until the peer closes (at most a second), so closing does not reset unread data.
fn drain(tcp: &mut TcpStream, counters: &Counters) {
    let end = Instant::now() + Duration::from_secs(1);
    let mut tmp = [0u8; 4096];
    while Instant::now() < end && !counters.stop.load(Ordering::SeqCst) {
        match tcp.read(&mut tmp) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if retry(&e) => {}
            Err(_) => return,
        }
    }
}

/// `path` as a `&str` argument.
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// The provider's group constants, for the tests.
pub mod groups {
    pub use rustls::crypto::aws_lc_rs::kx_group::{SECP256R1, X25519, X25519MLKEM768};
}
