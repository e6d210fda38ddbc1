"""SSM Run Command with a real "EC2 client": AWS-RunShellScript really runs, locally.

moto's SendCommand records the command and reports Success at once without running anything. Here,
for the configured client instance, the commands of an AWS-RunShellScript document are written to a
script and run with bash inside the Kafka cluster's network (the client sits in the VPC, next to
the brokers), with local/kafka/bin on PATH (the client's /opt/kafka/bin). Like the SSM agent:
  * the invocation is InProgress (ResponseCode -1) while the script runs, then Success (exit 0),
    Failed (exit code kept) or TimedOut (executionTimeout, default 3600 s);
  * GetCommandInvocation returns the first 24,000 characters of stdout and 8,000 of stderr;
  * with OutputS3BucketName the full output goes to
    s3://<bucket>/<prefix>/<CommandId>/<InstanceId>/awsrunShellScript/0.awsrunShellScript/{stdout,stderr};
  * an instance that is not the client gives InvalidInstanceId.
ListCommandInvocations and CancelCommand, missing in moto, are added.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from moto.core.exceptions import JsonRESTError

log = logging.getLogger(__name__)

STDOUT_LIMIT = 24_000
STDERR_LIMIT = 8_000
PLUGIN = "aws:runShellScript"


class SsmError(JsonRESTError):
    def __init__(self, error_type: str, msg: str):
        super().__init__(error_type, msg)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(ts * 1000) % 1000:03d}Z"


@dataclass
class EC2Client:
    """Where and how the client instance runs commands."""

    instance_id: str
    work_dir: Path
    wrap: Callable[[Sequence[str]], list[str]] = list
    env: dict[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    s3_put: Callable[[str, str, bytes], None] | None = None
    running: dict[str, subprocess.Popen] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


_client: EC2Client | None = None


def _now() -> float:
    return time.time()


def _run_invocation(client: EC2Client, command: Any, inv: dict, params: dict) -> None:
    cid = command.command_id
    iid = inv["InstanceId"]
    d = client.work_dir / cid / iid / "awsrunShellScript" / "0.awsrunShellScript"
    d.mkdir(parents=True, exist_ok=True)
    commands = params.get("commands") or []
    if isinstance(commands, str):
        commands = [commands]
    script = d / "_script.sh"
    script.write_text("\n".join(commands) + "\n")
    try:
        timeout = float((params.get("executionTimeout") or ["3600"])[0])
    except (TypeError, ValueError):
        timeout = 3600.0
    wd = (params.get("workingDirectory") or [""])[0] or str(d)
    env = dict(os.environ) | client.env
    env["PATH"] = client.env.get("PATH", env.get("PATH", ""))
    env["AWS_SSM_INSTANCE_ID"] = iid
    env["AWS_SSM_REGION_NAME"] = client.region
    out_path, err_path = d / "stdout", d / "stderr"
    start = _now()
    inv.update(Status="InProgress", StatusDetails="InProgress", ExecutionStartDateTime=_iso(start))
    command.status = "InProgress"
    command.status_details = "InProgress"
    status, details, code = "Failed", "Failed", 1
    try:
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            proc = subprocess.Popen(
                client.wrap(["bash", str(script)]),
                cwd=wd,
                env=env,
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            with client.lock:
                client.running[f"{cid}/{iid}"] = proc
            try:
                code = proc.wait(timeout)
                status, details = ("Success", "Success") if code == 0 else ("Failed", "Failed")
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                status, details, code = "TimedOut", "ExecutionTimedOut", 124
            if getattr(proc, "_cancelled", False):
                status, details = "Cancelled", "Cancelled"
    except OSError as e:
        err_path.write_text(f"failed to run the script: {e}\n")
        status, details, code = "Failed", "Failed", 1
    finally:
        with client.lock:
            client.running.pop(f"{cid}/{iid}", None)
    end = _now()
    stdout = out_path.read_bytes()
    stderr = err_path.read_bytes()
    urls = {"StandardOutputUrl": "", "StandardErrorUrl": ""}
    bucket = command.output_s3_bucket_name
    if bucket and client.s3_put is not None:
        prefix = (command.output_s3_key_prefix or "").strip("/")
        base = "/".join(x for x in (prefix, cid, iid, "awsrunShellScript", "0.awsrunShellScript") if x)
        for name, data, key in (("stdout", stdout, "StandardOutputUrl"), ("stderr", stderr, "StandardErrorUrl")):
            if name == "stderr" and not data:
                continue
            try:
                client.s3_put(bucket, f"{base}/{name}", data)
                urls[key] = f"https://s3.{command.output_s3_region or client.region}.amazonaws.com/{bucket}/{base}/{name}"
            except Exception as e:  # noqa: BLE001 - the agent also only logs a failed upload
                log.warning("SSM output upload to s3://%s/%s/%s failed: %s", bucket, base, name, e)
    inv.update(
        Status=status,
        StatusDetails=details,
        ResponseCode=code,
        ExecutionEndDateTime=_iso(end),
        ExecutionElapsedTime=f"PT{end - start:.3f}S",
        StandardOutputContent=stdout.decode("utf-8", "replace")[:STDOUT_LIMIT],
        StandardErrorContent=stderr.decode("utf-8", "replace")[:STDERR_LIMIT],
        **urls,
    )
    invs = command.invocations
    done = [i for i in invs if i["Status"] not in ("Pending", "InProgress", "Delayed")]
    command.completed_count = len(done)
    command.error_count = sum(1 for i in done if i["Status"] != "Success")
    if len(done) == len(invs):
        worst = next((i["Status"] for i in invs if i["Status"] != "Success"), "Success")
        command.status = worst
        command.status_details = worst
    log.info("SSM %s on %s: %s (exit %d, %.1fs)", cid, iid, status, code, end - start)
    _journal(client, {"command_id": cid, "instance_id": iid, "status": status, "exit": code,
                      "seconds": round(end - start, 2), "comment": command.comment})


def _journal(client: EC2Client, rec: dict) -> None:
    with client.lock, open(client.work_dir / "commands.jsonl", "a") as f:
        f.write(json.dumps(rec | {"ts": _iso(_now())}) + "\n")


def install(client: EC2Client) -> None:
    """Patch moto's SSM so SendCommand runs on `client` (idempotent)."""
    global _client
    _client = client
    client.work_dir.mkdir(parents=True, exist_ok=True)
    from moto.ssm.models import SimpleSystemManagerBackend
    from moto.ssm.responses import SimpleSystemManagerResponse

    if getattr(SimpleSystemManagerBackend, "_local_patched", False):
        return
    orig_send = SimpleSystemManagerBackend.send_command

    def send_command(self: Any, **kwargs: Any) -> Any:
        c = _client
        doc = kwargs.get("document_name")
        ids = list(kwargs.get("instance_ids") or [])
        if c is not None and doc == "AWS-RunShellScript":
            unknown = [i for i in ids if i != c.instance_id]
            if unknown or (not ids and not kwargs.get("targets")):
                raise SsmError("InvalidInstanceId", f"Instances {unknown or ids} not in a valid state for account {self.account_id}")
            params = kwargs.get("parameters") or {}
            if not params.get("commands"):
                raise SsmError("InvalidParameters", "Parameter \"commands\" is required by AWS-RunShellScript.")
        command = orig_send(self, **kwargs)
        if c is None or doc != "AWS-RunShellScript":
            return command
        command.status = "Pending"
        command.status_details = "Pending"
        command.completed_count = 0
        for inv in command.invocations:
            inv.update(
                Status="Pending", StatusDetails="Pending", ResponseCode=-1, PluginName=PLUGIN,
                ExecutionStartDateTime="", ExecutionEndDateTime="", ExecutionElapsedTime="",
                StandardOutputContent="", StandardErrorContent="", StandardOutputUrl="", StandardErrorUrl="",
            )
            threading.Thread(
                target=_run_invocation, args=(c, command, inv, kwargs.get("parameters") or {}),
                name=f"ssm-{command.command_id[:8]}", daemon=True,
            ).start()
        return command

    def list_command_invocations(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cid = self._get_param("CommandId")
        iid = self._get_param("InstanceId")
        details = self._get_param("Details", False)
        commands = self.ssm_backend.list_commands(cid, iid)
        out = []
        for cmd in commands:
            for inv in cmd.invocations:
                if iid and inv["InstanceId"] != iid:
                    continue
                item = {
                    "CommandId": cmd.command_id,
                    "InstanceId": inv["InstanceId"],
                    "Comment": cmd.comment,
                    "DocumentName": cmd.document_name,
                    "RequestedDateTime": cmd.requested_date_time,
                    "Status": inv["Status"],
                    "StatusDetails": inv["StatusDetails"],
                    "StandardOutputUrl": inv.get("StandardOutputUrl", ""),
                    "StandardErrorUrl": inv.get("StandardErrorUrl", ""),
                }
                if details:
                    item["CommandPlugins"] = [
                        {
                            "Name": PLUGIN,
                            "Status": inv["Status"],
                            "StatusDetails": inv["StatusDetails"],
                            "ResponseCode": inv["ResponseCode"],
                            "Output": inv.get("StandardOutputContent", "")[:2500],
                            "StandardOutputUrl": inv.get("StandardOutputUrl", ""),
                            "StandardErrorUrl": inv.get("StandardErrorUrl", ""),
                        }
                    ]
                out.append(item)
        return ActionResult({"CommandInvocations": out})

    def cancel_command(self: Any) -> Any:
        from moto.core.responses import ActionResult

        cid = self._get_param("CommandId")
        self.ssm_backend.get_command_by_id(cid)  # InvalidCommandId if unknown
        c = _client
        if c is not None:
            with c.lock:
                procs = [p for k, p in c.running.items() if k.startswith(cid + "/")]
            for p in procs:
                p._cancelled = True  # type: ignore[attr-defined]
                try:
                    os.killpg(p.pid, 15)
                except ProcessLookupError:
                    pass
        return ActionResult({})

    SimpleSystemManagerBackend.send_command = send_command
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations
    SimpleSystemManagerResponse.cancel_command = cancel_command
    SimpleSystemManagerBackend._local_patched = True  # type: ignore[attr-defined]
