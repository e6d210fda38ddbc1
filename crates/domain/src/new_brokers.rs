//! The ids and racks of the brokers UpdateBrokerCount will add, predicted before they exist, so a
//! reassignment can be planned (and its moves, bytes and ETA shown in the approval email) before
//! anyone approves adding them.
//!
//! What the prediction rests on, and says so in [`Forecast::assumptions`]: MSK numbers a cluster's
//! brokers 1..N and gives added brokers the next ids; it spreads brokers round-robin over the
//! cluster's client subnets, one per AZ (broker `i` in subnet `(i - 1) mod AZs`), and Kafka's
//! `broker.rack` on MSK is the AZ id. So a new broker gets the rack of the existing brokers with
//! the same position in that round-robin. The real plan is always made again from a fresh capture
//! once the brokers have joined; this is only an estimate.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use thiserror::Error;

/// The broker set after the change, as far as it can be known before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forecast {
    /// Every broker after the change: those Kafka lists now plus the predicted ones, ascending.
    pub brokers: Vec<i32>,
    /// The predicted new brokers, ascending (empty when the cluster has the target count already).
    pub added: Vec<i32>,
    /// Rack of every broker in `brokers`; `None` when the current brokers report no racks.
    pub racks: Option<BTreeMap<i32, String>>,
    /// What was assumed, one plain-ASCII sentence each (the approval email shows them).
    pub assumptions: Vec<String>,
}

/// Input no forecast can be made from.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ForecastError {
    #[error("Kafka listed no broker")]
    NoBrokers,
    #[error("the cluster reports 0 availability zones")]
    NoZones,
    #[error("broker id {0} is not a positive number (MSK numbers brokers from 1)")]
    BadBrokerId(i32),
    #[error("broker id {highest} leaves no room for {add} more ids (MSK numbers brokers 1..N)")]
    NoRoomAfter { highest: i32, add: u32 },
}

/// Predicts the brokers after scaling to `target`.
///
/// `current`: the brokers Kafka lists now; `racks`: their racks (every one, or `None`);
/// `cluster_brokers`: MSK's own broker count (DescribeClusterV2), which may exceed what Kafka lists
/// when a broker is down; `az_count`: the cluster's AZs (client subnets).
pub fn forecast(
    current: &[i32],
    racks: Option<&BTreeMap<i32, String>>,
    cluster_brokers: u32,
    target: u32,
    az_count: u32,
) -> Result<Forecast, ForecastError> {
    let now: BTreeSet<i32> = current.iter().copied().collect();
    let (Some(&lowest), Some(&highest_listed)) = (now.first(), now.last()) else {
        return Err(ForecastError::NoBrokers);
    };
    if lowest < 1 {
        return Err(ForecastError::BadBrokerId(lowest));
    }
    if az_count == 0 {
        return Err(ForecastError::NoZones);
    }
    let have = (now.len() as u32).max(cluster_brokers);
    let highest = highest_listed.max(i32::try_from(cluster_brokers).unwrap_or(i32::MAX));
    let add = target.saturating_sub(have);
    // Broker ids come from Kafka's output: the next ids must exist as ids, not wrap or repeat.
    if i32::try_from(add).ok().and_then(|a| highest.checked_add(a)).is_none() {
        return Err(ForecastError::NoRoomAfter { highest, add });
    }
    let added: Vec<i32> = (1..=add).map(|k| highest + k as i32).collect();

    let mut assumptions = Vec::new();
    if added.is_empty() {
        assumptions.push(format!(
            "no broker to add: the cluster has {have} brokers already (target {target}); planned over the brokers Kafka lists"
        ));
    } else {
        assumptions.push(format!(
            "the new brokers get ids {}: MSK numbers brokers 1..N and gives added brokers the next ids",
            ids(&added)
        ));
    }
    if (now.len() as u32) < cluster_brokers {
        assumptions.push(format!(
            "Kafka listed only {} of the cluster's {cluster_brokers} brokers ({}); the estimate plans over those it listed",
            now.len(),
            ids(&now.iter().copied().collect::<Vec<_>>())
        ));
    }

    let racks = match racks {
        Some(r) if now.iter().all(|b| r.contains_key(b)) => {
            let (all, notes) = place(&now, r, &added, az_count);
            assumptions.extend(notes);
            Some(all)
        }
        Some(_) => {
            assumptions.push("some brokers report no rack: the estimate is not rack-aware".to_owned());
            None
        }
        None => None,
    };
    let brokers = now.iter().copied().chain(added.iter().copied()).collect();
    Ok(Forecast { brokers, added, racks, assumptions })
}

/// Racks for the new brokers: the rack of the existing brokers at the same round-robin position,
/// or (when the existing placement does not follow the round-robin) the rack with fewest brokers.
fn place(
    now: &BTreeSet<i32>,
    racks: &BTreeMap<i32, String>,
    added: &[i32],
    az_count: u32,
) -> (BTreeMap<i32, String>, Vec<String>) {
    let az = i64::from(az_count);
    let position = |b: i32| (i64::from(b) - 1).rem_euclid(az);
    // Position → rack, from the existing brokers; a position holding two racks is not round-robin.
    let mut by_position: BTreeMap<i64, Option<&str>> = BTreeMap::new();
    for &b in now {
        let rack = racks[&b].as_str();
        by_position
            .entry(position(b))
            .and_modify(|seen| {
                if *seen != Some(rack) {
                    *seen = None;
                }
            })
            .or_insert(Some(rack));
    }
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for &b in now {
        *count.entry(racks[&b].as_str()).or_insert(0) += 1;
    }
    let distinct = count.len();
    let mut all: BTreeMap<i32, String> = now.iter().map(|&b| (b, racks[&b].clone())).collect();
    let mut by_least = false;
    for &n in added {
        let rack = match by_position.get(&position(n)) {
            Some(Some(r)) if distinct == az_count as usize => *r,
            _ => {
                by_least = true;
                count.iter().min_by_key(|(name, c)| (**c, **name)).map(|(name, _)| *name).unwrap_or_default()
            }
        };
        *count.entry(rack).or_insert(0) += 1;
        all.insert(n, rack.to_owned());
    }
    let mut notes = Vec::new();
    if !added.is_empty() {
        let placed: Vec<String> = added.iter().map(|b| format!("{b} in {}", ascii(&all[b]))).collect();
        let how = if by_least {
            "each in the rack with the fewest brokers".to_owned()
        } else {
            format!(
                "round-robin over the cluster's {az_count} AZs, as MSK placed brokers {}",
                ids(&Vec::from_iter(now.iter().copied()))
            )
        };
        notes.push(format!("racks of the new brokers: {} ({how})", placed.join(", ")));
    }
    if distinct != az_count as usize {
        notes.push(format!("the brokers report {distinct} racks but the cluster spans {az_count} AZs"));
    }
    (all, notes)
}

/// `3, 4` or, for long runs, `3..14`.
fn ids(list: &[i32]) -> String {
    let contiguous = list.windows(2).all(|w| w[0].checked_add(1) == Some(w[1]));
    match list {
        [first, .., last] if list.len() > 6 && contiguous => format!("{first}..{last}"),
        _ => list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// A rack name as printable ASCII (the email is plain ASCII; rack names are free text in Kafka).
fn ascii(s: &str) -> String {
    s.chars().take(64).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn racks(pairs: &[(i32, &str)]) -> BTreeMap<i32, String> {
        pairs.iter().map(|(b, r)| (*b, (*r).to_owned())).collect()
    }

    #[test]
    fn ids_at_the_top_of_the_range_are_refused_not_wrapped() {
        let top = i32::MAX;
        assert_eq!(forecast(&[top], None, 1, 2, 1), Err(ForecastError::NoRoomAfter { highest: top, add: 1 }));
        assert_eq!(
            forecast(&[1], None, 1, u32::MAX, 1),
            Err(ForecastError::NoRoomAfter { highest: 1, add: u32::MAX - 1 })
        );
        let f = forecast(&[top - 1], None, 1, 2, 1).unwrap();
        assert_eq!(f.added, vec![top]);
        assert_eq!(ids(&[top - 1, top, 1, 2, 3, 4, 5]), "2147483646, 2147483647, 1, 2, 3, 4, 5");
    }

    #[test]
    fn two_brokers_over_two_azs_get_the_next_ids_round_robin() {
        let r = racks(&[(1, "use1-az1"), (2, "use1-az2")]);
        let f = forecast(&[2, 1], Some(&r), 2, 4, 2).unwrap();
        assert_eq!(f.brokers, vec![1, 2, 3, 4]);
        assert_eq!(f.added, vec![3, 4]);
        let got = f.racks.unwrap();
        assert_eq!((got[&3].as_str(), got[&4].as_str()), ("use1-az1", "use1-az2"));
        let text = f.assumptions.join("\n");
        assert!(text.contains("the new brokers get ids 3, 4: MSK numbers brokers 1..N"), "{text}");
        assert!(text.contains("3 in use1-az1, 4 in use1-az2 (round-robin over the cluster's 2 AZs"), "{text}");
    }

    #[test]
    fn the_round_robin_follows_where_msk_put_the_existing_brokers() {
        // Subnet order is not alphabetical: broker 1 is in az3.
        let r = racks(&[(1, "use1-az3"), (2, "use1-az1"), (3, "use1-az2")]);
        let f = forecast(&[1, 2, 3], Some(&r), 3, 6, 3).unwrap();
        let got = f.racks.unwrap();
        assert_eq!([4, 5, 6].map(|b| got[&b].clone()), ["use1-az3", "use1-az1", "use1-az2"].map(String::from));
    }

    #[test]
    fn a_placement_that_is_not_round_robin_falls_back_to_the_emptiest_rack() {
        // Brokers 1 and 3 share a position but not a rack: position tells nothing.
        let r = racks(&[(1, "a"), (2, "a"), (3, "b"), (4, "b")]);
        let f = forecast(&[1, 2, 3, 4], Some(&r), 4, 6, 2).unwrap();
        let got = f.racks.unwrap();
        assert_ne!(got[&5], got[&6], "one per rack");
        assert!(f.assumptions.iter().any(|a| a.contains("rack with the fewest brokers")), "{:?}", f.assumptions);
    }

    #[test]
    fn a_broker_missing_from_kafka_still_counts_for_the_next_ids() {
        let r = racks(&[(1, "az1"), (3, "az1"), (4, "az2")]);
        let f = forecast(&[1, 3, 4], Some(&r), 4, 6, 2).unwrap();
        assert_eq!(f.added, vec![5, 6]);
        assert_eq!(f.brokers, vec![1, 3, 4, 5, 6]);
        assert!(f.assumptions.iter().any(|a| a.contains("Kafka listed only 3 of the cluster's 4 brokers (1, 3, 4)")));
    }

    #[test]
    fn at_target_nothing_is_added_and_without_racks_none_are_invented() {
        let f = forecast(&[1, 2, 3, 4], None, 4, 4, 2).unwrap();
        assert!(f.added.is_empty() && f.racks.is_none());
        assert!(f.assumptions[0].starts_with("no broker to add"), "{:?}", f.assumptions);
        let partial = racks(&[(1, "az1")]);
        let f = forecast(&[1, 2], Some(&partial), 2, 4, 2).unwrap();
        assert!(f.racks.is_none() && f.assumptions.iter().any(|a| a.contains("not rack-aware")));
    }

    #[test]
    fn nonsense_is_refused() {
        assert_eq!(forecast(&[], None, 0, 4, 2), Err(ForecastError::NoBrokers));
        assert_eq!(forecast(&[0, 1], None, 2, 4, 2), Err(ForecastError::BadBrokerId(0)));
        assert_eq!(forecast(&[1, 2], None, 2, 4, 0), Err(ForecastError::NoZones));
    }

    #[test]
    fn assumptions_are_plain_ascii() {
        let r = racks(&[(1, "zone-\u{e9}\n1"), (2, "z2")]);
        let f = forecast(&[1, 2], Some(&r), 2, 4, 2).unwrap();
        assert!(f.assumptions.iter().all(|a| a.is_ascii() && !a.contains('\n')), "{:?}", f.assumptions);
        assert_eq!(ids(&(3..=14).collect::<Vec<_>>()), "3..14");
    }

    proptest! {
        /// From MSK's own round-robin layout, the forecast is MSK's layout at the target: ids 1..target,
        /// every broker in the rack of its position, racks balanced to within one broker.
        #[test]
        fn from_a_round_robin_layout_the_forecast_is_the_round_robin_layout(az in 1u32..=3, per_az in 1u32..=4, step in 0u32..=3) {
            let names = ["use1-az4", "use1-az1", "use1-az6"];
            let n = az * per_az;
            let current: Vec<i32> = (1..=n as i32).collect();
            let r: BTreeMap<i32, String> =
                current.iter().map(|&b| (b, names[((b - 1) as u32 % az) as usize].to_owned())).collect();
            let target = n + step * az;
            let f = forecast(&current, Some(&r), n, target, az).unwrap();
            prop_assert_eq!(&f.brokers, &(1..=target as i32).collect::<Vec<_>>());
            let got = f.racks.unwrap();
            for b in 1..=target as i32 {
                prop_assert_eq!(got[&b].as_str(), names[((b - 1) as u32 % az) as usize]);
            }
            let mut per_rack: BTreeMap<&str, u32> = BTreeMap::new();
            for rack in got.values() { *per_rack.entry(rack).or_insert(0) += 1; }
            let (lo, hi) = (per_rack.values().min().unwrap(), per_rack.values().max().unwrap());
            prop_assert!(hi - lo <= 1);
        }
    }
}
