#!/usr/bin/env bash
# Stand-in for Apache Kafka's bin/kafka-leader-election.sh (same main class, jars from Maven Central).
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" org.apache.kafka.tools.LeaderElectionCommand "$@"
