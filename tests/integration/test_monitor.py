"""`autoheal monitor` against moto's CloudWatch: per-broker AWS/Kafka datapoints put with boto3
come back in the table and the JSON, the newest datapoint wins, other clusters' brokers stay out,
and bad input exits 2 before any AWS call."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import socket
import subprocess
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

REPO = Path(__file__).resolve().parents[2]


@functools.cache
def binary(package: str) -> Path:
    """The current debug build of `package`. Always (re)built, so a stale binary is never tested; the
    package set is the one the Makefile builds, so the same feature resolution makes this a no-op."""
    override = os.environ.get("AUTOHEAL_BIN")
    if override:
        return Path(override)
    subprocess.run(["cargo", "build", "-q", "--locked", "-p", "stress-producer", "-p", "autoheal"], cwd=REPO, check=True)
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target")) / "debug" / package


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_env():
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    try:
        yield env
    finally:
        server.stop()


@pytest.fixture(scope="module")
def metrics(moto_env: dict[str, str]) -> None:
    cw = boto3.client(
        "cloudwatch",
        endpoint_url=moto_env["AWS_ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    now = dt.datetime.now(dt.timezone.utc)

    def put(cluster: str, broker: str, name: str, value: float, minutes_ago: int) -> None:
        dims = [{"Name": "Cluster Name", "Value": cluster}, {"Name": "Broker ID", "Value": broker}]
        cw.put_metric_data(
            Namespace="AWS/Kafka",
            MetricData=[{"MetricName": name, "Dimensions": dims, "Value": value,
                         "Timestamp": now - dt.timedelta(minutes=minutes_ago)}],
        )

    # demo: broker 1 under-replicated now (was healthy 5 minutes ago), broker 2 healthy.
    put("demo", "1", "UnderReplicatedPartitions", 0, 5)
    put("demo", "1", "UnderReplicatedPartitions", 6, 1)
    put("demo", "1", "CpuUser", 85.0, 1)
    put("demo", "1", "CpuSystem", 7.5, 1)
    put("demo", "1", "BytesInPerSec", 50 * 1024 * 1024, 1)
    put("demo", "2", "UnderReplicatedPartitions", 0, 1)
    put("demo", "2", "CpuUser", 40.0, 1)
    put("demo", "2", "BytesInPerSec", 2048, 1)
    # Another cluster's broker must not show up.
    put("other", "9", "UnderReplicatedPartitions", 99, 1)


def monitor(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(binary("autoheal")), "monitor", *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **env},
    )


def test_json_snapshot_has_every_broker_and_the_newest_values(moto_env, metrics) -> None:
    res = monitor(moto_env, "--cluster-name", "demo", "--once", "--json")
    assert res.returncode == 0, res.stderr
    snap = json.loads(res.stdout)
    assert snap["cluster_name"] == "demo"
    assert [b["broker_id"] for b in snap["brokers"]] == ["1", "2"]
    b1, b2 = snap["brokers"]
    assert b1["under_replicated_partitions"] == 6.0, "the newest datapoint, not the older 0"
    assert b1["cpu_user"] == 85.0 and b1["cpu_system"] == 7.5
    assert b1["bytes_in_per_sec"] == 50 * 1024 * 1024
    assert b2["under_replicated_partitions"] == 0.0
    assert b2["cpu_system"] is None, "no datapoint: null, not 0"
    assert snap["under_replicated_partitions"] == 6.0


def test_table(moto_env, metrics) -> None:
    res = monitor(moto_env, "--cluster-name", "demo", "--once")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.strip().splitlines()
    assert lines[0].startswith("cluster demo ")
    assert lines[1].split() == ["BROKER", "UNDER-REPLICATED", "CPU", "USER", "CPU", "SYSTEM", "BYTES", "IN"]
    assert lines[2].split() == ["1", "6", "85.0%", "7.5%", "50.0", "MB/s"]
    assert lines[3].split() == ["2", "0", "40.0%", "-", "2.0", "KB/s"]
    assert "UNDER-REPLICATED" in lines[4] and "6" in lines[4]


def test_unknown_cluster_fails_with_one_line(moto_env, metrics) -> None:
    res = monitor(moto_env, "--cluster-name", "absent", "--once")
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0
    assert "no AWS/Kafka broker metrics for cluster 'absent'" in res.stderr


@pytest.mark.parametrize("name", ["bad name", "semi;colon", "x" * 65, ""])
def test_invalid_cluster_name_exits_2(moto_env, name: str) -> None:
    res = monitor(moto_env, "--cluster-name", name, "--once")
    assert res.returncode == 2
    assert res.stderr.startswith("autoheal: invalid cluster name")
    assert res.stderr.strip().count("\n") == 0
