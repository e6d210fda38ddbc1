// Creates many topics in one Admin call (kafka-topics.sh makes one per JVM, seconds each).
// Run with Java's single-file launcher: java -cp '<kafka libs>/*' CreateTopics.java
//     BOOTSTRAP PREFIX COUNT ASSIGNMENT     e.g. 127.0.0.1:9092 t- 1100 1:2
// Topic i is PREFIX + i (5 digits); ASSIGNMENT lists each partition's replicas ("1:2,2:1": two).
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;

public class CreateTopics {
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: CreateTopics BOOTSTRAP PREFIX COUNT ASSIGNMENT");
            System.exit(2);
        }
        Map<Integer, List<Integer>> assignment = new HashMap<>();
        String[] partitions = args[3].split(",");
        for (int p = 0; p < partitions.length; p++) {
            List<Integer> replicas = new ArrayList<>();
            for (String b : partitions[p].split(":")) {
                replicas.add(Integer.parseInt(b));
            }
            assignment.put(p, replicas);
        }
        int count = Integer.parseInt(args[2]);
        List<NewTopic> topics = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            topics.add(new NewTopic(String.format("%s%05d", args[1], i), assignment));
        }
        Properties props = new Properties();
        props.put("bootstrap.servers", args[0]);
        try (Admin admin = Admin.create(props)) {
            admin.createTopics(topics).all().get();
        }
        System.out.println("created " + count);
    }
}
