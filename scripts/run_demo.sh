#!/usr/bin/env bash
# The original MSK capacity demo on AWS, driven from the operator's machine: reads the Terraform
# outputs of infra/, puts stress-producer on the EC2 Kafka client over SSM (built there, or a
# prebuilt binary uploaded through S3), creates the 12-partition topic, runs the acks=all load,
# watches UnderReplicatedPartitions with `autoheal monitor`, and shows the two-step fix.
# `--interactive` opens an SSM session on the client instead.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PROG=$(basename "$0")

INFRA_DIR="$ROOT/infra"
TOPIC=stress-test
PARTITIONS=12
REPLICATION=2
DURATION=300
WORKERS=64
INTERVAL=60
BINARY=""
INTERACTIVE=0

usage() {
  cat <<EOF
Usage: $PROG [options]

Runs the MSK capacity demo against the environment that infra/ (Terraform) created:
  1. puts stress-producer on the EC2 client (built there from this checkout, or --binary)
  2. creates the topic (--partitions, --replication-factor) if it does not exist
  3. starts the load on the client (acks=all, lz4, 10 KB records, 1 MB batches, 10 ms linger)
  4. polls CloudWatch with 'autoheal monitor' until UnderReplicatedPartitions > 0 or the load ends
  5. prints the two-step fix (add brokers, then reassign partitions) and the producer's summary

Options:
  --interactive            open an SSM session on the client (needs the session-manager-plugin) and exit
  --binary PATH            upload this stress-producer instead of building on the client
                           (Linux, the client's CPU architecture, linked against glibc <= 2.34)
  --duration SECONDS       load duration, 1-86400 (default $DURATION)
  --workers N              producer threads, 1-1024 (default $WORKERS)
  --topic NAME             topic (default $TOPIC)
  --partitions N           partitions when creating the topic, 1-1000 (default $PARTITIONS)
  --replication-factor N   replication factor when creating the topic, 1-3 (default $REPLICATION)
  --interval SECONDS       CloudWatch poll interval, 10-3600 (default $INTERVAL)
  --infra-dir DIR          Terraform directory with the applied state (default infra/)
  -h, --help               this help

Needs: aws (v2) and terraform on PATH, credentials for the account, and this checkout's cargo
(to build autoheal). Environment: AUTOHEAL=path to a prebuilt autoheal binary.
EOF
}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 2; }
fail() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
log() { printf '\033[1;34m[demo]\033[0m %s\n' "$*" >&2; }

# need_value FLAG VALUE: a flag's value must be present and not another flag.
need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then die "$1 needs a value"; fi
}
# int_in FLAG VALUE MIN MAX
int_in() {
  if ! [[ "$2" =~ ^[0-9]{1,9}$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    die "$1 must be an integer in $3..$4, got '$2'"
  fi
}

while [ $# -gt 0 ]; do
  case "$1" in
    --interactive) INTERACTIVE=1; shift ;;
    --binary) need_value "$@"; BINARY=$2; shift 2 ;;
    --duration) need_value "$@"; DURATION=$2; shift 2 ;;
    --workers) need_value "$@"; WORKERS=$2; shift 2 ;;
    --topic) need_value "$@"; TOPIC=$2; shift 2 ;;
    --partitions) need_value "$@"; PARTITIONS=$2; shift 2 ;;
    --replication-factor) need_value "$@"; REPLICATION=$2; shift 2 ;;
    --interval) need_value "$@"; INTERVAL=$2; shift 2 ;;
    --infra-dir) need_value "$@"; INFRA_DIR=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# Everything below may reach a remote shell: validate it all first.
int_in --duration "$DURATION" 1 86400
int_in --workers "$WORKERS" 1 1024
int_in --partitions "$PARTITIONS" 1 1000
int_in --replication-factor "$REPLICATION" 1 3
int_in --interval "$INTERVAL" 10 3600
if ! [[ "$TOPIC" =~ ^[A-Za-z0-9._-]{1,249}$ ]] || [ "$TOPIC" = . ] || [ "$TOPIC" = .. ]; then
  die "--topic '$TOPIC' is not a legal Kafka topic name"
fi
[ -z "$BINARY" ] || [ -f "$BINARY" ] || die "--binary '$BINARY' is not a file"
[ -d "$INFRA_DIR" ] || die "--infra-dir '$INFRA_DIR' is not a directory"

command -v aws >/dev/null || fail "aws CLI v2 not found on PATH"
command -v terraform >/dev/null || fail "terraform not found on PATH"
command -v python3 >/dev/null || fail "python3 not found on PATH (used to build SSM requests)"

tf_out() {
  local v
  v=$(terraform -chdir="$INFRA_DIR" output -raw "$1" 2>/dev/null) ||
    fail "terraform output '$1' is missing: run 'terraform apply' in $INFRA_DIR first"
  printf '%s' "$v"
}

CLUSTER_ARN=$(tf_out cluster_arn)
CLUSTER_NAME=$(tf_out cluster_name)
INSTANCE_ID=$(tf_out client_instance_id)
BUCKET=$(tf_out artifacts_bucket)
PRODUCER_URI=$(tf_out stress_producer_s3_uri)
KAFKA_BIN=$(tf_out kafka_bin_dir)

# Terraform wrote them, but they still reach shells and URLs: check their shape.
[[ "$CLUSTER_ARN" =~ ^arn:aws[a-z-]*:kafka:([a-z0-9-]+):[0-9]{12}:cluster/[A-Za-z0-9-]+/[A-Za-z0-9-]+$ ]] ||
  fail "unexpected cluster ARN '$CLUSTER_ARN'"
REGION=${BASH_REMATCH[1]}
[[ "$CLUSTER_NAME" =~ ^[A-Za-z0-9-]{1,64}$ ]] || fail "unexpected cluster name '$CLUSTER_NAME'"
[[ "$INSTANCE_ID" =~ ^i-[0-9a-f]{8,17}$ ]] || fail "unexpected instance id '$INSTANCE_ID'"
[[ "$BUCKET" =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || fail "unexpected bucket '$BUCKET'"
[[ "$PRODUCER_URI" =~ ^s3://[a-z0-9.-]+/[A-Za-z0-9._/-]+$ ]] || fail "unexpected producer URI '$PRODUCER_URI'"
[[ "$KAFKA_BIN" =~ ^/[A-Za-z0-9._/-]+$ ]] || fail "unexpected Kafka bin dir '$KAFKA_BIN'"

if [ "$INTERACTIVE" = 1 ]; then
  log "SSM session on $INSTANCE_ID (exit to leave); try: stress-producer -bootstrap \$(msk-bootstrap) -topic $TOPIC"
  exec aws ssm start-session --region "$REGION" --target "$INSTANCE_ID"
fi

# ssm_run COMMENT TIMEOUT_S SCRIPT: runs SCRIPT as root on the client, prints its stdout, fails on error.
ssm_run() {
  local comment=$1 timeout=$2 script=$3 request id status
  request=$(python3 -c 'import json, sys
print(json.dumps({"DocumentName": "AWS-RunShellScript", "Comment": sys.argv[1][:100],
                  "TimeoutSeconds": int(sys.argv[2]),
                  "Parameters": {"commands": ["set -euo pipefail", sys.argv[3]],
                                 "executionTimeout": [sys.argv[2]]}}))' "$comment" "$timeout" "$script")
  id=$(aws ssm send-command --region "$REGION" --instance-ids "$INSTANCE_ID" --cli-input-json "$request" \
    --query Command.CommandId --output text) || fail "ssm send-command failed ($comment)"
  local deadline=$((SECONDS + timeout + 60))
  while :; do
    sleep 3
    status=$(aws ssm get-command-invocation --region "$REGION" --command-id "$id" --instance-id "$INSTANCE_ID" \
      --query Status --output text 2>/dev/null || echo Pending)
    case "$status" in
      Success | Failed | Cancelled | TimedOut) break ;;
    esac
    [ "$SECONDS" -lt "$deadline" ] || fail "$comment: no result after ${timeout}s (command $id)"
  done
  aws ssm get-command-invocation --region "$REGION" --command-id "$id" --instance-id "$INSTANCE_ID" \
    --query StandardOutputContent --output text
  if [ "$status" != Success ]; then
    aws ssm get-command-invocation --region "$REGION" --command-id "$id" --instance-id "$INSTANCE_ID" \
      --query StandardErrorContent --output text >&2
    fail "$comment: $status (command $id)"
  fi
}

# 1. The producer on the client.
if [ -n "$BINARY" ]; then
  log "uploading $BINARY to $PRODUCER_URI"
  aws s3 cp --region "$REGION" --only-show-errors "$BINARY" "$PRODUCER_URI"
  ssm_run "install stress-producer" 300 "aws s3 cp --region $REGION --only-show-errors $PRODUCER_URI /usr/local/bin/stress-producer
chmod 755 /usr/local/bin/stress-producer
/usr/local/bin/stress-producer --version"
else
  # Built on the client, as the original built its Go producer there: the binary then matches the
  # client's CPU and glibc whatever the operator's machine is.
  SRC_KEY="stress-producer/src/$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo worktree).tar.gz"
  TARBALL=$(mktemp --suffix .tar.gz)
  trap 'rm -f "$TARBALL"' EXIT
  git -C "$ROOT" archive --format tar.gz -o "$TARBALL" HEAD || fail "git archive failed (is $ROOT a git checkout?)"
  log "uploading the source to s3://$BUCKET/$SRC_KEY; building on $INSTANCE_ID (a few minutes the first time)"
  aws s3 cp --region "$REGION" --only-show-errors "$TARBALL" "s3://$BUCKET/$SRC_KEY"
  ssm_run "build stress-producer" 1800 "export HOME=/root
dnf install -y -q gcc gcc-c++ make cmake perl openssl-devel libcurl-devel tar gzip >/dev/null
if [ ! -x /root/.cargo/bin/cargo ]; then
  curl -sSf --proto '=https' --tlsv1.2 https://sh.rustup.rs | sh -s -- -y -q --profile minimal
fi
rm -rf /opt/msk-autoheal-src && mkdir -p /opt/msk-autoheal-src && cd /opt/msk-autoheal-src
aws s3 cp --region $REGION --only-show-errors s3://$BUCKET/$SRC_KEY - | tar -xz
/root/.cargo/bin/cargo build -q --release --locked -p stress-producer
install -m 755 target/release/stress-producer /usr/local/bin/stress-producer
aws s3 cp --region $REGION --only-show-errors /usr/local/bin/stress-producer $PRODUCER_URI
/usr/local/bin/stress-producer --version"
fi

# 2. The topic.
log "creating topic $TOPIC ($PARTITIONS partitions, RF $REPLICATION) if absent"
ssm_run "create topic" 300 "BOOTSTRAP=\$(msk-bootstrap)
$KAFKA_BIN/kafka-topics.sh --bootstrap-server \"\$BOOTSTRAP\" --create --if-not-exists --topic $TOPIC --partitions $PARTITIONS --replication-factor $REPLICATION
$KAFKA_BIN/kafka-topics.sh --bootstrap-server \"\$BOOTSTRAP\" --describe --topic $TOPIC | head -1"

# 3. The load, as a transient systemd unit so it outlives the SSM command (journal keeps its output).
log "starting the load: $WORKERS workers for ${DURATION}s"
ssm_run "start load" 120 "systemctl reset-failed stress-producer.service 2>/dev/null || true
if systemctl is-active --quiet stress-producer.service; then echo 'a load is already running' >&2; exit 1; fi
systemd-run --unit stress-producer --collect /usr/local/bin/stress-producer \
  -bootstrap \"\$(msk-bootstrap)\" -topic $TOPIC -duration $DURATION -workers $WORKERS \
  -msg-size 10240 -batch-size 1048576 -linger-ms 10 -compression lz4 -acks all
echo started"

# 4. Watch CloudWatch from here, with the same code the operators' CLI ships.
AUTOHEAL=${AUTOHEAL:-}
if [ -z "$AUTOHEAL" ]; then
  log "building autoheal (cargo build --release -p autoheal)"
  cargo build -q --release -p autoheal --manifest-path "$ROOT/Cargo.toml"
  AUTOHEAL="${CARGO_TARGET_DIR:-$ROOT/target}/release/autoheal"
fi
log "watching UnderReplicatedPartitions of $CLUSTER_NAME every ${INTERVAL}s (MSK publishes once a minute)"
end=$((SECONDS + DURATION + 120))
under=0
while [ "$SECONDS" -lt "$end" ]; do
  if table=$(AWS_REGION=$REGION "$AUTOHEAL" monitor --cluster-name "$CLUSTER_NAME" --once); then
    printf '%s\n\n' "$table"
    if grep -q 'UNDER-REPLICATED (' <<<"$table"; then
      under=1
      break
    fi
  fi
  sleep "$INTERVAL"
done

# 5. The verdict and the fix.
if [ "$under" = 1 ]; then
  log "partitions are under-replicated: the cluster is too small for this load"
  log "msk-autoheal does both steps itself; by hand they are:"
  printf '\n# Step 1: add brokers\n%s\n' "$(tf_out fix_step1_add_brokers)"
  printf '\n# Step 2: spread the partitions over all brokers (on the client: %s)\n%s\n' \
    "$0 --interactive" "$(tf_out fix_step2_rebalance)"
else
  log "no under-replicated partitions seen during the load"
fi
log "producer output so far (journalctl -u stress-producer on the client):"
ssm_run "producer log" 60 "journalctl -u stress-producer --no-pager -o cat | tail -n 20"
