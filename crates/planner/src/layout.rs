//! The planner's working representation: integer broker indices, one flat replica vector with
//! per-partition offsets, per-partition sizes. Everything the hot loops touch is a `Vec` of plain
//! integers, so planning a million replicas allocates a handful of vectors, never one per replica.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::model::{Assignment, BrokerId, TopicPartition};

/// Rack index of a broker without a rack (only unlisted brokers, which must be emptied).
pub(crate) const NO_RACK: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// Listed (target) brokers occupy indices `0..m`, sorted by id; brokers that hold replicas
    /// but are not listed follow (`m..n`): their target is zero.
    pub m: usize,
    pub ids: Vec<BrokerId>,
    /// Rack index per broker (`NO_RACK` when racks are not in use or the broker is unlisted).
    pub rack: Vec<u32>,
    pub rack_names: Vec<String>,
    /// Brokers per rack (listed ones).
    pub rack_size: Vec<u32>,
    /// `rep[off[p]..off[p+1]]`: broker indices of partition `p`, preferred leader first.
    pub off: Vec<u32>,
    pub rep: Vec<u32>,
    /// Bytes per partition (0 when sizes are unknown).
    pub size: Vec<u64>,
    /// Per replica slot (aligned with `rep` of the layout as built): the replica is out of sync —
    /// a `--describe` capture lists an ISR that lacks it. Always false when the ISR is unknown.
    pub lag: Vec<bool>,
}

impl Layout {
    pub fn build(
        a: &Assignment,
        brokers: &[BrokerId],
        racks: Option<&BTreeMap<BrokerId, String>>,
        sizes: Option<&HashMap<TopicPartition, u64>>,
    ) -> Self {
        let mut ids: Vec<BrokerId> = brokers.to_vec();
        ids.sort_unstable();
        let m = ids.len();
        // Broker id → index through a dense table (ids are small integers in practice), so the
        // per-replica lookups below are one array read; a map only for exotic ids.
        let max_id = a.partitions.iter().flat_map(|p| p.replicas.iter()).chain(ids.iter()).copied().max().unwrap_or(0);
        let min_id = a.partitions.iter().flat_map(|p| p.replicas.iter()).chain(ids.iter()).copied().min().unwrap_or(0);
        let dense = min_id >= 0 && max_id < (1 << 20);
        let mut table: Vec<u32> = if dense { vec![u32::MAX; max_id as usize + 1] } else { Vec::new() };
        let mut map: HashMap<BrokerId, u32> = HashMap::new();
        for (i, &b) in ids.iter().enumerate() {
            if dense {
                table[b as usize] = i as u32;
            } else {
                map.insert(b, i as u32);
            }
        }
        let listed = |b: BrokerId, table: &[u32], map: &HashMap<BrokerId, u32>| {
            if dense { table[b as usize] != u32::MAX } else { map.contains_key(&b) }
        };
        let mut extra: Vec<BrokerId> = Vec::new();
        for p in &a.partitions {
            for &b in &p.replicas {
                if !listed(b, &table, &map) && !extra.contains(&b) {
                    extra.push(b);
                }
            }
        }
        extra.sort_unstable();
        for &b in &extra {
            if dense {
                table[b as usize] = ids.len() as u32;
            } else {
                map.insert(b, ids.len() as u32);
            }
            ids.push(b);
        }
        let index = |b: BrokerId| if dense { table[b as usize] } else { map[&b] };

        let (rack, rack_names, rack_size) = match racks {
            Some(map) if !map.is_empty() => {
                let names: Vec<String> = map.values().cloned().collect::<BTreeSet<_>>().into_iter().collect();
                let mut size = vec![0u32; names.len()];
                let rack = ids
                    .iter()
                    .enumerate()
                    .map(|(i, b)| match map.get(b) {
                        Some(name) if i < m => {
                            let r = names.binary_search(name).expect("name collected above") as u32;
                            size[r as usize] += 1;
                            r
                        }
                        _ => NO_RACK,
                    })
                    .collect();
                (rack, names, size)
            }
            _ => (vec![NO_RACK; ids.len()], Vec::new(), Vec::new()),
        };

        let mut off = Vec::with_capacity(a.partitions.len() + 1);
        let mut rep = Vec::with_capacity(a.replica_count());
        off.push(0u32);
        let mut lag = Vec::with_capacity(a.replica_count());
        for p in &a.partitions {
            rep.extend(p.replicas.iter().map(|&b| index(b)));
            lag.extend(p.replicas.iter().map(|b| p.isr.as_ref().is_some_and(|isr| !isr.contains(b))));
            off.push(rep.len() as u32);
        }
        let size = match sizes {
            Some(s) => a.partitions.iter().map(|p| s.get(&p.tp).copied().unwrap_or(0)).collect(),
            None => vec![0; a.partitions.len()],
        };
        Layout { m, ids, rack, rack_names, rack_size, off, rep, size, lag }
    }

    pub fn n(&self) -> usize {
        self.ids.len()
    }

    pub fn partitions(&self) -> usize {
        self.off.len() - 1
    }

    pub fn k(&self) -> usize {
        self.rack_names.len()
    }

    #[inline]
    pub fn range(&self, p: usize) -> std::ops::Range<usize> {
        self.off[p] as usize..self.off[p + 1] as usize
    }

    #[inline]
    pub fn replicas(&self, p: usize) -> &[u32] {
        &self.rep[self.range(p)]
    }

    /// Replicas per broker index.
    pub fn loads(&self) -> Vec<u64> {
        let mut c = vec![0u64; self.n()];
        for &b in &self.rep {
            c[b as usize] += 1;
        }
        c
    }

    /// Racks a partition must span: min(RF, racks); 0 without racks.
    #[inline]
    pub fn rack_need(&self, p: usize) -> usize {
        let rf = self.off[p + 1] as usize - self.off[p] as usize;
        rf.min(self.k())
    }

    /// Distinct racks spanned by a replica list (brokers without a rack do not count).
    #[inline]
    pub fn distinct_racks(&self, reps: impl Iterator<Item = u32>) -> usize {
        // Replica lists are short: a linear set in a small buffer beats any hashing.
        let mut seen = [NO_RACK; 16];
        let mut n = 0;
        let mut overflow: Vec<u32> = Vec::new();
        for b in reps {
            let r = self.rack[b as usize];
            if r == NO_RACK || seen[..n.min(16)].contains(&r) || overflow.contains(&r) {
                continue;
            }
            if n < 16 {
                seen[n] = r;
            } else {
                overflow.push(r);
            }
            n += 1;
        }
        n
    }

    /// True when partition `p` had an out-of-sync replica when captured.
    #[inline]
    pub fn has_lagging(&self, p: usize) -> bool {
        self.lag[self.range(p)].iter().any(|&x| x)
    }

    /// True when broker index `b` held an out-of-sync replica of `p` when captured (`self` must be
    /// the layout as built, before any move).
    #[inline]
    pub fn lags(&self, p: usize, b: u32) -> bool {
        self.range(p).any(|s| self.rep[s] == b && self.lag[s])
    }

    pub fn spread(&self, p: usize) -> usize {
        self.distinct_racks(self.replicas(p).iter().copied())
    }

    /// Would moving `p`'s replica on `from` to `to` keep `p` rack-valid (spanning its need, or at
    /// least not fewer racks than now)?
    #[inline]
    pub fn move_keeps_racks(&self, p: usize, from: u32, to: u32) -> bool {
        if self.k() == 0 || self.rack[from as usize] == self.rack[to as usize] {
            return true;
        }
        let reps = self.replicas(p);
        let after = self.distinct_racks(reps.iter().map(|&b| if b == from { to } else { b }));
        after >= self.rack_need(p) || after >= self.distinct_racks(reps.iter().copied())
    }

    /// Partitions spanning fewer racks than min(RF, racks).
    pub fn rack_violations(&self) -> usize {
        if self.k() == 0 {
            return 0;
        }
        (0..self.partitions()).filter(|&p| self.spread(p) < self.rack_need(p)).count()
    }
}
