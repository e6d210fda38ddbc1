"""Real Apache Kafka for the local default: the cluster launcher, its metadata probe and views.

The jars come from Maven Central (local/kafka/fetch.sh, pom.xml); local/kafka/bin/ holds thin
stand-ins for the distribution's bin/*.sh over the same main classes.
"""

from local.kafka.cluster import BIN_DIR, ClusterConfig, KafkaCluster, KafkaTools, RemoteCluster, free_port, kafka_libs
from local.kafka.metadata import BrokerInfo, PartitionInfo, Snapshot

__all__ = [
    "BIN_DIR",
    "BrokerInfo",
    "ClusterConfig",
    "KafkaCluster",
    "KafkaTools",
    "RemoteCluster",
    "PartitionInfo",
    "Snapshot",
    "free_port",
    "kafka_libs",
]
