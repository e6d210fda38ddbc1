//! The exact minimum when racks block the fast path.
//!
//! The greedy placement of [`crate::balance`] provably meets the bound except when rack
//! constraints block every direct move between racks (e.g. RF = racks partitions can never leave
//! their rack, so only the others can even out rack loads). For those inputs the true minimum over
//! all balanced, rack-valid assignments is a min-cost flow, solved here on *classes* of partitions
//! with the same replica set (interchangeable for the move count):
//!
//! S → class (RF·n units) → (class, rack) (≤ n units when RF ≤ racks; ≥ n when RF ≥ racks) →
//! broker of that rack (≤ n units, cost 0 if the class holds it now, else 1) → T (⌊R/M⌋ units,
//! plus one through a shared node with R mod M units).
//!
//! A flow decomposes back into partitions: list each broker of the class x_b times, brokers of a
//! rack together, and give the i-th entry to partition i mod n. A broker's run (≤ n entries)
//! lands in distinct partitions, a rack's run of ≤ n (or ≥ n) entries gives each partition at most
//! (at least) one replica there, and a partition keeps every current broker it is given, so the
//! moves equal the flow's cost. The solver runs only on small class graphs; larger blocked inputs
//! keep the greedy plan (and say so through `fallback_moves`).

use std::collections::{HashMap, VecDeque};

use crate::layout::Layout;

/// Largest class × broker edge count the exact solver takes on.
const MAX_EDGES: usize = 60_000;
const BIG: i64 = 1 << 40;

struct Graph {
    to: Vec<u32>,
    cap: Vec<i64>,
    cost: Vec<i64>,
    adj: Vec<Vec<u32>>,
}

impl Graph {
    fn new(n: usize) -> Self {
        Graph { to: Vec::new(), cap: Vec::new(), cost: Vec::new(), adj: vec![Vec::new(); n] }
    }

    fn add(&mut self, a: usize, b: usize, cap: i64, cost: i64) -> usize {
        let e = self.to.len();
        self.adj[a].push(e as u32);
        self.to.push(b as u32);
        self.cap.push(cap);
        self.cost.push(cost);
        self.adj[b].push(e as u32 + 1);
        self.to.push(a as u32);
        self.cap.push(0);
        self.cost.push(-cost);
        e
    }

    /// Successive shortest paths (SPFA); returns (flow, cost).
    fn min_cost_flow(&mut self, s: usize, t: usize) -> (i64, i64) {
        let n = self.adj.len();
        let (mut flow, mut total) = (0, 0);
        let mut dist = vec![i64::MAX; n];
        let mut prev = vec![u32::MAX; n];
        let mut in_queue = vec![false; n];
        loop {
            dist.iter_mut().for_each(|d| *d = i64::MAX);
            dist[s] = 0;
            let mut queue = VecDeque::from([s]);
            while let Some(u) = queue.pop_front() {
                in_queue[u] = false;
                for &e in &self.adj[u] {
                    let e = e as usize;
                    let v = self.to[e] as usize;
                    if self.cap[e] > 0 && dist[u] + self.cost[e] < dist[v] {
                        dist[v] = dist[u] + self.cost[e];
                        prev[v] = e as u32;
                        if !in_queue[v] {
                            in_queue[v] = true;
                            queue.push_back(v);
                        }
                    }
                }
            }
            if dist[t] == i64::MAX {
                return (flow, total);
            }
            let mut push = i64::MAX;
            let mut v = t;
            while v != s {
                let e = prev[v] as usize;
                push = push.min(self.cap[e]);
                v = self.to[e ^ 1] as usize;
            }
            let mut v = t;
            while v != s {
                let e = prev[v] as usize;
                self.cap[e] -= push;
                self.cap[e ^ 1] += push;
                v = self.to[e ^ 1] as usize;
            }
            flow += push;
            total += push * dist[t];
        }
    }
}

/// Rewrites `after.rep` (from `before`) with a minimum-move balanced rack-valid assignment, when
/// the class graph is small enough and one exists. Returns its move count.
pub(crate) fn solve(before: &Layout, after: &mut Layout) -> Option<u64> {
    let k = before.k();
    let m = before.m;
    if k == 0 {
        return None;
    }
    let parts = before.partitions();
    let mut class_of = vec![0u32; parts];
    let mut classes: Vec<(Vec<u32>, Vec<u32>)> = Vec::new(); // (sorted broker set, members)
    let mut index: HashMap<Vec<u32>, u32> = HashMap::new();
    for p in 0..parts {
        let mut key = before.replicas(p).to_vec();
        key.sort_unstable();
        let id = *index.entry(key.clone()).or_insert_with(|| {
            classes.push((key, Vec::new()));
            classes.len() as u32 - 1
        });
        classes[id as usize].1.push(p as u32);
        class_of[p] = id;
    }
    if classes.len() * m > MAX_EDGES {
        return None;
    }

    let c_n = classes.len();
    let s = 0;
    let class_node = |c: usize| 1 + c;
    let cr_node = |c: usize, r: usize| 1 + c_n + c * k + r;
    let broker_node = |b: usize| 1 + c_n + c_n * k + b;
    let x = 1 + c_n + c_n * k + m;
    let t = x + 1;
    let mut g = Graph::new(t + 1);
    let mut lower_units = 0i64;
    let mut flow_edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); c_n]; // (broker, edge)
    for (c, (set, members)) in classes.iter().enumerate() {
        let n = members.len() as i64;
        let rf = set.len();
        g.add(s, class_node(c), n * rf as i64, 0);
        for r in 0..k {
            if rf < k {
                g.add(class_node(c), cr_node(c, r), n, 0);
            } else if rf == k {
                g.add(class_node(c), cr_node(c, r), n, -BIG);
                lower_units += n;
            } else {
                g.add(class_node(c), cr_node(c, r), n, -BIG);
                g.add(class_node(c), cr_node(c, r), n * (rf - k) as i64, 0);
                lower_units += n;
            }
        }
        for b in 0..m {
            let cost = i64::from(!set.contains(&(b as u32)));
            let e = g.add(cr_node(c, before.rack[b] as usize), broker_node(b), n, cost);
            flow_edges[c].push((b, e));
        }
    }
    let r_total = before.rep.len() as i64;
    let (f, e) = (r_total / m as i64, r_total % m as i64);
    for b in 0..m {
        g.add(broker_node(b), t, f, 0);
        g.add(broker_node(b), x, 1, 0);
    }
    g.add(x, t, e, 0);
    let (flow, cost) = g.min_cost_flow(s, t);
    let moves = cost + BIG * lower_units;
    if flow < r_total || !(0..BIG / 2).contains(&moves) {
        return None;
    }

    // Decompose each class's flow into its partitions (see the module comment).
    for (c, (set, members)) in classes.iter().enumerate() {
        let n = members.len();
        let mut seq: Vec<u32> = Vec::with_capacity(n * set.len());
        let mut per_broker: Vec<(u32, usize, u32)> = flow_edges[c]
            .iter()
            .map(|&(b, e)| (before.rack[b], b, g.cap[e ^ 1] as u32))
            .filter(|&(_, _, x)| x > 0)
            .collect();
        per_broker.sort_unstable();
        for (_, b, x) in per_broker {
            seq.extend(std::iter::repeat_n(b as u32, x as usize));
        }
        let mut given: Vec<Vec<u32>> = vec![Vec::with_capacity(set.len()); n];
        for (i, &b) in seq.iter().enumerate() {
            given[i % n].push(b);
        }
        for (i, &p) in members.iter().enumerate() {
            let p = p as usize;
            let range = after.range(p);
            let old: Vec<u32> = before.replicas(p).to_vec();
            let mut newcomers = given[i].iter().copied().filter(|b| !old.contains(b));
            // Kept brokers stay in their slots; each dropped slot takes a newcomer.
            for (slot, &ob) in range.zip(old.iter()) {
                after.rep[slot] = if given[i].contains(&ob) { ob } else { newcomers.next().expect("sizes match") };
            }
        }
    }
    let _ = class_of;
    Some(moves as u64)
}
