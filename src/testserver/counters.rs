//! The target's own request counts: one `AtomicU64` per (method, route pattern) per server
//! thread, so counting a request takes no lock and no allocation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Methods counted by name; anything else is counted as `OTHER`.
pub(super) const METHODS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "OTHER"];

/// Index of `method` in [`METHODS`].
pub(super) fn method_index(method: &str) -> usize {
    match method {
        "GET" => 0,
        "POST" => 1,
        "PUT" => 2,
        "DELETE" => 3,
        "PATCH" => 4,
        "HEAD" => 5,
        "OPTIONS" => 6,
        _ => 7,
    }
}

/// The route patterns the target knows (`/stats` is not counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Route {
    Root,
    Status,
    Delay,
    Bytes,
    Chunked,
    Echo,
    Close,
    Login,
    Escrows,
    Escrow,
    Api,
    Stall,
    Capacity,
    Unmatched,
    Schedule,
}

/// Pattern of each [`Route`], in declaration order; ids and names are replaced by `:id`/`:name`.
pub(super) const ROUTES: [&str; 15] = [
    "/",
    "/status",
    "/delay",
    "/bytes",
    "/chunked",
    "/echo",
    "/close",
    "/auth/login",
    "/escrows",
    "/escrows/:id",
    "/api/:name",
    "/stall",
    "/capacity",
    "/*",
    "/schedule",
];

const SLOTS: usize = METHODS.len() * ROUTES.len();

/// One server thread's counts, on cache lines of its own.
#[derive(Debug)]
#[repr(align(128))]
struct Shard {
    slots: [AtomicU64; SLOTS],
}

impl Shard {
    fn new() -> Shard {
        Shard { slots: std::array::from_fn(|_| AtomicU64::new(0)) }
    }
}

/// Request counts the server keeps, by route, so tests can compare with what the client saw.
#[derive(Debug)]
pub struct Counters {
    /// Every request answered (except `GET /stats`).
    pub requests: AtomicU64,
    misuse: AtomicU64,
    logins: AtomicU64,
    records: AtomicU64,
    shards: Box<[Shard]>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters::with_shards(1)
    }
}

impl Counters {
    /// Counters with `n` per-thread shards (thread `i` counts into shard `i % n`).
    pub fn with_shards(n: usize) -> Counters {
        Counters {
            requests: AtomicU64::new(0),
            misuse: AtomicU64::new(0),
            logins: AtomicU64::new(0),
            records: AtomicU64::new(0),
            shards: (0..n.max(1)).map(|_| Shard::new()).collect(),
        }
    }

    /// Count one request of `method` (an index in [`METHODS`]) to `route`.
    #[inline]
    pub(super) fn count(&self, shard: usize, method: usize, route: Route) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let shard = &self.shards[shard % self.shards.len()];
        shard.slots[method * ROUTES.len() + route as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn add_misuse(&self) {
        self.misuse.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn add_login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn add_records(&self, added: u64, removed: u64) {
        if added > 0 {
            self.records.fetch_add(added, Ordering::Relaxed);
        }
        if removed > 0 {
            self.records.fetch_sub(removed, Ordering::Relaxed);
        }
    }

    /// 401, 403 and 404 answers of the stateful API (`/auth/login`, `/escrows`,
    /// `/escrows/:id`): a correct client journey produces none.
    pub fn misuse(&self) -> u64 {
        self.misuse.load(Ordering::Relaxed)
    }

    /// Successful logins.
    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    /// Escrow records held now (created, minus any evicted to bound memory).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    fn slot_total(&self, slot: usize) -> u64 {
        self.shards.iter().map(|s| s.slots[slot].load(Ordering::Relaxed)).sum()
    }

    /// Requests to one route, keyed as in [`Counters::by_route`] (`"GET /escrows/:id"`);
    /// 0 for a key the target does not know.
    pub fn route(&self, key: &str) -> u64 {
        let Some((method, pattern)) = key.trim().split_once(' ') else { return 0 };
        let Some(m) = METHODS.iter().position(|&x| x == method) else { return 0 };
        let Some(r) = ROUTES.iter().position(|&x| x == pattern.trim()) else { return 0 };
        self.slot_total(m * ROUTES.len() + r)
    }

    /// Requests per route, by method and route pattern (`GET /bytes`, `POST /escrows`,
    /// `GET /escrows/:id`, `GET /*` for paths no route matched); routes never hit are left out.
    pub fn by_route(&self) -> BTreeMap<String, u64> {
        let mut map = BTreeMap::new();
        for (m, method) in METHODS.iter().enumerate() {
            for (r, pattern) in ROUTES.iter().enumerate() {
                let n = self.slot_total(m * ROUTES.len() + r);
                if n > 0 {
                    map.insert(format!("{method} {pattern}"), n);
                }
            }
        }
        map
    }

    /// The `/stats` document.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "routes": self.by_route(),
            "misuse": self.misuse(),
            "logins": self.logins(),
            "records": self.records(),
        })
        .to_string()
    }
}
