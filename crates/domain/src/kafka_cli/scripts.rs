//! The shell scripts the workflow sends to the Kafka client instance over SSM (AWS-RunShellScript):
//! capture, execute, verify and cleanup. Built only from validated values and constants of this
//! module; POSIX `sh`, no bashisms, so they run the same under the SSM agent and its local stand-in.
//!
//! Every script prints `#autoheal:section:<name>` before each tool's output and `#autoheal:end` as
//! its last line, so the Lambda can split the output and tell a complete run from a cut one.

use super::values::{BootstrapServers, BrokerId, CommandConfigPath, KafkaBinDir, S3Location, Throttle, TopicName};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Marker that starts a section of script output.
pub const SECTION_MARKER: &str = "#autoheal:section:";
/// Last line of every script's output: without it the output was cut or the script died.
pub const END_MARKER: &str = "#autoheal:end";
/// Printed in the brokers section when `kafka-broker-api-versions.sh` is missing or failed.
pub const UNAVAILABLE_MARKER: &str = "#autoheal:unavailable";
/// A throttle config removed by cleanup: `#autoheal:throttle-removed <broker|topic> <name> <configs>`.
pub const THROTTLE_REMOVED_MARKER: &str = "#autoheal:throttle-removed";
/// A throttle config cleanup could not remove.
pub const THROTTLE_FAILED_MARKER: &str = "#autoheal:throttle-remove-failed";

/// Exit code of the execute script when Kafka already has reassignments in progress, so it started
/// none. The Lambda then compares the `list` section with its plan: its own stage (a re-sent
/// command) is fine, anything else is somebody else's reassignment and must not be piled onto.
pub const EXIT_REASSIGNMENT_IN_PROGRESS: i32 = 3;

/// JSON plans up to this size travel inside the command, base64-encoded; larger ones are fetched
/// from S3 by the AWS CLI on the instance. SSM caps a command's parameters well above this, and the
/// inline path needs nothing on the instance but coreutils.
pub const INLINE_PLAN_MAX_BYTES: usize = 12 * 1024;

/// Section names, in the order the scripts print them.
pub mod section {
    pub const TOPICS: &str = "topics";
    pub const LOG_DIRS: &str = "log-dirs";
    pub const BROKERS: &str = "brokers";
    pub const LIST: &str = "list";
    pub const EXECUTE: &str = "execute";
    pub const VERIFY: &str = "verify";
    pub const CANCEL: &str = "cancel";
    pub const THROTTLES: &str = "throttles";
    pub const ELECTION: &str = "election";
}

/// Printed in the election section when `kafka-leader-election.sh` exited non-zero (some partitions
/// could not get their preferred leader, e.g. because it is not in the ISR yet).
pub const ELECTION_INCOMPLETE_MARKER: &str = "#autoheal:election-incomplete";

/// How the Kafka CLI on the client instance reaches the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaClient {
    pub bin_dir: KafkaBinDir,
    pub bootstrap_servers: BootstrapServers,
    /// Client properties for TLS, SASL/SCRAM or IAM; absent for a PLAINTEXT listener.
    pub command_config: Option<CommandConfigPath>,
}

impl KafkaClient {
    /// `'<bin>/<tool>' --bootstrap-server '<servers>' [--command-config '<file>']`.
    fn tool(&self, tool: &'static str) -> String {
        let mut cmd = format!("{} --bootstrap-server {}", self.bin_dir.tool(tool), self.bootstrap_servers.shell_word());
        if let Some(cc) = &self.command_config {
            cmd.push_str(&format!(" --command-config {}", cc.shell_word()));
        }
        cmd
    }

    /// `kafka-leader-election.sh` names the client properties file `--admin.config` (Kafka 2.4 to
    /// 4.1; later versions still accept it), not `--command-config`.
    fn election_tool(&self) -> String {
        let mut cmd = format!(
            "{} --bootstrap-server {}",
            self.bin_dir.tool("kafka-leader-election.sh"),
            self.bootstrap_servers.shell_word()
        );
        if let Some(cc) = &self.command_config {
            cmd.push_str(&format!(" --admin.config {}", cc.shell_word()));
        }
        cmd
    }
}

/// Where the reassignment JSON comes from on the instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanSource {
    /// The JSON itself, base64-encoded: its alphabet (`A-Za-z0-9+/=`) is inert in a shell.
    Inline(String),
    /// Fetched with `aws s3 cp` by the instance (its role needs s3:GetObject on the key).
    S3(S3Location),
}

impl PlanSource {
    /// Inline when the JSON is small enough, else the S3 copy the plan step already wrote.
    pub fn choose(json: &[u8], s3: S3Location) -> Self {
        if json.len() <= INLINE_PLAN_MAX_BYTES { Self::inline(json) } else { Self::S3(s3) }
    }

    pub fn inline(json: &[u8]) -> Self {
        Self::Inline(base64::engine::general_purpose::STANDARD.encode(json))
    }

    /// Lines that leave the plan in `"$work/plan.json"`.
    fn fetch_lines(&self) -> Vec<String> {
        match self {
            Self::Inline(b64) => {
                debug_assert!(b64.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')));
                vec![format!("printf '%s' '{b64}' | base64 -d > \"$work/plan.json\"")]
            }
            Self::S3(loc) => {
                vec![format!("aws s3 cp {} \"$work/plan.json\" --only-show-errors", loc.shell_word())]
            }
        }
    }
}

/// An SSM AWS-RunShellScript `commands` list: one shell line each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Script(Vec<String>);

impl Script {
    /// The `commands` parameter for SendCommand.
    pub fn commands(&self) -> &[String] {
        &self.0
    }

    /// The whole script as one text (what the agent writes to its `_script.sh`).
    pub fn text(&self) -> String {
        let mut s = self.0.join("\n");
        s.push('\n');
        s
    }
}

/// Strict mode, private temporary directory removed on exit, files readable by us only.
fn prelude() -> Vec<String> {
    vec![
        "set -eu".to_owned(),
        "umask 077".to_owned(),
        "work=$(mktemp -d)".to_owned(),
        "trap 'rm -rf \"$work\"' EXIT".to_owned(),
    ]
}

fn section(name: &'static str) -> String {
    format!("echo '{SECTION_MARKER}{name}'")
}

fn end() -> String {
    format!("echo '{END_MARKER}'")
}

/// CaptureAssignment: every partition's replicas and ISR (`kafka-topics.sh --describe`), every
/// replica's size (`kafka-log-dirs.sh --describe`), and each broker's rack from
/// `kafka-broker-api-versions.sh` (only its `host:port (id: N rack: R ...)` lines; the tool is
/// optional, its absence is reported, not fatal).
pub fn capture_script(client: &KafkaClient) -> Script {
    let mut l = prelude();
    l.push(section(section::TOPICS));
    l.push(format!("{} --describe", client.tool("kafka-topics.sh")));
    l.push(section(section::LOG_DIRS));
    l.push(format!("{} --describe", client.tool("kafka-log-dirs.sh")));
    l.push(section(section::BROKERS));
    l.push(format!(
        "if {} > \"$work/api\" 2> \"$work/api.err\"; then grep -F ' (id: ' \"$work/api\" || true; \
         else echo '{UNAVAILABLE_MARKER}'; cat \"$work/api.err\" >&2; fi",
        client.tool("kafka-broker-api-versions.sh")
    ));
    l.push(end());
    Script(l)
}

/// ExecuteReassignment for one stage: starts it with `--execute --throttle`, unless Kafka already
/// has reassignments in progress (exit [`EXIT_REASSIGNMENT_IN_PROGRESS`], `--list` output shown),
/// because `--execute` without `--additional` refuses that anyway and `--additional` would pile our
/// moves onto somebody else's.
pub fn execute_script(client: &KafkaClient, plan: &PlanSource, throttle: Throttle) -> Script {
    let reassign = client.tool("kafka-reassign-partitions.sh");
    let mut l = prelude();
    l.extend(plan.fetch_lines());
    l.push(section(section::LIST));
    l.push(format!("{reassign} --list > \"$work/list\""));
    l.push("cat \"$work/list\"".to_owned());
    l.push(format!(
        "if ! grep -q -F 'No partition reassignments found.' \"$work/list\"; then \
         echo 'autoheal: partition reassignments are already in progress; not starting another' >&2; \
         exit {EXIT_REASSIGNMENT_IN_PROGRESS}; fi"
    ));
    l.push(section(section::EXECUTE));
    l.push(format!(
        "{reassign} --reassignment-json-file \"$work/plan.json\" --execute --throttle {}",
        throttle.shell_word()
    ));
    l.push(end());
    Script(l)
}

/// VerifyReassignment: `--verify` on the stage's plan. Kafka removes the throttles itself once no
/// reassignment is left in the cluster, and says so ("Clearing broker-level throttles ...").
pub fn verify_script(client: &KafkaClient, plan: &PlanSource) -> Script {
    let mut l = prelude();
    l.extend(plan.fetch_lines());
    l.push(section(section::VERIFY));
    l.push(format!(
        "{} --reassignment-json-file \"$work/plan.json\" --verify",
        client.tool("kafka-reassign-partitions.sh")
    ));
    l.push(end());
    Script(l)
}

/// After a stage: a preferred leader election for the stage's partitions, so the first replica of
/// each new replica list (the planner balances those across brokers) leads now rather than at
/// Kafka's next periodic rebalance (`leader.imbalance.check.interval.seconds`, 5 minutes by
/// default). Under a follower-side overload the moves only relieve the old brokers once the new
/// ones lead too (local/README.md, "Capacity"). The tool reads the partitions from the stage's own
/// reassignment JSON (it ignores the `replicas` fields). A partition whose preferred replica is not
/// in the ISR yet cannot be elected: the tool then exits non-zero, which the script reports with
/// [`ELECTION_INCOMPLETE_MARKER`] instead of failing — an election is an optimisation that the
/// confirm step retries, never a reason to abandon a reassignment.
pub fn elect_preferred_script(client: &KafkaClient, plan: &PlanSource) -> Script {
    let mut l = prelude();
    l.extend(plan.fetch_lines());
    l.push(section(section::ELECTION));
    l.push(format!(
        "{} --election-type PREFERRED --path-to-json-file \"$work/plan.json\" || echo '{ELECTION_INCOMPLETE_MARKER}'",
        client.election_tool()
    ));
    l.push(end());
    Script(l)
}

/// Throttle configs the reassignment tool sets (and `--verify` clears): broker- and topic-level.
const THROTTLE_CONFIGS_AWK: &str = r"^((leader|follower)\.replication\.throttled\.(rate|replicas)|replica\.alter\.log\.dirs\.io\.max\.bytes\.per\.second)$";

/// Cleanup on the failure path. Best effort, every step attempted, non-zero exit when any failed:
/// 1. with `cancel` and a plan: `--cancel` the plan's reassignments (Kafka reverts the partitions
///    still moving to their original replicas);
/// 2. always: remove every reassignment throttle still set — on every broker, and on the given
///    topics (those of the plan) — reading the current dynamic configs first, because
///    `kafka-configs.sh --delete-config` fails on a config that is not set.
///
/// Each removal prints [`THROTTLE_REMOVED_MARKER`] or [`THROTTLE_FAILED_MARKER`].
pub fn cleanup_script(client: &KafkaClient, cancel: Option<&PlanSource>, topics: &[TopicName]) -> Script {
    let configs = client.tool("kafka-configs.sh");
    let mut l = prelude();
    l.push("status=0".to_owned());
    if let Some(plan) = cancel {
        l.extend(plan.fetch_lines());
        l.push(section(section::CANCEL));
        l.push(format!(
            "{} --reassignment-json-file \"$work/plan.json\" --cancel || status=1",
            client.tool("kafka-reassign-partitions.sh")
        ));
    }
    l.push(section(section::THROTTLES));
    // Space-separated: topic names cannot hold a space, so `case " $topics "` matches whole names.
    let topic_words: Vec<String> = topics.iter().map(|t| t.as_str().to_owned()).collect();
    l.push(format!("topics='{}'", topic_words.join(" ")));
    l.push(format!("{configs} --entity-type brokers --describe > \"$work/brokers.cfg\" || status=1"));
    if !topics.is_empty() {
        l.push(format!("{configs} --entity-type topics --describe > \"$work/topics.cfg\" || status=1"));
    } else {
        l.push(": > \"$work/topics.cfg\"".to_owned());
    }
    // "Dynamic configs for broker 1 are:" / "Dynamic configs for topic t are:" start an entity; its
    // lines are "  name=value sensitive=... synonyms={...}". Print "<type> <name> <c1,c2>" for each
    // entity that still has a throttle config.
    l.push(format!(
        "awk '$1 == \"Dynamic\" && $2 == \"configs\" && $3 == \"for\" {{ type = $4; name = $5; next }} \
         /^[^ ]/ {{ type = \"\"; next }} \
         type != \"\" {{ split($1, kv, \"=\"); if (kv[1] ~ /{THROTTLE_CONFIGS_AWK}/) \
         {{ k = type \" \" name; if (k in found) found[k] = found[k] \",\" kv[1]; else found[k] = kv[1] }} }} \
         END {{ for (k in found) print k, found[k] }}' \"$work/brokers.cfg\" \"$work/topics.cfg\" > \"$work/throttled\""
    ));
    l.push(
        "while read -r type name cfgs; do \
         case \"$type\" in broker) ;; topic) case \" $topics \" in *\" $name \"*) ;; *) continue ;; esac ;; *) continue ;; esac; "
            .to_owned()
            + &format!(
                "if {configs} --entity-type \"${{type}}s\" --entity-name \"$name\" --alter --delete-config \"$cfgs\" < /dev/null; \
                 then echo \"{THROTTLE_REMOVED_MARKER} $type $name $cfgs\"; \
                 else echo \"{THROTTLE_FAILED_MARKER} $type $name $cfgs\"; status=1; fi; \
                 done < \"$work/throttled\""
            ),
    );
    l.push(end());
    l.push("exit \"$status\"".to_owned());
    Script(l)
}

/// Broker ids as Kafka's `--broker-list` wants them: `1,2,3`.
pub fn broker_list(brokers: &[BrokerId]) -> String {
    brokers.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

// ---- one copy per run, and exactly the throttles we set (kafka-ops re-attach and cleanup) ----------

/// Exit code of a script started while another copy of the same run holds its lock on the
/// instance ([`Script::with_lock`]): that copy is still running, this one did nothing.
pub const EXIT_LOCKED: i32 = 75;

/// A throttle config as it was before a reassignment set it:
/// `#autoheal:throttle-config <broker|topic> <name> <config> <value>`.
pub const THROTTLE_CONFIG_MARKER: &str = "#autoheal:throttle-config";
/// A pre-existing throttle config put back by [`restore_throttles_script`].
pub const THROTTLE_RESTORED_MARKER: &str = "#autoheal:throttle-restored";

/// The throttle configs `kafka-reassign-partitions.sh --execute --throttle` sets: the rates on the
/// brokers taking part, the throttled replica lists on the topics moved.
pub const THROTTLE_CONFIGS: [&str; 5] = [
    "leader.replication.throttled.rate",
    "follower.replication.throttled.rate",
    "leader.replication.throttled.replicas",
    "follower.replication.throttled.replicas",
    "replica.alter.log.dirs.io.max.bytes.per.second",
];

/// Whether a throttle config's value (a rate, `*`, or `partition:broker,...`) is safe to put back in
/// a script as it was read: nothing but `[A-Za-z0-9:,*._-]`.
pub fn is_throttle_value(v: &str) -> bool {
    !v.is_empty() && v.len() <= 65_536 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b":,*._-".contains(&b))
}

impl Script {
    /// Runs the script only when no other copy of run `name` is running on this instance: it takes
    /// `flock -n` on `${TMPDIR:-/tmp}/autoheal-<name>.lock` (kept by the Kafka tools it starts) and
    /// otherwise exits [`EXIT_LOCKED`] having done nothing. `name` is reduced to `[A-Za-z0-9._-]`.
    pub fn with_lock(self, name: &str) -> Script {
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') { c } else { '_' })
            .collect();
        let mut l = vec![
            format!("autoheal_lock=\"${{TMPDIR:-/tmp}}/autoheal-{safe}.lock\""),
            "exec 9>>\"$autoheal_lock\"".to_owned(),
            format!(
                "if ! flock -n 9; then echo 'autoheal: run {safe} is already running on this instance' >&2; \
                 exit {EXIT_LOCKED}; fi"
            ),
        ];
        l.extend(self.0);
        Script(l)
    }
}

/// Prints every throttle config ([`THROTTLE_CONFIGS`]) set now on any broker and, with `topics`,
/// on any topic, one [`THROTTLE_CONFIG_MARKER`] line each, in section `throttles`. Run before
/// `--execute` so the workflow can record what an operator had set before it.
pub fn throttle_configs_script(client: &KafkaClient, topics: bool) -> Script {
    let configs = client.tool("kafka-configs.sh");
    let mut l = prelude();
    l.push(section(section::THROTTLES));
    l.push(format!("{configs} --entity-type brokers --describe > \"$work/brokers.cfg\""));
    if topics {
        l.push(format!("{configs} --entity-type topics --describe > \"$work/topics.cfg\""));
    } else {
        l.push(": > \"$work/topics.cfg\"".to_owned());
    }
    l.push(format!(
        "awk '$1 == \"Dynamic\" && $2 == \"configs\" && $3 == \"for\" {{ type = $4; name = $5; next }} \
         /^[^ ]/ {{ type = \"\"; next }} \
         type != \"\" {{ i = index($1, \"=\"); if (i > 0 && substr($1, 1, i - 1) ~ /{THROTTLE_CONFIGS_AWK}/) \
         print \"{THROTTLE_CONFIG_MARKER}\", type, name, substr($1, 1, i - 1), substr($1, i + 1) }}' \
         \"$work/brokers.cfg\" \"$work/topics.cfg\""
    ));
    l.push(end());
    Script(l)
}

/// A broker or topic whose throttle configs the workflow may have set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThrottleTarget {
    Broker(BrokerId),
    Topic(TopicName),
}

/// One entity to put back as it was: `before` holds the throttle configs it had before the
/// workflow's first `--execute` (config, value), every value checked by [`is_throttle_value`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleRestore {
    pub target: ThrottleTarget,
    pub before: Vec<(String, String)>,
}

/// Cleanup of exactly what the workflow changed: with `cancel`, `--cancel` that plan's
/// reassignments first (Kafka reverts the partitions still moving and ignores the others); then,
/// for each entity of `entities` only, remove the throttle configs it has now that it did not have
/// before, and put back the values it had (`--execute` overwrote them). Entities not listed (an
/// operator's own throttles elsewhere) are not touched. Best effort, every step attempted,
/// non-zero exit when any failed; prints [`THROTTLE_REMOVED_MARKER`], [`THROTTLE_RESTORED_MARKER`]
/// or [`THROTTLE_FAILED_MARKER`] lines. Configs or values that are not safe are left out.
pub fn restore_throttles_script(
    client: &KafkaClient,
    cancel: Option<&PlanSource>,
    entities: &[ThrottleRestore],
) -> Script {
    let configs = client.tool("kafka-configs.sh");
    let mut l = prelude();
    l.push("status=0".to_owned());
    if let Some(plan) = cancel {
        l.extend(plan.fetch_lines());
        l.push(section(section::CANCEL));
        l.push(format!(
            "{} --reassignment-json-file \"$work/plan.json\" --cancel || status=1",
            client.tool("kafka-reassign-partitions.sh")
        ));
    }
    l.push(section(section::THROTTLES));
    let any_topic = entities.iter().any(|e| matches!(e.target, ThrottleTarget::Topic(_)));
    l.push(format!("{configs} --entity-type brokers --describe > \"$work/brokers.cfg\" || status=1"));
    if any_topic {
        l.push(format!("{configs} --entity-type topics --describe > \"$work/topics.cfg\" || status=1"));
    } else {
        l.push(": > \"$work/topics.cfg\"".to_owned());
    }
    // "<type> <name> <c1,c2>" for each entity with throttle configs set now (as cleanup_script).
    l.push(format!(
        "awk '$1 == \"Dynamic\" && $2 == \"configs\" && $3 == \"for\" {{ type = $4; name = $5; next }} \
         /^[^ ]/ {{ type = \"\"; next }} \
         type != \"\" {{ split($1, kv, \"=\"); if (kv[1] ~ /{THROTTLE_CONFIGS_AWK}/) \
         {{ k = type \" \" name; if (k in found) found[k] = found[k] \",\" kv[1]; else found[k] = kv[1] }} }} \
         END {{ for (k in found) print k, found[k] }}' \"$work/brokers.cfg\" \"$work/topics.cfg\" > \"$work/throttled\""
    ));
    // remove_ours TYPE NAME KEEP: deletes the throttle configs set on the entity now, except KEEP's.
    l.push(format!(
        "remove_ours() {{ cfgs=$(awk -v t=\"$1\" -v n=\"$2\" -v keep=\",$3,\" '$1 == t && $2 == n {{ c = split($3, a, \",\"); \
         for (i = 1; i <= c; i++) if (index(keep, \",\" a[i] \",\") == 0) out = out (out == \"\" ? \"\" : \",\") a[i] }} \
         END {{ print out }}' \"$work/throttled\"); [ -n \"$cfgs\" ] || return 0; \
         if {configs} --entity-type \"${{1}}s\" --entity-name \"$2\" --alter --delete-config \"$cfgs\" < /dev/null; \
         then echo \"{THROTTLE_REMOVED_MARKER} $1 $2 $cfgs\"; \
         else echo \"{THROTTLE_FAILED_MARKER} $1 $2 $cfgs\"; status=1; fi; }}"
    ));
    for e in entities {
        let (kind, name) = match &e.target {
            ThrottleTarget::Broker(b) => ("broker", b.to_string()),
            ThrottleTarget::Topic(t) => ("topic", t.as_str().to_owned()),
        };
        let before: Vec<&(String, String)> =
            e.before.iter().filter(|(c, v)| THROTTLE_CONFIGS.contains(&c.as_str()) && is_throttle_value(v)).collect();
        let keep: Vec<&str> = before.iter().map(|(c, _)| c.as_str()).collect();
        l.push(format!("remove_ours {kind} '{name}' '{}'", keep.join(",")));
        if !before.is_empty() {
            // A list value holds commas: kafka-configs.sh wants it in brackets.
            let add: Vec<String> = before
                .iter()
                .map(|(c, v)| if v.contains(',') { format!("{c}=[{v}]") } else { format!("{c}={v}") })
                .collect();
            let (add, keep) = (add.join(","), keep.join(","));
            l.push(format!(
                "if {configs} --entity-type {kind}s --entity-name '{name}' --alter --add-config '{add}' < /dev/null; \
                 then echo \"{THROTTLE_RESTORED_MARKER} {kind} {name} {keep}\"; \
                 else echo \"{THROTTLE_FAILED_MARKER} {kind} {name} {keep}\"; status=1; fi"
            ));
        }
    }
    l.push(end());
    l.push("exit \"$status\"".to_owned());
    Script(l)
}

/// The lock and the restore script run for real under `sh` against a fake `kafka-configs.sh`.
#[cfg(test)]
mod lock_and_restore_tests {
    use super::super::fake::FakeKafka;
    use super::*;

    #[test]
    fn a_second_copy_of_a_run_exits_75_while_the_first_holds_the_lock() {
        let k = FakeKafka::new("lock");
        let tmp = k.path().to_str().unwrap().to_owned();
        let slow = Script(vec!["sleep 2".into(), "echo first".into()]).with_lock("exec-1.capture");
        std::fs::write(k.path().join("slow.sh"), slow.text()).unwrap();
        let first = std::process::Command::new("sh")
            .arg(k.path().join("slow.sh"))
            .env("TMPDIR", &tmp)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let again = Script(vec!["echo second".into()]).with_lock("exec-1.capture");
        let (code, out, err) = k.run_text(&again.text(), &[("TMPDIR", &tmp)]);
        assert_eq!((code, out.as_str()), (EXIT_LOCKED, ""), "{err}");
        assert!(err.contains("already running"), "{err}");
        let other = Script(vec!["echo other".into()]).with_lock("exec-1.verify-stage-1-n0");
        assert_eq!(k.run_text(&other.text(), &[("TMPDIR", &tmp)]).0, 0, "another run is not blocked");
        let first = first.wait_with_output().unwrap();
        assert_eq!((first.status.code(), String::from_utf8_lossy(&first.stdout).trim()), (Some(0), "first"));
        assert_eq!(k.run_text(&again.text(), &[("TMPDIR", &tmp)]).0, 0, "the lock is free again");
    }

    #[test]
    fn restore_removes_only_ours_puts_an_operators_value_back_and_leaves_others_alone() {
        let k = FakeKafka::new("restore");
        // Now: broker 1's leader rate is ours (--execute overwrote the operator's 5000), its follower
        // rate ours too; broker 5 (not ours) has an operator's rate; topic big has our replicas list.
        k.tool(
            "kafka-configs.sh",
            "case \"$*\" in\n\
             *'--entity-type brokers --describe'*) printf '%s\\n' 'Dynamic configs for broker 1 are:' \
             '  leader.replication.throttled.rate=10485760 sensitive=false synonyms={}' \
             '  follower.replication.throttled.rate=10485760 sensitive=false synonyms={}' \
             'Dynamic configs for broker 5 are:' \
             '  leader.replication.throttled.rate=777 sensitive=false synonyms={}' ;;\n\
             *'--entity-type topics --describe'*) printf '%s\\n' 'Dynamic configs for topic big are:' \
             '  leader.replication.throttled.replicas=0:1,0:2 sensitive=false synonyms={}' ;;\n\
             esac",
        );
        let entities = [
            ThrottleRestore {
                target: ThrottleTarget::Broker(BrokerId::new(1).unwrap()),
                before: vec![("leader.replication.throttled.rate".into(), "5000".into())],
            },
            ThrottleRestore {
                target: ThrottleTarget::Topic(TopicName::parse("big").unwrap()),
                before: vec![("follower.replication.throttled.replicas".into(), "0:3,0:4".into())],
            },
        ];
        let (code, out, err) = k.run(&restore_throttles_script(&k.client(), None, &entities));
        assert_eq!(code, 0, "{out}\n{err}");
        let calls: Vec<String> = k.calls().into_iter().filter(|c| c.contains("--alter")).collect();
        let has = |what: &str| calls.iter().any(|c| c.contains(what));
        assert!(has("--entity-name 1 --alter --delete-config follower.replication.throttled.rate"), "{calls:?}");
        assert!(has("--entity-name 1 --alter --add-config leader.replication.throttled.rate=5000"), "{calls:?}");
        assert!(has("--entity-name big --alter --delete-config leader.replication.throttled.replicas"), "{calls:?}");
        assert!(
            has("--entity-name big --alter --add-config follower.replication.throttled.replicas=[0:3,0:4]"),
            "{calls:?}"
        );
        assert!(
            !calls.iter().any(|c| c.contains("--entity-name 5")),
            "an unrecorded broker is never touched: {calls:?}"
        );
        assert!(
            !has("--delete-config leader.replication.throttled.rate"),
            "the operator's config is set back, not deleted"
        );
        assert_eq!(calls.len(), 4, "{calls:?}");
        assert!(out.contains("#autoheal:throttle-restored broker 1 leader.replication.throttled.rate"), "{out}");
        assert!(out.contains("#autoheal:throttle-removed broker 1 follower.replication.throttled.rate"), "{out}");
    }

    #[test]
    fn throttle_configs_are_listed_from_recorded_kafka_output() {
        let k = FakeKafka::new("throttle-configs");
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/kafka");
        k.tool(
            "kafka-configs.sh",
            &format!(
                "case \"$*\" in *'--entity-type brokers'*) cat '{dir}/configs-brokers-describe-throttled-4.1.2.txt' ;; \
                 *) cat '{dir}/configs-topics-describe-throttled-4.1.2.txt' ;; esac"
            ),
        );
        let (code, out, err) = k.run(&throttle_configs_script(&k.client(), true));
        assert_eq!(code, 0, "{err}");
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(THROTTLE_CONFIG_MARKER)).collect();
        assert!(lines.contains(&"#autoheal:throttle-config broker 1 leader.replication.throttled.rate 1024"), "{out}");
        assert!(
            lines.contains(&"#autoheal:throttle-config topic big leader.replication.throttled.replicas 0:1,0:2"),
            "{out}"
        );
        assert_eq!(lines.len(), 8 + 4, "4 brokers x 2 rates, 2 topics x 2 lists: {out}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka_cli::fake::FakeKafka;
    use std::fs;

    fn client(bin: &str) -> KafkaClient {
        KafkaClient {
            bin_dir: KafkaBinDir::parse(bin).unwrap(),
            bootstrap_servers: BootstrapServers::parse("b-1.demo:9098,b-2.demo:9098").unwrap(),
            command_config: Some(CommandConfigPath::parse("/etc/kafka/client.properties").unwrap()),
        }
    }

    #[test]
    fn capture_calls_the_three_tools_with_the_client_settings() {
        let text = capture_script(&client("/opt/kafka/bin")).text();
        assert!(text.contains(
            "'/opt/kafka/bin/kafka-topics.sh' --bootstrap-server 'b-1.demo:9098,b-2.demo:9098' \
             --command-config '/etc/kafka/client.properties' --describe"
        ));
        assert!(text.contains("'/opt/kafka/bin/kafka-log-dirs.sh' --bootstrap-server"));
        assert!(text.contains("kafka-broker-api-versions.sh"));
        assert!(text.starts_with("set -eu\n"));
        assert!(text.ends_with("echo '#autoheal:end'\n"));
    }

    #[test]
    fn plan_source_inlines_small_plans_only() {
        let loc = S3Location {
            bucket: crate::kafka_cli::S3Bucket::parse("bucket-1").unwrap(),
            key: crate::kafka_cli::S3Key::parse("autoheal/x/plan.json").unwrap(),
        };
        assert!(matches!(PlanSource::choose(b"{}", loc.clone()), PlanSource::Inline(_)));
        let big = vec![b' '; INLINE_PLAN_MAX_BYTES + 1];
        assert_eq!(PlanSource::choose(&big, loc.clone()), PlanSource::S3(loc.clone()));
        let text = verify_script(&client("/opt/kafka/bin"), &PlanSource::S3(loc)).text();
        assert!(text.contains("aws s3 cp 's3://bucket-1/autoheal/x/plan.json' \"$work/plan.json\""));
    }

    #[test]
    fn execute_decodes_the_inline_plan_and_passes_the_throttle() {
        let fake = FakeKafka::new("execute");
        let dump = fake.path().join("plan-seen.json");
        fake.tool(
            "kafka-reassign-partitions.sh",
            &format!(
                "case \"$*\" in *--list*) echo 'No partition reassignments found.' ;; \
                 *--execute*) while [ $# -gt 0 ]; do \
                 if [ \"$1\" = --reassignment-json-file ]; then cp \"$2\" '{}'; fi; shift; done; \
                 echo 'Successfully started partition reassignments for t-0' ;; esac",
                dump.display()
            ),
        );
        let plan = br#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,1]}]}"#;
        let (code, out, err) =
            fake.run(&execute_script(&fake.client(), &PlanSource::inline(plan), Throttle::new(10_485_760).unwrap()));
        assert_eq!(code, 0, "stderr: {err}");
        assert_eq!(fs::read(&dump).unwrap(), plan);
        assert!(out.contains("#autoheal:section:execute\nSuccessfully started"));
        assert!(out.ends_with("#autoheal:end\n"));
        let calls = fake.calls();
        assert_eq!(calls.len(), 2);
        assert!(calls[0].ends_with("--list"));
        assert!(calls[1].contains("--execute --throttle 10485760"), "{}", calls[1]);
        assert!(calls[1].contains("--command-config /etc/kafka/client.properties"));
    }

    #[test]
    fn execute_refuses_to_pile_onto_running_reassignments() {
        let fake = FakeKafka::new("busy");
        fake.tool(
            "kafka-reassign-partitions.sh",
            "echo 'Current partition reassignments:'; echo 'other-0: replicas: 1,2,3. adding: 3. removing: 1.'",
        );
        let (code, out, _) = fake.run(&execute_script(&fake.client(), &PlanSource::inline(b"{}"), Throttle::default()));
        assert_eq!(code, EXIT_REASSIGNMENT_IN_PROGRESS);
        assert!(out.contains("other-0: replicas: 1,2,3."));
        assert!(!fake.calls().iter().any(|c| c.contains("--execute")));
    }

    #[test]
    fn a_failing_tool_fails_the_script_before_the_end_marker() {
        let fake = FakeKafka::new("fail");
        fake.tool("kafka-reassign-partitions.sh", "echo 'Error: timed out' ; exit 1");
        let (code, out, _) = fake.run(&verify_script(&fake.client(), &PlanSource::inline(b"{}")));
        assert_ne!(code, 0);
        assert!(!out.contains(END_MARKER));
    }

    #[test]
    fn cleanup_cancels_then_removes_only_throttles_that_are_set() {
        let fake = FakeKafka::new("cleanup");
        fake.tool("kafka-reassign-partitions.sh", "echo 'Successfully cancelled partition reassignments for: t-0'");
        fake.tool(
            "kafka-configs.sh",
            "case \"$*\" in \
             *'--entity-type brokers --describe'*) \
               echo 'Dynamic configs for broker 1 are:'; \
               echo '  leader.replication.throttled.rate=1000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:leader.replication.throttled.rate=1000}'; \
               echo '  follower.replication.throttled.rate=1000 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:follower.replication.throttled.rate=1000}'; \
               echo 'Dynamic configs for broker 2 are:'; \
               echo '  log.cleaner.threads=2 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.cleaner.threads=2}'; \
               echo 'Default configs for brokers in the cluster are:'; \
               echo '  leader.replication.throttled.rate=5 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:leader.replication.throttled.rate=5}' ;; \
             *'--entity-type topics --describe'*) \
               echo 'Dynamic configs for topic stress-test are:'; \
               echo '  leader.replication.throttled.replicas=0:1,1:2 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:leader.replication.throttled.replicas=0:1,1:2}'; \
               echo '  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000}'; \
               echo 'Dynamic configs for topic not-ours are:'; \
               echo '  follower.replication.throttled.replicas=0:1 sensitive=false synonyms={}' ;; \
             *) echo 'Completed updating config' ;; esac",
        );
        let topics = [TopicName::parse("stress-test").unwrap()];
        let (code, out, err) = fake.run(&cleanup_script(&fake.client(), Some(&PlanSource::inline(b"{}")), &topics));
        assert_eq!(code, 0, "stderr: {err}");
        let mut calls = fake.calls();
        assert!(calls.remove(0).contains("--cancel"));
        let alters: Vec<&String> = calls.iter().filter(|c| c.contains("--alter")).collect();
        assert_eq!(alters.len(), 2, "{calls:#?}\n{out}\n{err}");
        assert!(
            alters.iter().any(|c| c.contains(
                "--entity-type brokers --entity-name 1 --alter --delete-config \
             leader.replication.throttled.rate,follower.replication.throttled.rate"
            )),
            "{calls:#?}\n{out}"
        );
        assert!(alters.iter().any(|c| c.contains(
            "--entity-type topics --entity-name stress-test --alter --delete-config leader.replication.throttled.replicas"
        )));
        assert!(out.contains("#autoheal:throttle-removed broker 1 leader.replication.throttled.rate,follower"));
        assert!(out.ends_with("#autoheal:end\n"));
    }

    #[test]
    fn cleanup_reports_a_failed_removal_and_exits_non_zero() {
        let fake = FakeKafka::new("cleanup-fail");
        fake.tool(
            "kafka-configs.sh",
            "case \"$*\" in *--describe*) echo 'Dynamic configs for broker 3 are:'; \
             echo '  follower.replication.throttled.rate=9 sensitive=false synonyms={}' ;; \
             *) echo 'Error: broker unavailable' >&2; exit 1 ;; esac",
        );
        let (code, out, _) = fake.run(&cleanup_script(&fake.client(), None, &[]));
        assert_eq!(code, 1);
        assert!(out.contains("#autoheal:throttle-remove-failed broker 3 follower.replication.throttled.rate"));
        assert!(!fake.calls().iter().any(|c| c.contains("--cancel")));
        assert!(!fake.calls().iter().any(|c| c.contains("--entity-type topics")));
    }

    #[test]
    fn election_reads_the_stage_plan_and_survives_an_incomplete_election() {
        let fake = FakeKafka::new("elect");
        let dump = fake.path().join("elect-seen.json");
        fake.tool(
            "kafka-leader-election.sh",
            &format!(
                "while [ $# -gt 0 ]; do if [ \"$1\" = --path-to-json-file ]; then cp \"$2\" '{}'; fi; shift; done; \
                 echo 'Successfully completed leader election (PREFERRED) for partitions t-1'; \
                 echo 'Error completing leader election (PREFERRED) for partition: t-0: \
                 org.apache.kafka.common.errors.PreferredLeaderNotAvailableException: not in ISR'; exit 1",
                dump.display()
            ),
        );
        let plan = br#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,1]}]}"#;
        let (code, out, err) = fake.run(&elect_preferred_script(&fake.client(), &PlanSource::inline(plan)));
        assert_eq!(code, 0, "an incomplete election is reported, not fatal: {err}");
        assert_eq!(fs::read(&dump).unwrap(), plan);
        assert!(out.contains(ELECTION_INCOMPLETE_MARKER), "{out}");
        assert!(out.ends_with("#autoheal:end\n"));
        let calls = fake.calls();
        assert!(calls[0].contains("--election-type PREFERRED --path-to-json-file"), "{}", calls[0]);
        // The tool's own name for the client properties file.
        assert!(calls[0].contains("--admin.config /etc/kafka/client.properties"), "{}", calls[0]);
        assert!(!calls[0].contains("--command-config"), "{}", calls[0]);
    }

    #[test]
    fn broker_lists() {
        let ids: Vec<BrokerId> = [1, 2, 3].into_iter().map(|i| BrokerId::new(i).unwrap()).collect();
        assert_eq!(broker_list(&ids), "1,2,3");
    }
}
