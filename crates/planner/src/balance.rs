//! Replica placement with the fewest possible moves.
//!
//! Why the plan reaches the bound of [`crate::targets`]: every move made here takes a replica off
//! a broker above its target and puts it on a broker below its target, so each move lowers
//! Σ max(0, c_b − t_b) by exactly one and the plan ends after exactly that many moves — provided
//! a move is always available. Without racks it is: if b is over and u under, then
//! c_b ≥ t_b + 1 ≥ ⌊R/M⌋ + 1 ≥ t_u ≥ c_u + 1, so b holds more partitions than u and one of them is
//! not on u (pigeonhole). The same argument holds for two brokers of one rack, and a move inside a
//! rack never changes which racks a partition spans. Only moves *between* racks can be blocked (every
//! partition of the over broker already has a replica in the under broker's rack); the planner
//! makes those while the most candidates exist (over racks first, most-needed destinations first),
//! rescans once, and only then falls back to a shortest chain of moves through other brokers
//! (each extra hop is one extra move, reported as `fallback_moves`).
//!
//! Partitions that span fewer racks than min(RF, racks) are repaired first, each repair moving a
//! replica from a doubled rack (or an unlisted broker) to the most under-loaded broker of a missing
//! rack; when that source is over its target and the destination under, the repair is one of the
//! bound's moves anyway.
//!
//! Which partition an over broker gives up: first the replicas it holds out of sync (a `--describe`
//! capture's ISR lacks them), every over broker's before any in-sync one — a reassignment completes
//! only when every target replica is in the ISR, so a plan that keeps a lagging replica waits for
//! it, while replacing it drops its backlog (local/README.md, "Capacity"); then replicas of fully
//! in-sync partitions before those of partitions with another lagging replica (whose target would
//! keep that one); then the smallest first when sizes are known (fewest bytes), then replicas it
//! follows before ones it leads (a moved leader is a forced leader change). Only *which* replica
//! moves changes, never how many.

use std::collections::VecDeque;

use crate::layout::{Layout, NO_RACK};

/// One replica move: partition `p`'s replica on `from` goes to `to` (slot = index in `rep`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Move {
    pub p: u32,
    pub slot: u32,
    pub from: u32,
    pub to: u32,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Stats {
    pub rack_repairs: u64,
    pub fallback_moves: u64,
    /// Excess left when no chain could place it (only with contradictory rack constraints).
    pub unplaced: u64,
}

struct State<'a> {
    l: &'a mut Layout,
    t: &'a [u64],
    c: Vec<u64>,
    /// Σ (c − t) per rack.
    rack_excess: Vec<i64>,
    /// RF-1 partitions per broker: their leader cannot move, so they bound the leader balance.
    pinned: Vec<u64>,
    /// ⌈P/M⌉: the most leaders a broker may have when leaders are balanced.
    pin_cap: u64,
    moves: Vec<Move>,
    /// The replica lists as given (before any move), to read `l.lag` by slot.
    orig_rep: Vec<u32>,
    orig_off: Vec<u32>,
}

impl State<'_> {
    fn over(&self, b: usize) -> bool {
        self.c[b] > self.t[b]
    }

    fn slot_of(&self, p: usize, b: u32) -> Option<usize> {
        self.l.range(p).find(|&s| self.l.rep[s] == b)
    }

    fn holds(&self, p: usize, b: u32) -> bool {
        self.l.replicas(p).contains(&b)
    }

    fn apply(&mut self, p: usize, slot: usize, to: u32) {
        let from = self.l.rep[slot];
        self.l.rep[slot] = to;
        self.c[from as usize] -= 1;
        self.c[to as usize] += 1;
        let (rf, rt) = (self.l.rack[from as usize], self.l.rack[to as usize]);
        if rf != NO_RACK {
            self.rack_excess[rf as usize] -= 1;
        }
        if rt != NO_RACK {
            self.rack_excess[rt as usize] += 1;
        }
        if self.l.range(p).len() == 1 {
            self.pinned[from as usize] -= 1;
            self.pinned[to as usize] += 1;
        }
        self.moves.push(Move { p: p as u32, slot: slot as u32, from, to });
    }

    /// Destination preference for a move off `b`: lower is better.
    fn dest_rank(&self, p: usize, b: u32, u: u32) -> (bool, u8, std::cmp::Reverse<u64>, i32) {
        // An RF-1 partition pins its leader: keep every broker within the balanced leader count.
        let pin_full = self.l.range(p).len() == 1 && self.pinned[u as usize] >= self.pin_cap;
        let deficit = self.t[u as usize].saturating_sub(self.c[u as usize]);
        let (rb, ru) = (self.l.rack[b as usize], self.l.rack[u as usize]);
        let cat = if self.l.k() == 0 {
            0
        } else {
            let src_over = rb == NO_RACK || self.rack_excess[rb as usize] > 0;
            let dst_short = self.rack_excess[ru as usize] < 0;
            match (src_over, rb == ru, dst_short) {
                (true, _, true) => 0,
                (true, true, _) => 1,
                (false, true, _) => 0,
                (false, false, true) => 1,
                _ => 2,
            }
        };
        (pin_full, cat, std::cmp::Reverse(deficit), self.l.ids[u as usize])
    }

    /// Best under-target broker that can take `p`'s replica from `b`: rank the (few) candidates
    /// first, then check feasibility in rank order, which usually stops at the first.
    fn best_dest(&self, p: usize, b: u32, under: &[u32]) -> Option<u32> {
        let mut ranked: [(u8, u8, std::cmp::Reverse<u64>, i32, u32); 64] = [(0, 0, std::cmp::Reverse(0), 0, 0); 64];
        if under.len() > ranked.len() {
            return under
                .iter()
                .copied()
                .filter(|&u| self.c[u as usize] < self.t[u as usize])
                .filter(|&u| !self.holds(p, u) && self.l.move_keeps_racks(p, b, u))
                .min_by_key(|&u| self.dest_rank(p, b, u));
        }
        let mut n = 0;
        for &u in under {
            if self.c[u as usize] < self.t[u as usize] {
                let (pin, cat, def, id) = self.dest_rank(p, b, u);
                ranked[n] = (u8::from(pin), cat, def, id, u);
                n += 1;
            }
        }
        let ranked = &mut ranked[..n];
        ranked.sort_unstable();
        ranked.iter().map(|r| r.4).find(|&u| !self.holds(p, u) && self.l.move_keeps_racks(p, b, u))
    }
}

/// Rebalances `l.rep` in place to the targets `t`; returns the moves made.
pub(crate) fn balance(l: &mut Layout, t: &[u64]) -> (Vec<Move>, Stats) {
    let c = l.loads();
    let mut rack_excess = vec![0i64; l.k()];
    for b in 0..l.n() {
        let r = l.rack[b];
        if r != NO_RACK {
            rack_excess[r as usize] += c[b] as i64 - t[b] as i64;
        }
    }
    let mut pinned = vec![0u64; l.n()];
    for p in 0..l.partitions() {
        if l.range(p).len() == 1 {
            pinned[l.replicas(p)[0] as usize] += 1;
        }
    }
    let pin_cap = (l.partitions() as u64).div_ceil(l.m as u64);
    let (orig_rep, orig_off) = (l.rep.clone(), l.off.clone());
    let mut st = State { l, t, c, rack_excess, pinned, pin_cap, moves: Vec::new(), orig_rep, orig_off };
    let mut stats = Stats::default();
    if st.l.k() > 0 {
        repair_racks(&mut st, &mut stats);
    }
    spread_excess(&mut st, &mut stats);
    (st.moves, stats)
}

fn repair_racks(st: &mut State<'_>, stats: &mut Stats) {
    for p in 0..st.l.partitions() {
        let need = st.l.rack_need(p);
        while st.l.spread(p) < need {
            let range = st.l.range(p);
            let reps: Vec<u32> = st.l.rep[range.clone()].to_vec();
            let rack_count = |r: u32| reps.iter().filter(|&&x| st.l.rack[x as usize] == r).count();
            // Source: an unlisted broker, else a broker sharing its rack; most over target first,
            // a follower before the leader.
            let src = range
                .clone()
                .filter(|&s| {
                    let r = st.l.rack[st.l.rep[s] as usize];
                    r == NO_RACK || rack_count(r) >= 2
                })
                .max_by_key(|&s| {
                    let b = st.l.rep[s] as usize;
                    (st.l.rack[b] == NO_RACK, st.c[b] as i64 - st.t[b] as i64, s)
                });
            let Some(src) = src else { break };
            let dst = (0..st.l.m as u32).filter(|&u| rack_count(st.l.rack[u as usize]) == 0).max_by_key(|&u| {
                (st.t[u as usize] as i64 - st.c[u as usize] as i64, std::cmp::Reverse(st.l.ids[u as usize]))
            });
            let Some(dst) = dst else { break };
            st.apply(p, src, dst);
            stats.rack_repairs += 1;
        }
    }
}

fn spread_excess(st: &mut State<'_>, stats: &mut Stats) {
    let n = st.l.n();
    let mut under: Vec<u32> = (0..st.l.m as u32).filter(|&u| st.c[u as usize] < st.t[u as usize]).collect();
    let mut overs: Vec<u32> = (0..n as u32).filter(|&b| st.over(b as usize)).collect();
    if overs.is_empty() {
        return;
    }
    // Brokers of over racks first (their moves must cross racks), then by excess, then id.
    overs.sort_by_key(|&b| {
        let r = st.l.rack[b as usize];
        let rack_over = r == NO_RACK || st.l.k() == 0 || st.rack_excess[r as usize] > 0;
        (!rack_over, std::cmp::Reverse(st.c[b as usize] - st.t[b as usize]), st.l.ids[b as usize])
    });

    // Candidate lists of the over brokers only: one pass over the replicas.
    let mut slot_of_over = vec![u32::MAX; n];
    for (i, &b) in overs.iter().enumerate() {
        slot_of_over[b as usize] = i as u32;
    }
    let mut held: Vec<Vec<(u32, bool)>> = vec![Vec::new(); overs.len()];
    for p in 0..st.l.partitions() {
        for (i, s) in st.l.range(p).enumerate() {
            let idx = slot_of_over[st.l.rep[s] as usize];
            if idx != u32::MAX {
                held[idx as usize].push((p as u32, i == 0));
            }
        }
    }
    let size = &st.l.size;
    // 0: b's own replica of p is out of sync; 1: p is fully in sync; 2: p keeps another lagging one.
    let lag_rank = |p: u32, b: u32| -> u8 {
        let range = st.orig_off[p as usize] as usize..st.orig_off[p as usize + 1] as usize;
        if range.clone().any(|s| st.orig_rep[s] == b && st.l.lag[s]) {
            0
        } else if range.clone().any(|s| st.l.lag[s]) {
            2
        } else {
            1
        }
    };
    for (i, h) in held.iter_mut().enumerate() {
        // RF-1 partitions beyond the balanced leader count first (they must leave for leaders to
        // balance), then lagging replicas, the smallest (fewest bytes), followers before leaders,
        // partition order.
        let b = overs[i];
        let surplus_pins = st.pinned[b as usize].saturating_sub(st.pin_cap) as usize;
        if surplus_pins == 0 {
            h.sort_unstable_by_key(|&(p, leader)| (lag_rank(p, b), size[p as usize], leader, p));
            continue;
        }
        let off = &st.l.off;
        let single = |p: u32| off[p as usize + 1] - off[p as usize] == 1;
        h.sort_unstable_by_key(|&(p, leader)| (!single(p), size[p as usize], leader, p));
        let pins = h.iter().take_while(|&&(p, _)| single(p)).count();
        // Only the surplus pins are urgent; the rest go back to the normal order.
        let mut rest: Vec<(u32, bool)> = h.drain(surplus_pins.min(pins)..).collect();
        rest.sort_unstable_by_key(|&(p, leader)| (lag_rank(p, b), size[p as usize], leader, p));
        h.extend(rest);
    }
    let lagging: Vec<Vec<bool>> =
        held.iter().enumerate().map(|(i, h)| h.iter().map(|&(p, _)| lag_rank(p, overs[i]) == 0).collect()).collect();

    // Out-of-sync replicas leave first, on every over broker, before any in-sync replica moves:
    // a broker handled early must not take the destinations a later broker's lagging replica
    // needs, nor move the in-sync partner of a lagging replica (its target would keep the laggard).
    for (i, &b) in overs.iter().enumerate() {
        for (j, &(p, _)) in held[i].iter().enumerate() {
            if !st.over(b as usize) {
                break;
            }
            if !lagging[i][j] {
                continue;
            }
            let p = p as usize;
            let Some(slot) = st.slot_of(p, b) else { continue };
            if let Some(u) = st.best_dest(p, b, &under) {
                st.apply(p, slot, u);
                if st.c[u as usize] >= st.t[u as usize] {
                    under.retain(|&x| x != u);
                }
            }
        }
    }

    // Leadership to hand over later needs a new broker among the followers of the partitions a
    // leader-heavy broker keeps leading. So, when bytes do not decide, an over broker first gives up
    // replicas it follows in partitions still led by their original, leader-heavy leader.
    let parts = st.l.partitions();
    let orig_lead: Vec<u32> = (0..parts).map(|p| st.l.rep[st.l.off[p] as usize]).collect();
    let mut leads = vec![0u64; n];
    for &b in &orig_lead {
        leads[b as usize] += 1;
    }
    let lead_cap = (parts as u64).div_ceil(st.l.m as u64);
    let heavy: Vec<bool> = (0..n).map(|b| leads[b] > lead_cap).collect();
    let passes: &[bool] = if st.l.size.iter().any(|&s| s > 0) { &[false] } else { &[true, false] };

    let mut stuck = Vec::new();
    for (i, &b) in overs.iter().enumerate() {
        for &preferred_only in passes {
            for &(p, leader) in &held[i] {
                if !st.over(b as usize) {
                    break;
                }
                let p = p as usize;
                if preferred_only {
                    let lead = st.l.rep[st.l.off[p] as usize];
                    if leader || lead != orig_lead[p] || !heavy[lead as usize] {
                        continue;
                    }
                }
                let Some(slot) = st.slot_of(p, b) else { continue };
                if let Some(u) = st.best_dest(p, b, &under) {
                    st.apply(p, slot, u);
                    if st.c[u as usize] >= st.t[u as usize] {
                        under.retain(|&x| x != u);
                    }
                }
            }
        }
        if st.over(b as usize) {
            stuck.push(i);
        }
    }
    // Rack feasibility depends on the other replicas, which may have moved since: rescan once.
    for &i in &stuck {
        let b = overs[i];
        for &(p, _) in &held[i] {
            if !st.over(b as usize) {
                break;
            }
            let p = p as usize;
            let Some(slot) = st.slot_of(p, b) else { continue };
            if let Some(u) = st.best_dest(p, b, &under) {
                st.apply(p, slot, u);
                if st.c[u as usize] >= st.t[u as usize] {
                    under.retain(|&x| x != u);
                }
            }
        }
    }
    // Last resort: shortest chains b → w … → u through brokers at target.
    for &i in &stuck {
        let b = overs[i];
        while st.over(b as usize) {
            match chain(st, b) {
                Some(path) => {
                    stats.fallback_moves += path.len() as u64 - 1;
                    // Apply from the end so each hop's source still holds its partition.
                    for &(p, from, to) in path.iter().rev() {
                        let slot = st.slot_of(p as usize, from).expect("chain partitions are distinct");
                        st.apply(p as usize, slot, to);
                    }
                }
                None => {
                    stats.unplaced += st.c[b as usize] - st.t[b as usize];
                    break;
                }
            }
        }
    }
}

/// Breadth-first search for the shortest chain of feasible moves from over broker `b` to any
/// broker below target; hops use distinct partitions. Only reached when rack constraints block
/// every direct move, so its O(replicas) cost per search does not matter for the common case.
fn chain(st: &State<'_>, b: u32) -> Option<Vec<(u32, u32, u32)>> {
    let n = st.l.m;
    let parts = st.l.partitions();
    let mut by_broker: Vec<Vec<u32>> = vec![Vec::new(); st.l.n()];
    for p in 0..parts {
        for &x in st.l.replicas(p) {
            by_broker[x as usize].push(p as u32);
        }
    }
    let mut prev: Vec<Option<(u32, u32)>> = vec![None; st.l.n()]; // (from broker, partition)
    let mut seen = vec![false; st.l.n()];
    seen[b as usize] = true;
    let mut queue = VecDeque::from([b]);
    while let Some(x) = queue.pop_front() {
        for y in 0..n as u32 {
            if seen[y as usize] {
                continue;
            }
            // Partitions already used on the path to x may not be reused.
            let mut used = Vec::new();
            let mut cur = x;
            while let Some((from, p)) = prev[cur as usize] {
                used.push(p);
                cur = from;
            }
            let found = by_broker[x as usize]
                .iter()
                .copied()
                .find(|&p| !used.contains(&p) && !st.holds(p as usize, y) && st.l.move_keeps_racks(p as usize, x, y));
            if let Some(p) = found {
                seen[y as usize] = true;
                prev[y as usize] = Some((x, p));
                if st.c[y as usize] < st.t[y as usize] {
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
