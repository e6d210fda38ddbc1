//! An exact, slow oracle for small instances: the minimum number of replica moves over *every*
//! balanced (spread ≤ 1), rack-valid assignment, as a min-cost flow
//! S → partition (supply RF) → (partition, rack) (≤ 1 unit when RF ≤ racks; ≥ 1 unit when
//! RF ≥ racks) → broker of that rack (1 unit; cost 0 if it holds the partition now, else 1)
//! → T (⌊R/M⌋ units, plus one through a shared node of R mod M units).
//! Solved by successive shortest paths with Bellman-Ford; lower bounds by a large negative cost.

use std::collections::BTreeMap;

use autoheal_planner::{Assignment, BrokerId};

struct Edge {
    to: usize,
    cap: i64,
    cost: i64,
}

struct Graph {
    edges: Vec<Edge>,
    adj: Vec<Vec<usize>>,
}

impl Graph {
    fn new(n: usize) -> Self {
        Graph { edges: Vec::new(), adj: vec![Vec::new(); n] }
    }
    fn add(&mut self, a: usize, b: usize, cap: i64, cost: i64) {
        self.adj[a].push(self.edges.len());
        self.edges.push(Edge { to: b, cap, cost });
        self.adj[b].push(self.edges.len());
        self.edges.push(Edge { to: a, cap: 0, cost: -cost });
    }
    fn min_cost_flow(&mut self, s: usize, t: usize) -> (i64, i64) {
        let n = self.adj.len();
        let (mut flow, mut cost) = (0, 0);
        loop {
            let mut dist = vec![i64::MAX; n];
            let mut prev = vec![usize::MAX; n];
            dist[s] = 0;
            // SPFA (queue-based Bellman-Ford): the residual graph has negative edges, no
            // negative cycles.
            let mut in_queue = vec![false; n];
            let mut queue = std::collections::VecDeque::from([s]);
            while let Some(u) = queue.pop_front() {
                in_queue[u] = false;
                for &e in &self.adj[u] {
                    let ed = &self.edges[e];
                    if ed.cap > 0 && dist[u] + ed.cost < dist[ed.to] {
                        dist[ed.to] = dist[u] + ed.cost;
                        prev[ed.to] = e;
                        if !in_queue[ed.to] {
                            in_queue[ed.to] = true;
                            queue.push_back(ed.to);
                        }
                    }
                }
            }
            if dist[t] == i64::MAX {
                return (flow, cost);
            }
            let mut push = i64::MAX;
            let mut v = t;
            while v != s {
                let e = prev[v];
                push = push.min(self.edges[e].cap);
                v = self.edges[e ^ 1].to;
            }
            let mut v = t;
            while v != s {
                let e = prev[v];
                self.edges[e].cap -= push;
                self.edges[e ^ 1].cap += push;
                v = self.edges[e ^ 1].to;
            }
            flow += push;
            cost += push * dist[t];
        }
    }
}

/// Exact minimum moves, or `None` when no balanced rack-valid assignment exists.
pub fn min_moves(a: &Assignment, brokers: &[BrokerId], racks: Option<&BTreeMap<BrokerId, String>>) -> Option<i64> {
    const BIG: i64 = 100_000;
    let rack_names: Vec<&String> = match racks {
        Some(r) => {
            let mut v: Vec<&String> = r.values().collect();
            v.sort();
            v.dedup();
            v
        }
        None => Vec::new(),
    };
    let k = rack_names.len().max(1);
    let rack_of =
        |b: BrokerId| -> usize { racks.map(|r| rack_names.iter().position(|n| *n == &r[&b]).unwrap()).unwrap_or(0) };
    let p_count = a.partitions.len();
    let m = brokers.len();
    let r_total: i64 = a.replica_count() as i64;
    // Node ids.
    let s = 0;
    let part = |p: usize| 1 + p;
    let pr = |p: usize, r: usize| 1 + p_count + p * k + r;
    let br = |i: usize| 1 + p_count + p_count * k + i;
    let x = 1 + p_count + p_count * k + m;
    let t = x + 1;
    let mut g = Graph::new(t + 1);
    let mut lower_units = 0;
    for (p, ps) in a.partitions.iter().enumerate() {
        let rf = ps.replicas.len();
        g.add(s, part(p), rf as i64, 0);
        for r in 0..k {
            if racks.is_none() {
                g.add(part(p), pr(p, r), rf as i64, 0);
            } else if rf <= k {
                g.add(part(p), pr(p, r), 1, if rf == k { -BIG } else { 0 });
                lower_units += i64::from(rf == k);
            } else {
                g.add(part(p), pr(p, r), 1, -BIG);
                g.add(part(p), pr(p, r), rf as i64, 0);
                lower_units += 1;
            }
        }
        for (i, &b) in brokers.iter().enumerate() {
            let cost = if ps.replicas.contains(&b) { 0 } else { 1 };
            g.add(pr(p, rack_of(b)), br(i), 1, cost);
        }
    }
    let f = r_total / m as i64;
    let e = r_total % m as i64;
    for i in 0..m {
        g.add(br(i), t, f, 0);
        g.add(br(i), x, 1, 0);
    }
    g.add(x, t, e, 0);
    let (flow, cost) = g.min_cost_flow(s, t);
    let cost = cost + BIG * lower_units;
    if flow < r_total || cost >= BIG / 2 {
        return None;
    }
    Some(cost)
}

/// Whether some choice of leaders among the given replica lists gives every broker ⌊P/M⌋ or
/// ⌈P/M⌉ leaders (a flow with lower bounds, again by a large negative cost).
pub fn leaders_can_balance(replicas: &[Vec<BrokerId>], brokers: &[BrokerId]) -> bool {
    const BIG: i64 = 100_000;
    let p_count = replicas.len();
    let m = brokers.len();
    let (s, x, t) = (0, 1 + p_count + m, 2 + p_count + m);
    let mut g = Graph::new(t + 1);
    for (p, reps) in replicas.iter().enumerate() {
        g.add(s, 1 + p, 1, 0);
        for b in reps {
            let i = brokers.iter().position(|x| x == b).unwrap();
            g.add(1 + p, 1 + p_count + i, 1, 0);
        }
    }
    let f = (p_count / m) as i64;
    let e = (p_count % m) as i64;
    for i in 0..m {
        g.add(1 + p_count + i, t, f, -BIG);
        g.add(1 + p_count + i, x, 1, 0);
    }
    g.add(x, t, e, 0);
    let (flow, cost) = g.min_cost_flow(s, t);
    flow == p_count as i64 && cost == -BIG * f * m as i64
}
