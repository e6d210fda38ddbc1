"""Shape of template.yaml: what the SAM stack must be for msk-autoheal to run and to be trusted.

Checks what `sam validate` and cfn-lint cannot know: the Lambda runtime contract (Rust, arm64,
bootstrap, JSON logs into an explicit log group), the contract with docs/ARCHITECTURE.md
(functions and their permissions), the alarm the detector can classify, and the parameters.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

import iac_tools

ARCH_DOC = iac_tools.ROOT / "docs" / "ARCHITECTURE.md"

# Grants that support a function's duty without being part of the contract table: its own logs,
# the stack key (topic, secret, dead-letter queue) and the detector's dead-letter queue.
PLUMBING = {"logs:CreateLogStream", "logs:PutLogEvents", "kms:GenerateDataKey", "kms:Decrypt", "sqs:SendMessage"}


def _ref(value: Any) -> str | None:
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


def architecture_functions() -> dict[str, set[str]]:
    """function -> AWS permissions, from the Lambda table of docs/ARCHITECTURE.md."""
    text = ARCH_DOC.read_text(encoding="utf-8")
    section = text.split("## Lambda functions", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in section.splitlines():
        m = re.match(r"^\|\s*`([a-z0-9-]+)`\s*\|.*\|\s*([^|]+)\|\s*$", line)
        if m:
            perms = {p.strip() for p in m.group(2).split(",")}
            out[m.group(1)] = {"secretsmanager:GetSecretValue" if p == "secret read" else p for p in perms}
    return out


def role_actions(tpl: dict[str, Any], role_id: str) -> set[str]:
    actions: set[str] = set()
    for pol in tpl["Resources"][role_id]["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            if isinstance(st, dict) and "Fn::If" in st:
                st = st["Fn::If"][1]
            acts = st["Action"]
            actions.update([acts] if isinstance(acts, str) else acts)
    return actions


# ---------------------------------------------------------------- functions
def test_every_function_is_rust_on_graviton_with_json_logs_in_its_own_log_group(tpl, functions) -> None:
    assert functions, "template.yaml defines no AWS::Serverless::Function"
    resources = tpl["Resources"]
    for lid, fn in functions.items():
        p = fn["Properties"]
        assert p["Runtime"] == "provided.al2023", lid
        assert p["Architectures"] == ["arm64"], lid
        assert p["Handler"] == "bootstrap", lid
        assert fn["Metadata"].get("BuildMethod") == "rust-cargolambda", lid
        assert iac_tools.binary_of(fn), f"{lid}: Metadata.BuildProperties.Binary names the workspace binary"
        # CodeUri at the workspace root: cargo-lambda builds `--bin <Binary>` into the shared target/.
        assert p["CodeUri"] == ".", lid
        logging = p["LoggingConfig"]
        assert logging["LogFormat"] == "JSON", lid
        group = _ref(logging.get("LogGroup"))
        assert group and resources[group]["Type"] == "AWS::Logs::LogGroup", f"{lid}: explicit log group"
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, lid
        assert resources[group]["Properties"].get("KmsKeyId"), f"{lid}: log group encrypted with the stack key"
        role = _ref(p.get("Role"))
        assert role and resources[role]["Type"] == "AWS::IAM::Role", f"{lid}: explicit role, no SAM default role"
        assert "Policies" not in (resources[lid].get("Properties") or {}), f"{lid}: grants belong on its role"


def test_functions_are_the_ones_docs_architecture_lists(functions) -> None:
    documented = set(architecture_functions())
    assert documented, "no function table found in docs/ARCHITECTURE.md"
    assert {iac_tools.binary_of(f) for f in functions.values()} == documented


def test_each_role_grants_exactly_the_permissions_docs_architecture_lists(tpl, functions) -> None:
    documented = architecture_functions()
    for lid, fn in functions.items():
        name = iac_tools.binary_of(fn)
        granted = role_actions(tpl, _ref(fn["Properties"]["Role"])) - PLUMBING
        assert granted == documented[name], (
            f"{name}: role grants {sorted(granted)} but docs/ARCHITECTURE.md lists {sorted(documented[name])}"
        )


def test_each_function_has_a_role_of_its_own(functions) -> None:
    roles = [_ref(f["Properties"]["Role"]) for f in functions.values()]
    assert len(roles) == len(set(roles)), "one function per distinct permission set: roles are not shared"


# ---------------------------------------------------------------- alarm and trigger
def _eval_condition(tpl: dict[str, Any], expr: Any, params: dict[str, str]) -> bool:
    if isinstance(expr, dict) and "Condition" in expr:
        return _eval_condition(tpl, tpl["Conditions"][expr["Condition"]], params)
    (fn, args), = expr.items()
    if fn == "Fn::Equals":
        vals = [params[a["Ref"]] if isinstance(a, dict) else str(a) for a in args]
        return vals[0] == vals[1]
    if fn == "Fn::Or":
        return any(_eval_condition(tpl, a, params) for a in args)
    if fn == "Fn::And":
        return all(_eval_condition(tpl, a, params) for a in args)
    if fn == "Fn::Not":
        return not _eval_condition(tpl, args[0], params)
    raise AssertionError(f"condition function {fn} not understood by the test")


def _alarms(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in tpl["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}


def test_alarm_sums_per_broker_under_replicated_partitions_of_the_cluster(tpl) -> None:
    alarms = _alarms(tpl)
    assert alarms
    cluster_name = {"Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "ClusterArn"}]}]}
    for lid, alarm in alarms.items():
        p = alarm["Properties"]
        assert p["ComparisonOperator"] == "GreaterThanThreshold", lid
        assert p["Threshold"] == {"Ref": "AlarmThreshold"}, lid
        assert p["EvaluationPeriods"] == {"Ref": "AlarmEvaluationPeriods"}, lid
        assert p["DatapointsToAlarm"] == {"Ref": "AlarmDatapointsToAlarm"}, lid
        returned = [m for m in p["Metrics"] if m.get("ReturnData")]
        assert len(returned) == 1 and returned[0]["Expression"] == "SUM(METRICS())", lid
        stats = [m for m in p["Metrics"] if "MetricStat" in m]
        assert len(stats) <= 10, f"{lid}: CloudWatch allows 10 metrics per metric-math alarm"
        brokers = []
        for m in stats:
            metric = m["MetricStat"]["Metric"]
            assert (metric["Namespace"], metric["MetricName"]) == ("AWS/Kafka", "UnderReplicatedPartitions"), lid
            assert m["MetricStat"]["Period"] == {"Ref": "AlarmPeriodSeconds"}, lid
            dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            # The detector resolves the cluster from this dimension (crates/domain alarm.rs).
            assert dims["Cluster Name"] == cluster_name, lid
            brokers.append(int(dims["Broker ID"]))
        assert brokers == list(range(brokers[0], brokers[0] + len(brokers))), f"{lid}: contiguous broker band"


@pytest.mark.parametrize("max_brokers", [2, 4, 10, 11, 12, 20, 21, 30])
def test_alarm_bands_cover_every_broker_up_to_max_brokers(tpl, max_brokers: int) -> None:
    params = {"MaxBrokers": str(max_brokers)}
    watched: set[int] = set()
    for lid, alarm in _alarms(tpl).items():
        cond = alarm.get("Condition")
        if cond and not _eval_condition(tpl, {"Condition": cond}, params):
            continue
        watched |= {int(d["Value"]) for m in alarm["Properties"]["Metrics"] if "MetricStat" in m
                    for d in m["MetricStat"]["Metric"]["Dimensions"] if d["Name"] == "Broker ID"}
    assert set(range(1, max_brokers + 1)) <= watched, f"MaxBrokers={max_brokers}: brokers unwatched"
    # no band is created that cannot hold a broker
    assert max(watched) < max_brokers + 10


def test_eventbridge_rule_sends_the_stacks_alarms_into_alarm_to_the_detector(cfn) -> None:
    # (The safety net's rule on aws.states: tests/infra/test_iac_safety_net.py.)
    rules = {k: v for k, v in cfn["Resources"].items() if v["Type"] == "AWS::Events::Rule"
             and v["Properties"]["EventPattern"]["source"] != ["aws.states"]}
    assert len(rules) == 1
    (rule_id, rule), = rules.items()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.cloudwatch"]
    assert pattern["detail-type"] == ["CloudWatch Alarm State Change"]
    assert pattern["detail"] == {"state": {"value": ["ALARM"]}}
    alarm_refs = [r["Fn::GetAtt"][0] if "Fn::GetAtt" in r else r["Fn::If"][1]["Fn::GetAtt"][0]
                  for r in pattern["resources"]]
    assert sorted(alarm_refs) == sorted(_alarms(cfn))
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["DetectorFunction", "Arn"]}
    assert "DeadLetterConfig" in target and "RetryPolicy" in target
    perms = [v["Properties"] for v in cfn["Resources"].values() if v["Type"] == "AWS::Lambda::Permission"
             and v["Properties"].get("Principal") == "events.amazonaws.com"
             and v["Properties"].get("FunctionName") != {"Ref": "SafetyNetFunction"}]
    assert perms == [{"Action": "lambda:InvokeFunction", "FunctionName": {"Ref": "DetectorFunction"},
                      "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}]


# ---------------------------------------------------------------- data and secrets
def test_topic_is_kms_encrypted_with_an_optional_email_subscription(tpl) -> None:
    r = tpl["Resources"]
    assert r["NotificationTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "StackKey"}
    assert r["StackKey"]["Properties"]["EnableKeyRotation"] is True
    sub = r["NotificationEmailSubscription"]
    assert sub["Condition"] == "HasEmail" and sub["Properties"]["Protocol"] == "email"
    assert tpl["Conditions"]["HasEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "NotificationEmail"}, ""]}]}


def test_plan_bucket_is_encrypted_private_tls_only_and_expires(tpl) -> None:
    r = tpl["Resources"]
    b = r["PlanBucket"]["Properties"]
    assert b["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert all(b["PublicAccessBlockConfiguration"][k] is True for k in
               ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"))
    rules = b["LifecycleConfiguration"]["Rules"]
    assert any(x["Status"] == "Enabled" and x["ExpirationInDays"] == {"Ref": "PlanRetentionDays"} for x in rules)
    (deny,) = r["PlanBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_approval_secret_is_generated_and_read_only_by_the_approval_functions(tpl, functions) -> None:
    secret = tpl["Resources"]["ApprovalSecret"]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32
    readers = set()
    for lid, fn in functions.items():
        if "secretsmanager:GetSecretValue" in role_actions(tpl, _ref(fn["Properties"]["Role"])):
            readers.add(iac_tools.binary_of(fn))
            assert fn["Properties"]["Environment"]["Variables"]["APPROVAL_SECRET_ARN"] == {"Ref": "ApprovalSecret"}
    assert readers == {"approval", "approval-request"}


def test_approval_endpoint_is_a_function_url_and_an_output(tpl, cfn) -> None:
    url = tpl["Resources"]["ApprovalFunction"]["Properties"]["FunctionUrlConfig"]
    assert url["AuthType"] == "NONE"  # links are HMAC-signed; IAM auth would need SigV4 in an email client
    assert cfn["Resources"]["ApprovalFunctionUrl"]["Type"] == "AWS::Lambda::Url"
    env = tpl["Resources"]["ApprovalRequestFunction"]["Properties"]["Environment"]["Variables"]
    assert env["APPROVAL_URL"] == {"Fn::GetAtt": ["ApprovalFunctionUrl", "FunctionUrl"]}


# ---------------------------------------------------------------- workflow
def test_state_machine_logs_without_execution_data_and_traces(tpl) -> None:
    sm = tpl["Resources"]["RemediationStateMachine"]["Properties"]
    assert sm["DefinitionUri"] == "statemachine/remediation.asl.json"
    assert sm["Tracing"] == {"Enabled": True}
    logging = sm["Logging"]
    assert logging["IncludeExecutionData"] is False  # the approval task's input carries the task token
    (dest,) = logging["Destinations"]
    group = dest["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert tpl["Resources"][group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_state_machine_may_invoke_exactly_the_functions_it_is_given(tpl) -> None:
    subs = tpl["Resources"]["RemediationStateMachine"]["Properties"]["DefinitionSubstitutions"]
    given = {v["Fn::GetAtt"][0] for v in subs.values() if isinstance(v, dict) and "Fn::GetAtt" in v
             and tpl["Resources"][v["Fn::GetAtt"][0]]["Type"] == "AWS::Serverless::Function"}
    invokable = set()
    for st in tpl["Resources"]["RemediationRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]:
        if st["Action"] == "lambda:InvokeFunction":
            invokable |= {r["Fn::GetAtt"][0] for r in st["Resource"]}
    assert given == invokable
    assert "DetectorFunction" not in invokable and "ApprovalFunction" not in invokable


# ---------------------------------------------------------------- parameters, outputs, samconfig
REQUIRED_PARAMETERS = {
    "ClusterArn", "ClientInstanceId", "KafkaBinDir", "BootstrapServers", "CommandConfigPath", "Mode",
    "ApprovalClusters", "MaxBrokers", "CooldownMinutes", "ThrottleBytesPerSec", "NotificationEmail",
    "AlarmThreshold", "AlarmPeriodSeconds", "AlarmEvaluationPeriods", "AlarmDatapointsToAlarm",
}


def test_parameters_and_outputs_are_complete(tpl) -> None:
    assert REQUIRED_PARAMETERS <= set(tpl["Parameters"])
    assert tpl["Parameters"]["Mode"]["AllowedValues"] == ["auto", "approval"]
    assert {"StateMachineArn", "ApprovalUrl", "TopicArn", "PlanBucketName"} <= set(tpl["Outputs"])


def _allowed(param: dict[str, Any], value: str) -> bool:
    if "AllowedValues" in param and value not in [str(v) for v in param["AllowedValues"]]:
        return False
    if param.get("Type") == "Number":
        try:
            number = float(value)
        except ValueError:
            return False
        if number < param.get("MinValue", number) or number > param.get("MaxValue", number):
            return False
    pattern = param.get("AllowedPattern")
    return not pattern or re.fullmatch(pattern, value) is not None


@pytest.mark.parametrize(("name", "good", "bad"), [
    ("ClusterArn", iac_tools.SAMPLE_PARAMETERS["ClusterArn"],
     "arn:aws:kafka:us-east-1:123456789012:cluster/demo;id/6f3c1e2a-0000-4000-8000-000000000000-2"),
    ("ClientInstanceId", "i-0123456789abcdef0", "i-0123 ; reboot"),
    ("KafkaBinDir", "/opt/kafka/bin", "/opt/kafka/bin; curl evil"),
    ("BootstrapServers", "b-1.demo.kafka.us-east-1.amazonaws.com:9092,b-2.demo.kafka.us-east-1.amazonaws.com:9092",
     "b-1:9092 --command-config /etc/shadow"),
    ("CommandConfigPath", "/opt/kafka/config/client-tls.properties", "$(id)"),
    ("ApprovalClusters", "demo,prod-eu", "demo, prod"),
    ("NotificationEmail", "sre@example.com", "not-an-email"),
])
def test_parameters_that_reach_a_shell_or_an_arn_are_validated(tpl, name: str, good: str, bad: str) -> None:
    param = tpl["Parameters"][name]
    assert _allowed(param, good), f"{name} rejects a good value {good!r}"
    assert not _allowed(param, bad), f"{name} accepts {bad!r}"


def test_samconfig_overrides_name_real_parameters_with_allowed_values(tpl) -> None:
    config = tomllib.loads(iac_tools.SAMCONFIG.read_text(encoding="utf-8"))
    deploy = config["default"]["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    overrides = dict(re.findall(r'(\w+)="([^"]*)"', deploy["parameter_overrides"]))
    assert overrides, "samconfig.toml sets no parameter_overrides"
    for key, value in overrides.items():
        assert key in tpl["Parameters"], f"samconfig.toml overrides unknown parameter {key}"
        assert _allowed(tpl["Parameters"][key], value), f"samconfig.toml: {key}={value!r} not allowed"
