//! Pure domain logic of msk-autoheal: what an alarm means, how many brokers to add, whether a
//! remediation may start. Plain types in, plain types out; no Lambda, SDK or I/O.

pub mod alarm;
pub mod approval;
pub mod capacity;
pub mod cluster;
pub mod diagnose;
pub mod fixes;
pub mod flight;
pub mod instance_types;
pub mod kafka_cli;
pub mod new_brokers;
pub mod remediation;
pub mod time;
