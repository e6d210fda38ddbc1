//! Evening out disk usage without adding moves.
//!
//! The replica phase gives each over-target broker's smallest partitions away, which moves the
//! fewest bytes but can leave the old brokers holding all the big partitions. This pass keeps every
//! move's source and destination (so the move count, replica counts and rack validity stay as they
//! are) and swaps *which* partition a move carries: move p: b→u becomes q: b→u for another q on b.
//! It repeatedly takes the fullest and the emptiest broker and applies the exchange that lowers
//! the disk spread (max − min bytes) most, preferring the smaller byte increase, until the spread is
//! within one largest partition (no assignment can promise better) or no exchange helps. Partitions
//! with an out-of-sync replica take no part in exchanges: the replica phase chose to replace their
//! lagging replicas, and an exchange could leave one in a target.

use crate::balance::Move;
use crate::layout::Layout;

pub(crate) fn even_out(before: &Layout, after: &mut Layout, moves: &[Move]) {
    let m = after.m;
    let n = after.n();
    let parts = after.partitions();
    let largest = after.size.iter().copied().max().unwrap_or(0);
    if largest == 0 || moves.is_empty() {
        return;
    }
    // Only plain over→under moves are exchanged; repairs and chains stay as they are.
    let mut gains = vec![false; n];
    let mut loses = vec![false; n];
    for mv in moves {
        loses[mv.from as usize] = true;
        gains[mv.to as usize] = true;
    }
    let mut live: Vec<Move> = moves
        .iter()
        .copied()
        .filter(|mv| {
            !gains[mv.from as usize]
                && !loses[mv.to as usize]
                && (mv.from as usize) < m
                && before.spread(mv.p as usize) >= before.rack_need(mv.p as usize)
                && after.rep[mv.slot as usize] == mv.to
                // A move that replaces an out-of-sync replica stays as it is (see `balance`).
                && !before.has_lagging(mv.p as usize)
        })
        .collect();
    if live.is_empty() {
        return;
    }

    let mut disk = vec![0u64; n];
    for p in 0..parts {
        for &b in after.replicas(p) {
            disk[b as usize] += after.size[p];
        }
    }
    // Per source broker: partitions it still holds, by size.
    let mut pool: Vec<Vec<(u64, u32)>> = vec![Vec::new(); n];
    for p in 0..parts {
        // Never swap in a partition with a lagging replica: its target would keep the laggard.
        if before.has_lagging(p) {
            continue;
        }
        for &b in after.replicas(p) {
            if loses[b as usize] {
                pool[b as usize].push((after.size[p], p as u32));
            }
        }
    }
    pool.iter_mut().for_each(|v| v.sort_unstable());
    let mut by_broker: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, mv) in live.iter().enumerate() {
        by_broker[mv.from as usize].push(i);
        by_broker[mv.to as usize].push(i);
    }

    let spread_of = |d: &[u64]| d[..m].iter().max().unwrap() - d[..m].iter().min().unwrap();
    let max_iter = 64 * m + live.len().min(4096);
    for _ in 0..max_iter {
        let spread = spread_of(&disk);
        if spread <= largest {
            break;
        }
        let hi = (0..m).max_by_key(|&b| (disk[b], std::cmp::Reverse(b))).unwrap();
        let lo = (0..m).min_by_key(|&b| (disk[b], b)).unwrap();
        let mut best: Option<(u64, u64, usize, u32)> = None; // (new spread, Δbytes, move, q)
        for &i in by_broker[hi].iter().chain(by_broker[lo].iter()) {
            let mv = live[i];
            let (b, u, p) = (mv.from as usize, mv.to as usize, mv.p as usize);
            let sp = after.size[p] as i128;
            // Exchange so b and u end up as close as possible: Δ ≈ (D_b − D_u) / 2.
            let want = sp + (disk[b] as i128 - disk[u] as i128) / 2;
            let list = &pool[b];
            let at = list.partition_point(|&(s, _)| (s as i128) < want);
            let lo_i = at.saturating_sub(3);
            let hi_i = (at + 3).min(list.len());
            for &(sq, q) in &list[lo_i..hi_i] {
                let q = q as usize;
                if q == p || after.replicas(q).contains(&(u as u32)) {
                    continue;
                }
                if !after.move_keeps_racks(q, b as u32, u as u32) || !after.move_keeps_racks(p, u as u32, b as u32) {
                    continue;
                }
                let delta = sq as i128 - sp;
                let (nb, nu) = ((disk[b] as i128 - delta) as u64, (disk[u] as i128 + delta) as u64);
                let (mut mx, mut mn) = (nb.max(nu), nb.min(nu));
                for x in 0..m {
                    if x != b && x != u {
                        mx = mx.max(disk[x]);
                        mn = mn.min(disk[x]);
                    }
                }
                let cand = (mx - mn, delta.unsigned_abs() as u64, i, q as u32);
                if mx - mn < spread && best.is_none_or(|bst| (cand.0, cand.1) < (bst.0, bst.1)) {
                    best = Some(cand);
                }
            }
        }
        let Some((_, _, i, q)) = best else { break };
        let mv = live[i];
        let (b, u, p, q) = (mv.from, mv.to, mv.p as usize, q as usize);
        // Put p back on b, send q instead.
        after.rep[mv.slot as usize] = b;
        let slot_q = after.range(q).find(|&s| after.rep[s] == b).expect("q is on b");
        after.rep[slot_q] = u;
        let delta = after.size[q] as i128 - after.size[p] as i128;
        disk[b as usize] = (disk[b as usize] as i128 - delta) as u64;
        disk[u as usize] = (disk[u as usize] as i128 + delta) as u64;
        let list = &mut pool[b as usize];
        if let Ok(pos) = list.binary_search(&(after.size[q], q as u32)) {
            list.remove(pos);
        }
        let ins = list.partition_point(|&x| x < (after.size[p], p as u32));
        list.insert(ins, (after.size[p], p as u32));
        live[i] = Move { p: q as u32, slot: slot_q as u32, from: b, to: u };
    }
}
