#!/usr/bin/env bash
# Stand-in for Apache Kafka's bin/kafka-run-class.sh: runs a Kafka main class on the jars that
# local/kafka/fetch.sh resolved from Maven Central (.cache/kafka/<version>/libs).
# Environment, as in the official script: KAFKA_HEAP_OPTS, KAFKA_JVM_PERFORMANCE_OPTS,
# KAFKA_LOG4J_OPTS, KAFKA_OPTS, JAVA_HOME. Local additions:
#   KAFKA_LIBS   jar directory (default: resolved by fetch.sh, a no-op once cached)
#   KAFKA_NETNS  network namespace the local cluster lives in; the tool re-executes itself inside
#                it when it is not already there (the cluster's 127.0.0.1 is that namespace's).
set -euo pipefail

BIN=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KAFKA_DIR=$(dirname "$BIN")

if [ $# -lt 1 ]; then
  echo "USAGE: $0 classname [opts]" >&2
  exit 2
fi

if [ -n "${KAFKA_NETNS:-}" ] && [ "$(ip netns identify $$ 2>/dev/null)" != "$KAFKA_NETNS" ]; then
  exec ip netns exec "$KAFKA_NETNS" "$BIN/kafka-run-class.sh" "$@"
fi

LIBS=${KAFKA_LIBS:-$("$KAFKA_DIR/fetch.sh")}
[ -d "$LIBS" ] || { echo "kafka-run-class.sh: no Kafka jars in $LIBS (run local/kafka/fetch.sh)" >&2; exit 1; }

# Tools are short-lived: small heap, serial GC and C1 only start fastest and cost the least CPU.
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Djava.awt.headless=true}
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$KAFKA_DIR/config/tools-log4j2.properties}
JAVA=${JAVA_HOME:+$JAVA_HOME/bin/}java

# shellcheck disable=SC2086  # the *_OPTS variables are word lists, as in the official script
exec "$JAVA" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS $KAFKA_LOG4J_OPTS ${KAFKA_OPTS:-} \
  -cp "$LIBS/*" "$@"
