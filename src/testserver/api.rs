//! The target's small stateful API: logins that hand out bearer tokens, and escrow records
//! created and read back by their owner. Tokens are signed, not stored (no memory per login);
//! records live in sharded maps, oldest evicted past a fixed bound so a soak stays flat.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::Counters;

/// Largest body `POST /escrows` accepts.
pub(super) const MAX_ESCROW_BODY: usize = 64 * 1024;
/// Records kept at most (oldest evicted first). A journey reads its record back within seconds:
/// 131,072 records last over a minute at 2,000 creates per second, and keep the target's memory
/// level from then on (a bound of a million records let a 10,000-user soak grow it by 50 MiB in
/// its first two and a half minutes, and for ten minutes more).
const MAX_RECORDS: usize = 1 << 17;
/// Bytes of record JSON kept at most (oldest evicted first).
const MAX_RECORD_BYTES: usize = 64 << 20;
const SHARDS: usize = 16;

/// A response body: fixed, made for this request, shared with a stored record, or `n` bytes of
/// `x` (`/bytes/{n}`, written out only as it is sent).
pub(super) enum Body {
    Static(&'static [u8]),
    Owned(Vec<u8>),
    Shared(Arc<[u8]>),
    Fill(usize),
}

impl Body {
    pub(super) fn len(&self) -> usize {
        match self {
            Body::Static(b) => b.len(),
            Body::Owned(b) => b.len(),
            Body::Shared(b) => b.len(),
            Body::Fill(n) => *n,
        }
    }

    /// Append bytes `at` of the body to `out`.
    pub(super) fn put(&self, at: std::ops::Range<usize>, out: &mut Vec<u8>) {
        match self {
            Body::Static(b) => out.extend_from_slice(&b[at]),
            Body::Owned(b) => out.extend_from_slice(&b[at]),
            Body::Shared(b) => out.extend_from_slice(&b[at]),
            Body::Fill(_) => out.resize(out.len() + at.len(), b'x'),
        }
    }
}

/// An API answer: status and JSON body.
pub(super) type Reply = (u16, Body);

/// An error answer; `json` is a complete JSON document.
fn error(code: u16, json: &'static str) -> Reply {
    (code, Body::Static(json.as_bytes()))
}

struct Record {
    owner: Box<str>,
    json: Arc<[u8]>,
}

#[derive(Default)]
struct Records {
    map: HashMap<u64, Record>,
    order: VecDeque<u64>,
    bytes: usize,
}

/// State shared by every server thread.
pub(super) struct Api {
    keys: RandomState,
    nonce: AtomicU64,
    next_id: AtomicU64,
    shards: Box<[Mutex<Records>]>,
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

fn parse_u64_hex(s: &[u8]) -> Option<u64> {
    s.iter().try_fold(0u64, |acc, &c| Some(acc << 4 | u64::from(hex_value(c)?)))
}

impl Api {
    pub(super) fn new() -> Api {
        let keys = RandomState::new();
        let seed = keys.hash_one("stampede target nonce");
        Api {
            keys,
            nonce: AtomicU64::new(seed),
            next_id: AtomicU64::new(0),
            shards: (0..SHARDS).map(|_| Mutex::new(Records::default())).collect(),
        }
    }

    fn mac(&self, nonce: u64, user: &[u8]) -> u64 {
        let mut h = self.keys.build_hasher();
        h.write_u64(nonce);
        h.write(user);
        h.finish()
    }

    /// A new token for `user`: random nonce, keyed MAC, and the user, all hex.
    fn token(&self, user: &str) -> String {
        use std::fmt::Write;
        let nonce = splitmix64(self.nonce.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed));
        let mut t = String::with_capacity(32 + 2 * user.len());
        let _ = write!(t, "{nonce:016x}{:016x}", self.mac(nonce, user.as_bytes()));
        for b in user.bytes() {
            let _ = write!(t, "{b:02x}");
        }
        t
    }

    /// The user an `Authorization: Bearer <token>` header belongs to, if the token is ours.
    pub(super) fn user_of(&self, authorization: Option<&[u8]>) -> Option<String> {
        let value = authorization?.trim_ascii();
        if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
            return None;
        }
        let token = value[7..].trim_ascii();
        if token.len() < 32 || token.len() % 2 != 0 {
            return None;
        }
        let nonce = parse_u64_hex(&token[..16])?;
        let mac = parse_u64_hex(&token[16..32])?;
        let user: Vec<u8> = token[32..]
            .chunks_exact(2)
            .map(|p| Some(hex_value(p[0])? << 4 | hex_value(p[1])?))
            .collect::<Option<_>>()?;
        if user.is_empty() || self.mac(nonce, &user) != mac {
            return None;
        }
        String::from_utf8(user).ok()
    }

    /// `POST /auth/login`.
    pub(super) fn login(&self, body: &[u8], counters: &Counters) -> Reply {
        let Ok(v) = serde_json::from_slice::<Value>(body) else {
            return error(400, r#"{"error":"body must be JSON: {\"email\": ..., \"password\": ...}"}"#);
        };
        let Some(obj) = v.as_object() else {
            return error(400, r#"{"error":"body must be a JSON object: {\"email\": ..., \"password\": ...}"}"#);
        };
        let email = obj.get("email").and_then(Value::as_str).unwrap_or("");
        let password = obj.get("password").and_then(Value::as_str).unwrap_or("");
        if email.is_empty() || password.is_empty() || password == "wrong" {
            return error(401, r#"{"error":"invalid credentials"}"#);
        }
        counters.add_login();
        let token = self.token(email);
        (200, Body::Owned(serde_json::json!({ "token": token, "user": email }).to_string().into_bytes()))
    }

    /// `POST /escrows` by `user`: store the object with a new id, answer it.
    pub(super) fn create(&self, user: &str, body: &[u8], counters: &Counters) -> Reply {
        if body.len() > MAX_ESCROW_BODY {
            return error(413, r#"{"error":"escrow body is larger than 64 KiB"}"#);
        }
        let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(body) else {
            return error(400, r#"{"error":"body must be a JSON object"}"#);
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        fields.insert("id".into(), Value::String(id.to_string()));
        let json: Arc<[u8]> = match serde_json::to_vec(&Value::Object(fields)) {
            Ok(j) => j.into(),
            Err(_) => return error(400, r#"{"error":"body must be a JSON object"}"#),
        };
        let mut evicted = 0;
        {
            let mut shard = self.shards[id as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
            shard.bytes += json.len();
            shard.order.push_back(id);
            shard.map.insert(id, Record { owner: user.into(), json: json.clone() });
            while shard.map.len() > MAX_RECORDS / SHARDS || shard.bytes > MAX_RECORD_BYTES / SHARDS {
                let Some(old) = shard.order.pop_front() else { break };
                if let Some(r) = shard.map.remove(&old) {
                    shard.bytes -= r.json.len();
                    evicted += 1;
                }
            }
        }
        counters.add_records(1, evicted);
        (201, Body::Shared(json))
    }

    /// `GET /escrows/{id}` by `user`.
    pub(super) fn read(&self, user: &str, id: &str) -> Reply {
        let Ok(id) = id.parse::<u64>() else { return error(404, r#"{"error":"no such escrow"}"#) };
        let shard = self.shards[id as usize % SHARDS].lock().unwrap_or_else(|e| e.into_inner());
        match shard.map.get(&id) {
            None => error(404, r#"{"error":"no such escrow"}"#),
            Some(r) if *r.owner != *user => error(403, r#"{"error":"this escrow belongs to another user"}"#),
            Some(r) => (200, Body::Shared(r.json.clone())),
        }
    }
}
