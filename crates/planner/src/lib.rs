//! Partition reassignment planning for Kafka clusters that gained (or lose) brokers.
//!
//! Pure: no AWS, no I/O, no async. [`formats`] reads the captures a cluster gives
//! (`kafka-reassign-partitions.sh` JSON, `kafka-topics.sh --describe` in the Kafka 3.x and 4.x
//! layouts, `kafka-log-dirs.sh --describe`) and writes the JSON `--execute` takes; [`plan()`]
//! computes a reassignment that moves exactly the lower bound of replicas, balances preferred
//! leaders by reordering replica lists, respects racks, evens out disks when sizes are known and
//! splits the work into stages. [`Strategy::KafkaGenerate`] is a faithful port of Kafka's own
//! `--generate`, the baseline the benchmarks compare against.
//!
//! ```
//! use autoheal_planner::{formats, plan, PlanRequest};
//! let current = formats::parse_assignment(
//!     r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]},
//!                                   {"topic":"t","partition":1,"replicas":[2,1]}]}"#,
//! ).unwrap();
//! let p = plan(&current, &PlanRequest { brokers: vec![1, 2, 3, 4], ..Default::default() }).unwrap();
//! assert_eq!(p.report.moves, p.report.lower_bound);
//! let execute_json = formats::write_reassignment_json(
//!     p.changed.iter().map(|&i| (&current.partitions[i].tp, p.proposed[i].as_slice())),
//! );
//! assert!(execute_json.starts_with(r#"{"version":1,"partitions":["#));
//! ```

// The algorithms walk several flat arrays indexed by the same broker or partition number;
// index loops say that more plainly than zipped iterators.
#![allow(clippy::needless_range_loop)]

mod balance;
mod disk;
mod exact;
pub mod formats;
pub mod generate;
mod layout;
mod leaders;
pub mod model;
mod plan;
mod stages;
mod targets;

pub use formats::{FormatError, parse_assignment};
pub use model::{Assignment, BrokerId, PartitionState, SourceFormat, TopicPartition};
pub use plan::{BrokerReport, Plan, PlanError, PlanReport, PlanRequest, StageReport, Strategy, plan, validate};
