//! Splitting a plan into ordered stages so no broker takes part in more than K replica movements
//! (as the broker gaining or the broker giving up a replica) per stage.
//!
//! Order, from a `--describe` capture's ISR:
//! 1. **Repairing** moves first: partitions that are under-replicated now and whose move replaces
//!    every out-of-sync replica. The move *is* their repair: the new replica copies from the
//!    in-sync leader, the reassignment never waits for the laggard, and once it completes the
//!    laggard's backlog stops loading an overloaded follower. The partition is no less safe while
//!    it moves (its ISR is the leader alone either way).
//! 2. **Healthy** partitions next, packed first-fit with the repairing ones.
//! 3. **Partitions whose target keeps an out-of-sync replica** last, after every other stage (a
//!    barrier): Kafka completes a reassignment only once every target replica is in the ISR, so
//!    such a stage waits for the laggard to catch up; by then the earlier stages have spread the
//!    load. This is the rule that under-replicated partitions move last, kept for exactly the
//!    partitions it protects (the planner replaces lagging replicas first, so they are few: only
//!    when a broker lags in more partitions than it has replicas to give up).
//!
//! Partitions whose only change is the order of their replicas (a preferred-leader change) move no
//! data and ride in the last stage, after the data they lead is in place.

/// How a changed partition relates to its out-of-sync replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Class {
    Repairing,
    Healthy,
    KeepsLagging,
}

/// One changed partition as the stager sees it.
pub(crate) struct Change {
    pub index: usize,
    /// `involved[start..start + len]` of the shared list: brokers gaining or losing a replica
    /// (each counts as one movement).
    pub start: u32,
    pub len: u32,
    pub class: Class,
    pub bytes: u64,
}

/// Stages of partition indices, in order. `k = None`: one stage.
pub(crate) fn split(mut changes: Vec<Change>, involved: &[u32], k: Option<u32>, n_brokers: usize) -> Vec<Vec<usize>> {
    if changes.is_empty() {
        return Vec::new();
    }
    let Some(k) = k else {
        let mut all: Vec<usize> = changes.iter().map(|c| c.index).collect();
        all.sort_unstable();
        return vec![all];
    };
    // Repairing, healthy, then keeping a laggard; biggest (most movements, most bytes) first inside
    // each class, which packs first-fit stages tightly.
    changes.sort_by(|a, b| {
        a.class.cmp(&b.class).then(b.len.cmp(&a.len)).then(b.bytes.cmp(&a.bytes)).then(a.index.cmp(&b.index))
    });
    let mut stages: Vec<Vec<usize>> = Vec::new();
    let mut count: Vec<Vec<u32>> = Vec::new();
    let mut reorder_only = Vec::new();
    let mut group_start = 0usize;
    let mut next_free = vec![0usize; n_brokers];
    let mut in_urp_group = false;
    for c in &changes {
        let inv = &involved[c.start as usize..(c.start + c.len) as usize];
        if inv.is_empty() {
            reorder_only.push(c.index);
            continue;
        }
        if c.class == Class::KeepsLagging && !in_urp_group {
            // They start after every other stage.
            in_urp_group = true;
            group_start = stages.len();
            next_free.iter_mut().for_each(|x| *x = group_start);
        }
        let mut s = inv.iter().map(|&b| next_free[b as usize]).max().unwrap_or(group_start).max(group_start);
        loop {
            while s >= stages.len() {
                stages.push(Vec::new());
                count.push(vec![0; n_brokers]);
            }
            if inv.iter().all(|&b| count[s][b as usize] < k) {
                break;
            }
            s += 1;
        }
        stages[s].push(c.index);
        for &b in inv {
            count[s][b as usize] += 1;
            let nf = &mut next_free[b as usize];
            while *nf < count.len() && count[*nf][b as usize] >= k {
                *nf += 1;
            }
        }
    }
    if !reorder_only.is_empty() {
        if stages.is_empty() {
            stages.push(Vec::new());
        }
        stages.last_mut().expect("just ensured").extend(reorder_only);
    }
    for s in &mut stages {
        s.sort_unstable();
    }
    stages
}
