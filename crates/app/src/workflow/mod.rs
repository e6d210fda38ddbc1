//! The remediation workflow's task Lambdas as use cases, generic over the AWS ports: Assess,
//! ScaleBrokers/WaitForActive, the Kafka operations over SSM (capture, plan, execute, verify,
//! confirm, cleanup) and Notify. statemachine/remediation.asl.json strings them together; each
//! receives `{step, execution, state}` and returns the new state (see `state`).

pub mod assess;
pub mod kafka_ops;
pub mod notify;
pub mod safety_net;
pub mod scale;
pub mod state;

pub use state::{TaskInput, WorkflowState};

use crate::error::{AppError, Result};

/// The `step` a multi-step Lambda was asked for, or a clear `InvalidInput`.
pub fn step<'a>(input: &'a TaskInput, allowed: &[&str]) -> Result<&'a str> {
    match input.step.as_deref() {
        Some(s) if allowed.contains(&s) => Ok(s),
        other => Err(AppError::InvalidInput(format!("unknown step {other:?}: expected one of {}", allowed.join(", ")))),
    }
}

/// Parses the task input, mapping malformed input (bad ARN, missing field) to `InvalidInput`.
pub fn parse_input(payload: serde_json::Value) -> Result<TaskInput> {
    serde_json::from_value(payload).map_err(|e| AppError::InvalidInput(format!("task input: {e}")))
}

/// The new state as the Lambda's response, its growing lists capped (`WorkflowState::cap_lists`),
/// so no cluster is big enough to push the state past Step Functions' 256 KB.
pub fn output(state: &WorkflowState) -> Result<serde_json::Value> {
    let mut state = state.clone();
    state.cap_lists();
    serde_json::to_value(&state).map_err(|e| AppError::InvalidInput(format!("state does not serialise: {e}")))
}
