"""Shared fixtures and prerequisites for the tests of the local stack itself."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from local.procs import install_signal_handlers


def pytest_configure(config: pytest.Config) -> None:
    install_signal_handlers()


def _missing() -> str | None:
    if shutil.which("java") is None or shutil.which("javac") is None:
        return "a JDK (java + javac) is needed to run Kafka and its metadata probe"
    res = subprocess.run(["local/kafka/fetch.sh"], capture_output=True, text=True)
    if res.returncode != 0:
        return f"Kafka jars could not be resolved: {res.stderr.strip()[-300:]}"
    return None


@pytest.fixture(scope="session")
def kafka_available() -> None:
    why = _missing()
    if why:
        pytest.skip(f"SKIPPED LOUDLY: {why}")


@pytest.fixture(scope="session")
def root_netns() -> None:
    """NetLimit needs root, iproute2 and nftables (scripts/setup.sh apt installs them)."""
    from local.limits import netns_supported

    ok, why = netns_supported()
    if not ok or shutil.which("nft") is None:
        pytest.skip(f"SKIPPED LOUDLY: per-broker network limits unavailable: {why or 'nft not found'}")


@pytest.fixture
def tmp_state(tmp_path_factory: pytest.TempPathFactory):
    return tmp_path_factory.mktemp("state")


os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
