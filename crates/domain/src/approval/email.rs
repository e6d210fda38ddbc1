//! The approval email: plain text that reads the same in any mail client — what happened, what will
//! change, how much data moves and for how long, what it costs, the two links and until when they
//! work, and the fix as AWS CLI and Terraform for those who would rather apply it themselves.

use super::link::ExecutionName;
use super::prices::cost_of;
use crate::cluster::{ClusterArn, ClusterName, ClusterVersion};
use crate::fixes::{BrokerChange, FixError, FixFormat, FixRequest, KafkaScriptSettings, render};
use crate::kafka_cli::Throttle;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The remediation an approval is asked for: the execution input's fields (docs/ARCHITECTURE.md),
/// read from the workflow state, whose other fields are ignored. The cluster's identity is strict
/// (it reaches commands and links); the incident is only shown, so it is read leniently.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    pub cluster_arn: ClusterArn,
    pub cluster_name: ClusterName,
    #[serde(default)]
    pub incident: IncidentFacts,
    pub current_broker_count: u32,
    pub target_broker_count: u32,
    pub az_count: u32,
    pub current_version: ClusterVersion,
}

/// The incident as the detector described it; any field may be missing (an execution started by
/// hand), and then the email says so.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentFacts {
    #[serde(rename = "type", default)]
    pub incident_type: Option<String>,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub signal: Option<String>,
    #[serde(default)]
    pub alarm_name: Option<String>,
    #[serde(default)]
    pub state_change_time: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// The dry-run reassignment plan, in numbers: what the workflow's plan step reports before any
/// broker is added. Unknown fields are ignored so the plan step can report more.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Replicas placed on a broker that did not hold them.
    pub moves: u64,
    #[serde(default)]
    pub changed_partitions: Option<u64>,
    #[serde(default)]
    pub partitions: Option<u64>,
    /// Bytes copied to new replicas (needs `kafka-log-dirs` sizes).
    #[serde(default)]
    pub bytes_moved: Option<u64>,
    /// At the plan's throttle, staged as the workflow executes it.
    #[serde(default)]
    pub eta_seconds: Option<f64>,
    #[serde(default)]
    pub throttle_bytes_per_sec: Option<u64>,
    #[serde(default)]
    pub stage_count: Option<u64>,
    /// When the assignment the plan starts from was captured.
    #[serde(default)]
    pub captured_at: Option<Timestamp>,
    /// Planned before the brokers exist, against their predicted ids and racks (the approval
    /// branch's dry run): the email labels it an estimate and lists `assumptions`.
    #[serde(default)]
    pub estimate: bool,
    /// What the estimate assumed, one plain sentence each.
    #[serde(default)]
    pub assumptions: Vec<String>,
}

/// Everything the email says.
#[derive(Debug, Clone)]
pub struct ApprovalEmail<'a> {
    pub proposal: &'a Proposal,
    pub execution: &'a ExecutionName,
    /// From DescribeClusterV2 (Assess); prices the added brokers.
    pub instance_type: Option<&'a str>,
    pub plan: Option<&'a PlanSummary>,
    /// Why there is no plan (the dry run failed, or none was made); shown instead of the numbers.
    pub no_plan_reason: Option<&'a str>,
    /// The throttle the reassignment will run at (the stack's setting).
    pub throttle: Throttle,
    pub approve_url: &'a str,
    pub reject_url: &'a str,
    pub expires_at: Timestamp,
    pub now: Timestamp,
}

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailText {
    pub subject: String,
    pub body: String,
}

impl ApprovalEmail<'_> {
    pub fn render(&self) -> Result<EmailText, FixError> {
        let input = self.proposal;
        let brokers = BrokerChange::new(input.current_broker_count, input.target_broker_count)?;
        let fix = FixRequest {
            cluster_arn: input.cluster_arn.clone(),
            current_version: input.current_version.clone(),
            brokers,
        };
        let kafka = KafkaScriptSettings { throttle: self.throttle, ..KafkaScriptSettings::default() };
        let (from, to) = (brokers.from(), brokers.to());
        let added = to - from;
        let subject =
            format!("msk-autoheal: approve adding {added} brokers to {} ({from} -> {to})?", input.cluster_name);

        let mut b = String::new();
        // Writing to a String cannot fail; the results are ignored on purpose.
        let _ = writeln!(b, "msk-autoheal asks for your approval before it changes an Amazon MSK cluster.");
        let _ = writeln!(b);
        let _ = writeln!(b, "INCIDENT");
        let inc = &input.incident;
        let shown = |v: &Option<String>| v.as_deref().map(one_line).unwrap_or_else(|| "(not given)".into());
        let severity = inc.severity.as_deref().map(|s| format!(" ({})", one_line(s))).unwrap_or_default();
        let _ = writeln!(b, "  Type:      {}{severity}", shown(&inc.incident_type));
        let _ = writeln!(b, "  Signal:    {}", shown(&inc.signal));
        let source = inc.source.as_deref().map(|s| format!(" (via {})", source_name(s))).unwrap_or_default();
        let _ = writeln!(
            b,
            "  Alarm:     {} in ALARM since {}{source}",
            shown(&inc.alarm_name),
            shown(&inc.state_change_time)
        );
        let _ = writeln!(b, "  Cluster:   {}", input.cluster_name);
        let _ = writeln!(b, "             {}", input.cluster_arn);
        let _ = writeln!(b, "  Execution: {}", self.execution);
        let _ = writeln!(b);
        let _ = writeln!(b, "PROPOSED CHANGE");
        let per_az = if input.az_count > 0 && added.is_multiple_of(input.az_count) {
            format!(", {} per AZ over {} AZs", added / input.az_count, input.az_count)
        } else {
            String::new()
        };
        let _ = writeln!(b, "  Brokers:   {from} -> {to} (+{added}{per_az})");
        if let Some(t) = self.instance_type {
            let _ = writeln!(b, "  Instance:  {}", one_line(t));
        }
        let _ = writeln!(b, "  Then partitions move onto the new brokers (Kafka does not move them by itself):");
        b.push_str(&self.plan_lines());
        let _ = writeln!(b);
        let _ = writeln!(b, "COST OF THE ADDED BROKERS");
        let _ = write!(b, "{}", cost_of(added, self.instance_type, input.cluster_arn.region()));
        let _ = writeln!(b);
        let _ = writeln!(b, "DECIDE");
        let _ = writeln!(
            b,
            "  The links work until {} ({} from now).",
            self.expires_at,
            human_duration(self.expires_at.seconds_since(self.now).max(0) as f64)
        );
        let _ = writeln!(b, "  Opening one only shows what will happen; nothing changes until you press its button.");
        let _ = writeln!(b);
        let _ = writeln!(b, "  Approve:");
        let _ = writeln!(b, "  {}", self.approve_url);
        let _ = writeln!(b);
        let _ = writeln!(b, "  Reject:");
        let _ = writeln!(b, "  {}", self.reject_url);
        let _ = writeln!(b);
        let _ = writeln!(
            b,
            "  No decision by then: the remediation ends as ApprovalTimedOut and nothing on the cluster changes."
        );
        let _ = writeln!(b);
        let _ = writeln!(b, "THE FIX, IF YOU WOULD RATHER APPLY IT YOURSELF (then reject, so the workflow stops)");
        let _ = writeln!(b);
        let _ = writeln!(b, "--- AWS CLI ---");
        b.push_str(&render(FixFormat::AwsCli, &fix, &kafka));
        let _ = writeln!(b);
        let _ = writeln!(b, "--- Terraform ---");
        b.push_str(&render(FixFormat::Terraform, &fix, &kafka));
        let _ = writeln!(b);
        let _ =
            writeln!(b, "`autoheal fix --format kafka-cli|pulumi-ts|pulumi-py|cloudformation` prints the other forms.");
        Ok(EmailText { subject, body: b })
    }

    fn plan_lines(&self) -> String {
        let mut b = String::new();
        let Some(plan) = self.plan else {
            let why = self.no_plan_reason.map(one_line).map(|r| ascii(&r));
            let why = why.as_deref().unwrap_or("no dry-run plan was made before this request");
            let _ = writeln!(b, "  Replica moves: not estimated ({why})");
            return b;
        };
        if plan.estimate {
            let _ = writeln!(
                b,
                "  Dry-run ESTIMATE, planned before the new brokers exist (after approval the real plan is made"
            );
            let _ = writeln!(b, "  again from a fresh capture, against the brokers that actually joined):");
        }
        let partitions = match (plan.changed_partitions, plan.partitions) {
            (Some(c), Some(p)) => format!(" in {c} of {p} partitions"),
            (Some(c), None) => format!(" in {c} partitions"),
            _ => String::new(),
        };
        let stages = plan.stage_count.filter(|s| *s > 1).map(|s| format!(", in {s} stages")).unwrap_or_default();
        let _ = writeln!(b, "  Replica moves: {}{partitions}{stages}", plan.moves);
        let throttle = plan.throttle_bytes_per_sec.unwrap_or(self.throttle.bytes_per_sec());
        match plan.bytes_moved {
            Some(bytes) => {
                let _ = writeln!(b, "  Data to copy:  {} ({bytes} bytes)", human_bytes(bytes));
            }
            None => {
                let _ = writeln!(b, "  Data to copy:  unknown (no partition sizes in the capture)");
            }
        }
        let _ = writeln!(b, "  Throttle:      {}/s per broker ({throttle} bytes/s)", human_bytes(throttle));
        match (plan.eta_seconds, plan.bytes_moved) {
            // "about 0 s" reads like a bug: small moves are "under 1 s".
            (Some(eta), _) if eta.is_finite() && (0.0..0.5).contains(&eta) => {
                let _ = writeln!(b, "  ETA:           under 1 s at that throttle");
            }
            (Some(eta), _) if eta.is_finite() && eta >= 0.0 => {
                let _ = writeln!(b, "  ETA:           about {} at that throttle", human_duration(eta));
            }
            (_, Some(bytes)) if throttle > 0 => {
                // Without the plan's per-broker staging: every byte through one throttled broker is
                // the slowest it can be.
                let worst = bytes as f64 / throttle as f64;
                let _ = writeln!(b, "  ETA:           at most {} at that throttle", human_duration(worst));
            }
            _ => {
                let _ = writeln!(b, "  ETA:           unknown (needs partition sizes)");
            }
        }
        for a in &plan.assumptions {
            let _ = writeln!(b, "  Assumed:       {}", ascii(&one_line(a)));
        }
        if let Some(at) = plan.captured_at {
            let _ = writeln!(b, "  (dry-run plan from the partition assignment captured at {at})");
        }
        b
    }
}

fn source_name(s: &str) -> String {
    match s {
        "eventbridge" => "EventBridge".into(),
        "sns" => "SNS".into(),
        "alarm-action" => "the alarm's action".into(),
        other => one_line(other),
    }
}

/// Free text from an event, kept on one printable line.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(256).collect()
}

/// Printable ASCII only: the email is plain ASCII so it reads the same in every client.
fn ascii(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' }).collect()
}

/// `1.5 GiB`, binary units as Kafka tools and the AWS console show sizes.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["KiB", "MiB", "GiB", "TiB", "PiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// `45 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h` — precise enough for an ETA.
pub fn human_duration(seconds: f64) -> String {
    let s = if seconds.is_finite() { seconds.max(0.0).round() as u64 } else { 0 };
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s.is_multiple_of(60) => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86400 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86400, s % 86400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(s: &str) -> Timestamp {
        Timestamp::parse(s).unwrap()
    }

    /// The execution input exactly as docs/ARCHITECTURE.md shows it.
    pub fn input() -> Proposal {
        serde_json::from_value(json!({
            "cluster_arn": "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
            "cluster_name": "demo",
            "incident": {
                "type": "MSKClusterCapacityInsufficient",
                "severity": "High",
                "signal": "UnderReplicatedPartitions > 0",
                "alarm_name": "demo-under-replicated",
                "alarm_arn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:demo-under-replicated",
                "state_change_time": "2026-11-25T18:00:00Z",
                "source": "eventbridge"
            },
            "current_broker_count": 2,
            "target_broker_count": 4,
            "az_count": 2,
            "current_version": "K3AEGXETSR30VB",
            "mode": "approval"
        }))
        .unwrap()
    }

    fn email<'a>(input: &'a Proposal, exec: &'a ExecutionName, plan: Option<&'a PlanSummary>) -> ApprovalEmail<'a> {
        ApprovalEmail {
            proposal: input,
            execution: exec,
            instance_type: Some("kafka.m5.large"),
            plan,
            no_plan_reason: None,
            throttle: Throttle::new(50 * 1024 * 1024).unwrap(),
            approve_url: "https://x.lambda-url.us-east-1.on.aws/?action=approve&sig=A",
            reject_url: "https://x.lambda-url.us-east-1.on.aws/?action=reject&sig=R",
            expires_at: t("2026-11-25T19:00:05Z"),
            now: t("2026-11-25T18:00:05Z"),
        }
    }

    #[test]
    fn the_email_says_everything_an_operator_needs() {
        let input = input();
        let exec = ExecutionName::parse("1a2b3c4d-demo-20261125T180000Z").unwrap();
        let plan = PlanSummary {
            moves: 6,
            changed_partitions: Some(6),
            partitions: Some(12),
            bytes_moved: Some(3 * 1024 * 1024 * 1024),
            eta_seconds: Some(61.4),
            throttle_bytes_per_sec: None,
            stage_count: Some(2),
            captured_at: Some(t("2026-11-25T18:00:03Z")),
            ..PlanSummary::default()
        };
        let mail = email(&input, &exec, Some(&plan)).render().unwrap();
        assert_eq!(mail.subject, "msk-autoheal: approve adding 2 brokers to demo (2 -> 4)?");
        let b = &mail.body;
        for needle in [
            "Type:      MSKClusterCapacityInsufficient (High)",
            "Signal:    UnderReplicatedPartitions > 0",
            "demo-under-replicated in ALARM since 2026-11-25T18:00:00Z (via EventBridge)",
            "arn:aws:kafka:us-east-1:123456789012:cluster/demo/6f3c1e2a-0000-4000-8000-000000000000-2",
            "Execution: 1a2b3c4d-demo-20261125T180000Z",
            "Brokers:   2 -> 4 (+2, 1 per AZ over 2 AZs)",
            "Instance:  kafka.m5.large",
            "Replica moves: 6 in 6 of 12 partitions, in 2 stages",
            "Data to copy:  3.0 GiB (3221225472 bytes)",
            "Throttle:      50.0 MiB/s per broker (52428800 bytes/s)",
            "ETA:           about 1 min 1 s at that throttle",
            "captured at 2026-11-25T18:00:03Z",
            "+2 x kafka.m5.large at $0.21/hour each = $0.42/hour, about $306.60/month",
            "US East (N. Virginia)",
            "The links work until 2026-11-25T19:00:05Z (1 h 0 min from now).",
            "Approve:\n  https://x.lambda-url.us-east-1.on.aws/?action=approve&sig=A\n",
            "Reject:\n  https://x.lambda-url.us-east-1.on.aws/?action=reject&sig=R\n",
            "ends as ApprovalTimedOut and nothing on the cluster changes",
            "aws kafka update-broker-count",
            "--target-number-of-broker-nodes 4",
            "-  number_of_broker_nodes = 2\n+  number_of_broker_nodes = 4",
        ] {
            assert!(b.contains(needle), "missing {needle:?} in\n{b}");
        }
        assert!(b.is_ascii(), "plain ASCII reads the same in every client");
    }

    #[test]
    fn without_a_plan_or_sizes_it_says_so() {
        let input = input();
        let exec = ExecutionName::parse("e").unwrap();
        let b = email(&input, &exec, None).render().unwrap().body;
        assert!(b.contains("Replica moves: not estimated"), "{b}");
        let plan = PlanSummary { moves: 4, ..PlanSummary::default() };
        let b = email(&input, &exec, Some(&plan)).render().unwrap().body;
        assert!(b.contains("Data to copy:  unknown") && b.contains("ETA:           unknown"), "{b}");
        let plan = PlanSummary { moves: 4, bytes_moved: Some(100 * 1024 * 1024), ..PlanSummary::default() };
        let b = email(&input, &exec, Some(&plan)).render().unwrap().body;
        assert!(b.contains("ETA:           at most 2 s at that throttle"), "{b}");
    }

    #[test]
    fn a_dry_run_estimate_is_labelled_and_says_what_it_assumed() {
        let input = input();
        let exec = ExecutionName::parse("1a2b3c4d-demo-20261125T180000Z").unwrap();
        let plan = PlanSummary {
            moves: 5,
            bytes_moved: Some(2 * 1024 * 1024),
            eta_seconds: Some(4.2),
            estimate: true,
            assumptions: vec!["the new brokers get ids 3, 4: MSK numbers brokers 1..N".into(), "rack \u{e9}\nx".into()],
            ..PlanSummary::default()
        };
        let b = email(&input, &exec, Some(&plan)).render().unwrap().body;
        for needle in [
            "Dry-run ESTIMATE, planned before the new brokers exist",
            "Replica moves: 5\n",
            "Data to copy:  2.0 MiB (2097152 bytes)",
            "ETA:           about 4 s at that throttle",
            "Assumed:       the new brokers get ids 3, 4: MSK numbers brokers 1..N\n",
            "Assumed:       rack ? x\n",
        ] {
            assert!(b.contains(needle), "missing {needle:?} in\n{b}");
        }
        assert!(b.is_ascii());
        let tiny = PlanSummary { moves: 1, bytes_moved: Some(1024), eta_seconds: Some(0.07), ..PlanSummary::default() };
        let t = email(&input, &exec, Some(&tiny)).render().unwrap().body;
        assert!(t.contains("ETA:           under 1 s at that throttle\n"), "{t}");
        // A real (post-scale) plan is not called an estimate.
        let real = PlanSummary { moves: 5, ..PlanSummary::default() };
        assert!(!email(&input, &exec, Some(&real)).render().unwrap().body.contains("ESTIMATE"));
    }

    #[test]
    fn without_a_plan_the_email_says_why() {
        let input = input();
        let exec = ExecutionName::parse("1a2b3c4d-demo-20261125T180000Z").unwrap();
        let b = email(&input, &exec, None).render().unwrap().body;
        assert!(b.contains("Replica moves: not estimated (no dry-run plan was made before this request)"), "{b}");
        let mut mail = email(&input, &exec, None);
        mail.no_plan_reason = Some("the dry run failed: CommandFailed: capture exited 127\nmore");
        let b = mail.render().unwrap().body;
        assert!(
            b.contains("Replica moves: not estimated (the dry run failed: CommandFailed: capture exited 127 more)\n"),
            "{b}"
        );
    }

    #[test]
    fn an_execution_started_by_hand_without_an_incident_still_renders() {
        let mut v = serde_json::to_value(input()).unwrap();
        v["incident"] = json!({"type": "manual"});
        let p: Proposal = serde_json::from_value(v).unwrap();
        let exec = ExecutionName::parse("manual-1").unwrap();
        let b = email(&p, &exec, None).render().unwrap().body;
        assert!(b.contains("Type:      manual\n"), "{b}");
        assert!(b.contains("Alarm:     (not given) in ALARM since (not given)\n"), "{b}");
    }

    #[test]
    fn a_shrinking_target_is_refused() {
        let mut input = input();
        input.target_broker_count = 2;
        let exec = ExecutionName::parse("e").unwrap();
        assert!(email(&input, &exec, None).render().is_err());
    }

    #[test]
    fn humane_units() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(5 * 1024 * 1024 * 1024 * 1024), "5.0 TiB");
        assert_eq!(human_duration(0.4), "0 s");
        assert_eq!(human_duration(59.6), "1 min");
        assert_eq!(human_duration(200.0), "3 min 20 s");
        assert_eq!(human_duration(7500.0), "2 h 5 min");
        assert_eq!(human_duration(3.0 * 86400.0 + 4.0 * 3600.0), "3 d 4 h");
        assert_eq!(human_duration(f64::NAN), "0 s");
    }
}
