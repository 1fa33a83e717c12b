//! What a server speaks, asked before any load (`--http 2`, `--streams`) and by `stampede doctor
//! URL`: the protocol it picks in ALPN over TLS, and whether plain TCP answers h2 spoken with
//! prior knowledge (h2c). Blocking, off the workers' threads, bounded by a timeout.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};

use super::frame;

/// Connect to the first address that answers.
fn connect(addrs: &[SocketAddr], timeout: Duration) -> Result<TcpStream, String> {
    let mut why = String::from("no address");
    for a in addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                s.set_read_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                s.set_write_timeout(Some(timeout)).map_err(|e| e.to_string())?;
                return Ok(s);
            }
            Err(e) => why = format!("{a}: {e}"),
        }
    }
    Err(why)
}

/// The protocol the server picks in ALPN from what `config` offers (`None`: it picked none).
/// `Err`: it could not be reached, or the handshake failed (in words).
pub fn alpn(
    addrs: &[SocketAddr],
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
    timeout: Duration,
) -> Result<Option<String>, String> {
    let mut tcp = connect(addrs, timeout)?;
    let mut tls = ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    while tls.is_handshaking() {
        tls.complete_io(&mut tcp).map_err(|e| match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
            Some(t) => crate::tls::describe(t),
            None => e.to_string(),
        })?;
    }
    Ok(tls.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()))
}

/// Whether the server answers an HTTP/2 connection preface on plain TCP with SETTINGS (h2c
/// with prior knowledge). `Err`: it could not be reached.
pub fn h2c(addrs: &[SocketAddr], timeout: Duration) -> Result<bool, String> {
    let mut tcp = connect(addrs, timeout)?;
    let mut hello = frame::PREFACE.to_vec();
    frame::write_settings(&mut hello, &[]);
    tcp.write_all(&hello).map_err(|e| e.to_string())?;
    let mut head = [0u8; frame::HEADER_LEN];
    match tcp.read_exact(&mut head) {
        Ok(()) => {
            let h = frame::Head::read(&head);
            Ok(h.kind == frame::SETTINGS && h.stream == 0 && h.flags & frame::ACK == 0)
        }
        // Closed or silent: not h2.
        Err(_) => Ok(false),
    }
}
