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
/// `old_leader[p]` is the broker index listed first before planning. `lagging(p, b)`: broker `b`
/// held an out-of-sync replica of `p` when captured; among equally good choices such a replica is
/// never preferred as leader (a preferred election cannot elect it until it catches up).
pub(crate) fn balance_leaders(
    l: &mut Layout,
    old_leader: &[u32],
    lagging: &dyn Fn(usize, u32) -> bool,
) -> LeaderResult {
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

    // The bound is over balanced outcomes (extras on the most-keepable brokers minimise it); the
    // working targets below may differ when pins make balance impossible.
    let pure = targets(l, parts as u64, &keepable, &vec![0; n]);
    let lower_bound = forced + (0..m).map(|b| keepable[b].saturating_sub(pure[b])).sum::<u64>();

    // Balanced means every broker ends with ⌊P/M⌋ or ⌈P/M⌉ leaders; which brokers take the
    // larger count is left open (Σ = P makes exactly P mod M of them do so). Pins can force a
    // broker higher, then its ceiling is its pin count.
    let f = parts as u64 / m as u64;
    let lo: Vec<u64> = (0..n).map(|b| if b < m { f } else { 0 }).collect();
    let hi: Vec<u64> = (0..n).map(|b| if b < m { (f + 1).max(pinned[b]) } else { 0 }).collect();

    // Start from every keepable leader kept; forced ones go to the replica furthest below.
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
                .min_by_key(|&&u| (lagging(p, u), led[u as usize] as i64 - lo[u as usize] as i64, l.ids[u as usize]))
                .expect("partitions have replicas");
            leader[p] = best;
            led[best as usize] += 1;
        }
    }

    let mut by_replica: Vec<Vec<u32>> = vec![Vec::new(); n];
    for p in 0..parts {
        if l.range(p).len() > 1 {
            for &b in l.replicas(p) {
                by_replica[b as usize].push(p as u32);
            }
        }
    }
    // A hand-over of an unchanged partition costs a change; of an already changed one, nothing.
    let cost = |p: usize, leader: &[u32]| u8::from(leader[p] == old_leader[p]);
    let mut chain_extra = 0;

    // Push: brokers above their ceiling hand leadership to followers below theirs, those below
    // their floor first.
    for b in 0..n {
        if led[b] <= hi[b] {
            continue;
        }
        let mut list: Vec<u32> = by_replica[b].iter().copied().filter(|&p| leader[p as usize] == b as u32).collect();
        list.sort_by_key(|&p| (cost(p as usize, &leader), p));
        for &p in &list {
            if led[b] <= hi[b] {
                break;
            }
            let p = p as usize;
            let dest = l
                .replicas(p)
                .iter()
                .copied()
                .filter(|&u| u != b as u32 && led[u as usize] < hi[u as usize])
                .min_by_key(|&u| {
                    (led[u as usize] >= lo[u as usize], lagging(p, u), led[u as usize], l.ids[u as usize])
                });
            if let Some(u) = dest {
                leader[p] = u;
                led[b] -= 1;
                led[u as usize] += 1;
            }
        }
        while led[b] > hi[b] {
            let Some(path) = bfs(l, &by_replica, &leader, b as u32, |y| led[y] < hi[y], true) else { break };
            chain_extra += path.len() as u64 - 1;
            apply(&path, &mut leader, &mut led);
        }
    }
    // Pull: brokers below their floor take leadership from leaders above theirs.
    for u in 0..m {
        if led[u] >= lo[u] {
            continue;
        }
        let mut list: Vec<u32> = by_replica[u].iter().copied().filter(|&p| leader[p as usize] != u as u32).collect();
        list.sort_by_key(|&p| {
            (
                cost(p as usize, &leader),
                lagging(p as usize, u as u32),
                std::cmp::Reverse(led[leader[p as usize] as usize]),
                p,
            )
        });
        for &p in &list {
            if led[u] >= lo[u] {
                break;
            }
            let p = p as usize;
            let x = leader[p] as usize;
            if led[x] > lo[x] {
                leader[p] = u as u32;
                led[x] -= 1;
                led[u] += 1;
            }
        }
        while led[u] < lo[u] {
            let Some(path) = bfs(l, &by_replica, &leader, u as u32, |x| led[x] > lo[x], false) else { break };
            chain_extra += path.len() as u64 - 1;
            apply(&path, &mut leader, &mut led);
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
    // Extra slots: brokers whose pins need one first, then the most keepable.
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| {
        (pinned[b] > f).cmp(&(pinned[a] > f)).then(keepable[b].cmp(&keepable[a])).then(l.ids[a].cmp(&l.ids[b]))
    });
    let mut lambda = vec![0u64; l.n()];
    for b in 0..m {
        lambda[b] = f;
    }
    for &b in order.iter().take(e) {
        lambda[b] += 1;
    }
    // Pins beyond the target: raise that broker and take the surplus back from the others, extra
    // slots first, least keepable first, so the targets still sum to the partition count.
    let mut surplus: u64 = 0;
    for b in 0..m {
        if pinned[b] > lambda[b] {
            surplus += pinned[b] - lambda[b];
            lambda[b] = pinned[b];
        }
    }
    for floor in [f, 0] {
        for &b in order.iter().rev() {
            if surplus == 0 {
                break;
            }
            let give = lambda[b].saturating_sub(pinned[b].max(floor)).min(surplus);
            lambda[b] -= give;
            surplus -= give;
        }
    }
    lambda
}

fn apply(path: &[(u32, u32, u32)], leader: &mut [u32], led: &mut [u64]) {
    for &(p, from, to) in path {
        leader[p as usize] = to;
        led[from as usize] -= 1;
        led[to as usize] += 1;
    }
}

/// Shortest chain of leadership hand-overs. Forward (`push`): from `start`, through partitions it
/// leads to their followers, until a broker `done` accepts. Backward: from `start`, through
/// partitions it follows back to their leaders, until a broker `done` can give one up. Returns the
/// hand-overs in the order they apply, as (partition, from, to).
fn bfs(
    l: &Layout,
    by_replica: &[Vec<u32>],
    leader: &[u32],
    start: u32,
    done: impl Fn(usize) -> bool,
    push: bool,
) -> Option<Vec<(u32, u32, u32)>> {
    let n = l.n();
    let mut prev: Vec<Option<(u32, u32)>> = vec![None; n];
    let mut seen = vec![false; n];
    seen[start as usize] = true;
    let mut queue = VecDeque::from([start]);
    while let Some(x) = queue.pop_front() {
        for &p in &by_replica[x as usize] {
            let lp = leader[p as usize];
            // Forward: x must lead p, step to each follower. Backward: x follows p, step to its leader.
            let nexts: &[u32] = if push {
                if lp != x {
                    continue;
                }
                l.replicas(p as usize)
            } else {
                if lp == x {
                    continue;
                }
                std::slice::from_ref(&leader[p as usize])
            };
            for &y in nexts {
                if seen[y as usize] || (y as usize) >= l.m {
                    continue;
                }
                seen[y as usize] = true;
                prev[y as usize] = Some((x, p));
                if done(y as usize) {
                    let mut path = Vec::new();
                    let mut cur = y;
                    while let Some((from, p)) = prev[cur as usize] {
                        // Forward hops hand p from `from` to `cur`; backward hops from `cur` to `from`.
                        path.push(if push { (p, from, cur) } else { (p, cur, from) });
                        cur = from;
                    }
                    if push {
                        path.reverse();
                    }
                    return Some(path);
                }
                queue.push_back(y);
            }
        }
    }
    None
}
