"""SSM Run Command with a real "EC2 client": AWS-RunShellScript really runs, locally.

moto's SendCommand records the command and reports Success at once without running anything. Here,
for the configured client instance, the commands of an AWS-RunShellScript document are written to a
script and run with `sh` (Debian's dash here, as on Amazon Linux the agent runs `sh`, not bash: a
bashism fails) inside the Kafka cluster's network (the client sits in the VPC, next to the brokers),
with local/kafka/bin on PATH (the client's /opt/kafka/bin). Like the SSM agent:
  * the invocation is InProgress (ResponseCode -1) while the script runs, then Success (exit 0),
    Failed (exit code kept), TimedOut (executionTimeout, default 3600 s) or Cancelled (CancelCommand,
    also while Pending or held by a delay);
  * GetCommandInvocation returns the first 24,000 characters of stdout and 8,000 of stderr;
  * with OutputS3BucketName the full output goes to
    s3://<bucket>/<prefix>/<CommandId>/<InstanceId>/awsrunShellScript/0.awsrunShellScript/{stdout,stderr},
    each uploaded only when non-empty (a clean run has no `stderr` object, a silent one no `stdout`);
  * an instance that is not the client gives InvalidInstanceId.
ListCommandInvocations and CancelCommand, missing in moto, are added.

Fault injection (`POST /_local/ssm`, see `Rule`): the next command(s) whose Comment or script contains
a substring can be held InProgress for a while (before or after running: a command that outlives the
Lambda that sent it) and/or made to exit non-zero right after a given section of the script ran (an
`--execute` that fails after the throttles were set).
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
    # invocation key "<CommandId>/<InstanceId>" -> set by CancelCommand
    cancelled: dict[str, threading.Event] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_rule(self, args: dict) -> dict:
        """`POST /_local/ssm`: add a fault rule ({"clear": true} removes every rule first);
        {"instance_env": {...}} sets what the instance's scripts see of its instance profile (the
        role's credentials, the endpoint), as the metadata service gives them on EC2."""
        with self.lock:
            if args.get("clear"):
                self.rules.clear()
            if args.get("match") is not None:
                self.rules.append(Rule.parse(args))
            instance_env = args.get("instance_env")
            if instance_env is not None:
                if not isinstance(instance_env, dict) or not all(
                        isinstance(k, str) and isinstance(v, str) for k, v in instance_env.items()):
                    raise ValueError("instance_env must map names to strings")
                self.env.update(instance_env)
            return {"rules": [r.describe() for r in self.rules]}

    def list_rules(self) -> dict:
        with self.lock:
            return {"rules": [r.describe() for r in self.rules]}

    def take_rule(self, comment: str, script: str) -> Rule | None:
        """The first rule matching this command, its count spent by one."""
        with self.lock:
            for r in self.rules:
                if r.match in comment or r.match in script:
                    r.used += 1
                    if r.count > 0 and r.used >= r.count:
                        self.rules.remove(r)
                    return r
        return None


@dataclass
class Rule:
    """Fault injected into the next `count` commands (0: every one until cleared) whose Comment or
    script text contains `match`:
      * `delay_seconds`: held InProgress that long, `delay` "before" (default: the script starts
        late) or "after" (it runs at once, its result is reported late); the delay counts against
        the command's executionTimeout and CancelCommand ends it, like a slow script;
      * `fail_after_section`: the script exits `exit_code` (default 1) right after the commands of
        section <name> (the line after `echo '#autoheal:section:<name>'` up to the next section or
        end marker) ran, so that section's effects are real and the end marker is missing; "" or
        absent section marker: after the whole script;
      * `fail`: true is `fail_after_section` "" (fail after the whole script)."""

    match: str
    count: int = 1
    delay_seconds: float = 0.0
    delay: str = "before"
    fail_after_section: str | None = None
    exit_code: int = 1
    used: int = 0

    @classmethod
    def parse(cls, a: dict) -> Rule:
        match = a.get("match")
        if not isinstance(match, str) or not match:
            raise ValueError("match must be a non-empty string (a substring of the Comment or the script)")
        known = {"match", "count", "delay_seconds", "delay", "fail_after_section", "fail", "exit_code", "clear"}
        unknown = sorted(set(a) - known)
        if unknown:
            raise ValueError(f"unknown field(s) {unknown}; known: {sorted(known)}")
        delay = a.get("delay", "before")
        if delay not in ("before", "after"):
            raise ValueError("delay must be 'before' or 'after'")
        section = a.get("fail_after_section")
        if section is None and a.get("fail"):
            section = ""
        if section is not None and not isinstance(section, str):
            raise ValueError("fail_after_section must be a section name (string)")
        exit_code = int(a.get("exit_code", 1))
        if not 1 <= exit_code <= 255:
            raise ValueError("exit_code must be 1..255")
        delay_s = float(a.get("delay_seconds", 0))
        if delay_s < 0:
            raise ValueError("delay_seconds must be >= 0")
        return cls(match=match, count=int(a.get("count", 1)), delay_seconds=delay_s, delay=delay,
                   fail_after_section=section, exit_code=exit_code)

    def describe(self) -> dict:
        return {"match": self.match, "count": self.count, "used": self.used, "delay_seconds": self.delay_seconds,
                "delay": self.delay, "fail_after_section": self.fail_after_section, "exit_code": self.exit_code}

    def inject(self, commands: list[str]) -> list[str]:
        """The commands with `exit <code>` inserted after section `fail_after_section`."""
        if self.fail_after_section is None:
            return commands
        fail = f"echo 'local emulator: injected failure (exit {self.exit_code})' >&2; exit {self.exit_code}"
        marker = f"echo '#autoheal:section:{self.fail_after_section}'"
        out = list(commands)
        if self.fail_after_section and marker in out:
            i = out.index(marker) + 1
            while i < len(out) and not out[i].startswith("echo '#autoheal:"):
                i += 1
            out.insert(i, fail)
        else:
            out.append(fail)
        return out


_client: EC2Client | None = None


def _now() -> float:
    return time.time()


def _commands(params: dict) -> list[str]:
    commands = params.get("commands") or []
    return [commands] if isinstance(commands, str) else list(commands)


def _run_invocation(client: EC2Client, command: Any, inv: dict, params: dict, rule: Rule | None = None) -> None:
    cid = command.command_id
    iid = inv["InstanceId"]
    key = f"{cid}/{iid}"
    cancel = client.cancelled.setdefault(key, threading.Event())
    d = client.work_dir / cid / iid / "awsrunShellScript" / "0.awsrunShellScript"
    d.mkdir(parents=True, exist_ok=True)
    commands = _commands(params)
    if rule is not None:
        commands = rule.inject(commands)
        log.info("SSM %s: fault rule %s", cid, rule.describe())
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
    deadline = time.monotonic() + timeout
    delay = rule.delay_seconds if rule is not None else 0.0
    status, details, code = "Failed", "Failed", 1
    out_path.write_bytes(b"")
    err_path.write_bytes(b"")

    def hold(seconds: float) -> str | None:
        """Wait `seconds` InProgress; "Cancelled" / "TimedOut" if that came first."""
        left = deadline - time.monotonic()
        if cancel.wait(min(seconds, max(left, 0))):
            return "Cancelled"
        return "TimedOut" if seconds > left else None

    try:
        ended = hold(delay) if delay and rule is not None and rule.delay == "before" else None
        if cancel.is_set():
            ended = "Cancelled"
        if ended is None:
            with open(out_path, "wb") as out, open(err_path, "wb") as err:
                # The agent runs AWS-RunShellScript's commands with `sh`, not bash.
                proc = subprocess.Popen(
                    client.wrap(["sh", str(script)]),
                    cwd=wd,
                    env=env,
                    stdout=out,
                    stderr=err,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
                with client.lock:
                    client.running[key] = proc
                    if cancel.is_set():  # CancelCommand came between the check above and now
                        os.killpg(proc.pid, 15)
                try:
                    code = proc.wait(max(deadline - time.monotonic(), 0.001))
                    status, details = ("Success", "Success") if code == 0 else ("Failed", "Failed")
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
                    ended = "TimedOut"
            if ended is None and cancel.is_set():
                ended = "Cancelled"
            if ended is None and delay and rule is not None and rule.delay == "after":
                ended = hold(delay)
        if ended == "TimedOut":
            status, details, code = "TimedOut", "ExecutionTimedOut", 124
        elif ended == "Cancelled":
            status, details, code = "Cancelled", "Cancelled", -1
    except OSError as e:
        err_path.write_text(f"failed to run the script: {e}\n")
        status, details, code = "Failed", "Failed", 1
    finally:
        with client.lock:
            client.running.pop(key, None)
    end = _now()
    stdout = out_path.read_bytes()
    stderr = err_path.read_bytes()
    urls = {"StandardOutputUrl": "", "StandardErrorUrl": ""}
    bucket = command.output_s3_bucket_name
    if bucket and client.s3_put is not None:
        prefix = (command.output_s3_key_prefix or "").strip("/")
        base = "/".join(x for x in (prefix, cid, iid, "awsrunShellScript", "0.awsrunShellScript") if x)
        for name, data, url_key in (("stdout", stdout, "StandardOutputUrl"), ("stderr", stderr, "StandardErrorUrl")):
            if not data:  # the agent uploads an output file only when it is non-empty
                continue
            try:
                client.s3_put(bucket, f"{base}/{name}", data)
                urls[url_key] = f"https://s3.{command.output_s3_region or client.region}.amazonaws.com/{bucket}/{base}/{name}"
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
            params = kwargs.get("parameters") or {}
            rule = c.take_rule(command.comment or "", "\n".join(_commands(params)))
            with c.lock:
                c.cancelled[f"{command.command_id}/{inv['InstanceId']}"] = threading.Event()
            threading.Thread(
                target=_run_invocation, args=(c, command, inv, params, rule),
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
                for k, ev in c.cancelled.items():
                    if k.startswith(cid + "/"):
                        ev.set()
                procs = [p for k, p in c.running.items() if k.startswith(cid + "/")]
            for p in procs:
                try:
                    os.killpg(p.pid, 15)
                except ProcessLookupError:
                    pass
        return ActionResult({})

    SimpleSystemManagerBackend.send_command = send_command
    SimpleSystemManagerResponse.list_command_invocations = list_command_invocations
    SimpleSystemManagerResponse.cancel_command = cancel_command
    SimpleSystemManagerBackend._local_patched = True  # type: ignore[attr-defined]
