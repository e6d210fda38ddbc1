// The read-back half of "nothing lost" (local/ledger.py runs it).
//
//   vectors
//       Prints the known-answer vectors of `crc` and `mix` that stress-producer/src/ledger.rs's unit
//       tests pin, so they can be re-derived from this file's own functions.
//   verify <bootstrap> <topic> <ledger.json>
//       Reads every partition from its first offset to its end with a consumer and computes, per
//       partition, the number of records and an order-independent checksum of (offset, CRC-32 of
//       the value); prints one JSON line with both and the ledger it was given. The ledger is the
//       stress-producer's `--ack-ledger` (stress-producer/src/ledger.rs): the same two numbers over
//       exactly the records Kafka acknowledged, with the same `mix` (its unit tests pin vectors
//       printed by this file's functions). Equal counts and checksums mean the log holds exactly
//       the acknowledged records, at the offsets the producer was told, with the bytes it sent:
//       nothing lost, nothing added.
//
// Why Java: the Kafka client jars are the cluster's own (no extra dependency), compiled once like
// the metadata probe, and a consumer in another client and language than the producer (librdkafka)
// is an independent check of what the producer claims.

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.zip.CRC32;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public class Ledger {
    /** splitmix64's finaliser: spreads (offset, crc) so that a sum of many is a sound checksum. */
    static long mix(long offset, long crc) {
        long z = offset * 0x9E3779B97F4A7C15L + crc + 0x632BE59BD9B4E019L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static long crc(byte[] v) {
        CRC32 c = new CRC32();
        c.update(v, 0, v.length);
        return c.getValue();
    }

    /** Per-partition count and checksum. */
    static final class Book {
        final TreeMap<Integer, long[]> parts = new TreeMap<>(); // partition -> {count, sum, maxOffset}

        void add(int partition, long offset, long crc) {
            long[] e = parts.computeIfAbsent(partition, k -> new long[] {0, 0, -1});
            e[0]++;
            e[1] += mix(offset, crc);
            e[2] = Math.max(e[2], offset);
        }

        String json() {
            StringBuilder sb = new StringBuilder("{");
            boolean first = true;
            for (Map.Entry<Integer, long[]> e : parts.entrySet()) {
                if (!first) sb.append(',');
                first = false;
                sb.append('"').append(e.getKey()).append("\":{\"count\":").append(e.getValue()[0])
                    .append(",\"checksum\":\"").append(Long.toUnsignedString(e.getValue()[1], 16))
                    .append("\",\"max_offset\":").append(e.getValue()[2]).append('}');
            }
            return sb.append('}').toString();
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 4 && args[0].equals("verify")) {
            verify(args[1], args[2], Path.of(args[3]));
        } else if (args.length == 1 && args[0].equals("vectors")) {
            vectors();
        } else {
            System.err.println("usage: Ledger verify BOOTSTRAP TOPIC LEDGER | Ledger vectors");
            System.exit(2);
        }
    }

    static void vectors() {
        for (String v : new String[] {"", "123456789", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}) {
            System.out.printf("crc(\"%s\") = %x%n", v, crc(v.getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        }
        byte[] big = new byte[10240];
        for (int i = 0; i < big.length; i++) big[i] = (byte) ('A' + i % 26);
        System.out.printf("crc(10240 bytes A..Z repeated) = %x%n", crc(big));
        long[][] pairs = {{0, 0}, {0, 0xCBF43926L}, {1, 0}, {41, 0xFFFFFFFFL}, {1000000, 0x12345678L},
            {Long.MAX_VALUE, 1}, {7, crc(big)}};
        for (long[] p : pairs) {
            System.out.printf("mix(%d, %x) = %s%n", p[0], p[1], Long.toUnsignedString(mix(p[0], p[1]), 16));
        }
        Book b = new Book();
        for (int i = 0; i < 5; i++) b.add(3, i, crc(("seq=" + i).getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        System.out.println("partition 3, values seq=0..seq=4 at offsets 0..4: " + b.json());
    }

    static void verify(String bootstrap, String topic, Path ledger) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        p.put("enable.auto.commit", "false");
        p.put("max.partition.fetch.bytes", "4194304");
        Book book = new Book();
        long records = 0;
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30))) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps, Duration.ofSeconds(30));
            long deadline = System.nanoTime() + 300_000_000_000L;
            while (true) {
                boolean done = true;
                for (TopicPartition tp : tps) {
                    if (c.position(tp, Duration.ofSeconds(30)) < end.get(tp)) done = false;
                }
                if (done) break;
                if (System.nanoTime() > deadline) throw new RuntimeException("not at the end offsets after 300 s");
                for (ConsumerRecord<byte[], byte[]> r : c.poll(Duration.ofMillis(500))) {
                    if (r.offset() < end.get(new TopicPartition(r.topic(), r.partition()))) {
                        book.add(r.partition(), r.offset(), crc(r.value()));
                        records++;
                    }
                }
            }
        }
        // One line of output: the ledger's own trailing newline must not split it.
        String acked = Files.readString(ledger).strip();
        System.out.println("{\"records_read\":" + records + ",\"partitions\":" + book.json() + ",\"ledger\":" + acked + "}");
    }
}
