//! The second half of the fix as a script an operator runs by hand on the Kafka client: Kafka's own
//! generate / execute (throttled) / verify cycle over all brokers. The workflow itself uses the
//! minimal-movement planner instead; this is the baseline every Kafka operator knows.

use super::{FixRequest, KafkaScriptSettings};
use crate::kafka_cli::ShellWord;

pub fn render(req: &FixRequest, kafka: &KafkaScriptSettings) -> String {
    let to = req.brokers.to();
    let name = req.cluster_arn.name();
    // MSK numbers brokers 1..N, and new ones continue the sequence.
    let broker_list = (1..=to).map(|b| b.to_string()).collect::<Vec<_>>().join(",");
    let bootstrap = match &kafka.bootstrap_servers {
        Some(b) => format!("BOOTSTRAP={}", b.shell_word()),
        None => {
            // The listener has to match the client settings: TLS/SASL need the command-config file.
            let query = if kafka.command_config.is_some() {
                "BootstrapBrokerStringSaslIam || BootstrapBrokerStringSaslScram || BootstrapBrokerStringTls"
            } else {
                "BootstrapBrokerString"
            };
            format!(
                "BOOTSTRAP=$(aws kafka get-bootstrap-brokers --region {} --cluster-arn '{}' --query '{query}' --output text)",
                req.cluster_arn.region(),
                req.cluster_arn.as_str()
            )
        }
    };
    let command_config =
        kafka.command_config.as_ref().map(|c| format!(" --command-config {}", c.shell_word())).unwrap_or_default();
    let bin: ShellWord = kafka.bin_dir.shell_word();
    let throttle = kafka.throttle;
    format!(
        r#"#!/bin/sh
# Kafka CLI: move partitions of {name} onto its new brokers once the cluster is ACTIVE with {to}
# brokers ({broker_list}). Adding brokers moves nothing by itself. Run this on a host with the Kafka
# CLI that reaches the cluster (the SSM-managed client).
# Note: Kafka's --generate re-places every partition of every topic and moves far more data than
# needed; `autoheal plan` computes the minimal plan from `kafka-topics.sh --describe` output.
set -eu
KAFKA_BIN={bin}
{bootstrap}
THROTTLE={throttle_word} # bytes/s per broker for the moves ({throttle_mib} MiB/s); clients keep the rest
WORK=$(mktemp -d /tmp/autoheal-reassign.XXXXXX)

kafka() {{
  tool=$1
  shift
  "$KAFKA_BIN/$tool" --bootstrap-server "$BOOTSTRAP"{command_config} "$@"
}}

# 1. The topics to move: all but Kafka's internal ones.
kafka kafka-topics.sh --list --exclude-internal > "$WORK/topics.txt"
{{
  printf '{{"version":1,"topics":['
  sed 's/.*/{{"topic":"&"}}/' "$WORK/topics.txt" | paste -sd, - | tr -d '\n'
  printf ']}}\n'
}} > "$WORK/topics-to-move.json"

# 2. Propose an assignment over all {to} brokers; keep the current one for rollback.
kafka kafka-reassign-partitions.sh --topics-to-move-json-file "$WORK/topics-to-move.json" \
  --broker-list '{broker_list}' --generate > "$WORK/generate.txt"
sed -n '/^Current partition replica assignment/{{n;p;}}' "$WORK/generate.txt" > "$WORK/rollback.json"
sed -n '/^Proposed partition reassignment configuration/{{n;p;}}' "$WORK/generate.txt" > "$WORK/reassignment.json"

# 3. Start the moves, throttled.
kafka kafka-reassign-partitions.sh --reassignment-json-file "$WORK/reassignment.json" \
  --execute --throttle "$THROTTLE"

# 4. Wait until done; the --verify that finds it done also removes the throttle.
while :; do
  kafka kafka-reassign-partitions.sh --reassignment-json-file "$WORK/reassignment.json" --verify > "$WORK/verify.txt"
  grep -q 'is still in progress' "$WORK/verify.txt" || break
  sleep "${{VERIFY_INTERVAL:-30}}"
done
cat "$WORK/verify.txt"
if grep -q 'There is no active reassignment' "$WORK/verify.txt"; then
  echo "Some partitions did not reach their target. Rollback plan: $WORK/rollback.json" >&2
  exit 1
fi
# Done means every partition line says complete: no partition line at all is an unreadable --verify.
if ! grep -q '^Reassignment of partition ' "$WORK/verify.txt" || grep -q '^Reassignment of partition .* failed' "$WORK/verify.txt"; then
  echo "--verify reported no completed partition (output above): not known to be done. Rollback plan: $WORK/rollback.json" >&2
  exit 1
fi
echo "Done. Rollback plan (the assignment before the moves): $WORK/rollback.json"
"#,
        throttle_word = throttle.shell_word(),
        throttle_mib = throttle.bytes_per_sec() / (1024 * 1024),
    )
}

#[cfg(test)]
mod tests {
    use super::super::test_support::request;
    use super::*;
    use crate::kafka_cli::fake::FakeKafka;
    use crate::kafka_cli::{BootstrapServers, CommandConfigPath, Throttle};

    #[test]
    fn without_bootstrap_servers_it_asks_msk_for_the_listener_matching_the_client_settings() {
        let mut settings = KafkaScriptSettings::default();
        let text = render(&request(2, 4), &settings);
        assert!(text.contains("--query 'BootstrapBrokerString' --output text"));
        assert!(!text.contains("--command-config"));
        settings.command_config = Some(CommandConfigPath::parse("/home/ec2-user/iam.properties").unwrap());
        let text = render(&request(2, 4), &settings);
        assert!(text.contains("BootstrapBrokerStringSaslIam || "));
        assert!(
            text.contains("--bootstrap-server \"$BOOTSTRAP\" --command-config '/home/ec2-user/iam.properties' \"$@\"")
        );
    }

    #[test]
    fn is_valid_shell() {
        let out = std::process::Command::new("sh")
            .args(["-n", "-c", &render(&request(2, 4), &KafkaScriptSettings::default())])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// A --verify that names no partition (the tool died after its header) is not "done".
    #[test]
    fn a_verify_without_partition_lines_is_not_done() {
        let fake = FakeKafka::new("fix-script-unreadable");
        fake.tool("kafka-topics.sh", "printf 'stress-test\\n'");
        fake.tool(
            "kafka-reassign-partitions.sh",
            r#"case "$*" in
*--generate*) printf 'Current partition replica assignment\n{}\n\nProposed partition reassignment configuration\n{}\n' ;;
*--verify*) echo 'Status of partition reassignment:' ;;
esac"#,
        );
        let settings = KafkaScriptSettings {
            bin_dir: fake.bin_dir(),
            bootstrap_servers: Some(BootstrapServers::parse("b-1.demo:9092").unwrap()),
            command_config: None,
            throttle: Throttle::new(10_485_760).unwrap(),
        };
        let (code, out, err) = fake.run_text(&render(&request(2, 4), &settings), &[("VERIFY_INTERVAL", "0")]);
        assert_eq!(code, 1, "stdout: {out}\nstderr: {err}");
        assert!(err.contains("--verify reported no completed partition"), "{err}");
        assert!(!out.contains("Done."), "{out}");
    }

    /// The script runs for real against fake Kafka tools that behave like the real ones' output.
    #[test]
    fn generates_executes_throttled_and_verifies_until_done() {
        let fake = FakeKafka::new("fix-script");
        fake.tool("kafka-topics.sh", "printf 'stress-test\\nother\\n'");
        let state = fake.path().join("verify-count");
        fake.tool(
            "kafka-reassign-partitions.sh",
            &format!(
                r#"case "$*" in
*--generate*)
  echo 'Current partition replica assignment'
  echo '{{"version":1,"partitions":[{{"topic":"stress-test","partition":0,"replicas":[1,2],"log_dirs":["any","any"]}}]}}'
  echo
  echo 'Proposed partition reassignment configuration'
  echo '{{"version":1,"partitions":[{{"topic":"stress-test","partition":0,"replicas":[3,4],"log_dirs":["any","any"]}}]}}' ;;
*--execute*) echo 'Successfully started partition reassignment for stress-test-0' ;;
*--verify*)
  n=$(cat '{state}' 2>/dev/null || echo 0); echo $((n + 1)) > '{state}'
  echo 'Status of partition reassignment:'
  if [ "$n" -lt 2 ]; then echo 'Reassignment of partition stress-test-0 is still in progress.'
  else echo 'Reassignment of partition stress-test-0 is completed.'; echo 'Clearing broker-level throttles on brokers 1,2,3,4'; fi ;;
esac"#,
                state = state.display()
            ),
        );
        let settings = KafkaScriptSettings {
            bin_dir: fake.bin_dir(),
            bootstrap_servers: Some(BootstrapServers::parse("b-1.demo:9092").unwrap()),
            command_config: None,
            throttle: Throttle::new(10_485_760).unwrap(),
        };
        let (code, out, err) = fake.run_text(&render(&request(2, 4), &settings), &[("VERIFY_INTERVAL", "0")]);
        assert_eq!(code, 0, "stdout: {out}\nstderr: {err}");
        assert!(out.contains("Reassignment of partition stress-test-0 is completed."));
        let calls = fake.calls();
        assert_eq!(calls[0], "kafka-topics.sh --bootstrap-server b-1.demo:9092 --list --exclude-internal");
        assert!(calls[1].contains("--broker-list 1,2,3,4 --generate"), "{}", calls[1]);
        assert!(calls[2].contains("--execute --throttle 10485760"), "{}", calls[2]);
        assert_eq!(calls.iter().filter(|c| c.contains("--verify")).count(), 3);
        // The plan given to --execute is the proposed one, and the rollback the current one.
        let dir = out.lines().last().unwrap().rsplit(": ").next().unwrap();
        let work = std::path::Path::new(dir).parent().unwrap();
        let topics = std::fs::read_to_string(work.join("topics-to-move.json")).unwrap();
        assert_eq!(topics, "{\"version\":1,\"topics\":[{\"topic\":\"stress-test\"},{\"topic\":\"other\"}]}\n");
        let proposed = std::fs::read_to_string(work.join("reassignment.json")).unwrap();
        assert!(proposed.contains("\"replicas\":[3,4]"));
        let rollback = std::fs::read_to_string(work.join("rollback.json")).unwrap();
        assert!(rollback.contains("\"replicas\":[1,2]"));
        std::fs::remove_dir_all(work).unwrap();
    }
}
