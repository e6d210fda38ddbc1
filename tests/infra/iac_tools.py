"""Helpers for the infrastructure-as-code tests: load the SAM template (CloudFormation YAML tags
included), transform it to plain CloudFormation with the real SAM translator, find the tools the
project's setup installs, and run them with a clear failure message.

Used by tests/infra/test_iac_*.py and by `python tests/infra/iac_tools.py transform` (prints the
transformed template, handy when a policy check fails).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAMCONFIG = ROOT / "samconfig.toml"
ASL = ROOT / "statemachine" / "remediation.asl.json"
INFRA = ROOT / "infra"
FUNCTIONS = ROOT / "functions"
SAM_VENV = ROOT / ".venv-sam"
VENV = ROOT / ".venv"
ASL_VALIDATOR = ROOT / "tools" / "node_modules" / ".bin" / "asl-validator"

# Parameter values used whenever the template must be resolved (transform, sam build): the shape of
# a real deployment against the Terraform demo environment.
SAMPLE_PARAMETERS = {
    "ClusterArn": "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
    "ClientInstanceId": "i-0123456789abcdef0",
    "ClientInstanceRoleName": "msk-autoheal-demo-client",
}


# ---------------------------------------------------------------- CloudFormation YAML
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


def load_cfn_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.load(f, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def template() -> dict[str, Any]:
    return load_cfn_yaml(TEMPLATE)


def serverless_functions(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every AWS::Serverless::Function with the Globals merged in the way SAM merges them
    (scalars: the function wins; maps: merged key by key)."""
    globals_fn = (tpl.get("Globals") or {}).get("Function") or {}
    out = {}
    for lid, res in tpl["Resources"].items():
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = dict(globals_fn)
        for key, value in (res.get("Properties") or {}).items():
            if isinstance(value, dict) and isinstance(props.get(key), dict):
                props[key] = {**props[key], **value}
            else:
                props[key] = value
        out[lid] = {"Properties": props, "Metadata": res.get("Metadata") or {}}
    return out


def binary_of(fn: dict[str, Any]) -> str | None:
    return ((fn.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")


# ---------------------------------------------------------------- SAM transform
_TRANSFORM_SCRIPT = r"""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

class NoManagedPolicies:
    # The template names no managed policies by name (every role is explicit), so no IAM lookup.
    def load(self):
        return {}

template = yaml_parse(open(sys.argv[1]).read())
params = json.loads(sys.argv[2])
# What `sam package` does before CloudFormation sees the template: local paths become S3 objects.
for lid, res in template["Resources"].items():
    props = res.get("Properties") or {}
    if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
        props["CodeUri"] = f"s3://packaged/{lid}.zip"
    if res.get("Type") == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
        props["DefinitionUri"] = f"s3://packaged/{lid}.asl.json"
print(json.dumps(transform(template, params, NoManagedPolicies())))
"""


def sam_python() -> Path:
    py = SAM_VENV / "bin" / "python"
    if not py.exists():
        raise RuntimeError(f"{py} is missing: run `scripts/setup.sh sam` (SAM CLI lives in its own venv)")
    return py


def transformed_template(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """template.yaml after the SAM transform, as CloudFormation would receive it."""
    params = {**SAMPLE_PARAMETERS, **(parameters or {})}
    proc = run(
        [str(sam_python()), "-c", _TRANSFORM_SCRIPT, str(TEMPLATE), json.dumps(params)],
        timeout=120,
        what="SAM transform of template.yaml",
    )
    return json.loads(proc.stdout)


# ---------------------------------------------------------------- running tools
def tool_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    # cargo-lambda and zig come from the project venv; the SAM CLI from its own venv.
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), str(SAM_VENV / "bin"), env.get("PATH", "")])
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    env["SAM_CLI_TELEMETRY"] = "0"
    env.update(extra)
    return env


def run(cmd: list[str], *, what: str, timeout: float, cwd: Path = ROOT, env: dict[str, str] | None = None,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a tool; on failure raise with its output, so the test report says what the tool said."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env or tool_env(), capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as e:
        raise AssertionError(f"{what}: {cmd[0]} not found ({e}); run `make setup`") from e
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"{what}: timed out after {timeout:.0f}s: {' '.join(cmd)}") from e
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout ---\n{proc.stdout[-6000:]}\n--- stderr ---\n{proc.stderr[-6000:]}"
        )
    return proc


def ensure_checkov() -> Path:
    """checkov from its own venv, installed on first use by scripts/validate.sh (stamped)."""
    run([str(ROOT / "scripts" / "validate.sh"), "ensure-checkov"], what="installing checkov", timeout=900)
    return ROOT / ".venv-checkov" / "bin" / "checkov"


def terraform() -> str | None:
    return shutil.which("terraform")


def terraform_plugin_dir() -> Path | None:
    """The local provider mirror: a folder holding registry.terraform.io/hashicorp/aws/<version>."""
    candidates = [os.environ.get("TF_PLUGIN_DIR", ""), "/opt/tf-plugins", "/usr/share/terraform/plugins",
                  str(Path.home() / ".terraform.d" / "plugins")]
    for c in candidates:
        if c and (Path(c) / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return Path(c)
    return None


# ---------------------------------------------------------------- workspace and sources
def workspace_metadata() -> dict[str, Any]:
    proc = run(["cargo", "metadata", "--no-deps", "--format-version", "1"], what="cargo metadata", timeout=120)
    return json.loads(proc.stdout)


def function_packages() -> dict[str, dict[str, Any]]:
    """Workspace packages whose manifest lives in functions/<dir>/, by package name."""
    meta = workspace_metadata()
    out = {}
    for pkg in meta["packages"]:
        manifest = Path(pkg["manifest_path"]).resolve()
        if manifest.parent.parent == FUNCTIONS.resolve():
            out[pkg["name"]] = pkg
    return out


def function_dirs_on_disk() -> set[str]:
    return {p.parent.name for p in FUNCTIONS.glob("*/Cargo.toml")} if FUNCTIONS.is_dir() else set()


def asl_placeholders(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", text))


if __name__ == "__main__":
    if sys.argv[1:] == ["transform"]:
        json.dump(transformed_template(), sys.stdout, indent=2)
        print()
    else:
        print("usage: python tests/infra/iac_tools.py transform", file=sys.stderr)
        sys.exit(2)
