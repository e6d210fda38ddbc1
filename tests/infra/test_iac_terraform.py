"""infra/ (the Terraform demo environment): formatted, valid against the real AWS provider schema,
and its plan-level tests (tests/demo.tftest.hcl, mocked provider) passing - all offline.

`terraform validate` and `terraform test` need the hashicorp/aws provider, which cannot be
downloaded here; they run against a local provider mirror when one exists and are skipped, saying
so, when none does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import iac_tools

TF = iac_tools.terraform()
PLUGINS = iac_tools.terraform_plugin_dir()

needs_terraform = pytest.mark.skipif(TF is None, reason="terraform is not on PATH, infra/ is not checked")
needs_mirror = pytest.mark.skipif(
    PLUGINS is None,
    reason="no local Terraform provider mirror (registry.terraform.io/hashicorp/aws under /opt/tf-plugins "
    "or $TF_PLUGIN_DIR); the public registry is unreachable, so `terraform validate`/`terraform test` cannot run",
)


def _env(tmp: Path) -> dict[str, str]:
    # No user CLI config (it may point at a registry), data dir outside the work tree.
    return iac_tools.tool_env(TF_CLI_CONFIG_FILE="/dev/null", TF_DATA_DIR=str(tmp / ".terraform"),
                              TF_IN_AUTOMATION="1", CHECKPOINT_DISABLE="1")


@pytest.fixture(scope="module")
def initialised(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of infra/ initialised against the mirror (init writes a lock file: not in the work tree)."""
    work = tmp_path_factory.mktemp("infra")
    shutil.copytree(iac_tools.INFRA, work, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(".terraform", ".terraform.lock.hcl", "*.tfstate*"))
    iac_tools.run([TF, "init", "-backend=false", "-input=false", "-no-color", f"-plugin-dir={PLUGINS}"],
                  cwd=work, env=_env(work), what="terraform init (local provider mirror)", timeout=300)
    return work


@needs_terraform
def test_terraform_fmt() -> None:
    iac_tools.run([TF, "fmt", "-check", "-recursive", "-diff", "-no-color", str(iac_tools.INFRA)],
                  what="terraform fmt -check", timeout=120, env=_env(Path("/tmp")))


@needs_terraform
@needs_mirror
def test_terraform_validate(initialised: Path) -> None:
    proc = iac_tools.run([TF, "validate", "-no-color"], cwd=initialised, env=_env(initialised),
                         what="terraform validate", timeout=300)
    assert "The configuration is valid" in proc.stdout


@needs_terraform
@needs_mirror
def test_terraform_plan_level_tests(initialised: Path) -> None:
    proc = iac_tools.run([TF, "test", "-no-color"], cwd=initialised, env=_env(initialised),
                         what="terraform test (mocked AWS provider)", timeout=600)
    assert " 0 failed" in proc.stdout and "passed" in proc.stdout, proc.stdout
