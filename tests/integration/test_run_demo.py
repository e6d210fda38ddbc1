"""scripts/run_demo.sh without AWS: it parses, is shellcheck-clean, refuses bad input (exit 2, one
line) before calling anything, and reads the Terraform outputs it needs (stand-in `terraform` and
`aws` executables on PATH record what they were asked)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "run_demo.sh"

OUTPUTS = {
    "cluster_arn": "arn:aws:kafka:eu-west-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
    "cluster_name": "demo",
    "client_instance_id": "i-0123456789abcdef0",
    "artifacts_bucket": "demo-artifacts-123",
    "stress_producer_s3_uri": "s3://demo-artifacts-123/stress-producer/x86_64/stress-producer",
    "kafka_bin_dir": "/opt/kafka/bin",
}


@pytest.fixture
def fake_path(tmp_path: Path) -> Path:
    """`terraform output -raw NAME` answers from OUTPUTS; `aws` logs its argv and exits 0."""
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    cases = "\n".join(f"  {k}) printf '%s' '{v}' ;;" for k, v in OUTPUTS.items())
    (bin_ / "terraform").write_text(
        f"#!/usr/bin/env bash\necho \"terraform $*\" >> {tmp_path}/calls\n"
        f"name=${{@: -1}}\ncase \"$name\" in\n{cases}\n  *) exit 1 ;;\nesac\n"
    )
    (bin_ / "aws").write_text(f"#!/usr/bin/env bash\necho \"aws $*\" >> {tmp_path}/calls\n")
    for f in bin_.iterdir():
        f.chmod(0o755)
    return tmp_path


def run(args: list[str], fake: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if fake is not None:
        env["PATH"] = f"{fake / 'bin'}:{env['PATH']}"
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=30, env=env)


def calls(fake: Path) -> list[str]:
    f = fake / "calls"
    return f.read_text().splitlines() if f.exists() else []


def test_parses_and_is_shellcheck_clean() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (scripts/setup.sh apt installs it)")
    res = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_help() -> None:
    res = run(["--help"])
    assert res.returncode == 0
    assert "--interactive" in res.stdout and "--binary" in res.stdout


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--duration", "0"], "--duration"),
        (["--duration", "5;reboot"], "--duration"),
        (["--workers", "2000"], "--workers"),
        (["--topic", "a b"], "--topic"),
        (["--topic", "$(id)"], "--topic"),
        (["--partitions"], "--partitions needs a value"),
        (["--binary", "/nonexistent/stress-producer"], "--binary"),
        (["--interval", "1"], "--interval"),
        (["--frobnicate"], "unknown argument"),
    ],
)
def test_bad_input_exits_2_before_touching_aws(fake_path: Path, args: list[str], needle: str) -> None:
    res = run(args, fake_path)
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and needle in res.stderr, res.stderr
    assert calls(fake_path) == [], "nothing may run before the input is valid"


def test_interactive_opens_a_session_on_the_client_in_the_clusters_region(fake_path: Path) -> None:
    res = run(["--interactive"], fake_path)
    assert res.returncode == 0, res.stderr
    assert calls(fake_path)[-1] == "aws ssm start-session --region eu-west-1 --target i-0123456789abcdef0"


def test_missing_terraform_state_is_a_clear_failure(fake_path: Path) -> None:
    (fake_path / "bin" / "terraform").write_text("#!/usr/bin/env bash\nexit 1\n")
    res = run(["--interactive"], fake_path)
    assert res.returncode == 1
    assert "terraform output 'cluster_arn' is missing" in res.stderr
