"""Step Functions limits that moto 5.2.5's engine (the ASL interpreter ported from LocalStack, in
`moto/stepfunctions/parser/`) does not apply as AWS does. Installed into the emulator process
before any execution runs (idempotent):

* `States.ALL` does not catch `States.DataLimitExceeded` nor `States.Runtime` (AWS: "The States.ALL
  error type ... can't catch the States.DataLimitExceeded terminal error and Runtime error types",
  https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html). moto's
  `ErrorEqualsDecl` matched every error with States.ALL, so a Catch on States.ALL turned an
  over-quota state into a handled branch; the same matcher serves Retry, which must not retry them
  either.
* The payload quota is 256 KiB = 262,144 bytes of UTF-8 *inclusive*
  (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html); moto refused exactly
  262,144 bytes. A state's output, a task's result and a Lambda's payload over it are
  `States.DataLimitExceeded` (moto checks those; its check is kept, with the inclusive bound).
* A state's input after Parameters processing over the quota is `States.DataLimitExceeded` too
  (concepts-error-handling: "The input of a state is larger than the payload size quota after
  Parameters processing"); moto did not check it, so a Task invoked its function with it.
* StartExecution refuses an input over 262,144 bytes (API reference: `input` "Maximum length of
  262144", a ValidationException); moto accepted any size.
* A Lambda function error whose payload has no `errorType` (Lambda's older answer for a function
  timeout or a crash) is `Lambda.Unknown`, as AWS documents ("Unhandled errors in Lambda are
  reported as Lambda.Unknown ... These include out-of-memory errors and function timeouts",
  https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html); moto
  named it `Exception`. With an `errorType` (today's answer for a timeout: `Sandbox.Timedout`) the
  error is that errorType, as before. Service errors (HTTP 4xx/5xx from Invoke) stay
  `Lambda.<ErrorCode>`: `Lambda.ServiceException`, `Lambda.TooManyRequestsException`, ...
* ListExecutions is eventually consistent on AWS (API reference: "This operation is eventually
  consistent. The results are best effort and may not reflect very recent updates and changes");
  moto's answer is always current. `POST /_local/sfn {"list_executions_lag_seconds": N}` makes it
  leave out executions started in the last N seconds (default 0: as moto), so a test can show what
  a check-then-act on it misses (two alarms at once; the detector's lease is what holds then).
"""

from __future__ import annotations

import json
import logging
from typing import Any

log = logging.getLogger(__name__)

MAX_PAYLOAD_BYTES = 262_144
# Error names States.ALL does not match (AWS: terminal / runtime errors).
NOT_CAUGHT_BY_ALL = ("States.DataLimitExceeded", "States.Runtime")


def is_within_size_quota(value: Any) -> bool:
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    text = value if isinstance(value, str) else to_json_str(value)
    return len(text.encode("utf-8")) <= MAX_PAYLOAD_BYTES


def _error_type(payload: str) -> str | None:
    try:
        doc = json.loads(payload)
    except ValueError:
        return None
    et = doc.get("errorType") if isinstance(doc, dict) else None
    return et if isinstance(et, str) and et else None


def install() -> None:
    """Patch moto's Step Functions engine (idempotent)."""
    import moto.stepfunctions.parser.quotas as quotas
    from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl as eed
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.state import state as state_mod
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda as stl
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service as sts
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_lambda as stsl,
    )
    from moto.stepfunctions.responses import StepFunctionResponse

    ErrorEqualsDecl = eed.ErrorEqualsDecl
    if getattr(ErrorEqualsDecl, "_local_patched", False):
        return

    # -- States.ALL does not catch DataLimitExceeded / Runtime --------------------------------
    orig_eval = ErrorEqualsDecl._eval_body

    def _eval_body(self: Any, env: Any) -> None:
        error_name = env.stack[-1] if env.stack else None
        name = getattr(error_name, "error_name", None)
        only_all = all(getattr(n, "error_name", None) == "States.ALL" for n in self.error_names)
        if name in NOT_CAUGHT_BY_ALL and only_all:
            env.stack.pop()
            env.stack.append(False)
            return
        orig_eval(self, env)

    ErrorEqualsDecl._eval_body = _eval_body

    # -- 256 KiB inclusive ----------------------------------------------------------------------
    for mod in (quotas, state_mod, stl, sts):
        mod.is_within_size_quota = is_within_size_quota  # type: ignore[attr-defined]

    # -- a state's input after Parameters ---------------------------------------------------------
    from moto.stepfunctions.parser.api import HistoryEventType, TaskFailedEventDetails
    from moto.stepfunctions.parser.asl.component.common import parargs
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    orig_parargs = parargs.Parargs._eval_body

    def parargs_eval(self: Any, env: Any) -> None:
        orig_parargs(self, env)
        if env.stack and not is_within_size_quota(env.stack[-1]):
            typ = StatesErrorNameType.StatesStatesDataLimitExceeded
            raise FailureEventException(
                failure_event=FailureEvent(
                    env=env,
                    error_name=StatesErrorName(typ=typ),
                    event_type=HistoryEventType.TaskFailed,
                    event_details=EventDetails(
                        taskFailedEventDetails=TaskFailedEventDetails(
                            error=typ.to_name(),
                            cause=f"The state/task '{env.next_state_name}' has an input after Parameters "
                            "processing with a size exceeding the maximum number of bytes service limit.",
                        )
                    ),
                )
            )

    parargs.Parargs._eval_body = parargs_eval

    # -- Lambda.Unknown for a function error without errorType --------------------------------
    def unknown_when_untyped(cls: Any) -> None:
        orig = cls._from_error

        def _from_error(self: Any, env: Any, ex: Exception) -> Any:
            event = orig(self, env, ex)
            if isinstance(ex, lambda_eval_utils.LambdaFunctionErrorException) and _error_type(ex.payload) is None:
                event.error_name = CustomErrorName("Lambda.Unknown")
                details = event.event_details or {}
                for key in ("taskFailedEventDetails", "lambdaFunctionFailedEventDetails"):
                    if key in details and isinstance(details[key], dict):
                        details[key]["error"] = "Lambda.Unknown"
            return event

        cls._from_error = _from_error

    unknown_when_untyped(stsl.StateTaskServiceLambda)
    unknown_when_untyped(stl.StateTaskLambda)

    # -- StartExecution input quota -------------------------------------------------------------
    orig_start = StepFunctionResponse.start_execution

    def start_execution(self: Any) -> Any:
        from moto.core.exceptions import AWSError

        execution_input = self._get_param("input", if_none="{}")
        if isinstance(execution_input, str) and len(execution_input.encode("utf-8")) > MAX_PAYLOAD_BYTES:
            raise AWSError(
                "1 validation error detected: Value at 'input' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_PAYLOAD_BYTES}",
                exception_type="ValidationException",
            )
        return orig_start(self)

    StepFunctionResponse.start_execution = start_execution
    ErrorEqualsDecl._local_patched = True  # type: ignore[attr-defined]
    log.info("Step Functions engine patched: payload quota %d bytes, States.ALL excludes %s, Lambda.Unknown",
             MAX_PAYLOAD_BYTES, ", ".join(NOT_CAUGHT_BY_ALL))
    _install_list_lag()


# ListExecutions' lag (POST /_local/sfn); 0 = moto's always-current answer.
_LIST_LAG = {"seconds": 0.0}


def control(args: dict) -> dict:
    """`list_executions_lag_seconds`: ListExecutions leaves out executions younger than this."""
    unknown = sorted(set(args) - {"list_executions_lag_seconds"})
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; known: ['list_executions_lag_seconds']")
    if "list_executions_lag_seconds" in args:
        lag = float(args["list_executions_lag_seconds"])
        if lag < 0:
            raise ValueError("list_executions_lag_seconds must be >= 0")
        _LIST_LAG["seconds"] = lag
    return {"list_executions_lag_seconds": _LIST_LAG["seconds"]}


def _install_list_lag() -> None:
    import time
    from datetime import timezone

    from moto.stepfunctions.models import StepFunctionBackend

    if getattr(StepFunctionBackend, "_local_list_lag", False):
        return
    orig = StepFunctionBackend.list_executions

    def started(e: Any) -> float:
        d = e.start_date
        return (d if d.tzinfo else d.replace(tzinfo=timezone.utc)).timestamp()

    def list_executions(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = orig(self, *args, **kwargs)
        lag = _LIST_LAG["seconds"]
        if lag <= 0:
            return out
        cutoff = time.time() - lag
        results, token = out
        return [e for e in results if started(e) <= cutoff], token

    StepFunctionBackend.list_executions = list_executions
    StepFunctionBackend._local_list_lag = True  # type: ignore[attr-defined]
