"""EventBridge's "Step Functions Execution Status Change" events, which moto does not emit.

Step Functions sends one event to the default bus each time a Standard execution's status changes.
template.yaml's safety-net rule matches `source: aws.states`, that detail-type, `detail.status` in
FAILED / TIMED_OUT / ABORTED and `detail.stateMachineArn` of the remediation state machine; its target
is the safety-net function, invoked asynchronously (EventBridge hands the event to Lambda, which
retries a failed invocation twice). Here: every execution of moto's engine that ends (its worker's
`_reflect_execution_status`, which an operator's StopExecution reaches too) builds the event in AWS's
shape and delivers it to the configured target functions whose rule matches, on a thread, with
Lambda's two retries of a failed invocation.

The event (https://docs.aws.amazon.com/step-functions/latest/dg/cw-events.html): `detail` carries
executionArn, stateMachineArn, name, status, startDate and stopDate (epoch milliseconds), input
(the execution input as a string) with inputDetails {included}, output and outputDetails (only
for SUCCEEDED, else null), error and cause (null unless the execution failed or StopExecution
gave them), and the redrive fields (redriveCount 0, redriveDate null, redriveStatus).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

log = logging.getLogger("local.aws.sfn_events")

DETAIL_TYPE = "Step Functions Execution Status Change"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


def _millis(dt: Any) -> int | None:
    if dt is None:
        return None
    if isinstance(dt, (int, float)):
        return int(dt * 1000)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def _compact(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


class SfnEvents:
    def __init__(
        self,
        *,
        region: str,
        account_id: str,
        targets: Sequence[str],
        statuses: Sequence[str],
        invoke: Callable[[str, bytes], tuple[int, dict, bytes]],
        journal_path: Path,
        retry_delays_s: Sequence[float] = (60.0, 120.0),
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.targets = list(targets)
        self.statuses = set(statuses)
        self.invoke = invoke
        self.journal_path = journal_path
        self.retry_delays_s = list(retry_delays_s)
        self.events: deque[dict] = deque(maxlen=200)
        self._lock = threading.Lock()

    def event(self, execution: Any, error: str | None = None, cause: str | None = None) -> dict:
        """The event Step Functions sends for `execution` (moto's parser Execution) as it is now."""
        status = execution.exec_status.value
        stop = execution.stop_date or datetime.now(timezone.utc)
        succeeded = status == "SUCCEEDED"
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": DETAIL_TYPE,
            "source": "aws.states",
            "account": self.account_id,
            "time": stop.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [execution.exec_arn],
            "detail": {
                "executionArn": execution.exec_arn,
                "stateMachineArn": execution.state_machine_arn,
                "name": execution.name,
                "status": status,
                "startDate": _millis(execution.start_date),
                "stopDate": _millis(execution.stop_date) if status != "RUNNING" else None,
                "input": _compact(execution.input_data),
                "output": _compact(execution.output) if succeeded else None,
                "inputDetails": {"included": True},
                "outputDetails": {"included": True} if succeeded else None,
                "error": execution.error or error or None,
                "cause": execution.cause or cause or None,
                "redriveCount": 0,
                "redriveDate": None,
                "redriveStatus": "NOT_REDRIVABLE" if succeeded else "REDRIVABLE",
                "redriveStatusReason": "Execution is SUCCEEDED and cannot be redriven" if succeeded else None,
            },
        }

    def on_end(self, execution: Any, error: str | None = None, cause: str | None = None) -> None:
        """Called once an execution's status is final. Builds the event now, delivers it on a thread."""
        event = self.event(execution, error, cause)
        status = event["detail"]["status"]
        rec: dict[str, Any] = {"ts": time.time(), "execution": execution.exec_arn, "status": status,
                               "event": event, "deliveries": []}
        with self._lock:
            self.events.append(rec)
        if status not in self.statuses or not self.targets:
            rec["delivered"] = True
            return
        body = json.dumps(event).encode()
        log.info("execution %s ended %s: event to %s", execution.name, status, ", ".join(self.targets))

        def run() -> None:
            for target in self.targets:
                rec["deliveries"].append(self._deliver(target, body))
            rec["delivered"] = True
            try:
                with open(self.journal_path, "a") as f:
                    f.write(json.dumps(rec, default=str) + "\n")
            except OSError:
                pass

        threading.Thread(target=run, name="sfn-event-delivery", daemon=True).start()

    def _deliver(self, function: str, payload: bytes) -> dict:
        """An asynchronous invocation: a function error is retried twice, after 1 and 2 minutes."""
        attempts = []
        for delay in [0.0, *self.retry_delays_s]:
            time.sleep(delay)
            try:
                status, headers, body = self.invoke(function, payload)
            except Exception as e:  # noqa: BLE001 - a failed delivery is recorded
                status, headers, body = None, {}, f"{type(e).__name__}: {e}".encode()
            error = headers.get("X-Amz-Function-Error")
            attempts.append({"status": status, "function_error": error,
                             "response": body.decode("utf-8", "replace")[:4000]})
            if status == 200 and not error:
                break
        return {"via": "eventbridge", "function": function, "attempts": attempts,
                **{k: v for k, v in attempts[-1].items()}}


def install(events: SfnEvents) -> None:
    """Hook moto's Step Functions engine: every execution's end (success, failure, timeout, an
    operator's StopExecution) reaches `events.on_end` once its status is set. Also teaches moto what
    AWS does with StopExecution's `error` and `cause` (moto drops them): the execution keeps them,
    DescribeExecution and the event show them; and GetExecutionHistory's `reverseOrder`."""
    from moto.core.utils import utcnow
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.responses import StepFunctionResponse

    resp = StepFunctionResponse
    orig_stop = getattr(resp, "_local_orig_stop_execution", None) or resp.stop_execution

    def stop_execution(self: Any) -> Any:
        error, cause = self._get_param("error"), self._get_param("cause")
        if error or cause:
            arn = self._get_param("executionArn")
            try:
                ex = self.stepfunction_backend.describe_execution(arn)
            except Exception:  # noqa: BLE001 - moto's own call below answers for an unknown execution
                ex = None
            if ex is not None and getattr(ex, "exec_worker", None) is not None:
                ex.stop(stop_date=utcnow(), error=error, cause=cause)  # the first stop is the one kept
        return orig_stop(self)

    resp._local_orig_stop_execution = orig_stop  # type: ignore[attr-defined]
    resp.stop_execution = stop_execution

    # GetExecutionHistory's reverseOrder (newest first), which moto ignores: the safety net reads
    # the last states entered first.
    from moto.core.responses import ActionResult

    orig_history = getattr(resp, "_local_orig_get_execution_history", None) or resp.get_execution_history

    def get_execution_history(self: Any) -> Any:
        result = orig_history(self)
        body = result.result if isinstance(result, ActionResult) else None
        if self._get_param("reverseOrder") and isinstance(body, dict) and isinstance(body.get("events"), list):
            return ActionResult(dict(body, events=list(reversed(body["events"]))))
        return result

    resp._local_orig_get_execution_history = orig_history  # type: ignore[attr-defined]
    resp.get_execution_history = get_execution_history

    cls = BaseExecutionWorkerCommunication
    orig = getattr(cls, "_local_orig_reflect_for_events", None) or cls._reflect_execution_status

    def _reflect_execution_status(self: Any) -> None:
        orig(self)
        execution = self.execution
        error = cause = None
        state = execution.exec_worker.env.program_state() if execution.exec_worker else None
        if isinstance(state, ProgramStopped):  # StopExecution's own error and cause, if it gave any
            error, cause = state.error or None, state.cause or None
            execution.error = execution.error or error
            execution.cause = execution.cause or cause
        try:
            events.on_end(execution, error, cause)
        except Exception:  # noqa: BLE001 - the engine must finish the execution regardless
            log.exception("status change event of %s not built", execution.exec_arn)

    cls._local_orig_reflect_for_events = orig  # type: ignore[attr-defined]
    cls._reflect_execution_status = _reflect_execution_status
