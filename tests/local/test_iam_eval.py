"""The emulator's IAM evaluator (local/aws/iam.py) and the template's policies (local/aws/policies.py),
without Kafka: how a request is classified per protocol, how statements match, what a denial looks
like, S3's 403-for-a-missing-key rule, and that template.yaml resolves to concrete local ARNs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from local.aws.iam import Classifier, Iam, Unclassified, action_matches, credential, evaluate, resource_matches
from local.aws.policies import TEMPLATE, LocalValues, TemplateError, function_roles

R, A = "us-east-1", "123456789012"
CLUSTER = f"arn:aws:kafka:{R}:{A}:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2"
SM = f"arn:aws:states:{R}:{A}:stateMachine:msk-autoheal-remediation"
AKID = "ASIAFUNCTIONKEY00001"


def environ(method: str, path: str, service: str, body: bytes = b"", query: str = "", akid: str = AKID,
            **headers: str) -> dict:
    env = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
        "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
        "HTTP_AUTHORIZATION": f"AWS4-HMAC-SHA256 Credential={akid}/20261207/{R}/{service}/aws4_request, "
                              "SignedHeaders=host;x-amz-date, Signature=abc",
    }
    env |= {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items()}
    return env


def classify(env: dict) -> list[tuple[str, str]]:
    _akid, signing = credential(env)
    body = env["wsgi.input"].read()
    return Classifier(R, A).classify(env, signing, body).checks


# ---- classification per protocol ---------------------------------------------------------------


def test_json_protocol_action_from_x_amz_target_and_resource_from_the_body() -> None:
    body = json.dumps({"stateMachineArn": SM, "name": "x", "input": "{}"}).encode()
    env = environ("POST", "/", "states", body, **{"X-Amz-Target": "AWSStepFunctions.StartExecution"})
    assert classify(env) == [("states:StartExecution", SM)]
    env = environ("POST", "/", "states", b'{"taskToken": "t", "output": "{}"}',
                  **{"X-Amz-Target": "AWSStepFunctions.SendTaskSuccess"})
    assert classify(env) == [("states:SendTaskSuccess", "*")]  # no resource-level permissions in IAM


def test_query_protocol_action_from_the_form() -> None:
    topic = f"arn:aws:sns:{R}:{A}:msk-autoheal-notifications"
    body = f"Action=Publish&Version=2010-03-31&TopicArn={topic}&Message=hi".encode()
    assert classify(environ("POST", "/", "sns", body)) == [("sns:Publish", topic)]


def test_rest_json_kafka_cluster_arn_from_the_path() -> None:
    enc = CLUSTER.replace(":", "%3A").replace("/", "%2F")
    assert classify(environ("GET", f"/api/v2/clusters/{enc}", "kafka")) == [("kafka:DescribeClusterV2", CLUSTER)]
    assert classify(environ("PUT", f"/v1/clusters/{CLUSTER}/nodes/count", "kafka", b"{}")) == \
        [("kafka:UpdateBrokerCount", CLUSTER)]
    assert classify(environ("GET", "/api/v2/clusters", "kafka", query="clusterNameFilter=demo")) == \
        [("kafka:ListClustersV2", "*")]
    assert classify(environ("GET", f"/api/v2/clusters/{CLUSTER}/operations", "kafka")) == \
        [("kafka:ListClusterOperationsV2", CLUSTER)]
    with pytest.raises(Unclassified):
        classify(environ("DELETE", f"/v1/clusters/{CLUSTER}", "kafka"))


def test_s3_object_and_bucket_resources() -> None:
    assert classify(environ("GET", "/plans/autoheal/run-1/plan.json", "s3", query="x-id=GetObject")) == \
        [("s3:GetObject", "arn:aws:s3:::plans/autoheal/run-1/plan.json")]
    assert classify(environ("HEAD", "/plans/a/b", "s3")) == [("s3:GetObject", "arn:aws:s3:::plans/a/b")]
    assert classify(environ("PUT", "/plans/a/b", "s3", query="x-id=PutObject")) == \
        [("s3:PutObject", "arn:aws:s3:::plans/a/b")]
    assert classify(environ("GET", "/plans", "s3", query="list-type=2&prefix=a")) == \
        [("s3:ListBucket", "arn:aws:s3:::plans")]
    with pytest.raises(Unclassified):
        classify(environ("PUT", "/plans/a/b", "s3", query="tagging"))


def test_rpc_v2_cbor_operation_from_the_path() -> None:
    env = environ("POST", "/service/GraniteServiceVersion20100801/operation/GetMetricData", "monitoring", b"\xa0",
                  **{"smithy-protocol": "rpc-v2-cbor"})
    assert classify(env) == [("cloudwatch:GetMetricData", "*")]


def test_ssm_send_command_names_instance_document_and_output_bucket() -> None:
    body = json.dumps({"InstanceIds": ["i-0c1e"], "DocumentName": "AWS-RunShellScript",
                       "OutputS3BucketName": "plans", "Parameters": {"commands": ["true"]}}).encode()
    env = environ("POST", "/", "ssm", body, **{"X-Amz-Target": "AmazonSSM.SendCommand"})
    assert [r for _a, r in classify(env)] == [f"arn:aws:ec2:{R}:{A}:instance/i-0c1e",
                                              f"arn:aws:ssm:{R}::document/AWS-RunShellScript", "arn:aws:s3:::plans"]


def test_an_unknown_action_is_unclassified() -> None:
    env = environ("POST", "/", "states", b"{}", **{"X-Amz-Target": "AWSStepFunctions.FlyToTheMoon"})
    with pytest.raises(Unclassified):
        classify(env)


def test_presigned_credential() -> None:
    env = {"QUERY_STRING": f"X-Amz-Credential={AKID}%2F20261207%2F{R}%2Fs3%2Faws4_request&X-Amz-Signature=x"}
    assert credential(env) == (AKID, "s3")
    assert credential({"QUERY_STRING": ""}) is None


# ---- matching and evaluation -------------------------------------------------------------------


def test_wildcards() -> None:
    assert action_matches("kafka:Describe*", "kafka:DescribeClusterV2")
    assert action_matches("KAFKA:describeclusterv2", "kafka:DescribeClusterV2")  # actions: case-insensitive
    assert action_matches("s3:?etObject", "s3:GetObject")
    assert not action_matches("s3:Get", "s3:GetObject")
    assert resource_matches("arn:aws:s3:::b/autoheal/*", "arn:aws:s3:::b/autoheal/run/x.json")
    assert not resource_matches("arn:aws:s3:::b/autoheal/*", "arn:aws:s3:::b/other")
    assert not resource_matches("arn:aws:s3:::B/*", "arn:aws:s3:::b/x")  # resources: case-sensitive
    assert resource_matches("arn:aws:secretsmanager:*:secret:k-??????", "arn:aws:secretsmanager:r:a:secret:k-AbC123")


def test_explicit_deny_wins_and_nothing_is_an_implicit_deny() -> None:
    allow = {"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    deny = {"Statement": [{"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::b/*"}]}
    assert evaluate([allow], "s3:DeleteObject", "arn:aws:s3:::b/k") == "allow"
    assert evaluate([allow, deny], "s3:DeleteObject", "arn:aws:s3:::b/k") == "explicit-deny"
    assert evaluate([deny], "s3:GetObject", "arn:aws:s3:::b/k") == "implicit-deny"
    assert evaluate([], "s3:GetObject", "arn:aws:s3:::b/k") == "implicit-deny"
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "s3:Delete*", "Resource": "*"}]}
    assert evaluate([not_action], "s3:DeleteObject", "x") == "implicit-deny"
    assert evaluate([not_action], "s3:GetObject", "x") == "allow"
    # a condition is not evaluated locally: the Allow does not apply (never kinder than AWS)
    cond = {"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
                           "Condition": {"StringEquals": {"kms:ViaService": "x"}}}]}
    assert evaluate([cond], "kms:Decrypt", "k") == "implicit-deny"


# ---- the check, as the router calls it ---------------------------------------------------------


def iam_with(policies: list[dict], keys: dict[tuple[str, str], bool] | None = None, tmp: Path | None = None) -> Iam:
    keys = keys or {}
    iam = Iam(R, A, s3_key_exists=lambda b, k: keys.get((b, k), False),
              journal_path=(tmp / "iam-denials.jsonl") if tmp else None)
    iam.register({"identities": {AKID: {"function": "assess", "role": "msk-autoheal-AssessRole", "policies": policies}}})
    return iam


DESCRIBE = {"Statement": [{"Effect": "Allow", "Action": "kafka:DescribeClusterV2", "Resource": CLUSTER}]}


def test_denial_is_403_access_denied_exception_naming_role_action_and_resource(tmp_path: Path) -> None:
    iam = iam_with([DESCRIBE], tmp=tmp_path)
    assert iam.check(environ("GET", f"/api/v2/clusters/{CLUSTER}", "kafka")) is None
    status, headers, body = iam.check(environ("PUT", f"/v1/clusters/{CLUSTER}/nodes/count", "kafka", b"{}"))
    assert status == 403 and headers["x-amzn-ErrorType"] == "AccessDeniedException"
    doc = json.loads(body)
    assert doc["__type"] == "AccessDeniedException"
    assert doc["message"] == (f"User: arn:aws:sts::{A}:assumed-role/msk-autoheal-AssessRole/assess is not authorized "
                              f"to perform: kafka:UpdateBrokerCount on resource: {CLUSTER} because no "
                              "identity-based policy allows the kafka:UpdateBrokerCount action")
    journal = [json.loads(x) for x in (tmp_path / "iam-denials.jsonl").read_text().splitlines()]
    assert [(j["function"], j["action"], j["resource"]) for j in journal] == \
        [("assess", "kafka:UpdateBrokerCount", CLUSTER)]
    assert iam.describe()["allowed"] == [{"function": "assess", "action": "kafka:DescribeClusterV2", "count": 1}]


def test_query_and_s3_denials_have_their_protocols_shape() -> None:
    iam = iam_with([DESCRIBE])
    status, _h, body = iam.check(environ("POST", "/", "sns", b"Action=Publish&TopicArn=arn:aws:sns:r:a:t&Message=m"))
    assert status == 403 and b"<Code>AuthorizationError</Code>" in body and b"<Type>Sender</Type>" in body
    status, _h, body = iam.check(environ("GET", "/b/k", "s3"))
    assert status == 403 and b"<Code>AccessDenied</Code><Message>Access Denied</Message>" in body


def test_unsigned_or_foreign_keys_are_not_evaluated() -> None:
    iam = iam_with([])
    assert iam.check(environ("PUT", f"/v1/clusters/{CLUSTER}/nodes/count", "kafka", akid="testing")) is None
    env = environ("GET", "/b/k", "s3")
    del env["HTTP_AUTHORIZATION"]
    assert iam.check(env) is None


def test_an_unclassifiable_call_by_a_function_is_denied(tmp_path: Path) -> None:
    iam = iam_with([{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}], tmp=tmp_path)
    status, headers, _b = iam.check(environ("POST", "/", "states", b"{}",
                                            **{"X-Amz-Target": "AWSStepFunctions.FlyToTheMoon"}))
    assert status == 403 and headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert "unclassified" in iam.describe()["denials"][0]["reason"]


def test_missing_key_is_403_without_list_bucket_and_404_with_it() -> None:
    get = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/autoheal/*"}
    keys = {("b", "autoheal/there"): True}
    without = iam_with([{"Statement": [get]}], keys)
    assert without.check(environ("GET", "/b/autoheal/there", "s3")) is None
    status, _h, body = without.check(environ("GET", "/b/autoheal/missing", "s3"))
    assert status == 403 and b"AccessDenied" in body
    status, _h, body = without.check(environ("HEAD", "/b/autoheal/missing", "s3"))
    assert status == 403 and body == b""
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b"}
    with_list = iam_with([{"Statement": [get, listing]}], keys)
    assert with_list.check(environ("GET", "/b/autoheal/missing", "s3")) is None  # moto answers 404 NoSuchKey


# ---- template.yaml -----------------------------------------------------------------------------


def values(**env: str) -> LocalValues:
    return LocalValues("msk-autoheal", R, A, parameters={"ClusterArn": CLUSTER, "ClientInstanceId": "i-0c1e"},
                       resources={"RemediationStateMachine": SM}, env=env)


def test_template_policies_resolve_to_local_arns() -> None:
    roles = function_roles(values(PLAN_BUCKET="plans-local"))
    assert set(roles) >= {"detector", "assess", "scale", "kafka-ops", "notify", "approval-request", "approval"}
    assert roles["assess"].role_name == "msk-autoheal-AssessRole"
    text = json.dumps([r.policies for r in roles.values()])
    assert "Fn::" not in text and '"Ref"' not in text and "${" not in text
    ops = roles["kafka-ops"].documents
    assert evaluate(ops, "s3:GetObject", "arn:aws:s3:::plans-local/autoheal/run/x") == "allow"
    assert evaluate(ops, "s3:GetObject", "arn:aws:s3:::plans-local/elsewhere") == "implicit-deny"
    assert evaluate(roles["assess"].documents, "s3:GetObject", "arn:aws:s3:::plans-local/autoheal/x") == "implicit-deny"
    assert evaluate(roles["detector"].documents, "states:StartExecution", SM) == "allow"
    assert evaluate(roles["assess"].documents, "kafka:DescribeClusterV2", CLUSTER) == "allow"
    # !If AskMskForBootstrap: GetBootstrapBrokers only while BootstrapServers is empty
    assert evaluate(ops, "kafka:GetBootstrapBrokers", "*") == "allow"
    given = function_roles(values(PLAN_BUCKET="p", BOOTSTRAP_SERVERS="b-1:9092"))["kafka-ops"].documents
    assert evaluate(given, "kafka:GetBootstrapBrokers", "*") == "implicit-deny"


def test_an_unresolvable_reference_is_an_error(tmp_path: Path) -> None:
    text = TEMPLATE.read_text().replace("Resource: !Ref ClusterArn", "Resource: !Ref NoSuchThing", 1)
    copy = tmp_path / "template.yaml"
    copy.write_text(text)
    with pytest.raises(TemplateError, match="NoSuchThing"):
        function_roles(values(), copy)
