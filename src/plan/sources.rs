//! Where connections come from and where they go: the pool of source addresses (`--source`,
//! `sources = [...]`), which of a name's addresses users connect to (`--dns`), how a user's
//! connection picks both, and the connection ceiling they give (sources × ephemeral ports per
//! destination address and port), all pure.

use std::net::{IpAddr, SocketAddr};

/// Most source addresses one run may name (a /16 of IPv4; an IPv6 /64 would be 2^64).
pub const MAX_SOURCES: usize = 65_536;

/// Which of the addresses a host name resolves to users connect to (`--dns`, `dns = "..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dns {
    /// The first address that answers (the others only when it does not).
    #[default]
    First,
    /// Users spread evenly over every address, in turn.
    RoundRobin,
    /// Each user one address at random.
    Random,
}

impl Dns {
    pub fn parse(s: &str) -> Result<Dns, String> {
        match s.trim() {
            "first" => Ok(Dns::First),
            "round-robin" => Ok(Dns::RoundRobin),
            "random" => Ok(Dns::Random),
            other => Err(format!("`{other}`: use first, round-robin or random")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dns::First => "first",
            Dns::RoundRobin => "round-robin",
            Dns::Random => "random",
        }
    }
}

/// Parse a comma list of addresses, ranges (`10.0.0.2-10.0.0.40`) and CIDR blocks
/// (`10.0.1.0/28`: its hosts, without the network and broadcast addresses of an IPv4 block).
/// Duplicates are kept once, in first-seen order.
pub fn parse(text: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for item in text.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("`{text}`: an empty item in the list of source addresses"));
        }
        item_into(item, &mut out)?;
    }
    let mut seen = std::collections::HashSet::new();
    out.retain(|a| seen.insert(*a));
    if out.is_empty() {
        return Err(format!("`{text}` names no source address"));
    }
    Ok(out)
}

/// One item of the list, appended to `out`.
fn item_into(item: &str, out: &mut Vec<IpAddr>) -> Result<(), String> {
    let room = |out: &Vec<IpAddr>, more: u128| {
        if out.len() as u128 + more > MAX_SOURCES as u128 {
            Err(format!("`{item}`: more than {MAX_SOURCES} source addresses in all; name fewer"))
        } else {
            Ok(())
        }
    };
    if item.contains('/') {
        let net: ipnet::IpNet = item.parse().map_err(|e| format!("`{item}` is not a CIDR block: {e}"))?;
        let bits = net.max_prefix_len() - net.prefix_len();
        room(out, if bits >= 64 { u128::MAX } else { 1u128 << bits })?;
        out.extend(net.hosts());
        return Ok(());
    }
    if let Some((a, b)) = item.split_once('-') {
        let backwards = || format!("`{item}`: the range ends before it starts");
        match (address(a.trim(), item)?, address(b.trim(), item)?) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let size = u32::from(b).checked_sub(u32::from(a)).ok_or_else(backwards)?;
                room(out, u128::from(size) + 1)?;
                out.extend(ipnet::Ipv4AddrRange::new(a, b).map(IpAddr::V4));
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let size = u128::from(b).checked_sub(u128::from(a)).ok_or_else(backwards)?;
                room(out, size.saturating_add(1))?;
                out.extend(ipnet::Ipv6AddrRange::new(a, b).map(IpAddr::V6));
            }
            _ => return Err(format!("`{item}`: a range is IPv4 to IPv4 or IPv6 to IPv6")),
        }
        return Ok(());
    }
    room(out, 1)?;
    out.push(address(item, item)?);
    Ok(())
}

fn address(s: &str, item: &str) -> Result<IpAddr, String> {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    s.parse().map_err(|_| format!("`{item}`: `{s}` is not an IP address"))
}

/// The source and the target address (indices) a connection of user `key` takes: users spread
/// evenly over the sources first, then (round-robin) over the addresses, so every pair of a
/// source and an address carries its share. A user keeps its pair for the run.
pub fn pick(key: u64, sources: usize, addrs: usize, dns: Dns) -> (usize, usize) {
    let s = sources.max(1) as u64;
    let a = addrs.max(1) as u64;
    let addr = match dns {
        Dns::First => 0,
        Dns::RoundRobin => (key / s) % a,
        // A fixed mix of the user's number (splitmix64's finalizer): random, yet the same each
        // time the user reconnects.
        Dns::Random => {
            let mut z = key.wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % a
        }
    };
    ((key % s) as usize, addr as usize)
}

/// What limits the connections to one destination address and port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceiling {
    /// Source addresses (1 without `--source`: whatever address the kernel picks).
    pub sources: usize,
    /// Ephemeral ports, `net.ipv4.ip_local_port_range` (inclusive).
    pub range: (u32, u32),
}

impl Ceiling {
    pub fn ports(&self) -> u64 {
        u64::from(self.range.1.saturating_sub(self.range.0)) + 1
    }

    /// Connections one destination address and port can take from this box.
    pub fn per_destination(&self) -> u64 {
        self.sources.max(1) as u64 * self.ports()
    }

    /// One line for `doctor` and the refusal.
    pub fn describe(&self) -> String {
        let s = self.sources.max(1);
        format!(
            "{s} source address{} × {} ephemeral ports (net.ipv4.ip_local_port_range {} {}) = {} connections per destination address and port",
            if s == 1 { "" } else { "es" },
            self.ports(),
            self.range.0,
            self.range.1,
            self.per_destination()
        )
    }

    /// Refuse `users` connections to `addrs` (a target's addresses, used per `dns`) when a
    /// source would need more ports to one of them than the range has.
    pub fn check(&self, users: u64, addrs: &[SocketAddr], dns: Dns) -> Result<(), String> {
        let s = self.sources.max(1) as u64;
        let used = if dns == Dns::First { 1 } else { addrs.len().max(1) as u64 };
        // Round-robin puts at most ceil(users / (s × used)) users on one pair; random about as
        // many (a small margin is not worth refusing a run over).
        let per_pair = users.div_ceil(s * used);
        if per_pair <= self.ports() {
            return Ok(());
        }
        let to = match addrs {
            [one] => one.to_string(),
            [first, ..] if dns == Dns::First => first.to_string(),
            _ => format!("each of {} addresses ({}, ...)", addrs.len(), addrs[0]),
        };
        let need = users.div_ceil(used);
        let sources_needed = need.div_ceil(self.ports());
        Err(format!(
            "{need} connections to {to} are more than this box can open: {}. Add source addresses \
             (--source, or `sources = [...]` in the file: {sources_needed} or more, e.g. --source 10.0.0.2-10.0.0.{}) \
             or widen the ephemeral port range (sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"); see tuning/",
            self.describe(),
            sources_needed + 1,
        ))
    }
}

/// The advice a connect that ran out of ports (EADDRNOTAVAIL) is counted with.
pub const PORTS_ADVICE: &str = "no local port left for this destination: add source addresses (--source) or widen net.ipv4.ip_local_port_range; see tuning/";

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn lists_ranges_and_blocks_parse() {
        assert_eq!(parse("10.0.0.1").unwrap(), vec![v4("10.0.0.1")]);
        assert_eq!(
            parse("10.0.0.2-10.0.0.4, ::1").unwrap(),
            vec![v4("10.0.0.2"), v4("10.0.0.3"), v4("10.0.0.4"), v4("::1")]
        );
        let block = parse("10.0.1.0/29").unwrap();
        assert_eq!(block.first(), Some(&v4("10.0.1.1")));
        assert_eq!(block.last(), Some(&v4("10.0.1.6")));
        assert_eq!(block.len(), 6);
        assert_eq!(parse("10.0.0.9/32").unwrap(), vec![v4("10.0.0.9")]);
        assert_eq!(parse("fd00::1-fd00::3").unwrap().len(), 3);
        assert_eq!(parse("127.0.0.2,127.0.0.2,127.0.0.3").unwrap().len(), 2);
    }

    #[test]
    fn bad_lists_are_refused_naming_the_item() {
        for (text, says) in [
            ("10.0.0.300", "`10.0.0.300` is not an IP address"),
            ("10.0.0.5-10.0.0.2", "ends before it starts"),
            ("10.0.0.1-::1", "IPv4 to IPv4"),
            ("10.0.0.0/33", "not a CIDR block"),
            ("10.0.0.1,,10.0.0.2", "empty item"),
            ("fd00::/64", "more than 65536"),
            ("10.0.0.0/8", "more than 65536"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(says), "{text}: {e}");
        }
    }

    #[test]
    fn users_spread_evenly_over_every_pair() {
        let mut count = [[0u32; 2]; 3];
        for key in 0..600 {
            let (s, a) = pick(key, 3, 2, Dns::RoundRobin);
            count[s][a] += 1;
        }
        assert_eq!(count, [[100; 2]; 3]);
        assert!((0..100).all(|k| pick(k, 3, 2, Dns::First).1 == 0));
        let random: std::collections::HashSet<usize> = (0..100).map(|k| pick(k, 1, 4, Dns::Random).1).collect();
        assert_eq!(random.len(), 4);
        assert_eq!(pick(7, 3, 4, Dns::Random), pick(7, 3, 4, Dns::Random));
    }

    #[test]
    fn the_ceiling_refuses_what_the_ports_cannot_hold_naming_both_fixes() {
        let dest: Vec<SocketAddr> = vec!["127.0.0.1:80".parse().unwrap()];
        let one = Ceiling { sources: 1, range: (60000, 60499) };
        assert_eq!(one.per_destination(), 500);
        assert!(one.check(500, &dest, Dns::First).is_ok());
        let e = one.check(1200, &dest, Dns::First).unwrap_err();
        for says in [
            "1200 connections to 127.0.0.1:80",
            "1 source address × 500 ephemeral ports",
            "= 500",
            "--source",
            "net.ipv4.ip_local_port_range",
            "3 or more",
        ] {
            assert!(e.contains(says), "{says}: {e}");
        }
        let three = Ceiling { sources: 3, range: (60000, 60499) };
        assert!(three.check(1200, &dest, Dns::First).is_ok());
        let two: Vec<SocketAddr> = vec!["127.0.0.1:80".parse().unwrap(), "127.0.0.2:80".parse().unwrap()];
        assert!(one.check(1000, &two, Dns::RoundRobin).is_ok());
        assert!(one.check(1000, &two, Dns::First).is_err());
    }

    #[test]
    fn dns_modes_parse() {
        assert_eq!(Dns::parse("round-robin"), Ok(Dns::RoundRobin));
        assert_eq!(Dns::parse("first"), Ok(Dns::First));
        assert_eq!(Dns::parse("random"), Ok(Dns::Random));
        assert!(Dns::parse("rr").is_err());
    }
}
