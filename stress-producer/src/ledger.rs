//! The acknowledgement ledger (`--ack-ledger FILE`): per partition, how many records Kafka
//! acknowledged and an order-independent checksum over (offset, CRC-32 of the value) of exactly
//! those records. `local/ledger/Ledger.java verify` computes the same two numbers over what a
//! consumer reads back; equal in every partition means the log holds every acknowledged record, at
//! the offset the producer was told, with the bytes it sent, and nothing else. Pure apart from
//! [`PendingFile`], which writes the document.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

/// The document's format; a verifier refuses any other.
pub const FORMAT: &str = "msk-autoheal.ack-ledger/1";

/// What `checksum` is, spelled out in the document for whoever verifies it in another language.
pub const CHECKSUM: &str = "per partition: sum mod 2^64 of splitmix64-finalise(offset * 0x9E3779B97F4A7C15 + \
     crc32(value) + 0x632BE59BD9B4E019) over the records, as lower-case hex";

/// One record's share of its partition's checksum: splitmix64's finaliser over
/// `offset·φ + crc + c`, exactly as Ledger.java's `mix` computes it with Java's wrapping `long`
/// arithmetic (`>>>` is the logical shift here). The finaliser is a bijection with full
/// avalanche, so summing it over records gives a checksum that ignores order yet changes with any
/// record's offset or value. Two (offset, crc) pairs share a term only if
/// `Δoffset·φ ≡ Δcrc (mod 2^64)` with `|Δcrc| < 2^32`; the smallest offset difference for which
/// that is possible at all is 2,971,215,073 (a Fibonacci number, φ being the golden ratio; found by
/// exhaustive search), far beyond a partition's worth of a demo or a test.
pub fn mix(offset: i64, crc: u32) -> u64 {
    let mut z = (offset as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(crc))
        .wrapping_add(0x632B_E59B_D9B4_E019);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// CRC-32 (IEEE 802.3, as `java.util.zip.CRC32`) of a record's value.
pub fn crc32(value: &[u8]) -> u32 {
    crc32fast::hash(value)
}

/// One partition's acknowledged records (and the failed ones that were headed there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionTally {
    pub count: u64,
    pub checksum: u64,
    pub max_offset: i64,
    pub failed: u64,
    /// Acknowledged without an offset (never expected with acks ≥ 1): counted and mixed in with
    /// offset -1, so the read-back shows a mismatch rather than a silently wrong ledger.
    pub without_offset: u64,
}

impl Default for PartitionTally {
    fn default() -> Self {
        Self { count: 0, checksum: 0, max_offset: -1, failed: 0, without_offset: 0 }
    }
}

/// A producer instance's ledger, merged with the others' at the end. Indexed by partition: a
/// `Vec` slot per partition keeps the delivery callback at a bounds check and three additions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    parts: Vec<PartitionTally>,
    /// Failed before a partition was chosen (librdkafka's partitioner, a send refused at once).
    failed_unassigned: u64,
}

impl Tally {
    fn slot(&mut self, partition: i32) -> Option<&mut PartitionTally> {
        let i = usize::try_from(partition).ok()?;
        if i >= self.parts.len() {
            self.parts.resize(i + 1, PartitionTally::default());
        }
        Some(&mut self.parts[i])
    }

    /// Kafka acknowledged the record whose value has CRC-32 `crc` at `offset` of `partition`.
    pub fn ack(&mut self, partition: i32, offset: i64, crc: u32) {
        match self.slot(partition) {
            Some(p) => {
                p.count += 1;
                p.checksum = p.checksum.wrapping_add(mix(offset, crc));
                p.max_offset = p.max_offset.max(offset);
                if offset < 0 {
                    p.without_offset += 1;
                }
            }
            // An acknowledgement without a partition cannot happen; count it as a failure so it
            // shows instead of vanishing.
            None => self.failed_unassigned += 1,
        }
    }

    /// A record headed for `partition` (-1: none chosen yet) failed.
    pub fn fail(&mut self, partition: i32) {
        match self.slot(partition) {
            Some(p) => p.failed += 1,
            None => self.failed_unassigned += 1,
        }
    }

    /// Adds another instance's records; the result does not depend on the order of merging.
    pub fn merge(&mut self, other: &Tally) {
        if other.parts.len() > self.parts.len() {
            self.parts.resize(other.parts.len(), PartitionTally::default());
        }
        for (mine, theirs) in self.parts.iter_mut().zip(&other.parts) {
            mine.count += theirs.count;
            mine.checksum = mine.checksum.wrapping_add(theirs.checksum);
            mine.max_offset = mine.max_offset.max(theirs.max_offset);
            mine.failed += theirs.failed;
            mine.without_offset += theirs.without_offset;
        }
        self.failed_unassigned += other.failed_unassigned;
    }

    /// Partitions that saw a record, acknowledged or failed.
    pub fn partitions(&self) -> impl Iterator<Item = (i32, &PartitionTally)> {
        self.parts.iter().enumerate().filter(|(_, p)| p.count > 0 || p.failed > 0).map(|(i, p)| (i as i32, p))
    }

    pub fn acked(&self) -> u64 {
        self.parts.iter().map(|p| p.count).sum()
    }

    pub fn failed(&self) -> u64 {
        self.parts.iter().map(|p| p.failed).sum::<u64>() + self.failed_unassigned
    }
}

/// The run around the tally, for the document.
#[derive(Debug, Clone)]
pub struct RunFacts<'a> {
    pub topic: &'a str,
    pub acks: &'a str,
    pub producers: usize,
    pub record_bytes: u64,
    pub stopped_by: &'a str,
    pub elapsed: Duration,
    /// Sent but neither acknowledged nor failed when the run gave up waiting (a wedged producer).
    pub unresolved: u64,
    /// Failed records by error kind, all instances together.
    pub errors: &'a BTreeMap<String, u64>,
}

/// The ledger document. Counts are numbers, checksums lower-case hex without leading zeros (as
/// Java's `Long.toUnsignedString(x, 16)` prints them); partitions are keyed by their number.
pub fn document(tally: &Tally, run: &RunFacts<'_>) -> Value {
    let partitions: serde_json::Map<String, Value> = tally
        .partitions()
        .map(|(p, t)| {
            let mut v = json!({
                "count": t.count,
                "checksum": format!("{:x}", t.checksum),
                "max_offset": t.max_offset,
                "failed": t.failed,
            });
            if t.without_offset > 0 {
                v["acked_without_offset"] = json!(t.without_offset);
            }
            (p.to_string(), v)
        })
        .collect();
    let acked = tally.acked();
    json!({
        "format": FORMAT,
        "checksum": CHECKSUM,
        "topic": run.topic,
        "acks": run.acks,
        "producers": run.producers,
        "acked": acked,
        "failed": tally.failed(),
        "failed_without_partition": tally.failed_unassigned,
        "in_flight_unresolved": run.unresolved,
        "bytes_acked": acked * run.record_bytes,
        "errors": run.errors,
        "stopped_by": run.stopped_by,
        "elapsed_s": (run.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        "partitions": partitions,
    })
}

/// The ledger file, reserved before the load starts (an unwritable place is a bad flag, found
/// before anything is sent) and written at the end beside its final name, then renamed over it:
/// a reader sees no ledger or a whole one. Dropped without [`PendingFile::commit`] (the run failed
/// before it started), nothing is left behind.
pub struct PendingFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    pub fn create(path: &Path) -> std::io::Result<Self> {
        let name = path.file_name().ok_or_else(|| std::io::Error::other("not a file name"))?;
        let mut tmp_name = name.to_os_string();
        tmp_name.push(format!(".tmp-{}", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let file = File::create(&tmp)?;
        Ok(Self { path: path.to_owned(), tmp, file: Some(file) })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `doc` (one line of JSON) and renames it into place.
    pub fn commit(mut self, doc: &Value) -> std::io::Result<()> {
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("already written"))?;
        let mut text = serde_json::to_vec(doc).map_err(std::io::Error::other)?;
        text.push(b'\n');
        file.write_all(&text)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        // Only the aside file: after a commit it no longer exists and this does nothing.
        let _ = std::fs::remove_file(&self.tmp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    // Expected values printed by the verifier's own functions (`mix`, and `crc` = java.util.zip.CRC32):
    // `java -cp "$KAFKA_LIBS/*:<classes>" Ledger vectors` (local/ledger/Ledger.java).
    #[test]
    fn crc32_is_java_util_zip_crc32() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"), 0xABF7_7822);
        let big: Vec<u8> = (0..10_240).map(|i| b'A' + (i % 26) as u8).collect();
        assert_eq!(crc32(&big), 0x2C05_E812);
    }

    #[test]
    fn mix_equals_ledger_java() {
        for (offset, crc, java) in [
            (0, 0, 0x6db6_ca64_564d_aeaa_u64),
            (0, 0xCBF4_3926, 0x5ad7_8598_85ab_838d),
            (1, 0, 0x5cc6_0547_7769_02ba),
            (41, 0xFFFF_FFFF, 0x5950_e203_7faf_3793),
            (1_000_000, 0x1234_5678, 0xf5e2_30a8_7388_8485),
            (i64::MAX, 1, 0xd163_c801_20d5_cb9c),
        ] {
            assert_eq!(mix(offset, crc), java, "mix({offset}, {crc:#x})");
        }
        let big: Vec<u8> = (0..10_240).map(|i| b'A' + (i % 26) as u8).collect();
        assert_eq!(mix(7, crc32(&big)), 0x8964_d138_e315_3675);
    }

    #[test]
    fn a_partition_checksum_equals_ledger_java_and_ignores_order() {
        // Java: sum of mix(i, crc("seq=i")) for i in 0..5, printed as Long.toUnsignedString(_, 16).
        let java = "b16fbbbc61f9639c";
        let mut forward = Tally::default();
        for i in 0..5i64 {
            forward.ack(3, i, crc32(format!("seq={i}").as_bytes()));
        }
        let mut backward = Tally::default();
        for i in (0..5i64).rev() {
            backward.ack(3, i, crc32(format!("seq={i}").as_bytes()));
        }
        assert_eq!(forward, backward);
        let p = forward.partitions().next().unwrap();
        assert_eq!((p.0, p.1.count, p.1.max_offset), (3, 5, 4));
        assert_eq!(format!("{:x}", p.1.checksum), java);
    }

    #[test]
    fn the_checksum_sees_a_lost_a_moved_and_a_changed_record() {
        let records: Vec<(i64, u32)> = (0..100).map(|o| (o, crc32(format!("v{o}").as_bytes()))).collect();
        let sum = |rs: &[(i64, u32)]| {
            let mut t = Tally::default();
            for &(o, c) in rs {
                t.ack(0, o, c);
            }
            t.parts[0].checksum
        };
        let whole = sum(&records);
        let mut lost = records.clone();
        lost.remove(42);
        lost.push((42 + 100, records[42].1)); // same count, the value at another offset
        assert_ne!(sum(&lost), whole);
        let mut changed = records.clone();
        changed[7].1 ^= 1;
        assert_ne!(sum(&changed), whole);
        let mut swapped = records.clone();
        swapped.swap(3, 4);
        assert_eq!(sum(&swapped), whole, "order does not matter");
        let (a, b) = (records[3], records[4]);
        let mut crossed = records;
        crossed[3] = (a.0, b.1);
        crossed[4] = (b.0, a.1);
        assert_ne!(sum(&crossed), whole, "values exchanged between offsets");
    }

    #[test]
    fn merging_instances_is_order_independent_and_keeps_failures() {
        let mut a = Tally::default();
        let mut b = Tally::default();
        let mut whole = Tally::default();
        for o in 0..50i64 {
            let (p, crc) = ((o % 3) as i32, o as u32 * 7);
            if o % 2 == 0 {
                a.ack(p, o, crc)
            } else {
                b.ack(p, o, crc)
            }
            whole.ack(p, o, crc);
        }
        b.fail(5);
        b.fail(-1);
        whole.fail(5);
        whole.fail(-1);
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, whole);
        assert_eq!(ba, whole);
        assert_eq!((ab.acked(), ab.failed()), (50, 2));
        let seen: Vec<i32> = ab.partitions().map(|(p, _)| p).collect();
        assert_eq!(seen, [0, 1, 2, 5], "partitions 3 and 4 saw nothing and are left out");
    }

    #[test]
    fn document_shape_is_what_the_verifier_reads() {
        let mut t = Tally::default();
        t.ack(0, 0, 0);
        t.ack(0, 1, 0xCBF4_3926);
        t.ack(11, 0, 0);
        t.fail(11);
        let errors = BTreeMap::from([("MessageTimedOut".to_owned(), 1)]);
        let run = RunFacts {
            topic: "stress-test",
            acks: "all",
            producers: 4,
            record_bytes: 10_240,
            stopped_by: "signal",
            elapsed: Duration::from_millis(12_345),
            unresolved: 0,
            errors: &errors,
        };
        let doc = document(&t, &run);
        assert_eq!(doc["format"], FORMAT);
        assert_eq!(doc["topic"], "stress-test");
        assert_eq!((doc["acked"].as_u64(), doc["failed"].as_u64()), (Some(3), Some(1)));
        assert_eq!(doc["bytes_acked"], 3 * 10_240);
        assert_eq!(doc["elapsed_s"], 12.345);
        assert_eq!(doc["errors"]["MessageTimedOut"], 1);
        let sum = mix(0, 0).wrapping_add(mix(1, 0xCBF4_3926));
        assert_eq!(
            doc["partitions"]["0"],
            json!({"count": 2, "checksum": format!("{sum:x}"), "max_offset": 1, "failed": 0})
        );
        assert_eq!(doc["partitions"]["11"]["failed"], 1);
        assert_eq!(doc["partitions"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn an_ack_without_offset_is_flagged_not_hidden() {
        let mut t = Tally::default();
        t.ack(2, -1, 5);
        t.ack(-1, 3, 5);
        assert_eq!((t.acked(), t.failed()), (1, 1));
        assert_eq!(t.parts[2].without_offset, 1);
    }

    #[test]
    fn the_file_appears_whole_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("sp-ledger-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ledger.json");
        let pending = PendingFile::create(&path).unwrap();
        assert!(!path.exists(), "nothing under the final name before the commit");
        pending.commit(&json!({"acked": 1})).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"acked\":1}\n");
        // A run that fails before the load leaves neither file.
        let path2 = dir.join("never.json");
        drop(PendingFile::create(&path2).unwrap());
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, [std::ffi::OsString::from("ledger.json")]);
        assert!(PendingFile::create(&dir.join("no-such-dir").join("l.json")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
