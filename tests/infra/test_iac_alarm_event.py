"""The alarm template.yaml creates is one the detector acts on: each alarm band, rendered as the
"CloudWatch Alarm State Change" event EventBridge delivers for it, is classified by the real
detector code (`autoheal incident`, offline) as an MSKClusterCapacityInsufficient incident of the
cluster named in ClusterArn - and the same alarm back in OK is not.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import iac_tools

CLUSTER_ARN = iac_tools.SAMPLE_PARAMETERS["ClusterArn"]
CLUSTER_NAME = CLUSTER_ARN.split("/")[1]


def _resolve(value: Any, params: dict[str, Any]) -> Any:
    """The few intrinsics an alarm definition uses, resolved as CloudFormation would."""
    if isinstance(value, dict):
        if "Ref" in value:
            return params[value["Ref"]]
        if "Fn::Select" in value:
            index, items = value["Fn::Select"]
            return _resolve(items, params)[index]
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, extra = (sub, {}) if isinstance(sub, str) else (sub[0], _resolve(sub[1], params))
            names = {**params, "AWS::StackName": "msk-autoheal", **extra}
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(names[m.group(1)]), text)
        if "Fn::Split" in value:
            sep, text = value["Fn::Split"]
            return _resolve(text, params).split(sep)
        return {k: _resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, params) for v in value]
    return value


def alarm_event(tpl: dict[str, Any], alarm_id: str, state: str) -> dict[str, Any]:
    params = {name: p.get("Default") for name, p in tpl["Parameters"].items()}
    params["ClusterArn"] = CLUSTER_ARN
    props = tpl["Resources"][alarm_id]["Properties"]
    name = f"msk-autoheal-{alarm_id}"
    metrics = []
    for m in _resolve(props["Metrics"], params):
        if "Expression" in m:
            metrics.append({"id": m["Id"], "expression": m["Expression"], "label": m.get("Label", m["Id"]),
                            "returnData": m["ReturnData"]})
        else:
            stat = m["MetricStat"]
            metric = stat["Metric"]
            metrics.append({"id": m["Id"], "returnData": m["ReturnData"], "metricStat": {
                "metric": {"namespace": metric["Namespace"], "name": metric["MetricName"],
                           "dimensions": {d["Name"]: d["Value"] for d in metric["Dimensions"]}},
                "period": int(stat["Period"]), "stat": stat["Stat"]}})
    arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    return {
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
        "account": "123456789012", "time": "2026-11-25T18:00:00Z", "region": "us-east-1", "resources": [arn],
        "detail": {
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2026-11-25T18:00:00.412+0000"},
            "previousState": {"value": "OK" if state == "ALARM" else "ALARM", "reason": "Threshold Crossed",
                              "timestamp": "2026-11-25T17:40:00.101+0000"},
            "configuration": {"description": _resolve(props.get("AlarmDescription", ""), params), "metrics": metrics},
        },
    }


def classify(event: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event), encoding="utf-8")
    proc = iac_tools.run(["cargo", "run", "--locked", "-q", "-p", "autoheal", "--", "incident", "--event", str(path)],
                         what="autoheal incident (the detector's classification)", timeout=1800)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def alarm_ids(tpl: dict[str, Any]) -> list[str]:
    return sorted(k for k, v in tpl["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm")


def test_every_alarm_band_into_alarm_is_an_incident_of_the_stacks_cluster(tpl, alarm_ids, tmp_path) -> None:
    for alarm_id in alarm_ids:
        out = classify(alarm_event(tpl, alarm_id, "ALARM"), tmp_path)
        assert out.get("action") == "remediate", f"{alarm_id}: the detector would not act on it: {out}"
        assert out.get("incident_type") == "MSKClusterCapacityInsufficient", out
        assert out.get("cluster_name") == CLUSTER_NAME, f"{alarm_id}: incident not about {CLUSTER_NAME}: {out}"


def test_the_alarm_back_in_ok_is_no_incident(tpl, alarm_ids, tmp_path) -> None:
    out = classify(alarm_event(tpl, alarm_ids[0], "OK"), tmp_path)
    assert out.get("action") != "remediate", out
