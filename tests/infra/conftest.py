"""Fixtures of the infrastructure-as-code tests: the template as written and as deployed."""

from __future__ import annotations

from typing import Any

import pytest

import iac_tools


@pytest.fixture(scope="session")
def tpl() -> dict[str, Any]:
    """template.yaml as written (SAM resources, short-form intrinsics expanded)."""
    return iac_tools.template()


@pytest.fixture(scope="session")
def cfn() -> dict[str, Any]:
    """template.yaml after the real SAM transform: what CloudFormation deploys."""
    return iac_tools.transformed_template()


@pytest.fixture(scope="session")
def functions(tpl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return iac_tools.serverless_functions(tpl)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """Say loudly which infrastructure checks did not run and why (pytest -q hides skip reasons)."""
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if "tests/infra/" in str(r.nodeid)]
    if not skipped:
        return
    terminalreporter.section("infrastructure checks NOT run", sep="!", yellow=True, bold=True)
    for r in skipped:
        reason = r.longrepr[2] if isinstance(r.longrepr, tuple) else str(r.longrepr)
        terminalreporter.write_line(f"{r.nodeid}: {reason}", yellow=True)
