//! Reads the three shapes in which a CloudWatch alarm reaches a Lambda — an EventBridge "CloudWatch
//! Alarm State Change" event, an SNS notification carrying the alarm JSON, the alarm's own Lambda
//! action — into one `AlarmChange`. Envelopes use the `aws_lambda_events` types; the alarm
//! configuration is read with our own tolerant types because the library's require `metricStat` on
//! every metric, which metric-math alarms don't have.

use crate::error::AppError;
use autoheal_domain::alarm::{AlarmChange, AlarmKind, AlarmSource, AlarmState, MetricRef};
use autoheal_domain::time::Timestamp;
use aws_lambda_events::event::cloudwatch_alarms::{CloudWatchAlarm, CloudWatchAlarmData, CloudWatchAlarmState};
use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::sns::{CloudWatchDimension, CloudWatchMetricDataQuery, SnsEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

const DETAIL_TYPE: &str = "CloudWatch Alarm State Change";
const CLOUDWATCH_SOURCE: &str = "aws.cloudwatch";

/// `configuration` of an alarm in EventBridge details and Lambda action payloads.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmConfiguration {
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metrics: Vec<MetricQuery>,
    /// Present on composite alarms only.
    #[serde(default)]
    pub alarm_rule: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricQuery {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub expression: Option<String>,
    #[serde(default)]
    pub metric_stat: Option<MetricStat>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricStat {
    pub metric: MetricDefinition,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricDefinition {
    #[serde(default)]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub dimensions: HashMap<String, String>,
}

/// The alarm JSON inside an SNS notification. Tolerant: real notifications carry nulls where the
/// `aws_lambda_events` payload type expects strings (e.g. `AlarmDescription`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsAlarmMessage {
    alarm_name: String,
    #[serde(default)]
    alarm_arn: Option<String>,
    #[serde(default, rename = "AWSAccountId")]
    account: Option<String>,
    new_state_value: String,
    #[serde(default)]
    old_state_value: Option<String>,
    state_change_time: String,
    #[serde(default)]
    trigger: Option<SnsTrigger>,
    /// Composite alarm notifications carry the rule instead of a trigger.
    #[serde(default)]
    alarm_rule: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SnsTrigger {
    #[serde(default)]
    metric_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    dimensions: Vec<CloudWatchDimension>,
    #[serde(default)]
    metrics: Vec<CloudWatchMetricDataQuery>,
}

/// `InvalidInput` on one line: serde quotes the input it refused (`unknown variant "\nOK"`), and
/// a control character from an event must not split a log line or the CLI's one-line error.
fn invalid(msg: impl Into<String>) -> AppError {
    let mut line = String::new();
    for c in msg.into().chars() {
        if c.is_control() {
            line.extend(c.escape_default());
        } else {
            line.push(c);
        }
    }
    AppError::InvalidInput(line)
}

/// One line naming where serde stopped, never the payload itself.
fn parse_error(what: &str, e: &serde_json::Error) -> AppError {
    invalid(format!("malformed {what}: {e}"))
}

/// Reads any of the three shapes; anything else is `InvalidInput` with a one-line reason.
pub fn parse_alarm_event(event: &Value) -> Result<AlarmChange, AppError> {
    let Some(obj) = event.as_object() else {
        return Err(invalid("event is not a JSON object"));
    };
    if obj.contains_key("Records") {
        return from_sns(event);
    }
    if obj.contains_key("detail-type") {
        return from_eventbridge(event);
    }
    if obj.contains_key("alarmData") {
        return from_alarm_action(event);
    }
    Err(invalid(
        "unrecognised event: expected an EventBridge 'CloudWatch Alarm State Change' event, an SNS notification or a CloudWatch alarm Lambda action payload",
    ))
}

fn from_eventbridge(event: &Value) -> Result<AlarmChange, AppError> {
    let ev: CloudWatchEvent<Value> =
        serde_json::from_value(event.clone()).map_err(|e| parse_error("EventBridge event", &e))?;
    let detail_type = ev.detail_type.as_deref().unwrap_or_default();
    let source = ev.source.as_deref().unwrap_or_default();
    if detail_type != DETAIL_TYPE || source != CLOUDWATCH_SOURCE {
        return Err(invalid(format!(
            "unrecognised EventBridge event '{detail_type}' from '{source}': expected '{DETAIL_TYPE}' from '{CLOUDWATCH_SOURCE}'"
        )));
    }
    let detail = ev.detail.ok_or_else(|| invalid("EventBridge event has no detail"))?;
    let data: CloudWatchAlarmData<AlarmConfiguration, Value> =
        serde_json::from_value(detail).map_err(|e| parse_error("alarm state change detail", &e))?;
    // `resources` holds the alarm ARN.
    let alarm_arn = ev.resources.into_iter().find(|r| r.contains(":alarm:"));
    from_alarm_data(AlarmSource::Eventbridge, data, alarm_arn, ev.account_id, ev.region)
}

fn from_alarm_action(event: &Value) -> Result<AlarmChange, AppError> {
    let alarm: CloudWatchAlarm<AlarmConfiguration, Value> =
        serde_json::from_value(event.clone()).map_err(|e| parse_error("alarm action payload", &e))?;
    if alarm.source.as_deref().is_some_and(|s| s != CLOUDWATCH_SOURCE) {
        return Err(invalid(format!("alarm action payload from {:?}, expected {CLOUDWATCH_SOURCE}", alarm.source)));
    }
    from_alarm_data(AlarmSource::AlarmAction, alarm.alarm_data, alarm.alarm_arn, alarm.account_id, alarm.region)
}

fn state_of(s: Option<&CloudWatchAlarmState<Value>>) -> Option<Result<AlarmState, AppError>> {
    s.map(|s| {
        let v = serde_json::to_value(&s.value).unwrap_or_default();
        let v = v.as_str().unwrap_or_default();
        AlarmState::parse(v).ok_or_else(|| invalid(format!("unknown alarm state {v:?}")))
    })
}

fn from_alarm_data(
    source: AlarmSource,
    data: CloudWatchAlarmData<AlarmConfiguration, Value>,
    alarm_arn: Option<String>,
    account: Option<String>,
    region: Option<String>,
) -> Result<AlarmChange, AppError> {
    let state = state_of(data.state.as_ref()).ok_or_else(|| invalid("alarm event has no state"))??;
    let previous_state = state_of(data.previous_state.as_ref()).transpose()?;
    let time = data.state.as_ref().map(|s| s.timestamp.timestamp_millis()).unwrap_or_default();
    let state_change_time =
        Timestamp::from_unix_millis(time).ok_or_else(|| invalid("alarm state timestamp out of range"))?;
    let config = data.configuration;
    let kind = match config.alarm_rule {
        Some(rule) => AlarmKind::Composite { rule },
        None => {
            let mut metrics = Vec::new();
            let mut expressions = Vec::new();
            for q in config.metrics {
                if let Some(stat) = q.metric_stat {
                    metrics.push(MetricRef {
                        namespace: stat.metric.namespace,
                        name: stat.metric.name,
                        dimensions: stat.metric.dimensions.into_iter().collect(),
                    });
                } else if let Some(expr) = q.expression {
                    expressions.push(expr);
                }
            }
            AlarmKind::Metric { metrics, expressions }
        }
    };
    Ok(AlarmChange {
        source,
        alarm_name: data.alarm_name,
        alarm_arn,
        account,
        region,
        state,
        previous_state,
        state_change_time,
        kind,
    })
}

fn from_sns(event: &Value) -> Result<AlarmChange, AppError> {
    let sns: SnsEvent = serde_json::from_value(event.clone()).map_err(|e| parse_error("SNS event", &e))?;
    let [record] = sns.records.as_slice() else {
        return Err(invalid(format!("SNS event with {} records; expected exactly one", sns.records.len())));
    };
    let msg: SnsAlarmMessage = serde_json::from_str(&record.sns.message)
        .map_err(|e| parse_error("SNS message (expected a CloudWatch alarm notification)", &e))?;
    let state = AlarmState::parse(&msg.new_state_value)
        .ok_or_else(|| invalid(format!("unknown alarm state {:?}", msg.new_state_value)))?;
    let previous_state = msg
        .old_state_value
        .as_deref()
        .map(|s| AlarmState::parse(s).ok_or_else(|| invalid(format!("unknown alarm state {s:?}"))))
        .transpose()?;
    let state_change_time = Timestamp::parse(&msg.state_change_time)
        .ok_or_else(|| invalid(format!("invalid StateChangeTime {:?}", msg.state_change_time)))?;
    let kind = if let Some(rule) = msg.alarm_rule {
        AlarmKind::Composite { rule }
    } else {
        let trigger = msg.trigger.unwrap_or_default();
        let dims = |d: &[CloudWatchDimension]| -> BTreeMap<String, String> {
            d.iter().map(|d| (d.name.clone(), d.value.clone())).collect()
        };
        let mut metrics = Vec::new();
        let mut expressions = Vec::new();
        if let Some(name) = trigger.metric_name {
            metrics.push(MetricRef { namespace: trigger.namespace, name, dimensions: dims(&trigger.dimensions) });
        }
        for q in trigger.metrics {
            if let Some(stat) = q.metric_stat {
                metrics.push(MetricRef {
                    namespace: stat.metric.namespace,
                    name: stat.metric.metric_name.unwrap_or_default(),
                    dimensions: dims(&stat.metric.dimensions),
                });
            } else if let Some(expr) = q.expression {
                expressions.push(expr);
            }
        }
        AlarmKind::Metric { metrics, expressions }
    };
    Ok(AlarmChange {
        source: AlarmSource::Sns,
        alarm_name: msg.alarm_name,
        alarm_arn: msg.alarm_arn,
        account: msg.account,
        region: None,
        state,
        previous_state,
        state_change_time,
        kind,
    })
}
