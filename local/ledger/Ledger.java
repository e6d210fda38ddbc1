// The demo's load and its proof that nothing was lost (local/ledger.py runs it).
//
//   produce <bootstrap> <topic> <records/s> <producers> <record bytes> <ledger.json>
//       The original demo's producer settings (acks=all with idempotence, lz4, 1 MiB batches,
//       10 ms linger) over several KafkaProducer instances, i.e. several connections per broker:
//       one acks=all connection can never push a leader ahead of its followers (local/README.md,
//       "Capacity"). Keyless records, the client's sticky partitioner (KIP-794). Every 2 s a line in
//       kafka-producer-perf-test's format. Sends until a line "stop" (or end of input) arrives on
//       stdin, then waits for every record in flight and writes the ledger: for each partition the
//       number of records acknowledged and an order-independent checksum of (offset, CRC-32 of the
//       value) over exactly those acknowledgements.
//   verify <bootstrap> <topic> <ledger.json>
//       Reads every partition from its first offset to its end with a consumer and computes the same
//       count and checksum over what the log holds; prints one JSON line comparing both per
//       partition. Equal counts and checksums mean the log holds exactly the acknowledged records,
//       at the offsets the producer was told, with the bytes it sent: nothing lost, nothing added.
//
// Why Java: the Kafka client jars are the cluster's own (no extra dependency), compiled once like
// the metadata probe. Why not the stress-producer: its --json summary has no per-partition
// acknowledgements to prove against (reported to the team).

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.CRC32;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

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

    /** Per-partition count and checksum; synchronized, the callbacks come from I/O threads. */
    static final class Book {
        final TreeMap<Integer, long[]> parts = new TreeMap<>(); // partition -> {count, sum, maxOffset}

        synchronized void add(int partition, long offset, long crc) {
            long[] e = parts.computeIfAbsent(partition, k -> new long[] {0, 0, -1});
            e[0]++;
            e[1] += mix(offset, crc);
            e[2] = Math.max(e[2], offset);
        }

        synchronized String json() {
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
        if (args.length >= 7 && args[0].equals("produce")) {
            produce(args[1], args[2], Double.parseDouble(args[3]), Integer.parseInt(args[4]),
                Integer.parseInt(args[5]), Path.of(args[6]));
        } else if (args.length >= 4 && args[0].equals("verify")) {
            verify(args[1], args[2], Path.of(args[3]));
        } else {
            System.err.println("usage: Ledger produce BOOTSTRAP TOPIC RPS PRODUCERS BYTES LEDGER | verify BOOTSTRAP TOPIC LEDGER");
            System.exit(2);
        }
    }

    static void produce(String bootstrap, String topic, double rps, int producers, int size, Path out) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("compression.type", "lz4");
        p.put("batch.size", "1048576");
        p.put("linger.ms", "10");
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        List<KafkaProducer<byte[], byte[]>> ps = new ArrayList<>();
        for (int i = 0; i < producers; i++) {
            Properties pi = (Properties) p.clone();
            pi.put("client.id", "ledger-" + i);
            ps.add(new KafkaProducer<>(pi));
        }
        // Random letters from a pool far larger than lz4's 64 KiB window: fresh data on the wire.
        Random rnd = new Random(42);
        byte[] pool = new byte[8 << 20];
        for (int i = 0; i < pool.length; i++) pool[i] = (byte) ('A' + rnd.nextInt(26));

        Book book = new Book();
        AtomicLong acked = new AtomicLong(), failed = new AtomicLong(), bytes = new AtomicLong();
        AtomicLong winRecords = new AtomicLong(), winLatency = new AtomicLong(), winMax = new AtomicLong();
        AtomicLong sumLatency = new AtomicLong(), maxLatency = new AtomicLong();
        Map<String, Long> errors = new HashMap<>();
        AtomicBoolean stop = new AtomicBoolean(false);
        Thread stdin = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null && !line.trim().equals("stop")) { }
            } catch (Exception ignored) { }
            stop.set(true);
        }, "stdin");
        stdin.setDaemon(true);
        stdin.start();

        long start = System.nanoTime();
        long lastReport = start;
        long seq = 0;
        while (!stop.get()) {
            long due = start + (long) (seq * 1e9 / rps);
            long now = System.nanoTime();
            if (now - due > 500_000_000L) {
                // Fell behind (a send blocked, the JVM stalled): catch up at most half a second's
                // worth, never a burst of everything missed, so the offered load stays the rate.
                start += now - due - 500_000_000L;
                continue;
            }
            if (due > now) {
                Thread.sleep(Math.min(50, Math.max(1, (due - now) / 1_000_000)));
            } else {
                byte[] v = new byte[size];
                int off = rnd.nextInt(pool.length - size);
                System.arraycopy(pool, off, v, 0, size);
                byte[] tag = ("seq=" + seq + ";").getBytes(StandardCharsets.US_ASCII);
                System.arraycopy(tag, 0, v, 0, Math.min(tag.length, size));
                final long c = crc(v);
                final long sent = System.nanoTime();
                ps.get((int) (seq % producers)).send(new ProducerRecord<>(topic, v), (md, e) -> {
                    if (e == null) {
                        long lat = (System.nanoTime() - sent) / 1_000_000;
                        book.add(md.partition(), md.offset(), c);
                        acked.incrementAndGet();
                        bytes.addAndGet(v.length);
                        winRecords.incrementAndGet();
                        winLatency.addAndGet(lat);
                        winMax.accumulateAndGet(lat, Math::max);
                        sumLatency.addAndGet(lat);
                        maxLatency.accumulateAndGet(lat, Math::max);
                    } else {
                        failed.incrementAndGet();
                        synchronized (errors) {
                            errors.merge(e.getClass().getSimpleName(), 1L, Long::sum);
                        }
                    }
                });
                seq++;
            }
            now = System.nanoTime();
            if (now - lastReport >= 2_000_000_000L) {
                double secs = (now - lastReport) / 1e9;
                long n = winRecords.getAndSet(0);
                long lat = winLatency.getAndSet(0);
                long mx = winMax.getAndSet(0);
                System.out.printf("%d records sent, %.1f records/sec (%.2f MB/sec), %.1f ms avg latency, %.1f ms max latency.%n",
                    n, n / secs, n * (double) size / 1048576.0 / secs, n == 0 ? 0.0 : lat / (double) n, (double) mx);
                System.out.flush();
                lastReport = now;
            }
        }
        for (KafkaProducer<byte[], byte[]> pr : ps) pr.flush();
        for (KafkaProducer<byte[], byte[]> pr : ps) pr.close(Duration.ofSeconds(30));
        double secs = (System.nanoTime() - start) / 1e9;
        long n = acked.get();
        StringBuilder errs = new StringBuilder("{");
        synchronized (errors) {
            boolean first = true;
            for (Map.Entry<String, Long> e : errors.entrySet()) {
                if (!first) errs.append(',');
                first = false;
                errs.append('"').append(e.getKey()).append("\":").append(e.getValue());
            }
        }
        errs.append('}');
        String doc = "{\"topic\":\"" + topic + "\",\"sent\":" + seq + ",\"acked\":" + n + ",\"failed\":" + failed.get()
            + ",\"bytes\":" + bytes.get() + ",\"elapsed_s\":" + String.format("%.3f", secs)
            + ",\"producers\":" + producers + ",\"errors\":" + errs + ",\"partitions\":" + book.json() + "}";
        Files.writeString(out, doc);
        System.out.printf("%d records sent, %.1f records/sec (%.2f MB/sec), %.2f ms avg latency, %.2f ms max latency, 0 ms 50th, 0 ms 95th, 0 ms 99th, 0 ms 99.9th.%n",
            n, n / secs, bytes.get() / 1048576.0 / secs, n == 0 ? 0.0 : sumLatency.get() / (double) n, (double) maxLatency.get());
        System.out.flush();
        System.exit(failed.get() == 0 ? 0 : 1);
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
        String acked = Files.readString(ledger);
        System.out.println("{\"records_read\":" + records + ",\"partitions\":" + book.json() + ",\"ledger\":" + acked + "}");
    }
}
