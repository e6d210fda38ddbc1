//! Everything of the Kafka CLI that the workflow runs on the client instance over SSM: validated
//! values (the only way anything reaches a shell), the scripts built from them, and parsers for what
//! the tools print. Pure: building a script runs nothing.

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod fixture_tests;
mod output;
mod scripts;
mod values;

pub use output::{
    BrokerRack, ElectionReport, OutputError, PartitionState, PartitionStatus, Sections, ThrottleCleanup,
    ThrottledEntity, TopicPartition, VerifyOutcome, VerifyReport, parse_brokers, parse_cancel, parse_election,
    parse_list, parse_throttle_cleanup, parse_verify, split_sections,
};
pub use scripts::{
    ELECTION_INCOMPLETE_MARKER, END_MARKER, EXIT_LOCKED, EXIT_REASSIGNMENT_IN_PROGRESS, INLINE_PLAN_MAX_BYTES,
    KafkaClient, PlanSource, SECTION_MARKER, Script, THROTTLE_CONFIG_MARKER, THROTTLE_CONFIGS,
    THROTTLE_RESTORED_MARKER, ThrottleRestore, ThrottleTarget, broker_list, capture_script, cleanup_script,
    elect_preferred_script, execute_script, is_throttle_value, restore_throttles_script, section,
    throttle_configs_script, verify_script,
};
pub use values::{
    BootstrapServers, BrokerId, CommandConfigPath, InstanceId, KafkaBinDir, MAX_THROTTLE, MIN_THROTTLE, S3Bucket,
    S3Key, S3Location, ShellWord, Throttle, TopicName, ValueError,
};
