"""Each Lambda's role and inline policies from template.yaml, with the local stack's values substituted.

    roles = function_roles(TEMPLATE, LocalValues(stack_name="msk-autoheal", region=..., account_id=...,
                                                 parameters={"ClusterArn": arn, ...},
                                                 resources={"PlanBucket": "msk-autoheal-plans-local", ...}))
    roles["kafka-ops"].policies       # [{"Version": ..., "Statement": [...]}] as IAM would evaluate them

What `sam deploy` would create: a function's role is its `Role: !GetAtt XRole.Arn`, its policies the
role's `Policies` plus any AWS::IAM::Policy naming the role. Intrinsics (`!Ref !GetAtt !Sub !If !Join
!Select !Split`, conditions with `!Equals !Not !And !Or !Condition`, pseudo parameters) are resolved
with the local values: a parameter from `parameters`, else the function environments that reference
it (`MAX_BROKERS: !Ref MaxBrokers` + env MAX_BROKERS=6 → MaxBrokers "6"), else its template default;
a resource's `Ref` from `resources`, else the environments, else a stable local name. Anything that
cannot be resolved (an unknown intrinsic, a parameter without a value, a resource type this module
does not know, a managed policy) raises TemplateError: a policy is never guessed wider than written.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class TemplateError(ValueError):
    """template.yaml cannot be resolved into the local stack's policies."""


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns the short-form intrinsics (!Ref, !Sub, ...) into their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        return {"Fn::GetAtt": value.split(".", 1)}
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with Path(path).open(encoding="utf-8") as f:
        doc = yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        raise TemplateError(f"{path}: not a CloudFormation template (no Resources)")
    return doc


@dataclass
class LocalValues:
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, str] = field(default_factory=dict)
    # resource logical id -> its Ref value (bucket name, topic/state machine/secret ARN, ...)
    resources: dict[str, str] = field(default_factory=dict)
    # the functions' environment: fills parameters and resources their Environment references
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class FunctionRole:
    function: str  # the binary (= local function name)
    role_logical_id: str
    role_name: str
    policies: dict[str, dict[str, Any]]  # policy name -> resolved document

    @property
    def documents(self) -> list[dict[str, Any]]:
        return list(self.policies.values())


_NO_VALUE = object()
_PSEUDO = ("AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::StackName", "AWS::URLSuffix", "AWS::StackId")


class Resolver:
    def __init__(self, tpl: dict[str, Any], values: LocalValues) -> None:
        self.tpl = tpl
        self.v = values
        self.resources: dict[str, Any] = tpl["Resources"]
        self.param_defs: dict[str, Any] = tpl.get("Parameters") or {}
        self.params = self._parameters()
        self.refs = self._resource_refs()
        self._conditions: dict[str, bool] = {}

    # ---- values ------------------------------------------------------------------------------
    def _env_refs(self) -> dict[str, str]:
        """{logical id or parameter: value} from every function's `NAME: !Ref X` with NAME in env."""
        out: dict[str, str] = {}
        for res in self.resources.values():
            if res.get("Type") != "AWS::Serverless::Function":
                continue
            variables = (((res.get("Properties") or {}).get("Environment") or {}).get("Variables")) or {}
            for name, value in variables.items():
                if isinstance(value, dict) and set(value) == {"Ref"} and name in self.v.env:
                    out.setdefault(value["Ref"], self.v.env[name])
        return out

    def _parameters(self) -> dict[str, str]:
        env = self._env_refs()
        out = {}
        for name, d in self.param_defs.items():
            if name in self.v.parameters:
                out[name] = str(self.v.parameters[name])
            elif name in env:
                out[name] = env[name]
            elif isinstance(d, dict) and "Default" in d:
                out[name] = str(d["Default"])
        return out

    def _resource_refs(self) -> dict[str, str]:
        env = self._env_refs()
        return {lid: self.v.resources.get(lid) or env[lid] for lid in self.resources
                if lid in self.v.resources or lid in env}

    def pseudo(self, name: str) -> str:
        return {
            "AWS::Region": self.v.region, "AWS::AccountId": self.v.account_id, "AWS::Partition": "aws",
            "AWS::StackName": self.v.stack_name, "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": f"arn:aws:cloudformation:{self.v.region}:{self.v.account_id}:stack/{self.v.stack_name}/"
                            + str(uuid.uuid5(uuid.NAMESPACE_URL, self.v.stack_name)),
        }[name]

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in _PSEUDO:
            return self.pseudo(name)
        if name in self.param_defs:
            if name not in self.params:
                raise TemplateError(f"parameter {name} has no value (no default, not given locally)")
            return self.params[name]
        if name in self.resources:
            if name in self.refs:
                return self.refs[name]
            return self._default_ref(name)
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def _default_ref(self, lid: str) -> str:
        res = self.resources[lid]
        props = res.get("Properties") or {}
        kind = res.get("Type", "")
        r, a, stack = self.v.region, self.v.account_id, self.v.stack_name
        named = {"AWS::Logs::LogGroup": "LogGroupName", "AWS::S3::Bucket": "BucketName", "AWS::SQS::Queue": "QueueName",
                 "AWS::SNS::Topic": "TopicName", "AWS::IAM::Role": "RoleName", "AWS::CloudWatch::Alarm": "AlarmName",
                 "AWS::Serverless::Function": "FunctionName", "AWS::SecretsManager::Secret": "Name",
                 "AWS::Serverless::StateMachine": "Name", "AWS::StepFunctions::StateMachine": "StateMachineName",
                 "AWS::DynamoDB::Table": "TableName", "AWS::Events::Rule": "Name"}
        name = None
        if kind in named and props.get(named[kind]) is not None:
            name = self.resolve(props[named[kind]])
        if kind == "AWS::Serverless::Function":
            name = name or ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        name = name or f"{stack}-{lid}"
        if kind in ("AWS::Logs::LogGroup", "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::CloudWatch::Alarm",
                    "AWS::Serverless::Function", "AWS::DynamoDB::Table", "AWS::Events::Rule"):
            return name
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{r}.amazonaws.com/{a}/{name}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{r}:{a}:{name}"
        if kind in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return f"arn:aws:states:{r}:{a}:stateMachine:{name}"
        if kind == "AWS::SecretsManager::Secret":
            # Secrets Manager appends 6 random characters to a secret's name in its ARN
            return f"arn:aws:secretsmanager:{r}:{a}:secret:{name}-??????"
        if kind == "AWS::KMS::Key":
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{stack}/{lid}"))
        if kind == "AWS::KMS::Alias":
            return self.resolve(props.get("AliasName", f"alias/{name}"))
        raise TemplateError(f"!Ref {lid}: resource type {kind} has no local value")

    def get_att(self, lid: str, attr: str) -> str:
        if lid not in self.resources:
            raise TemplateError(f"!GetAtt {lid}.{attr}: no such resource")
        kind = self.resources[lid].get("Type", "")
        ref = self.ref(lid)
        r, a = self.v.region, self.v.account_id
        arns = {
            "AWS::S3::Bucket": lambda: f"arn:aws:s3:::{ref}",
            "AWS::Logs::LogGroup": lambda: f"arn:aws:logs:{r}:{a}:log-group:{ref}:*",
            "AWS::SQS::Queue": lambda: f"arn:aws:sqs:{r}:{a}:{ref.rsplit('/', 1)[-1]}",
            "AWS::KMS::Key": lambda: f"arn:aws:kms:{r}:{a}:key/{ref}",
            "AWS::IAM::Role": lambda: f"arn:aws:iam::{a}:role/{ref}",
            "AWS::CloudWatch::Alarm": lambda: f"arn:aws:cloudwatch:{r}:{a}:alarm:{ref}",
            "AWS::Serverless::Function": lambda: f"arn:aws:lambda:{r}:{a}:function:{ref}",
            "AWS::DynamoDB::Table": lambda: f"arn:aws:dynamodb:{r}:{a}:table/{ref}",
            "AWS::Events::Rule": lambda: f"arn:aws:events:{r}:{a}:rule/{ref}",
            "AWS::SNS::Topic": lambda: ref,
            "AWS::Serverless::StateMachine": lambda: ref,
            "AWS::StepFunctions::StateMachine": lambda: ref,
            "AWS::SecretsManager::Secret": lambda: ref,
        }
        if attr == "Arn" and kind in arns:
            return arns[kind]()
        if attr in ("Name", "TopicName", "QueueName") and kind in (
                "AWS::SNS::Topic", "AWS::SQS::Queue", "AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"):
            return (ref.rsplit(":", 1)[-1]).rsplit("/", 1)[-1]
        if attr == "QueueUrl" and kind == "AWS::SQS::Queue":
            return ref
        raise TemplateError(f"!GetAtt {lid}.{attr}: no local value for a {kind}")

    # ---- conditions --------------------------------------------------------------------------
    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            defs = self.tpl.get("Conditions") or {}
            if name not in defs:
                raise TemplateError(f"condition {name} is not defined")
            self._conditions[name] = self._truth(defs[name])
        return self._conditions[name]

    def _truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (k, v), = node.items()
            if k == "Condition":
                return self.condition(v)
            if k == "Fn::Equals":
                x, y = (self.resolve(e) for e in v)
                return str(x) == str(y)
            if k == "Fn::Not":
                return not self._truth(v[0])
            if k == "Fn::And":
                return all(self._truth(e) for e in v)
            if k == "Fn::Or":
                return any(self._truth(e) for e in v)
        raise TemplateError(f"cannot evaluate condition {node!r}")

    # ---- intrinsics --------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            out = [self.resolve(e) for e in node]
            return [e for e in out if e is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (k, v), = node.items()
            if k == "Ref":
                return self.ref(v)
            if k == "Fn::GetAtt":
                lid, attr = v if isinstance(v, list) else v.split(".", 1)
                return self.get_att(lid, attr)
            if k == "Fn::Sub":
                return self._sub(v)
            if k == "Fn::If":
                cond, yes, no = v
                return self.resolve(yes if self.condition(cond) else no)
            if k == "Fn::Join":
                sep, items = v
                return str(sep).join(str(x) for x in self.resolve(items))
            if k == "Fn::Select":
                idx, items = v
                return self.resolve(items)[int(self.resolve(idx))]
            if k == "Fn::Split":
                sep, s = v
                return str(self.resolve(s)).split(sep)
            if k.startswith("Fn::") or k == "Condition":
                raise TemplateError(f"intrinsic {k} is not supported by the local stack")
        out = {}
        for k, v in node.items():
            r = self.resolve(v)
            if r is not _NO_VALUE:
                out[k] = r
        return out

    def _sub(self, v: Any) -> str:
        text, extra = (v, {}) if isinstance(v, str) else (v[0], self.resolve(v[1]))

        def one(m: re.Match[str]) -> str:
            name = m.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return str(extra[name])
            if "." in name and not name.startswith("AWS::"):
                lid, attr = name.split(".", 1)
                return str(self.get_att(lid, attr))
            val = self.ref(name)
            if val is _NO_VALUE:
                raise TemplateError(f"!Sub ${{{name}}}: AWS::NoValue in a string")
            return str(val)

        return re.sub(r"\$\{([^}]+)\}", one, text)


def _role_logical_id(fn_lid: str, props: Mapping[str, Any]) -> str:
    role = props.get("Role")
    if isinstance(role, dict) and "Fn::GetAtt" in role:
        target = role["Fn::GetAtt"]
        lid, attr = target if isinstance(target, list) else target.split(".", 1)
        if attr == "Arn":
            return lid
    raise TemplateError(f"{fn_lid}: Role must be !GetAtt <a role in this template>.Arn, not {role!r}")


def function_roles(values: LocalValues, path: Path = TEMPLATE) -> dict[str, FunctionRole]:
    """Every function of the template (by binary name) with its role's resolved inline policies."""
    tpl = load_template(path)
    res = Resolver(tpl, values)
    out: dict[str, FunctionRole] = {}
    for lid, r in tpl["Resources"].items():
        if r.get("Type") != "AWS::Serverless::Function":
            continue
        props = r.get("Properties") or {}
        binary = ((r.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        if not binary:
            raise TemplateError(f"{lid}: no Metadata.BuildProperties.Binary (the local function name)")
        if props.get("Policies"):
            raise TemplateError(f"{lid}: SAM `Policies` on a function are not resolved locally; use a Role")
        role_lid = _role_logical_id(lid, props)
        role = tpl["Resources"].get(role_lid) or {}
        if role.get("Type") != "AWS::IAM::Role":
            raise TemplateError(f"{lid}: its role {role_lid} is not an AWS::IAM::Role of the template")
        rprops = role.get("Properties") or {}
        if rprops.get("ManagedPolicyArns") or rprops.get("PermissionsBoundary"):
            raise TemplateError(f"{role_lid}: managed policies / permission boundaries are not resolved locally")
        policies: dict[str, dict[str, Any]] = {}
        for p in res.resolve(rprops.get("Policies") or []):
            policies[str(p["PolicyName"])] = p["PolicyDocument"]
        for plid, pr in tpl["Resources"].items():
            if pr.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
                continue
            roles = (pr.get("Properties") or {}).get("Roles") or []
            if {"Ref": role_lid} in roles:
                if "Condition" in pr and not res.condition(pr["Condition"]):
                    continue
                pp = res.resolve(pr["Properties"])
                policies[str(pp.get("PolicyName") or plid)] = pp["PolicyDocument"]
        role_name = str(res.resolve(rprops["RoleName"])) if rprops.get("RoleName") else f"{values.stack_name}-{role_lid}"
        out[binary] = FunctionRole(function=binary, role_logical_id=role_lid, role_name=role_name[:64],
                                   policies=policies)
    return out


# The EC2 client's instance role, as the stack's operator names it (template parameter
# ClientInstanceRoleName); locally it is made in moto like the functions' roles.
LOCAL_CLIENT_ROLE = "msk-autoheal-client-local"


def client_role(values: LocalValues, path: Path = TEMPLATE) -> FunctionRole | None:
    """The Kafka client instance's role: the template's policies attached to the role named by the
    ClientInstanceRoleName parameter (what the SSM agent and the scripts it runs may do: read the
    plans, upload the output). None when the template attaches nothing to it."""
    name = values.parameters.get("ClientInstanceRoleName") or LOCAL_CLIENT_ROLE
    vals = LocalValues(stack_name=values.stack_name, region=values.region, account_id=values.account_id,
                       parameters=dict(values.parameters) | {"ClientInstanceRoleName": name},
                       resources=values.resources, env=values.env)
    tpl = load_template(path)
    res = Resolver(tpl, vals)
    policies: dict[str, dict[str, Any]] = {}
    for plid, pr in tpl["Resources"].items():
        if pr.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        if {"Ref": "ClientInstanceRoleName"} not in ((pr.get("Properties") or {}).get("Roles") or []):
            continue
        if "Condition" in pr and not res.condition(pr["Condition"]):
            continue
        pp = res.resolve(pr["Properties"])
        policies[str(pp.get("PolicyName") or plid)] = pp["PolicyDocument"]
    if not policies:
        return None
    return FunctionRole(function="ec2-client", role_logical_id="ClientInstanceRoleName", role_name=name[:64],
                        policies=policies)
