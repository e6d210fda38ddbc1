"""Least privilege: no wildcard action anywhere, '*' resources only where IAM cannot scope."""

from __future__ import annotations

from typing import Any

import policy_check


def test_deployed_template_grants_no_wildcard_action_and_scopes_every_scopable_resource(cfn: dict[str, Any]) -> None:
    report = policy_check.check(cfn)
    # The notes (actions AWS cannot scope) are part of the report so `pytest -rA` shows them.
    print(report.text())
    assert not report.errors, "\n" + report.text()


def test_unscopable_grants_are_exactly_the_known_ones(cfn: dict[str, Any]) -> None:
    """A new '*' grant must be a deliberate change to this list, not a silent one."""
    report = policy_check.check(cfn)
    granted = {(where.split("/")[0], action) for where, action in report.unscopable}
    assert granted == {
        ("DetectorRole", "kafka:ListClustersV2"),
        ("ScaleRole", "kafka:DescribeClusterOperationV2"),
        ("KafkaOpsRole", "ssm:GetCommandInvocation"),
        ("KafkaOpsRole", "kafka:GetBootstrapBrokers"),
        ("SafetyNetRole", "ssm:GetCommandInvocation"),
        ("SafetyNetRole", "kafka:GetBootstrapBrokers"),
        ("ApprovalRole", "states:SendTaskSuccess"),
        ("ApprovalRole", "states:SendTaskFailure"),
        *{("RemediationRole", f"logs:{a}") for a in (
            "CreateLogDelivery", "DeleteLogDelivery", "DescribeLogGroups", "DescribeResourcePolicies",
            "GetLogDelivery", "ListLogDeliveries", "PutResourcePolicy", "UpdateLogDelivery")},
        *{("RemediationRole", f"xray:{a}") for a in (
            "GetSamplingRules", "GetSamplingTargets", "PutTelemetryRecords", "PutTraceSegments")},
    }


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    role = {"Type": "AWS::IAM::Role", "Properties": {"Policies": [
        {"PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)}}]}}
    return {"Resources": {"R": role}}


def test_checker_catches_wildcard_actions_unknown_actions_and_scopable_stars() -> None:
    report = policy_check.check(_doc(
        {"Sid": "a", "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*"},
        {"Sid": "b", "Effect": "Allow", "Action": "kafka:DescribeClusterV3", "Resource": "*"},
        {"Sid": "c", "Effect": "Allow", "Action": "kafka:UpdateBrokerCount", "Resource": "*"},
        {"Sid": "d", "Effect": "Allow", "NotAction": "iam:PassRole", "Resource": "*"},
        {"Sid": "e", "Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Sid": "f", "Effect": "Allow", "Action": "states:SendTaskSuccess", "Resource": "*"},
        {"Sid": "g", "Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    ))
    text = "\n".join(report.errors)
    assert "[a]: wildcard action 's3:Get*'" in text
    assert "[b]: unknown action 'kafka:DescribeClusterV3'" in text
    assert "[c]: kafka:UpdateBrokerCount on '*' although IAM scopes it to cluster" in text
    assert "[d]: NotAction" in text
    assert "[e]: wildcard action '*'" in text
    assert len(report.errors) == 5, text  # f is unscopable (a note), g is a Deny
    assert report.unscopable == [("R/p [f]", "states:SendTaskSuccess")]


def test_checker_follows_both_branches_of_a_conditional_statement() -> None:
    report = policy_check.check(_doc({"Fn::If": [
        "C",
        {"Sid": "yes", "Effect": "Allow", "Action": "kafka:DescribeClusterV2", "Resource": "*"},
        {"Ref": "AWS::NoValue"},
    ]}))
    assert any("[yes]: kafka:DescribeClusterV2 on '*'" in e for e in report.errors), report.errors


def test_checker_rejects_public_lambda_permissions_outside_function_urls() -> None:
    cfn = {"Resources": {
        "Open": {"Type": "AWS::Lambda::Permission",
                 "Properties": {"Action": "lambda:InvokeFunction", "Principal": "*", "FunctionName": "f"}},
        "Deputy": {"Type": "AWS::Lambda::Permission",
                   "Properties": {"Action": "lambda:InvokeFunction", "Principal": "events.amazonaws.com",
                                  "FunctionName": "f"}},
    }}
    errors = "\n".join(policy_check.check(cfn).errors)
    assert "Open: public lambda:InvokeFunction outside a function URL" in errors
    assert "Deputy: events.amazonaws.com may invoke without a SourceArn" in errors
