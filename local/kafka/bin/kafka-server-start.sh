#!/usr/bin/env bash
# Stand-in for Apache Kafka's bin/kafka-server-start.sh: runs a KRaft broker or controller.
# Usage: kafka-server-start.sh server.properties
# The launcher (local/kafka/cluster.py) sets KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS and
# KAFKA_LOG4J_OPTS per node; the defaults here are the official ones scaled down.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "USAGE: $0 server.properties [--override property=value]*" >&2
  exit 2
fi
BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256M -Xmx256M}
export KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true}
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$(dirname "$BIN")/config/log4j2.properties}
exec "$BIN/kafka-run-class.sh" kafka.Kafka "$@"
