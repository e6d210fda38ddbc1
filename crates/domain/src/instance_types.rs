//! What one MSK Standard broker of each instance type can sustain: vCPUs, the EC2 baselines its
//! writes are bounded by, AWS's recommended partitions per broker, and which type changes MSK
//! allows. The diagnosis (issue 13) turns measured load into a percent of this capacity; the same
//! table sizes vertical changes (issue 14) and scale-in (issue 15).
//!
//! A broker's *write* throughput is what it receives and stores: `BytesInPerSec` (from producers,
//! as leader) plus `ReplicationBytesInPerSec` (as follower). Every such byte crosses the inbound
//! network and is written once to its EBS volume, so the sustained limit is the lowest of
//! - the instance's baseline EBS throughput (EC2 User Guide, "Amazon EBS-optimized instance types",
//!   general purpose table: baseline bandwidth in Mbps ÷ 8);
//! - the volume's throughput: 250 MiB/s, MSK's default when provisioned storage throughput is off
//!   (MSK Developer Guide, "Manage storage throughput for Standard brokers": "250 MiB per second is
//!   the default");
//! - the instance's baseline network bandwidth (EC2 User Guide, "General purpose instances —
//!   network specifications"; sizes "up to" a burst rate sustain only the baseline).
//!
//! This is the per-broker form of Equation 1 in AWS's sizing guide (AWS Big Data Blog, "Best
//! practices for right-sizing your Apache Kafka clusters to optimize performance and cost":
//! `t_cluster ≤ min(t_storage, t_EBSnetwork) × brokers ÷ r`, with `t_cluster × r ÷ brokers` being
//! exactly BytesIn + ReplicationBytesIn per broker). Where MSK's own provisioned-throughput table
//! lists a size, its maximum agrees with the EBS baseline below (m5.4xlarge 593, m5.8xlarge 850,
//! m7g.2xlarge 312.5, m7g.4xlarge 625 MiB/s), which cross-checks the EC2 figures. Burst credits are
//! ignored on purpose: a sustained overload outlasts them.
//!
//! Provenance: the MSK figures (partitions per broker, provisioned-throughput maxima, the 250 MiB/s
//! default, 16384 GiB) were read from the MSK Developer Guide pages named. The per-size EC2 baselines
//! are those of the two EC2 User Guide tables named, transcribed, not re-fetched when this table was
//! written: only the four sizes MSK also lists were checked against a second AWS page. Re-check a
//! line against those tables before relying on it for a new size.

use serde::Serialize;

/// MSK's default volume throughput without provisioned storage throughput: 250 MiB/s
/// (MSK Developer Guide, "Manage storage throughput for Standard brokers").
pub const DEFAULT_VOLUME_BYTES_PER_SEC: u64 = 250 * 1024 * 1024;

/// MSK's largest EBS volume per broker, 16384 GiB (MSK Developer Guide, "Scale up Standard broker
/// storage": at most 16384 GiB per broker).
pub const MAX_STORAGE_GIB: u32 = 16384;

/// Broker families; MSK changes a broker type only along the edges of [`can_change_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    T3,
    M5,
    M7g,
    /// The local stack's emulated broker (`local/`): never an AWS type.
    LocalEmulated,
}

/// Which measured bytes a type's write limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    /// `BytesInPerSec + ReplicationBytesInPerSec`: everything a broker receives and stores.
    BytesInPlusReplication,
    /// `ReplicationBytesInPerSec` only: the local stack shapes follower fetches and nothing else.
    ReplicationOnly,
}

/// One broker type.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InstanceType {
    pub name: &'static str,
    pub family: Family,
    /// Position within the family, smallest first (vertical sizing steps along it).
    pub size_rank: u8,
    pub vcpus: u32,
    /// Baseline EBS throughput of the instance, bytes/s (`None`: not an EC2 instance).
    pub ebs_baseline_bytes_per_sec: Option<u64>,
    /// Baseline network bandwidth, bytes/s (`None`: not an EC2 instance).
    pub network_baseline_bytes_per_sec: Option<u64>,
    /// For types that are not EC2 instances: the limit itself, bytes/s.
    pub emulated_limit_bytes_per_sec: Option<u64>,
    pub counted: Counted,
    /// AWS's recommended maximum partitions per broker, leaders and followers (MSK Developer Guide,
    /// "Best practices for Standard brokers", "Right-size your cluster: Number of partitions per
    /// Standard broker").
    pub recommended_max_partitions: u32,
}

impl InstanceType {
    /// The write throughput one broker sustains, bytes/s: the lowest of its EBS baseline, the
    /// default volume throughput and its network baseline (see the module header), or the emulated
    /// limit.
    pub fn sustained_write_bytes_per_sec(&self) -> u64 {
        if let Some(limit) = self.emulated_limit_bytes_per_sec {
            return limit;
        }
        [self.ebs_baseline_bytes_per_sec, Some(DEFAULT_VOLUME_BYTES_PER_SEC), self.network_baseline_bytes_per_sec]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(DEFAULT_VOLUME_BYTES_PER_SEC)
    }

    /// Looks a type up by the name DescribeClusterV2 reports (`BrokerNodeGroupInfo.InstanceType`).
    pub fn lookup(name: &str) -> Option<&'static InstanceType> {
        INSTANCE_TYPES.iter().find(|t| t.name == name)
    }

    /// The types MSK lets this one change to (UpdateBrokerType), smallest vCPUs first.
    pub fn allowed_changes(&self) -> Vec<&'static InstanceType> {
        let mut out: Vec<_> = INSTANCE_TYPES.iter().filter(|t| can_change_type(self, t)).collect();
        out.sort_by_key(|t| (t.vcpus, t.size_rank, t.name));
        out
    }
}

/// Whether MSK's UpdateBrokerType takes `from` to `to`: any other size within the family, and
/// across families T3 → M5, T3 → M7g, M5 → M7g, M7g → M5 (MSK Developer Guide, "Update the broker
/// size of an Amazon MSK cluster"; never back to T3). The local emulated type changes to nothing here:
/// the local stack declares its own sizes when it emulates UpdateBrokerType.
pub fn can_change_type(from: &InstanceType, to: &InstanceType) -> bool {
    use Family::*;
    if from.name == to.name {
        return false;
    }
    match (from.family, to.family) {
        (LocalEmulated, _) | (_, LocalEmulated) => false,
        (a, b) if a == b => true,
        (T3, M5) | (T3, M7g) | (M5, M7g) | (M7g, M5) => true,
        _ => false,
    }
}

const fn mbps(megabits: u64) -> Option<u64> {
    Some(megabits * 1_000_000 / 8)
}

const fn gbps_milli(milli_gigabits: u64) -> Option<u64> {
    Some(milli_gigabits * 1_000_000 / 8)
}

const fn ec2(
    name: &'static str,
    family: Family,
    size_rank: u8,
    vcpus: u32,
    ebs: Option<u64>,
    net: Option<u64>,
    partitions: u32,
) -> InstanceType {
    InstanceType {
        name,
        family,
        size_rank,
        vcpus,
        ebs_baseline_bytes_per_sec: ebs,
        network_baseline_bytes_per_sec: net,
        emulated_limit_bytes_per_sec: None,
        counted: Counted::BytesInPlusReplication,
        recommended_max_partitions: partitions,
    }
}

/// Every type the diagnosis knows. Figures per line: vCPUs (EC2 instance type specifications),
/// EBS baseline in Mbps (EC2 User Guide, "Amazon EBS-optimized instance types", general purpose),
/// network baseline in Gbit/s × 1000 (EC2 User Guide, "General purpose instances — network
/// specifications", baseline column), recommended partitions per broker (MSK best practices).
pub static INSTANCE_TYPES: &[InstanceType] = &[
    // T3: burstable CPU; 174 Mbps EBS baseline, 0.128 Gbit/s network baseline (EC2 pages above).
    ec2("kafka.t3.small", Family::T3, 0, 2, mbps(174), gbps_milli(128), 300),
    // M5 (Intel): EBS baselines 650/1150/2300/4750/6800/9500/13600/19000 Mbps; network baselines
    // 0.75/1.25/2.5/5 Gbit/s ("up to 10"), then 10/10/20/25 Gbit/s.
    ec2("kafka.m5.large", Family::M5, 0, 2, mbps(650), gbps_milli(750), 1000),
    ec2("kafka.m5.xlarge", Family::M5, 1, 4, mbps(1150), gbps_milli(1250), 1000),
    ec2("kafka.m5.2xlarge", Family::M5, 2, 8, mbps(2300), gbps_milli(2500), 2000),
    ec2("kafka.m5.4xlarge", Family::M5, 3, 16, mbps(4750), gbps_milli(5000), 4000),
    ec2("kafka.m5.8xlarge", Family::M5, 4, 32, mbps(6800), gbps_milli(10000), 4000),
    ec2("kafka.m5.12xlarge", Family::M5, 5, 48, mbps(9500), gbps_milli(10000), 4000),
    ec2("kafka.m5.16xlarge", Family::M5, 6, 64, mbps(13600), gbps_milli(20000), 4000),
    ec2("kafka.m5.24xlarge", Family::M5, 7, 96, mbps(19000), gbps_milli(25000), 4000),
    // M7g (Graviton3): EBS baselines 630/1250/2500/5000/10000/15000/20000 Mbps; network baselines
    // 0.937/1.876/3.75/7.5 Gbit/s ("up to 12.5/15"), then 15/22.5/30 Gbit/s.
    ec2("kafka.m7g.large", Family::M7g, 0, 2, mbps(630), gbps_milli(937), 1000),
    ec2("kafka.m7g.xlarge", Family::M7g, 1, 4, mbps(1250), gbps_milli(1876), 1000),
    ec2("kafka.m7g.2xlarge", Family::M7g, 2, 8, mbps(2500), gbps_milli(3750), 2000),
    ec2("kafka.m7g.4xlarge", Family::M7g, 3, 16, mbps(5000), gbps_milli(7500), 4000),
    ec2("kafka.m7g.8xlarge", Family::M7g, 4, 32, mbps(10000), gbps_milli(15000), 4000),
    ec2("kafka.m7g.12xlarge", Family::M7g, 5, 48, mbps(15000), gbps_milli(22500), 4000),
    ec2("kafka.m7g.16xlarge", Family::M7g, 6, 64, mbps(20000), gbps_milli(30000), 4000),
    // LOCAL ONLY. The local stack's brokers (local/README.md, "Capacity") may each receive at most
    // R = 1 MB/s (1,000,000 bytes/s) of replication as followers, shaped by HTB on the namespace's
    // loopback; producers are not shaped. vCPUs: the 2 shared cores of the machine.
    InstanceType {
        name: "kafka.local.emulated",
        family: Family::LocalEmulated,
        size_rank: 0,
        vcpus: 2,
        ebs_baseline_bytes_per_sec: None,
        network_baseline_bytes_per_sec: None,
        emulated_limit_bytes_per_sec: Some(1_000_000),
        counted: Counted::ReplicationOnly,
        recommended_max_partitions: 1000,
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_and_limits() {
        let m5 = InstanceType::lookup("kafka.m5.large").unwrap();
        // 650 Mbps EBS = 81.25 MB/s, below the 93.75 MB/s network baseline and the volume's 250 MiB/s.
        assert_eq!(m5.sustained_write_bytes_per_sec(), 81_250_000);
        assert_eq!(m5.vcpus, 2);
        // m5.4xlarge: EBS 593.75 MB/s, network 625 MB/s; the volume's 262.1 MB/s binds.
        assert_eq!(InstanceType::lookup("kafka.m5.4xlarge").unwrap().sustained_write_bytes_per_sec(), 262_144_000);
        // t3.small: the 0.128 Gbit/s network baseline (16 MB/s) binds before EBS (21.75 MB/s).
        assert_eq!(InstanceType::lookup("kafka.t3.small").unwrap().sustained_write_bytes_per_sec(), 16_000_000);
        let local = InstanceType::lookup("kafka.local.emulated").unwrap();
        assert_eq!(local.sustained_write_bytes_per_sec(), 1_000_000);
        assert_eq!(local.counted, Counted::ReplicationOnly);
        assert!(InstanceType::lookup("kafka.m6.large").is_none());
        assert!(InstanceType::lookup("express.m7g.large").is_none());
    }

    #[test]
    fn table_is_consistent() {
        for t in INSTANCE_TYPES {
            assert!(t.name.starts_with("kafka."), "{}", t.name);
            assert!(t.vcpus >= 2 && t.sustained_write_bytes_per_sec() > 0, "{}", t.name);
            let same_family = INSTANCE_TYPES.iter().filter(|o| o.family == t.family && o.name != t.name);
            for o in same_family {
                // Within a family, a larger size never has fewer vCPUs or less throughput.
                if o.size_rank > t.size_rank {
                    assert!(o.vcpus > t.vcpus, "{} vs {}", o.name, t.name);
                    assert!(o.sustained_write_bytes_per_sec() >= t.sustained_write_bytes_per_sec());
                }
                assert_ne!(o.size_rank, t.size_rank, "{} and {}", o.name, t.name);
            }
        }
        let names: std::collections::BTreeSet<_> = INSTANCE_TYPES.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), INSTANCE_TYPES.len());
    }

    #[test]
    fn type_changes_msk_allows() {
        let t = |n: &str| InstanceType::lookup(n).unwrap();
        assert!(can_change_type(t("kafka.m5.large"), t("kafka.m5.2xlarge")));
        assert!(can_change_type(t("kafka.m5.2xlarge"), t("kafka.m5.large")));
        assert!(can_change_type(t("kafka.t3.small"), t("kafka.m5.large")));
        assert!(can_change_type(t("kafka.t3.small"), t("kafka.m7g.large")));
        assert!(can_change_type(t("kafka.m5.large"), t("kafka.m7g.xlarge")));
        assert!(can_change_type(t("kafka.m7g.large"), t("kafka.m5.large")));
        assert!(!can_change_type(t("kafka.m5.large"), t("kafka.t3.small")));
        assert!(!can_change_type(t("kafka.m7g.large"), t("kafka.t3.small")));
        assert!(!can_change_type(t("kafka.m5.large"), t("kafka.m5.large")));
        assert!(!can_change_type(t("kafka.local.emulated"), t("kafka.m5.large")));
        let from_t3 = t("kafka.t3.small").allowed_changes();
        assert_eq!(from_t3.len(), 15);
        assert!(from_t3.windows(2).all(|w| w[0].vcpus <= w[1].vcpus));
        assert!(t("kafka.local.emulated").allowed_changes().is_empty());
    }
}
