// Long-running metadata probe for the local cluster: one JVM for the whole session instead of a
// kafka-topics.sh JVM per sample. Every interval it prints one JSON line on stdout with the live
// brokers (id, host, port, rack), the controller, every partition's leader/replicas/ISR (internal
// topics included), ongoing reassignments (adding/removing replicas) and the latest offset of
// every partition, all read with the Kafka Admin API,
// i.e. from the brokers' own metadata. It exits when stdin closes, so it never outlives its parent.
//
// Usage: java -cp 'libs/*:classes' MetadataProbe BOOTSTRAP INTERVAL_MS

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.PartitionReassignment;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;

public final class MetadataProbe {
  private MetadataProbe() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: MetadataProbe BOOTSTRAP INTERVAL_MS");
      System.exit(2);
    }
    String bootstrap = args[0];
    long intervalMs = Long.parseLong(args[1]);

    Thread watchdog = new Thread(() -> {
      try {
        while (System.in.read() != -1) {
          // the parent never writes; EOF means it is gone
        }
      } catch (Exception ignored) {
        // treated as EOF
      }
      Runtime.getRuntime().halt(0);
    }, "stdin-watchdog");
    watchdog.setDaemon(true);
    watchdog.start();

    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "local-metadata-probe");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "4000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "6000");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "1000");
    props.put(AdminClientConfig.METADATA_MAX_AGE_CONFIG, "2000");

    try (Admin admin = Admin.create(props)) {
      while (true) {
        long start = System.currentTimeMillis();
        String line;
        try {
          line = sample(admin, start);
        } catch (Exception e) {
          Throwable cause = e.getCause() != null ? e.getCause() : e;
          line = "{\"ts_ms\":" + start + ",\"error\":" + str(cause.getClass().getSimpleName() + ": "
              + cause.getMessage()) + "}";
        }
        System.out.println(line);
        System.out.flush();
        long sleep = intervalMs - (System.currentTimeMillis() - start);
        if (sleep > 0) {
          Thread.sleep(sleep);
        }
      }
    }
  }

  private static String sample(Admin admin, long now) throws Exception {
    DescribeClusterResult cluster = admin.describeCluster();
    List<Node> nodes = new ArrayList<>(cluster.nodes().get(6, TimeUnit.SECONDS));
    Node controller = cluster.controller().get(6, TimeUnit.SECONDS);
    Set<String> names = admin.listTopics(new ListTopicsOptions().listInternal(true))
        .names().get(6, TimeUnit.SECONDS);
    Map<String, TopicDescription> topics = new TreeMap<>(
        admin.describeTopics(names).allTopicNames().get(6, TimeUnit.SECONDS));

    Map<TopicPartition, PartitionReassignment> moving = admin.listPartitionReassignments()
        .reassignments().get(6, TimeUnit.SECONDS);

    Map<TopicPartition, OffsetSpec> wanted = new HashMap<>();
    for (TopicDescription t : topics.values()) {
      for (TopicPartitionInfo p : t.partitions()) {
        if (p.leader() != null) {
          wanted.put(new TopicPartition(t.name(), p.partition()), OffsetSpec.latest());
        }
      }
    }
    Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> offsets = new HashMap<>();
    if (!wanted.isEmpty()) {
      try {
        offsets = admin.listOffsets(wanted).all().get(6, TimeUnit.SECONDS);
      } catch (Exception e) {
        // a partition without a leader right now: report the others without offsets this round
      }
    }

    StringBuilder sb = new StringBuilder(4096);
    sb.append("{\"ts_ms\":").append(now);
    sb.append(",\"controller\":").append(controller == null ? -1 : controller.id());
    sb.append(",\"brokers\":[");
    nodes.sort((a, b) -> Integer.compare(a.id(), b.id()));
    for (int i = 0; i < nodes.size(); i++) {
      Node n = nodes.get(i);
      if (i > 0) {
        sb.append(',');
      }
      sb.append("{\"id\":").append(n.id()).append(",\"host\":").append(str(n.host()))
          .append(",\"port\":").append(n.port()).append(",\"rack\":")
          .append(n.rack() == null ? "null" : str(n.rack())).append('}');
    }
    sb.append("],\"partitions\":[");
    boolean first = true;
    for (TopicDescription t : topics.values()) {
      for (TopicPartitionInfo p : t.partitions()) {
        if (!first) {
          sb.append(',');
        }
        first = false;
        TopicPartition tp = new TopicPartition(t.name(), p.partition());
        ListOffsetsResult.ListOffsetsResultInfo off = offsets.get(tp);
        PartitionReassignment move = moving.get(tp);
        sb.append("{\"topic\":").append(str(t.name()))
            .append(",\"partition\":").append(p.partition())
            .append(",\"internal\":").append(t.isInternal())
            .append(",\"leader\":").append(p.leader() == null ? -1 : p.leader().id())
            .append(",\"replicas\":").append(ids(p.replicas()))
            .append(",\"isr\":").append(ids(p.isr()))
            .append(",\"end_offset\":").append(off == null ? "null" : Long.toString(off.offset()));
        if (move != null) {
          sb.append(",\"adding\":").append(intList(move.addingReplicas()))
              .append(",\"removing\":").append(intList(move.removingReplicas()));
        }
        sb
            .append('}');
      }
    }
    sb.append("]}");
    return sb.toString();
  }

  private static String ids(List<Node> nodes) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < nodes.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(nodes.get(i).id());
    }
    return sb.append(']').toString();
  }

  private static String intList(List<Integer> ids) {
    StringBuilder sb = new StringBuilder("[");
    for (int i = 0; i < ids.size(); i++) {
      if (i > 0) {
        sb.append(',');
      }
      sb.append(ids.get(i));
    }
    return sb.append(']').toString();
  }

  private static String str(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }
}
