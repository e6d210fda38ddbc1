//! The detector use case: alarm event → classification → cluster lookup → single flight and
//! cool-down → the cluster's lease (one conditional write: two alarms at once cannot both pass,
//! whatever ListExecutions shows yet) → at most one StartExecution per incident. Shared by the
//! Lambda and `autoheal`.

pub mod event;

use crate::error::{AppError, Result};
use crate::lease::{LEASE_TTL_SECONDS, UNSTARTED_HOLDER_MINUTES};
use autoheal_aws::ports::{ClusterControl, Executions, Lease, LeaseOutcome, Notifier, StartOutcome};
use autoheal_domain::alarm::{AlarmChange, Classification, Incident, Severity, classify, cluster_of};
use autoheal_domain::cluster::ClusterArn;
use autoheal_domain::flight::{ExecutionStatus, ExecutionSummary, FlightCheck};
use autoheal_domain::remediation::{DetectorPolicy, RemediationInput, Verdict, decide};
use autoheal_domain::time::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

/// How far back finished executions are read (for the cool-down, beyond the cool-down itself, and to
/// see that a lease's holder has ended): an execution that started this long before has ended by
/// then (the state machine's timeout, which is also the lease's lifetime).
pub const EXECUTION_LOOKBACK_MINUTES: i64 = (LEASE_TTL_SECONDS / 60) as i64;

/// What the alarm means, from the event alone (the `autoheal incident` output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentDecision {
    pub incident_type: Option<&'static str>,
    pub severity: Option<Severity>,
    pub cluster_name: Option<String>,
    pub alarm_name: String,
    pub state: &'static str,
    pub action: Action,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Remediate,
    Ignore,
}

/// Classifies a raw event without calling AWS. Malformed or unrecognised events and invalid cluster
/// names are `InvalidInput`.
pub fn decide_event(event: &Value) -> Result<(IncidentDecision, Option<Incident>)> {
    let change = event::parse_alarm_event(event)?;
    let classification = classify(&change).map_err(|e| AppError::InvalidInput(e.to_string()))?;
    Ok(decision_of(&change, classification))
}

fn decision_of(change: &AlarmChange, c: Classification) -> (IncidentDecision, Option<Incident>) {
    match c {
        Classification::Remediate(incident) => (
            IncidentDecision {
                incident_type: Some(incident.incident_type.as_str()),
                severity: Some(incident.severity),
                cluster_name: Some(incident.cluster_name.to_string()),
                alarm_name: change.alarm_name.clone(),
                state: change.state.as_str(),
                action: Action::Remediate,
                reason: format!(
                    "{} entered ALARM for cluster {}: followers are not keeping up",
                    incident.signal, incident.cluster_name
                ),
            },
            Some(incident),
        ),
        Classification::Ignore(reason) => (
            IncidentDecision {
                incident_type: None,
                severity: None,
                cluster_name: cluster_of(change).map(str::to_owned),
                alarm_name: change.alarm_name.clone(),
                state: change.state.as_str(),
                action: Action::Ignore,
                reason: reason.to_string(),
            },
            None,
        ),
    }
}

/// What the detector did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not an incident of ours.
    Ignored,
    /// A remediation was started.
    Started,
    /// The execution for this incident exists already (a redelivered event).
    AlreadyStarted,
    /// Single flight, cool-down or a busy cluster: nothing started.
    Skipped,
    /// No larger broker count is allowed: nothing started, operators notified.
    Refused,
    /// Dry run: what would have been started.
    WouldStart,
}

/// The detector's full answer (the Lambda's response; `autoheal detect` prints it).
#[derive(Debug, Clone, Serialize)]
pub struct DetectorOutcome {
    #[serde(flatten)]
    pub decision: IncidentDecision,
    pub outcome: Outcome,
    /// Why this outcome (for every outcome but `ignored`, whose reason is the decision's).
    pub outcome_reason: Option<String>,
    pub cluster_arn: Option<String>,
    pub execution_name: Option<String>,
    pub execution_arn: Option<String>,
    pub input: Option<RemediationInput>,
}

/// The detector, generic over its ports so the Lambda, the CLI and the tests share it.
pub struct Detector<C, E, N, L> {
    pub clusters: C,
    pub executions: E,
    pub notifier: Option<N>,
    /// The per-cluster lease, taken before StartExecution.
    pub lease: L,
    pub policy: DetectorPolicy,
}

impl<C: ClusterControl, E: Executions, N: Notifier, L: Lease> Detector<C, E, N, L> {
    /// Handles one alarm event. With `dry_run`, everything is looked up but nothing is started or sent.
    pub async fn handle(&self, event: &Value, now: Timestamp, dry_run: bool) -> Result<DetectorOutcome> {
        let (decision, incident) = decide_event(event)?;
        let mut out = DetectorOutcome {
            decision,
            outcome: Outcome::Ignored,
            outcome_reason: None,
            cluster_arn: None,
            execution_name: None,
            execution_arn: None,
            input: None,
        };
        let Some(incident) = incident else {
            info!(alarm = %out.decision.alarm_name, state = out.decision.state, reason = %out.decision.reason, "alarm ignored");
            return Ok(out);
        };
        let name = &incident.cluster_name;
        let arn = self.clusters.find_cluster(name).await?.ok_or_else(|| AppError::ClusterNotFound(name.to_string()))?;
        out.cluster_arn = Some(arn.to_string());
        let cluster = self.clusters.describe_cluster(&arn).await?;
        let executions = self.executions_for_flight_check(now).await?;

        match decide(&incident, &cluster, &executions, now, &self.policy) {
            Verdict::Start { name: exec_name, input } => {
                out.execution_name = Some(exec_name.clone());
                let payload = serde_json::to_string(&input).map_err(|e| AppError::InvalidInput(e.to_string()))?;
                out.input = Some(*input);
                if dry_run {
                    out.outcome = Outcome::WouldStart;
                    out.outcome_reason = Some("dry run: nothing started".into());
                    return Ok(out);
                }
                if let Some(holder) = self.take_lease(&arn, &exec_name, &executions, now).await? {
                    let reason = FlightCheck::Running { execution: holder };
                    info!(cluster = %name, execution = %exec_name, reason = %reason, "remediation skipped: the cluster's lease is held");
                    out.outcome = Outcome::Skipped;
                    out.outcome_reason = Some(format!("{reason} (it holds the cluster's lease)"));
                    return Ok(out);
                }
                let started = match self.executions.start_execution(&exec_name, &payload).await {
                    Ok(s) => s,
                    Err(e) => {
                        // Not started: let the next alarm (or this event's retry) take the lease.
                        if let Err(r) = self.lease.release(&arn, &exec_name).await {
                            warn!(cluster = %name, execution = %exec_name, error = %r, "lease not released after a failed StartExecution");
                        }
                        return Err(e.into());
                    }
                };
                match started {
                    StartOutcome::Started { execution_arn } => {
                        info!(cluster = %name, execution = %exec_name, execution_arn = %execution_arn,
                              brokers = cluster.broker_count, target = out.input.as_ref().map(|i| i.target_broker_count),
                              "remediation started");
                        out.outcome = Outcome::Started;
                        out.execution_arn = Some(execution_arn);
                    }
                    StartOutcome::AlreadyExists => {
                        info!(cluster = %name, execution = %exec_name, "remediation already started for this incident");
                        out.outcome = Outcome::AlreadyStarted;
                        out.outcome_reason =
                            Some("an execution for this alarm state change exists already (redelivered event)".into());
                    }
                }
            }
            Verdict::Skip(reason) => {
                info!(cluster = %name, reason = %reason, "remediation skipped");
                out.outcome = Outcome::Skipped;
                out.outcome_reason = Some(reason.to_string());
            }
            Verdict::Refuse(refusal) => {
                warn!(cluster = %name, reason = %refusal, "remediation refused");
                out.outcome = Outcome::Refused;
                out.outcome_reason = Some(refusal.to_string());
                if let (Some(n), false) = (&self.notifier, dry_run) {
                    let subject = format!("msk-autoheal: {name} needs capacity but is at its broker ceiling");
                    let body = format!(
                        "Incident: {} ({:?})\nCluster: {}\nAlarm: {} entered ALARM at {}\nBrokers: {}\n\nNo remediation was started: {}\n",
                        incident.incident_type.as_str(),
                        incident.severity,
                        arn,
                        incident.alarm_name,
                        incident.state_change_time,
                        cluster.broker_count,
                        refusal
                    );
                    n.publish(&subject, &body).await?;
                }
            }
        }
        Ok(out)
    }

    /// Takes the cluster's lease for `me`; `Some(holder)` when another live execution holds it. A
    /// holder seen ended (it never released: a Lambda crash, an operator's StopExecution) or never
    /// started is replaced, by a write conditional on that holder, so two detectors cannot both
    /// replace it.
    async fn take_lease(
        &self,
        arn: &ClusterArn,
        me: &str,
        executions: &[ExecutionSummary],
        now: Timestamp,
    ) -> Result<Option<String>> {
        let (holder, acquired_at) = match self.lease.acquire(arn, me, now, LEASE_TTL_SECONDS, None).await? {
            LeaseOutcome::Acquired => return Ok(None),
            LeaseOutcome::HeldBy { holder, acquired_at, .. } => (holder, acquired_at),
        };
        let seen = executions.iter().find(|e| e.name == holder);
        let stale = match seen {
            Some(e) => !matches!(e.status, ExecutionStatus::Running | ExecutionStatus::PendingRedrive),
            None => acquired_at.is_some_and(|t| now >= t.plus_minutes(UNSTARTED_HOLDER_MINUTES)),
        };
        if !stale {
            return Ok(Some(holder));
        }
        warn!(cluster_arn = %arn, holder = %holder, status = ?seen.map(|e| e.status), "the lease's holder has ended without releasing it; taking it over");
        match self.lease.acquire(arn, me, now, LEASE_TTL_SECONDS, Some(&holder)).await? {
            LeaseOutcome::Acquired => Ok(None),
            LeaseOutcome::HeldBy { holder, .. } => Ok(Some(holder)),
        }
    }

    /// Running executions (any age) and recently finished ones (for the cool-down, and to tell a
    /// lease's ended holder).
    async fn executions_for_flight_check(&self, now: Timestamp) -> Result<Vec<ExecutionSummary>> {
        let epoch = Timestamp::from_unix_millis(0).unwrap_or(now);
        let mut all = self.executions.list_executions(Some(ExecutionStatus::Running), epoch).await?;
        let since = now.plus_minutes(-(i64::from(self.policy.cooldown_minutes) + EXECUTION_LOOKBACK_MINUTES));
        for e in self.executions.list_executions(None, since).await? {
            if !all.iter().any(|r| r.arn == e.arn) {
                all.push(e);
            }
        }
        Ok(all)
    }
}
