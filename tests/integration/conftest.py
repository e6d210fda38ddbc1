"""Shared prerequisites of the integration tests: a JDK and the Kafka jars for the real cluster,
signal handling so every process a test starts is stopped, also on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from local.procs import install_signal_handlers


def pytest_configure(config: pytest.Config) -> None:
    install_signal_handlers()


@pytest.fixture(scope="session")
def kafka_available() -> None:
    if shutil.which("java") is None or shutil.which("javac") is None:
        pytest.skip("SKIPPED LOUDLY: a JDK (java + javac) is needed to run Kafka and its metadata probe")
    res = subprocess.run(["local/kafka/fetch.sh"], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"SKIPPED LOUDLY: Kafka jars could not be resolved: {res.stderr.strip()[-300:]}")


os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
