"""Every AWS action the code calls is granted in template.yaml, and every action granted is called.

Both lists are derived, not kept by hand:
- **called**: for each function, the SDK adapters its `functions/<fn>/src/main.rs` wires (structs
  of `crates/aws/src/*.rs`), and for each adapter the SDK operations it calls on its client fields
  (`self.<client>.<operation>(` with `<client>: aws_sdk_<service>::Client`), turned into IAM actions
  (`aws_sdk_kafka` … `describe_cluster_v2` → `kafka:DescribeClusterV2`);
- **granted**: the Allow statements of the function's role in template.yaml (both branches of a
  `!If`).

A grant nobody calls is privilege a compromised function could use for nothing we need; a call
nobody grants fails with AccessDenied on its first real run (the local stack enforces the same
policies per function at run time: local/aws/iam.py). An adapter may offer more operations than a
given function reaches (MskClusters serves four functions), so the per-function rule is "granted ⊆
called by what it wires", and the whole-stack rule is "called by any function's adapters ⊆ granted to
some function". Which function really reaches which call is what the runtime enforcement checks.

Actions the AWS service performs with the function's role on the function's behalf (log delivery,
KMS for encrypted topics/queues/secrets, the dead-letter queue) are not SDK calls of the code; they are
listed in SERVICE_SIDE with the reason, and must still be granted only where the resource exists.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import iac_tools

AWS_SRC = iac_tools.ROOT / "crates" / "aws" / "src"

# IAM service prefix of each SDK crate the adapters use.
SERVICE_OF_CRATE = {
    "aws_sdk_kafka": "kafka",
    "aws_sdk_ssm": "ssm",
    "aws_sdk_s3": "s3",
    "aws_sdk_sns": "sns",
    "aws_sdk_sfn": "states",
    "aws_sdk_secretsmanager": "secretsmanager",
    "aws_sdk_cloudwatch": "cloudwatch",
    "aws_sdk_dynamodb": "dynamodb",
    "aws_sdk_sqs": "sqs",
}

# SDK operations whose IAM action has another name (IAM authorizes HeadObject as s3:GetObject).
ACTION_OF_OPERATION = {"s3:HeadObject": "s3:GetObject", "s3:ListObjectsV2": "s3:ListBucket"}

# Granted for what AWS services do with the function's role, not for an SDK call of the code.
SERVICE_SIDE = {
    "logs:CreateLogStream": "the Lambda service writes the function's logs to its log group",
    "logs:PutLogEvents": "the Lambda service writes the function's logs to its log group",
    "kms:GenerateDataKey": "SNS/SQS encrypt with the stack key when the function publishes or sends",
    "kms:Decrypt": "SNS/SQS/Secrets Manager use the stack key on the function's behalf",
    "sqs:SendMessage": "the Lambda service delivers a failed asynchronous event to the dead-letter queue",
}


def _pascal(snake: str) -> str:
    parts = snake.split("_")
    out = []
    for p in parts:
        # v2 / V2 suffixes stay attached as in the API name (describe_cluster_v2 -> DescribeClusterV2)
        out.append(p[:1].upper() + p[1:])
    return "".join(out)


def _strip_tests(text: str) -> str:
    i = text.find("#[cfg(test)]")
    return text if i < 0 else text[:i]


def _brace_block(text: str, start: int) -> str:
    """The text of the `{ ... }` block opening at or after `start`."""
    i = text.index("{", start)
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i : j + 1]
    return text[i:]


def adapter_calls() -> dict[str, set[str]]:
    """{adapter struct: {IAM action}} over crates/aws/src (test modules excluded)."""
    calls: dict[str, set[str]] = {}
    for path in sorted(AWS_SRC.glob("*.rs")):
        text = _strip_tests(path.read_text(encoding="utf-8"))
        for m in re.finditer(r"pub struct (\w+)\s*\{", text):
            struct = m.group(1)
            body = _brace_block(text, m.start())
            fields = {
                f.group(1): SERVICE_OF_CRATE[f.group(2)]
                for f in re.finditer(r"(\w+)\s*:\s*(aws_sdk_\w+)::Client", body)
                if f.group(2) in SERVICE_OF_CRATE
            }
            if not fields:
                continue
            found: set[str] = set()
            # Every impl block of this struct (inherent and trait impls).
            for im in re.finditer(r"impl(?:<[^>]*>)?\s+(?:[\w:<>]+\s+for\s+)?" + struct + r"\b[^{;]*\{", text):
                block = _brace_block(text, im.start())
                for field, service in fields.items():
                    for op in re.finditer(r"self\s*\.\s*" + field + r"\s*\.\s*([a-z][a-z0-9_]*)\s*\(", block):
                        action = f"{service}:{_pascal(op.group(1))}"
                        found.add(ACTION_OF_OPERATION.get(action, action))
            calls[struct] = found
    return calls


def wired_adapters(function_dir: Path, adapters: set[str]) -> set[str]:
    """The adapter structs a function's main.rs names (imports or construction)."""
    text = (function_dir / "src" / "main.rs").read_text(encoding="utf-8")
    return {a for a in adapters if re.search(r"\b" + a + r"\b", text)}


def _statements(policy_doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for st in iac_tools_as_list(policy_doc.get("Statement")):
        if isinstance(st, dict) and set(st) == {"Fn::If"}:
            _cond, yes, no = st["Fn::If"]
            out += [b for b in (yes, no) if isinstance(b, dict) and b != {"Ref": "AWS::NoValue"}]
        else:
            out.append(st)
    return out


def iac_tools_as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def granted(tpl: dict[str, Any], role_lid: str) -> set[str]:
    role = tpl["Resources"][role_lid]
    assert role["Type"] == "AWS::IAM::Role", f"{role_lid} is not an IAM role"
    actions: set[str] = set()
    for pol in role["Properties"].get("Policies") or []:
        for st in _statements(pol["PolicyDocument"]):
            if st.get("Effect") != "Allow":
                continue
            actions |= set(iac_tools_as_list(st.get("Action")))
    assert role["Properties"].get("ManagedPolicyArns") in (None, []), (
        f"{role_lid} has managed policies: their actions cannot be checked against the code"
    )
    return actions


def function_roles(tpl: dict[str, Any]) -> dict[str, str]:
    """{binary name: role logical id} of every function in the template."""
    out = {}
    for _lid, fn in iac_tools.serverless_functions(tpl).items():
        role = fn["Properties"].get("Role")
        assert isinstance(role, dict) and "Fn::GetAtt" in role, f"function {_lid} must use its own role (Role: !GetAtt X.Arn)"
        out[iac_tools.binary_of(fn)] = role["Fn::GetAtt"][0]
    return out


def test_the_derivation_sees_the_calls_it_must_see() -> None:
    """The parser itself can fail: it must find calls we know are there."""
    calls = adapter_calls()
    everything = set().union(*calls.values())
    for known in ("kafka:DescribeClusterV2", "ssm:SendCommand", "s3:GetObject", "sns:Publish", "states:StartExecution"):
        assert known in everything, f"the derivation lost {known}: {sorted(everything)}"


def test_every_granted_action_is_called_by_what_the_function_wires(tpl) -> None:
    calls = adapter_calls()
    problems = []
    for binary, role in sorted(function_roles(tpl).items()):
        wired = wired_adapters(iac_tools.FUNCTIONS / binary, set(calls))
        reachable = set().union(*(calls[a] for a in wired)) if wired else set()
        for action in sorted(granted(tpl, role) - set(SERVICE_SIDE)):
            if action not in reachable:
                problems.append(f"{binary} ({role}) is granted {action}, which none of its adapters {sorted(wired)} calls")
    assert not problems, "grants nobody calls:\n" + "\n".join(problems)


def test_every_action_the_functions_call_is_granted_to_some_function(tpl) -> None:
    calls = adapter_calls()
    roles = function_roles(tpl)
    all_granted = set().union(*(granted(tpl, r) for r in roles.values()))
    problems = []
    for binary in sorted(roles):
        for adapter in sorted(wired_adapters(iac_tools.FUNCTIONS / binary, set(calls))):
            for action in sorted(calls[adapter] - all_granted):
                problems.append(f"{binary} wires {adapter}, which calls {action}: granted to no function")
    assert not problems, "calls nobody grants (AccessDenied on the first real run):\n" + "\n".join(problems)


def test_service_side_grants_are_only_where_the_service_needs_them(tpl) -> None:
    """Every function writes its logs; the dead-letter send only on a function that has a DLQ."""
    fns = {iac_tools.binary_of(f): f for f in iac_tools.serverless_functions(tpl).values()}
    for binary, role in function_roles(tpl).items():
        g = granted(tpl, role)
        assert {"logs:CreateLogStream", "logs:PutLogEvents"} <= g, f"{binary} cannot write its logs"
        if "sqs:SendMessage" in g:
            assert fns[binary]["Properties"].get("DeadLetterQueue"), (
                f"{binary} is granted sqs:SendMessage but has no DeadLetterQueue"
            )
