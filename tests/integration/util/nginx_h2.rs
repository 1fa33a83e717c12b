//! A real nginx speaking HTTP/2 for the h2 tests: on its addresses, in order, plain HTTP/1.1
//! (`/-/ready`), h2c (prior knowledge), h2 over TLS (ALPN h2 and http/1.1), and TLS offering
//! http/1.1 only; each logs `port protocol status method uri` per request to `access.log`.
//! Locations: `/s/200`, `/s/404`, `/s/503` answer that status; `/hello`; `/login-cookie` sets a cookie and redirects to
//! `/home`, which answers 200 only with it; `/to-h1` redirects to `/hello` on the TLS server that
//! speaks HTTP/1.1 only; `/files/` takes PUT (WebDAV) and serves what was put;
//! `/auth/`, `/escrows` and `/delay/` go to an upstream (the built-in target).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::TempDir;
use super::nginx::{Nginx, main_block, temp_paths};
use super::tls_server::Pki;

/// Addresses of [`h2`]'s servers.
pub const PLAIN: usize = 0;
pub const H2C: usize = 1;
pub const H2_TLS: usize = 2;
pub const H1_TLS: usize = 3;

/// nginx in front of `upstream` (`host:port`); each h2 connection carries at most
/// `keepalive_requests` requests before nginx sends GOAWAY. Returns it and the CA file that
/// trusts its certificate (for `--cacert`).
pub fn h2(upstream: &str, keepalive_requests: u64) -> (Nginx, PathBuf) {
    let dir = TempDir::new("nginx-h2");
    std::fs::create_dir_all(dir.path().join("www/files")).expect("create the www folder");
    let pki = Pki::new("stampede h2 test CA");
    let (cert, key) = pki.server(&["localhost", "127.0.0.1"]).write(&dir, "server");
    let ca = pki.write_ca(&dir);
    let upstream = upstream.to_string();
    let nginx = Nginx::spawn(dir, 4, |d, a| config(d, a, &upstream, (&cert, &key), keepalive_requests));
    (nginx, ca)
}

/// Lines of the access log of the server on `addr`: (protocol, status, method, uri).
pub fn access_log(nginx: &Nginx, addr: SocketAddr) -> Vec<(String, u16, String, String)> {
    let text = std::fs::read_to_string(nginx.dir.path().join("access.log")).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.len() == 5 && f[0] == addr.port().to_string())
                .then(|| (f[1].to_string(), f[2].parse().unwrap_or(0), f[3].to_string(), f[4].to_string()))
        })
        .collect()
}

fn config(dir: &Path, a: &[SocketAddr], upstream: &str, (cert, key): (&Path, &Path), keepalive: u64) -> String {
    let d = dir.display();
    let h1port = a[H1_TLS].port();
    let locations = format!(
        r#"
        root {d}/www;
        location = /-/ready {{ return 200 "ready\n"; }}
        location = /hello {{ return 200 "hello world\n"; }}
        location = /s/200 {{ return 200 "fine\n"; }}
        location = /s/404 {{ return 404 "not here\n"; }}
        location = /s/503 {{ return 503 "busy\n"; }}
        location = /login-cookie {{ add_header Set-Cookie "sid=abc123; Path=/" always; return 302 /home; }}
        location = /home {{
            if ($cookie_sid = "abc123") {{ return 200 "welcome home\n"; }}
            return 403 "no cookie\n";
        }}
        location = /to-h1 {{ return 302 https://localhost:{h1port}/hello; }}
        location /files/ {{ dav_methods PUT; create_full_put_path on; client_max_body_size 64m; }}
        location /auth/ {{ proxy_pass http://{upstream}; }}
        location /escrows {{ proxy_pass http://{upstream}; }}
        location /delay/ {{ proxy_pass http://{upstream}; }}
"#
    );
    let tls = format!("ssl_certificate {}; ssl_certificate_key {};", cert.display(), key.display());
    format!(
        r#"{main}
http {{
    log_format short '$server_port $server_protocol $status $request_method $uri';
    access_log {d}/access.log short;
    default_type text/plain;
    keepalive_requests {keepalive};
    {temp}
    server {{ listen {plain}; {locations} }}
    server {{ listen {h2c} http2; {locations} }}
    server {{ listen {h2tls} ssl http2; {tls} {locations} }}
    server {{ listen {h1tls} ssl; {tls} {locations} }}
}}
"#,
        main = main_block(dir),
        temp = temp_paths(dir),
        plain = a[PLAIN],
        h2c = a[H2C],
        h2tls = a[H2_TLS],
        h1tls = a[H1_TLS],
    )
}
