//! Per-broker replica targets and the movement lower bound.
//!
//! With R replicas on M listed brokers every balanced assignment (spread ≤ 1) gives each broker
//! ⌊R/M⌋ or ⌈R/M⌉ replicas, R mod M of them the larger. A broker holding c_b replicas and ending
//! with t_b must lose at least c_b − t_b, and a replica move takes one replica off one broker, so
//! moves ≥ Σ_b max(0, c_b − t_b). That sum is smallest when the R mod M extra slots go to the
//! brokers holding most now (each extra slot on a broker with c_b > ⌊R/M⌋ saves exactly one move),
//! which is the definition of the bound.
//!
//! Racks can make those targets impossible: a partition with RF ≤ racks may put at most one
//! replica in a rack, one with RF ≥ racks needs at least one in every rack, so a rack's load is
//! bounded by [`RackBounds`]. When the unconstrained targets break those bounds we choose, among
//! balanced targets whose rack sums respect them, the ones with the smallest Σ max(0, c_b − t_b):
//! each rack first gets the extra slots it must have (on its most-loaded brokers), then the rest go
//! to the most-loaded brokers whose rack may still take one. That sum is the *rack-feasible lower
//! bound*: a lower bound on the moves of any balanced, rack-valid plan (the rack bounds are
//! necessary conditions), reported next to the unconstrained one. When even the rack sums of a
//! balanced assignment are out of reach (racks of very different sizes) no balanced plan exists;
//! rack loads are then water-filled within their bounds and brokers balanced inside each rack.

use crate::layout::Layout;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Targets {
    /// Target replicas per broker index (unlisted brokers: 0).
    pub t: Vec<u64>,
    /// Σ max(0, c_b − t_b) with the targets (extra slots on the most-loaded brokers).
    pub unconstrained_bound: u64,
    /// Σ max(0, c_b − t_b) with `t` (equal to the above when racks do not bind).
    pub bound: u64,
    /// False when racks make a replica spread ≤ 1 impossible.
    pub balanced: bool,
}

/// Lower and upper bound on one rack's replica count in any rack-valid assignment.
#[derive(Debug, Clone, Copy)]
struct RackBounds {
    lo: u64,
    hi: u64,
}

fn rack_bounds(l: &Layout) -> Vec<RackBounds> {
    let k = l.k() as u64;
    l.rack_size
        .iter()
        .map(|&nb| {
            let nb = nb as u64;
            let (mut lo, mut hi) = (0u64, 0u64);
            for p in 0..l.partitions() {
                let rf = (l.off[p + 1] - l.off[p]) as u64;
                if rf >= k {
                    lo += 1;
                }
                hi += nb.min(if rf <= k { 1 } else { rf - (k - 1) });
            }
            RackBounds { lo, hi }
        })
        .collect()
}

pub(crate) fn compute(l: &Layout, c: &[u64]) -> Targets {
    let m = l.m as u64;
    let r: u64 = c.iter().sum();
    let (f, e) = (r / m, (r % m) as usize);
    // Most loaded first; ties by broker id so the result is deterministic.
    let mut order: Vec<usize> = (0..l.m).collect();
    order.sort_by(|&a, &b| c[b].cmp(&c[a]).then(l.ids[a].cmp(&l.ids[b])));

    let mut free = vec![f; l.n()];
    free[l.m..].iter_mut().for_each(|x| *x = 0);
    for &b in order.iter().take(e) {
        free[b] += 1;
    }
    let unconstrained_bound = excess(c, &free);
    if l.k() == 0 {
        return Targets { t: free, unconstrained_bound, bound: unconstrained_bound, balanced: true };
    }

    let bounds = rack_bounds(l);
    let k = l.k();
    let base: Vec<u64> = l.rack_size.iter().map(|&nb| nb as u64 * f).collect();
    let fits = (0..k).all(|q| {
        let sum: u64 = (0..l.m).filter(|&b| l.rack[b] as usize == q).map(|b| free[b]).sum();
        sum >= bounds[q].lo && sum <= bounds[q].hi
    });
    if fits {
        return Targets { t: free, unconstrained_bound, bound: unconstrained_bound, balanced: true };
    }

    // Extra slots each rack must / may take.
    let lo: Vec<u64> = (0..k).map(|q| bounds[q].lo.saturating_sub(base[q])).collect();
    let hi: Vec<u64> = (0..k).map(|q| (l.rack_size[q] as u64).min(bounds[q].hi.saturating_sub(base[q]))).collect();
    let feasible = (0..k).all(|q| lo[q] <= hi[q] && base[q] <= bounds[q].hi)
        && lo.iter().sum::<u64>() <= e as u64
        && hi.iter().sum::<u64>() >= e as u64;
    let mut t = vec![0u64; l.n()];
    if feasible {
        let mut given = vec![0u64; k];
        for b in 0..l.m {
            t[b] = f;
        }
        for &b in &order {
            let q = l.rack[b] as usize;
            if given[q] < lo[q] {
                t[b] += 1;
                given[q] += 1;
            }
        }
        let mut left = e as u64 - given.iter().sum::<u64>();
        for &b in &order {
            let q = l.rack[b] as usize;
            if left > 0 && t[b] == f && given[q] < hi[q] {
                t[b] += 1;
                given[q] += 1;
                left -= 1;
            }
        }
        let bound = excess(c, &t);
        return Targets { t, unconstrained_bound, bound, balanced: true };
    }

    // No balanced rack-valid assignment exists: water-fill rack loads within their bounds,
    // proportional to rack size, then balance brokers inside each rack.
    let mut load: Vec<u64> =
        (0..k).map(|q| (r * l.rack_size[q] as u64 / m).clamp(bounds[q].lo, bounds[q].hi.max(bounds[q].lo))).collect();
    let mut total: u64 = load.iter().sum();
    while total < r {
        // Give to the rack with the lowest per-broker load that can still grow.
        let Some(q) = (0..k)
            .filter(|&q| load[q] < bounds[q].hi)
            .min_by(|&a, &b| (load[a] * l.rack_size[b] as u64).cmp(&(load[b] * l.rack_size[a] as u64)))
        else {
            break;
        };
        load[q] += 1;
        total += 1;
    }
    while total > r {
        let Some(q) = (0..k)
            .filter(|&q| load[q] > bounds[q].lo)
            .max_by(|&a, &b| (load[a] * l.rack_size[b] as u64).cmp(&(load[b] * l.rack_size[a] as u64)))
        else {
            break;
        };
        load[q] -= 1;
        total -= 1;
    }
    for q in 0..k {
        let members: Vec<usize> = order.iter().copied().filter(|&b| l.rack[b] as usize == q).collect();
        let nb = members.len() as u64;
        if nb == 0 {
            continue;
        }
        for (i, &b) in members.iter().enumerate() {
            t[b] = load[q] / nb + u64::from((i as u64) < load[q] % nb);
        }
    }
    let bound = excess(c, &t);
    Targets { t, unconstrained_bound, bound, balanced: false }
}

pub(crate) fn excess(c: &[u64], t: &[u64]) -> u64 {
    c.iter().zip(t).map(|(c, t)| c.saturating_sub(*t)).sum()
}
