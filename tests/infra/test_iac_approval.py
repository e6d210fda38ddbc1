"""Approval mode in template.yaml agrees with the code and keeps its links to approvers (issue 12.9).

- the approval window's MaxValue is the code's own bound (MAX_VALIDITY_SECONDS, read from the Rust
  source), which the ASL's WaitForApproval covers: a larger value would fail every approval-request
  cold start;
- approve/reject links (bearer capabilities) go to a topic of their own, which only the
  approval-request function may publish to and only approvers are subscribed to;
- the safe mode, approval, is the default in the template and in samconfig.toml.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import iac_tools

LINK_RS = iac_tools.ROOT / "crates" / "domain" / "src" / "approval" / "link.rs"


def max_validity_seconds() -> int:
    """`pub const MAX_VALIDITY_SECONDS: i64 = 24 * 60 * 60;` evaluated (a product of integers)."""
    m = re.search(r"pub const MAX_VALIDITY_SECONDS: i64 = ([0-9_ *]+);", LINK_RS.read_text(encoding="utf-8"))
    assert m, f"MAX_VALIDITY_SECONDS not found in {LINK_RS}"
    product = 1
    for factor in m.group(1).split("*"):
        product *= int(factor.strip().replace("_", ""))
    return product


def statements(tpl: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    out = []
    for pol in tpl["Resources"][role_id]["Properties"]["Policies"]:
        for st in pol["PolicyDocument"]["Statement"]:
            if isinstance(st, dict) and "Fn::If" in st:
                out += [b for b in st["Fn::If"][1:] if isinstance(b, dict) and "Effect" in b]
            else:
                out.append(st)
    return out


def publish_targets(tpl: dict[str, Any], role_id: str) -> list[Any]:
    targets = []
    for st in statements(tpl, role_id):
        actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if "sns:Publish" in actions:
            targets += st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
    return targets


def test_the_approval_window_parameter_allows_exactly_what_the_code_accepts(tpl) -> None:
    bound = max_validity_seconds()
    assert bound == 24 * 3600, "the bound changed: check the ASL's WaitForApproval and docs/APPROVAL.md"
    param = tpl["Parameters"]["ApprovalTimeoutMinutes"]
    assert param["MaxValue"] * 60 == bound, f"MaxValue {param['MaxValue']} min, the code accepts {bound // 60}"
    assert 1 <= param["MinValue"] <= param["Default"] <= param["MaxValue"]
    env = tpl["Resources"]["ApprovalRequestFunction"]["Properties"]["Environment"]["Variables"]
    assert env["APPROVAL_TIMEOUT_MINUTES"] == {"Ref": "ApprovalTimeoutMinutes"}
    # The wait itself outlasts the longest window (its heartbeat path ends it when the links expire).
    wait = json.loads(iac_tools.ASL.read_text(encoding="utf-8"))["States"]["WaitForApproval"]
    assert wait["HeartbeatSecondsPath"] == "$.approval.timeout_seconds"
    assert bound < wait["TimeoutSeconds"] <= bound + 900


def test_approval_links_go_to_a_topic_of_their_own(tpl, functions) -> None:
    r = tpl["Resources"]
    topic = r["ApprovalTopic"]
    assert topic["Type"] == "AWS::SNS::Topic"
    assert topic["Properties"]["KmsMasterKeyId"] == r["NotificationTopic"]["Properties"]["KmsMasterKeyId"]
    env = r["ApprovalRequestFunction"]["Properties"]["Environment"]["Variables"]
    assert env["APPROVAL_TOPIC_ARN"] == {"Ref": "ApprovalTopic"}
    assert "TOPIC_ARN" not in env, "the approval email must not reach the notification topic"
    # Only approval-request publishes there, and it publishes nowhere else.
    assert publish_targets(tpl, "ApprovalRequestRole") == [{"Ref": "ApprovalTopic"}]
    for lid, fn in functions.items():
        role = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        if role != "ApprovalRequestRole":
            assert {"Ref": "ApprovalTopic"} not in publish_targets(tpl, role), f"{lid} may publish approval links"
    assert tpl["Outputs"]["ApprovalTopicArn"]["Value"] == {"Ref": "ApprovalTopic"}


def _condition(tpl: dict[str, Any], name: str, params: dict[str, str]) -> bool:
    def ev(expr: Any) -> Any:
        if isinstance(expr, dict) and "Condition" in expr:
            return ev(tpl["Conditions"][expr["Condition"]])
        if isinstance(expr, dict) and "Ref" in expr:
            return params[expr["Ref"]]
        if not isinstance(expr, dict):
            return expr
        (fn, args), = expr.items()
        vals = [ev(a) for a in args]
        return {"Fn::Equals": lambda: vals[0] == vals[1], "Fn::Or": lambda: any(vals),
                "Fn::And": lambda: all(vals), "Fn::Not": lambda: not vals[0]}[fn]()
    return ev(tpl["Conditions"][name])


def test_approvers_are_subscribed_defaulting_to_the_notification_email(tpl) -> None:
    sub = tpl["Resources"]["ApproverEmailSubscription"]
    props = sub["Properties"]
    assert props["TopicArn"] == {"Ref": "ApprovalTopic"} and props["Protocol"] == "email"
    cond, yes, no = props["Endpoint"]["Fn::If"]
    pattern = tpl["Parameters"]["ApproverEmail"]["AllowedPattern"]
    assert re.fullmatch(pattern, "approver@example.com") and re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, "not an email")
    cases = [  # (ApproverEmail, NotificationEmail) -> who gets the links
        (("boss@example.com", "sre@example.com"), "boss@example.com"),
        (("", "sre@example.com"), "sre@example.com"),
        (("boss@example.com", ""), "boss@example.com"),
        (("", ""), None),
    ]
    for (approver, notification), want in cases:
        params = {"ApproverEmail": approver, "NotificationEmail": notification}
        if not _condition(tpl, sub["Condition"], params):
            got = None
        else:
            got = params[(yes if _condition(tpl, cond, params) else no)["Ref"]]
        assert got == want, (approver, notification)


def test_the_safe_mode_is_the_default_everywhere(tpl) -> None:
    assert tpl["Parameters"]["Mode"]["Default"] == "approval"
    deploy = tomllib.loads(iac_tools.SAMCONFIG.read_text(encoding="utf-8"))["default"]["deploy"]["parameters"]
    overrides = dict(re.findall(r'(\w+)="([^"]*)"', deploy["parameter_overrides"]))
    assert overrides.get("Mode", tpl["Parameters"]["Mode"]["Default"]) == "approval"
