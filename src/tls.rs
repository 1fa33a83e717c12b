//! TLS client settings (rustls): trust roots (system, or `--cacert`), client certificates,
//! `--insecure`, key-exchange groups and versions, ALPN (http/1.1 here; the plan sets what
//! `--http` offers: `h2` and `http/1.1` under `auto`) — built once before the run;
//! each worker takes a copy with its own session cache for resumption across reconnects.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::crypto::{CryptoProvider, SupportedKxGroup, aws_lc_rs};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::error::PlanError;

/// What the command line says about TLS.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Trust only the certificates in this PEM file (instead of the system's).
    pub cacert: Option<PathBuf>,
    /// Client certificate chain and key (PEM), for servers that ask for one.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    /// Accept any server certificate (still encrypted, not authenticated).
    pub insecure: bool,
    /// Key-exchange groups: `browser` (default), `x25519`, or a comma-separated list of
    /// x25519mlkem768, x25519, p256, p384.
    pub groups: Option<String>,
    /// `1.2` or `1.3` to allow only that version.
    pub version: Option<String>,
}

/// Key-exchange groups by name.
fn group(name: &str) -> Option<&'static dyn SupportedKxGroup> {
    use aws_lc_rs::kx_group;
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "x25519mlkem768" | "mlkem" => kx_group::X25519MLKEM768,
        "x25519" => kx_group::X25519,
        "p256" | "secp256r1" => kx_group::SECP256R1,
        "p384" | "secp384r1" => kx_group::SECP384R1,
        _ => return None,
    })
}

fn groups(spec: Option<&str>) -> Result<Vec<&'static dyn SupportedKxGroup>, PlanError> {
    let bad = |m: String| PlanError::Invalid(m);
    match spec.map(str::trim) {
        // What a current browser offers: the post-quantum hybrid first, then the classic ones.
        None | Some("browser") => Ok(aws_lc_rs::DEFAULT_KX_GROUPS.to_vec()),
        Some(list) => list
            .split(',')
            .map(|g| {
                group(g).ok_or_else(|| {
                    bad(format!(
                        "--tls-groups: unknown group `{}` (use browser, or x25519mlkem768, x25519, p256, p384)",
                        g.trim()
                    ))
                })
            })
            .collect(),
    }
}

fn read_pem(path: &Path, what: &str) -> Result<Vec<u8>, PlanError> {
    std::fs::read(path).map_err(|source| PlanError::File { path: format!("{what} {}", path.display()), source })
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, PlanError> {
    let pem = read_pem(path, what)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| PlanError::Invalid(format!("{what} {}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(PlanError::Invalid(format!("{what} {}: no PEM certificate in it", path.display())));
    }
    Ok(certs)
}

fn roots(o: &TlsOptions) -> Result<RootCertStore, PlanError> {
    let mut store = RootCertStore::empty();
    if let Some(path) = &o.cacert {
        for c in certs(path, "--cacert")? {
            store.add(c).map_err(|e| PlanError::Invalid(format!("--cacert {}: {e}", path.display())))?;
        }
        return Ok(store);
    }
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = store.add_parsable_certificates(native.certs);
    if added == 0 {
        // No readable system store: fall back to Mozilla's roots built into the binary.
        store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    Ok(store)
}

/// Build the client configuration from the options. Errors are bad input (exit 2).
pub fn client_config(o: &TlsOptions) -> Result<Arc<ClientConfig>, PlanError> {
    let provider = CryptoProvider { kx_groups: groups(o.groups.as_deref())?, ..aws_lc_rs::default_provider() };
    let versions: &[&'static rustls::SupportedProtocolVersion] = match o.version.as_deref().map(str::trim) {
        None | Some("any") => rustls::ALL_VERSIONS,
        Some("1.2") => &[&rustls::version::TLS12],
        Some("1.3") => &[&rustls::version::TLS13],
        Some(other) => return Err(PlanError::Invalid(format!("--tls-version `{other}`: use 1.2, 1.3 or any"))),
    };
    let provider = Arc::new(provider);
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| PlanError::Invalid(format!("TLS settings: {e}")))?;
    let builder = if o.insecure {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        let roots = Arc::new(roots(o)?);
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| PlanError::Invalid(format!("TLS roots: {e}")))?;
        // A self-signed certificate given with --cacert is trusted as the server's own, as
        // curl and OpenSSL do (webpki alone refuses a CA certificate used by a server).
        let pinned = match &o.cacert {
            Some(path) => certs(path, "--cacert")?,
            None => Vec::new(),
        };
        builder.dangerous().with_custom_certificate_verifier(Arc::new(Verifier { webpki, pinned }))
    };
    let mut config = match (&o.cert, &o.key) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert, "--cert")?;
            let pem = read_pem(key, "--key")?;
            let key_der = PrivateKeyDer::from_pem_slice(&pem)
                .map_err(|e| PlanError::Invalid(format!("--key {}: {e}", key.display())))?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| PlanError::Invalid(format!("--cert/--key: {e}")))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(PlanError::Invalid("--cert and --key go together".into())),
    };
    // What `--http 1.1` offers; the plan replaces it with what its `--http` offers (plan/finish.rs).
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A worker's copy of `config`, with a session cache of its own (no lock shared between cores).
pub fn for_worker(config: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut c = (**config).clone();
    c.resumption = Resumption::in_memory_sessions(1024);
    Arc::new(c)
}

/// The name the server certificate must match (and SNI, for DNS names).
pub fn server_name(host: &str) -> Result<ServerName<'static>, PlanError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_string())
        .map_err(|e| PlanError::Invalid(format!("`{host}` is not a valid TLS server name: {e}")))
}

/// `--insecure`: any certificate is accepted; handshake signatures are still checked.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Standard verification against the roots, plus exact-match trust for the certificates given
/// with `--cacert` (self-signed test certificates), still checked for the host name.
#[derive(Debug)]
struct Verifier {
    webpki: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(v) => Ok(v),
            Err(e) if self.pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) => {
                let cert = webpki::EndEntityCert::try_from(end_entity).map_err(|_| e.clone())?;
                cert.verify_is_valid_for_subject_name(server_name)
                    .map_err(|_| rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))?;
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// A TLS failure in words a user can act on.
pub fn describe(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    let cert = |what: &str| format!("server certificate {what}");
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => cert("is not trusted: unknown issuer (pass its CA with --cacert FILE, or --insecure)"),
            C::Expired | C::ExpiredContext { .. } => cert(&format!("has expired ({c:?})")),
            C::NotValidYet | C::NotValidYetContext { .. } => cert("is not valid yet"),
            C::NotValidForName | C::NotValidForNameContext { .. } => cert("is not valid for this host name"),
            C::Revoked => cert("has been revoked"),
            C::BadSignature => cert("has a bad signature"),
            C::BadEncoding => cert("cannot be decoded"),
            C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                cert("is a CA certificate used as the server's own (pass it with --cacert to trust it, or --insecure)")
            }
            other => cert(&format!("is invalid: {other:?}")),
        },
        rustls::Error::AlertReceived(a) => format!("the server refused the handshake (alert {a:?})"),
        other => other.to_string(),
    }
}
