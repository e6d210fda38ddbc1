#!/usr/bin/env bash
# Stand-in for Apache Kafka's bin/kafka-broker-api-versions.sh (same main class, jars from Maven
# Central). Added by the workflow: CaptureAssignment reads each broker's rack from its
# "host:port (id: N rack: R ...)" lines.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" org.apache.kafka.tools.BrokerApiVersionsCommand "$@"
