//! Where the connections went, in the result document: `generator.sources` (each source address
//! and the connections opened from it) and `generator.targets` (each address a target's name
//! resolved to, with its share of the target's connections), built from the run's counters and
//! summed when shards are merged.

use serde::{Deserialize, Serialize};

use crate::plan::Plan;
use crate::stats::Stats;

/// One source address (`--source`) and the connections opened from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceUse {
    pub address: String,
    pub connections: u64,
}

/// One address of a target and the connections opened to it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressUse {
    /// The target's URL.
    pub target: String,
    /// `ip:port`.
    pub address: String,
    pub connections: u64,
    /// Its part of the target's connections, percent.
    pub share_percent: f64,
}

/// Each source of the plan with its connections (empty without `--source`).
pub fn sources(plan: &Plan, stats: &Stats) -> Vec<SourceUse> {
    plan.sources
        .iter()
        .enumerate()
        .map(|(i, a)| SourceUse {
            address: a.to_string(),
            connections: stats.from_sources.get(i).copied().unwrap_or(0),
        })
        .collect()
}

/// Each address of each target with its connections and share.
pub fn targets(plan: &Plan, stats: &Stats) -> Vec<AddressUse> {
    let mut out = Vec::new();
    for (t, target) in plan.targets.iter().enumerate() {
        let counts = stats.to_addrs.get(t).map(Vec::as_slice).unwrap_or(&[]);
        let uses: Vec<AddressUse> = target
            .addrs
            .iter()
            .enumerate()
            .map(|(i, a)| AddressUse {
                target: target.url.clone(),
                address: a.to_string(),
                connections: counts.get(i).copied().unwrap_or(0),
                share_percent: 0.0,
            })
            .collect();
        out.extend(with_shares(uses));
    }
    out
}

/// Fill in each address's share of its target's connections.
fn with_shares(mut uses: Vec<AddressUse>) -> Vec<AddressUse> {
    let all: u64 = uses.iter().map(|u| u.connections).sum();
    for u in &mut uses {
        u.share_percent = if all == 0 { 0.0 } else { (u.connections as f64 * 10_000.0 / all as f64).round() / 100.0 };
    }
    uses
}

/// The shards' sources together: connections summed by address, in first-seen order.
pub fn merge_sources<'a>(all: impl Iterator<Item = &'a [SourceUse]>) -> Vec<SourceUse> {
    let mut out: indexmap::IndexMap<String, u64> = indexmap::IndexMap::new();
    for s in all.flatten() {
        *out.entry(s.address.clone()).or_default() += s.connections;
    }
    out.into_iter().map(|(address, connections)| SourceUse { address, connections }).collect()
}

/// The shards' target addresses together: connections summed, shares again per target.
pub fn merge_targets<'a>(all: impl Iterator<Item = &'a [AddressUse]>) -> Vec<AddressUse> {
    let mut by: indexmap::IndexMap<(String, String), u64> = indexmap::IndexMap::new();
    for a in all.flatten() {
        *by.entry((a.target.clone(), a.address.clone())).or_default() += a.connections;
    }
    let mut grouped: indexmap::IndexMap<String, Vec<AddressUse>> = indexmap::IndexMap::new();
    for ((target, address), connections) in by {
        let u = AddressUse { target: target.clone(), address, connections, share_percent: 0.0 };
        grouped.entry(target).or_default().push(u);
    }
    grouped.into_values().flat_map(with_shares).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(address: &str, connections: u64) -> AddressUse {
        AddressUse { target: "http://svc".into(), address: address.into(), connections, share_percent: 0.0 }
    }

    #[test]
    fn shards_sum_by_address_and_shares_are_taken_again() {
        let a = vec![at("10.0.0.1:80", 30), at("10.0.0.2:80", 10)];
        let b = vec![at("10.0.0.2:80", 20)];
        let m = merge_targets([a.as_slice(), b.as_slice()].into_iter());
        assert_eq!(
            m.iter().map(|u| (u.connections, u.share_percent)).collect::<Vec<_>>(),
            vec![(30, 50.0), (30, 50.0)]
        );
        let s1 = vec![SourceUse { address: "10.0.0.9".into(), connections: 4 }];
        let s2 = vec![SourceUse { address: "10.0.0.9".into(), connections: 6 }];
        assert_eq!(merge_sources([s1.as_slice(), s2.as_slice()].into_iter())[0].connections, 10);
    }
}
