//! Partition reassignment planning for Kafka clusters that gained brokers.
