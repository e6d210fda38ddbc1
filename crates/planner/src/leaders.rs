//! Preferred-leader balancing by reordering replica lists: no data moves, only which replica is
//! listed first.
//!
//! Targets: P partitions over M brokers, λ_b ∈ {⌊P/M⌋, ⌈P/M⌉}, the P mod M larger targets on the
//! brokers that can keep the most of their current leaderships. RF-1 partitions pin their leader;
//! when pins alone push a broker over ⌈P/M⌉ spread ≤ 1 is impossible and that broker's target is
//! its pin count (the others shrink to compensate).
//!
//! Lower bound (`leader_lower_bound`): a partition whose old leader no longer holds a replica must
//! change leader (forced); a broker that could keep k_b leaderships keeps at most λ_b, so
//! changes ≥ forced + Σ_b max(0, k_b − λ_b). The plan keeps every keepable leader it can, gives
//! forced partitions to the replica with most room, then hands each surplus leadership directly to
//! an under-target follower — one change per unit of surplus, which is the bound — and falls back
//! to the shortest chain of hand-overs only when no direct one exists.

use std::collections::VecDeque;

use crate::layout::Layout;

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub(crate) struct LeaderResult {
    pub lower_bound: u64,
    pub chain_extra: u64,
}

/// Reorders each replica list of `l` so its first entry is the chosen leader.
/// `old_leader[p]` is the broker index listed first before planning.
pub(crate) fn balance_leaders(l: &mut Layout, old_leader: &[u32]) -> LeaderResult {
    let parts = l.partitions();
    let m = l.m;
    let n = l.n();
    let mut keep = vec![NONE; parts];
    let mut keepable = vec![0u64; n];
    let mut pinned = vec![0u64; n];
    let mut forced = 0u64;
    for p in 0..parts {
        let reps = l.replicas(p);
        if reps.contains(&old_leader[p]) {
            keep[p] = old_leader[p];
            keepable[old_leader[p] as usize] += 1;
        } else {
            forced += 1;
        }
        if reps.len() == 1 {
            pinned[reps[0] as usize] += 1;
        }
    }

    let lambda = targets(l, parts as u64, &keepable, &pinned);
    let lower_bound = forced + (0..m).map(|b| keepable[b].saturating_sub(lambda[b])).sum::<u64>();

    // Start from every keepable leader kept; forced ones go to the replica with most room.
    let mut leader = keep;
    let mut led = vec![0u64; n];
    for p in 0..parts {
        if leader[p] != NONE {
            led[leader[p] as usize] += 1;
        }
    }
    for p in 0..parts {
        if leader[p] == NONE {
            let best = *l
                .replicas(p)
                .iter()
                .max_by_key(|&&u| (lambda[u as usize] as i64 - led[u as usize] as i64, std::cmp::Reverse(l.ids[u as usize])))
                .expect("partitions have replicas");
            leader[p] = best;
            led[best as usize] += 1;
        }
    }

    // Partitions led by each over-target broker, cheapest hand-overs first (already changed ones
    // cost nothing more).
    let mut by_leader: Vec<Vec<u32>> = vec![Vec::new(); n];
    for p in 0..parts {
        let b = leader[p] as usize;
        if led[b] > lambda[b] && l.replicas(p).len() > 1 {
            by_leader[b].push(p as u32);
        }
    }
    let mut chain_extra = 0;
    for b in 0..n {
        if led[b] <= lambda[b] {
            continue;
        }
        let mut list = std::mem::take(&mut by_leader[b]);
        list.sort_by_key(|&p| (leader[p as usize] == old_leader[p as usize], p));
        for &p in &list {
            if led[b] <= lambda[b] {
                break;
            }
            let p = p as usize;
            if leader[p] != b as u32 {
                continue;
            }
            let dest = l
                .replicas(p)
                .iter()
                .copied()
                .filter(|&u| u != b as u32 && led[u as usize] < lambda[u as usize])
                .max_by_key(|&u| (lambda[u as usize] - led[u as usize], std::cmp::Reverse(l.ids[u as usize])));
            if let Some(u) = dest {
                leader[p] = u;
                led[b] -= 1;
                led[u as usize] += 1;
            }
        }
        while led[b] > lambda[b] {
            match chain(l, &leader, &led, &lambda, b as u32) {
                Some(path) => {
                    chain_extra += path.len() as u64 - 1;
                    for &(p, from, to) in &path {
                        leader[p as usize] = to;
                        led[from as usize] -= 1;
                        led[to as usize] += 1;
                    }
                }
                None => break,
            }
        }
    }

    for p in 0..parts {
        let r = l.range(p);
        let pos = l.rep[r.clone()].iter().position(|&x| x == leader[p]).expect("leader is a replica");
        // Move the leader to the front, keeping the others in order.
        l.rep[r.start..=r.start + pos].rotate_right(1);
    }
    LeaderResult { lower_bound, chain_extra }
}

fn targets(l: &Layout, parts: u64, keepable: &[u64], pinned: &[u64]) -> Vec<u64> {
    let m = l.m;
    let (f, e) = (parts / m as u64, (parts % m as u64) as usize);
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| {
        pinned[b].max(keepable[b]).cmp(&pinned[a].max(keepable[a])).then(l.ids[a].cmp(&l.ids[b]))
    });
    let mut lambda = vec![0u64; l.n()];
    for b in 0..m {
        lambda[b] = f;
    }
    for &b in order.iter().take(e) {
        lambda[b] += 1;
    }
    // Pins beyond the target: raise that broker, take the surplus from the others (least
    // keepable first) so the targets still sum to the partition count.
    let mut surplus: u64 = 0;
    for b in 0..m {
        if pinned[b] > lambda[b] {
            surplus += pinned[b] - lambda[b];
            lambda[b] = pinned[b];
        }
    }
    for &b in order.iter().rev() {
        if surplus == 0 {
            break;
        }
        let give = lambda[b].saturating_sub(pinned[b]).min(surplus);
        lambda[b] -= give;
        surplus -= give;
    }
    lambda
}

/// Shortest chain of leadership hand-overs from `b` to a broker below target.
fn chain(l: &Layout, leader: &[u32], led: &[u64], lambda: &[u64], b: u32) -> Option<Vec<(u32, u32, u32)>> {
    let n = l.n();
    let mut by_leader: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (p, &x) in leader.iter().enumerate() {
        if l.replicas(p).len() > 1 {
            by_leader[x as usize].push(p as u32);
        }
    }
    let mut prev: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut seen = vec![false; n];
    seen[b as usize] = true;
    let mut queue = VecDeque::from([b]);
    while let Some(x) = queue.pop_front() {
        for &p in &by_leader[x as usize] {
            for &y in l.replicas(p as usize) {
                if seen[y as usize] || (y as usize) >= l.m {
                    continue;
                }
                seen[y as usize] = true;
                prev[y as usize] = Some((x, p));
                if led[y as usize] < lambda[y as usize] {
                    let mut path = Vec::new();
                    let mut cur = y;
                    while let Some((from, p)) = prev[cur as usize] {
                        path.push((p, from, cur));
                        cur = from;
                    }
                    path.reverse();
                    return Some(path);
                }
                queue.push_back(y);
            }
        }
    }
    None
}
