//! The baseline users know: a port of what `kafka-reassign-partitions.sh --generate` does
//! (ReassignPartitionsCommand `calculateAssignment` → AdminUtils `assignReplicasToBrokers`, rack
//! aware when every broker has a rack, rack unaware otherwise), driven by a port of
//! `java.util.Random` so `--seed N` reproduces one run.
//!
//! Differences, all deliberate: Kafka shares one unseeded `Random` across topics visited in Java
//! HashMap order; here topics are visited in name order from one `Random(seed)`, and brokers in
//! id order (Kafka takes them in `describeCluster` order). Per topic, as in Kafka, the partition
//! count is the number of partitions given and the replication factor is that of the first one.

use std::collections::BTreeMap;

use crate::model::BrokerId;

/// `java.util.Random`: the 48-bit linear congruential generator of the JDK, bit for bit.
#[derive(Debug, Clone)]
pub struct JavaRandom {
    seed: u64,
}

impl JavaRandom {
    const MULT: u64 = 0x5DEE_CE66D;
    const MASK: u64 = (1 << 48) - 1;

    pub fn new(seed: i64) -> Self {
        Self { seed: (seed as u64 ^ Self::MULT) & Self::MASK }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(Self::MULT).wrapping_add(0xB)) & Self::MASK;
        (self.seed >> (48 - bits)) as i64 as i32
    }

    /// `nextInt(bound)` with the JDK's rejection of the biased tail.
    pub fn next_int(&mut self, bound: i32) -> i32 {
        assert!(bound > 0, "bound must be positive");
        if bound & bound.wrapping_neg() == bound {
            return ((bound as i64 * self.next(31) as i64) >> 31) as i32;
        }
        loop {
            let bits = self.next(31);
            let val = bits % bound;
            if bits.wrapping_sub(val).wrapping_add(bound - 1) >= 0 {
                return val;
            }
        }
    }
}

/// AdminUtils `replicaIndex`: the broker index of a follower, shifted per round.
fn replica_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    let s = 1 + (shift + j) % (n - 1);
    (first + s) % n
}

/// `assignReplicasToBrokers` for one topic with random start index and shift.
/// `brokers` in id order; `racks` present for every broker or for none.
pub fn assign_replicas_to_brokers(
    rng: &mut JavaRandom,
    brokers: &[BrokerId],
    racks: Option<&BTreeMap<BrokerId, String>>,
    partitions: usize,
    rf: usize,
) -> Vec<Vec<BrokerId>> {
    match racks {
        Some(r) if !r.is_empty() => rack_aware(rng, brokers, r, partitions, rf),
        _ => rack_unaware(rng, brokers, partitions, rf),
    }
}

fn rack_unaware(rng: &mut JavaRandom, brokers: &[BrokerId], partitions: usize, rf: usize) -> Vec<Vec<BrokerId>> {
    let n = brokers.len();
    let start = rng.next_int(n as i32) as usize;
    let mut shift = rng.next_int(n as i32) as usize;
    let mut out = Vec::with_capacity(partitions);
    for pid in 0..partitions {
        if pid > 0 && pid % n == 0 {
            shift += 1;
        }
        let first = (pid + start) % n;
        let mut reps = Vec::with_capacity(rf);
        reps.push(brokers[first]);
        for j in 0..rf - 1 {
            reps.push(brokers[replica_index(first, shift, j, n)]);
        }
        out.push(reps);
    }
    out
}

/// AdminUtils `getRackAlternatedBrokerList`: racks in name order, brokers of each in id order,
/// taking one from each rack in turn.
pub fn rack_alternated(brokers: &[BrokerId], racks: &BTreeMap<BrokerId, String>) -> Vec<BrokerId> {
    let mut by_rack: BTreeMap<&str, Vec<BrokerId>> = BTreeMap::new();
    for b in brokers {
        by_rack.entry(racks[b].as_str()).or_default().push(*b);
    }
    let mut iters: Vec<std::vec::IntoIter<BrokerId>> = by_rack
        .into_values()
        .map(|mut v| {
            v.sort_unstable();
            v.into_iter()
        })
        .collect();
    let mut out = Vec::with_capacity(brokers.len());
    let mut i = 0;
    while out.len() < brokers.len() {
        if let Some(b) = iters[i].next() {
            out.push(b);
        }
        i = (i + 1) % iters.len();
    }
    out
}

fn rack_aware(
    rng: &mut JavaRandom,
    brokers: &[BrokerId],
    racks: &BTreeMap<BrokerId, String>,
    partitions: usize,
    rf: usize,
) -> Vec<Vec<BrokerId>> {
    let arranged = rack_alternated(brokers, racks);
    let n = arranged.len();
    let num_racks = racks.values().collect::<std::collections::BTreeSet<_>>().len();
    let start = rng.next_int(n as i32) as usize;
    let mut shift = rng.next_int(n as i32) as usize;
    let mut out = Vec::with_capacity(partitions);
    for pid in 0..partitions {
        if pid > 0 && pid % n == 0 {
            shift += 1;
        }
        let first = (pid + start) % n;
        let leader = arranged[first];
        let mut reps = vec![leader];
        let mut racks_used = vec![racks[&leader].as_str()];
        let mut k = 0;
        for _ in 0..rf - 1 {
            loop {
                let b = arranged[replica_index(first, shift * num_racks, k, n)];
                let rack = racks[&b].as_str();
                k += 1;
                // Skip a broker whose rack already has a replica while some rack has none, and a
                // broker already used while some broker is unused (AdminUtils' two rules).
                let rack_ok = !racks_used.contains(&rack) || racks_used.len() == num_racks;
                let broker_ok = !reps.contains(&b) || reps.len() == n;
                if rack_ok && broker_ok {
                    reps.push(b);
                    if !racks_used.contains(&rack) {
                        racks_used.push(rack);
                    }
                    break;
                }
            }
        }
        out.push(reps);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_the_jdk() {
        // new Random(42).nextInt(10) x5 in Java: 0, 3, 8, 4, 0
        let mut r = JavaRandom::new(42);
        let got: Vec<i32> = (0..5).map(|_| r.next_int(10)).collect();
        assert_eq!(got, vec![0, 3, 8, 4, 0]);
        // new Random(0): nextInt(16) (power-of-two path) = 11, nextInt(100) = 48, nextInt(7) = 4
        let mut r = JavaRandom::new(0);
        assert_eq!((r.next_int(16), r.next_int(100), r.next_int(7)), (11, 48, 4));
        // Negative seeds: new Random(-5): nextInt(6) = 3, nextInt(6) = 5, nextInt(1 << 30) = 358728976
        let mut r = JavaRandom::new(-5);
        assert_eq!((r.next_int(6), r.next_int(6), r.next_int(1 << 30)), (3, 5, 358_728_976));
    }

    #[test]
    fn rack_alternated_list_matches_the_adminutils_example() {
        let racks: BTreeMap<BrokerId, String> =
            [(0, "rack1"), (1, "rack3"), (2, "rack3"), (3, "rack2"), (4, "rack2"), (5, "rack1")]
                .into_iter()
                .map(|(b, r)| (b, r.to_string()))
                .collect();
        assert_eq!(rack_alternated(&[0, 1, 2, 3, 4, 5], &racks), vec![0, 3, 1, 5, 4, 2]);
    }

    #[test]
    fn fixed_start_reproduces_the_documented_table() {
        // AdminUtils javadoc: 5 brokers, 10 partitions, RF 3, start 0, shift 0 →
        // p0 = 0,1,2 … and p5 shifts its followers by one more.
        let brokers = [0, 1, 2, 3, 4];
        let mut shift = 0;
        let mut rows = Vec::new();
        for pid in 0..10usize {
            if pid > 0 && pid % 5 == 0 {
                shift += 1;
            }
            let first = pid % 5;
            let mut reps = vec![brokers[first]];
            for j in 0..2 {
                reps.push(brokers[replica_index(first, shift, j, 5)]);
            }
            rows.push(reps);
        }
        assert_eq!(rows[0], vec![0, 1, 2]);
        assert_eq!(rows[4], vec![4, 0, 1]);
        assert_eq!(rows[5], vec![0, 2, 3]);
    }
}
