"""The IaC validators the brief names, run as the CI runs them: sam validate --lint, cfn-lint,
asl-validator on the workflow, checkov on the template and on infra/ (offline)."""

from __future__ import annotations

import json

import iac_tools

# checkov findings skipped for every resource, with why; resource-specific skips sit next to the
# resource (Metadata.checkov in template.yaml, #checkov:skip comments in infra/).
CHECKOV_SKIPS = {
    # The functions call AWS APIs only; in a VPC they would need NAT or endpoints and slower cold starts.
    "CKV_AWS_117": "Lambda outside a VPC",
    # Environment variables hold ARNs and settings, never secrets (the HMAC key is in Secrets Manager);
    # Lambda encrypts them at rest with its own key.
    "CKV_AWS_173": "Lambda environment variables without a customer managed key",
}


def test_sam_validate_lint() -> None:
    proc = iac_tools.run([str(iac_tools.SAM_VENV / "bin" / "sam"), "validate", "--lint", "--template",
                          str(iac_tools.TEMPLATE), "--region", "us-east-1"], what="sam validate --lint", timeout=300)
    assert "is a valid SAM Template" in proc.stdout + proc.stderr


def test_cfn_lint() -> None:
    # cfn-lint of the SAM venv (it applies the SAM transform and checks what `sam validate` misses,
    # e.g. Runtime and Architectures of the functions). Exit 0: no error, no warning.
    iac_tools.run([str(iac_tools.SAM_VENV / "bin" / "cfn-lint"), "--", str(iac_tools.TEMPLATE)],
                  what="cfn-lint template.yaml", timeout=300)


def test_asl_validator() -> None:
    assert iac_tools.ASL.exists(), f"{iac_tools.ASL.relative_to(iac_tools.ROOT)} does not exist yet"
    proc = iac_tools.run([str(iac_tools.ASL_VALIDATOR), "--json-path", str(iac_tools.ASL)],
                         what="asl-validator", timeout=120)
    assert "✓" in proc.stdout or "valid" in proc.stdout.lower(), proc.stdout


def _checkov(*args: str) -> dict:
    checkov = iac_tools.ensure_checkov()
    proc = iac_tools.run([str(checkov), "--skip-download", "--quiet", "--compact", "-o", "json",
                          "--skip-check", ",".join(CHECKOV_SKIPS), *args],
                         what="checkov", timeout=600, check=False)
    # exit 1 = failed checks (reported below); anything else is checkov itself failing
    assert proc.returncode in (0, 1), f"checkov exit {proc.returncode}:\n{proc.stderr[-4000:]}"
    out = json.loads(proc.stdout)
    return out[0] if isinstance(out, list) else out


def _failures(report: dict) -> list[str]:
    failed = (report.get("results") or {}).get("failed_checks") or []
    return [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in failed]


def test_checkov_template() -> None:
    report = _checkov("-f", str(iac_tools.TEMPLATE), "--framework", "cloudformation")
    assert report["summary"]["passed"] > 50, "checkov checked almost nothing: did it parse the template?"
    assert not _failures(report), "\n".join(_failures(report))


def test_checkov_terraform() -> None:
    report = _checkov("-d", str(iac_tools.INFRA), "--framework", "terraform")
    assert report["summary"]["passed"] > 50, "checkov checked almost nothing: did it parse infra/?"
    assert not _failures(report), "\n".join(_failures(report))
