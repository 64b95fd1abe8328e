"""The local AWS evaluates CloudWatch alarms and runs their actions (workshop/localaws/ext/cloudwatch_alarms.py)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest


@pytest.fixture
def cw(local_aws):
    from workshop import aws

    return aws.client("cloudwatch")


def _alarm(cw, name, **extra):
    params = dict(AlarmName=name, Namespace="Test/Ext", MetricName=name, ComparisonOperator="GreaterThanThreshold",
                  EvaluationPeriods=2, Period=60, Threshold=70.0, Statistic="Average")
    params.update(extra)
    cw.put_metric_alarm(**params)


def _put(cw, name, values, start):
    cw.put_metric_data(Namespace="Test/Ext", MetricData=[
        {"MetricName": name, "Value": v, "Timestamp": start + timedelta(minutes=i)} for i, v in enumerate(values)])


def _state(cw, name):
    return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_a_new_alarm_has_insufficient_data(cw):
    """A new alarm starts in INSUFFICIENT_DATA, as on AWS (moto says OK)."""
    name = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, name)
    assert _state(cw, name)["StateValue"] == "INSUFFICIENT_DATA"


def test_alarm_goes_to_alarm_and_back_to_ok_as_data_arrives(cw):
    """Two breaching minutes put the alarm in ALARM with a Threshold Crossed reason; a calm minute brings OK."""
    name = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, name)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    _put(cw, name, [90.0], start)
    _put(cw, name, [95.0], start + timedelta(minutes=1))
    alarm = _state(cw, name)
    assert alarm["StateValue"] == "ALARM"
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 out of the last 2 datapoints")
    _put(cw, name, [10.0], start + timedelta(minutes=2))
    assert _state(cw, name)["StateValue"] == "OK"


def test_one_breaching_period_of_two_needed_stays_ok(cw):
    """With DatapointsToAlarm=2, one breaching minute next to a calm one is not enough."""
    name = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, name, DatapointsToAlarm=2)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    _put(cw, name, [10.0, 90.0], start)
    assert _state(cw, name)["StateValue"] == "OK"


def _scaling_group(local_aws, min_size=1, max_size=4):
    from workshop import aws

    ec2, asg = aws.client("ec2"), aws.client("autoscaling")
    tag = uuid.uuid4().hex[:8]
    ec2.create_launch_template(LaunchTemplateName=f"lt-{tag}",
                               LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
    name = f"asg-{tag}"
    asg.create_auto_scaling_group(AutoScalingGroupName=name, LaunchTemplate={"LaunchTemplateName": f"lt-{tag}"},
                                  MinSize=min_size, MaxSize=max_size, DesiredCapacity=min_size,
                                  AvailabilityZones=["us-east-1a", "us-east-1b"])
    return asg, name


def test_alarm_action_runs_a_simple_scaling_policy(cw, local_aws):
    """An alarm whose action is a scaling policy grows the group when it fires, and the activity says why."""
    asg, name = _scaling_group(local_aws)
    arn = asg.put_scaling_policy(AutoScalingGroupName=name, PolicyName=f"{name}-out", AdjustmentType="ChangeInCapacity",
                                 ScalingAdjustment=1, Cooldown=300)["PolicyARN"]
    _alarm(cw, f"{name}-high", MetricName="CPU", Dimensions=[{"Name": "AutoScalingGroupName", "Value": name}],
           AlarmActions=[arn], EvaluationPeriods=1)
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    cw.put_metric_data(Namespace="Test/Ext", MetricData=[{"MetricName": "CPU", "Value": 99.0, "Timestamp": start,
                                                          "Dimensions": [{"Name": "AutoScalingGroupName", "Value": name}]}])
    group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 2 and len(group["Instances"]) == 2
    cause = asg.describe_scaling_activities(AutoScalingGroupName=name)["Activities"][0]["Cause"]
    assert f"a monitor alarm {name}-high in state ALARM triggered policy {name}-out" in cause
    # still in ALARM a minute later: within the 300 s cooldown, so no second step
    cw.put_metric_data(Namespace="Test/Ext", MetricData=[{"MetricName": "CPU", "Value": 99.0, "Timestamp": start + timedelta(minutes=1),
                                                          "Dimensions": [{"Name": "AutoScalingGroupName", "Value": name}]}])
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["DesiredCapacity"] == 2


def test_target_tracking_scales_out_and_in_within_bounds(cw, local_aws):
    """Target tracking on a metric: high CPU scales out (capped at max), low CPU scales back in (not below min)."""
    asg, name = _scaling_group(local_aws, min_size=1, max_size=4)
    dims = [{"Name": "AutoScalingGroupName", "Value": name}]
    asg.put_scaling_policy(AutoScalingGroupName=name, PolicyName=f"{name}-tt", PolicyType="TargetTrackingScaling",
                           TargetTrackingConfiguration={"TargetValue": 50.0, "CustomizedMetricSpecification": {
                               "MetricName": "CPU", "Namespace": "Test/Ext", "Dimensions": dims, "Statistic": "Average"}})
    start = datetime.now(timezone.utc) - timedelta(hours=2)

    def minutes(value, first, count):
        cw.put_metric_data(Namespace="Test/Ext", MetricData=[
            {"MetricName": "CPU", "Value": value, "Dimensions": dims, "Timestamp": start + timedelta(minutes=first + i)}
            for i in range(count)])
        return asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["DesiredCapacity"]

    assert minutes(100.0, 0, 3) == 2  # 1 x 100/50
    assert minutes(100.0, 3, 3) == 4
    assert minutes(100.0, 6, 3) == 4  # max
    assert minutes(5.0, 9, 15) == 1  # min
    states = {a["AlarmName"].split("-Alarm")[1][:3]: a["StateValue"]
              for a in cw.describe_alarms(AlarmNamePrefix=f"TargetTracking-{name}-")["MetricAlarms"]}
    assert states == {"Hig": "OK", "Low": "ALARM"}


def test_set_alarm_state_runs_the_action(cw, local_aws):
    """SetAlarmState to ALARM runs the alarm's scaling policy, as AWS does."""
    asg, name = _scaling_group(local_aws)
    arn = asg.put_scaling_policy(AutoScalingGroupName=name, PolicyName=f"{name}-out", AdjustmentType="ExactCapacity",
                                 ScalingAdjustment=3)["PolicyARN"]
    _alarm(cw, f"{name}-manual", AlarmActions=[arn])
    cw.set_alarm_state(AlarmName=f"{name}-manual", StateValue="ALARM", StateReason="test")
    assert asg.describe_auto_scaling_groups(AutoScalingGroupNames=[name])["AutoScalingGroups"][0]["DesiredCapacity"] == 3


def test_plain_moto_never_changes_an_alarms_state():
    """moto 5.2.5 without the kit's layer creates alarms in OK and leaves them there after a breach."""
    from plain_moto import facts

    assert facts()["cloudwatch"] == {"created": "OK", "after_breach": "OK"}


def test_alarm_history_records_the_breach_and_the_action_as_aws_does(cw, local_aws):
    """After a breach, describe_alarm_history shows "Alarm updated from OK to ALARM" (HistoryData with old and
    new state) and the scaling action it ran, newest first."""
    import json

    asg, name = _scaling_group(local_aws)
    arn = asg.put_scaling_policy(AutoScalingGroupName=name, PolicyName=f"{name}-out", AdjustmentType="ChangeInCapacity",
                                 ScalingAdjustment=1)["PolicyARN"]
    alarm = f"{name}-hist"
    _alarm(cw, alarm, EvaluationPeriods=1, AlarmActions=[arn])
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    _put(cw, alarm, [10.0], start)
    _put(cw, alarm, [99.0], start + timedelta(minutes=1))
    items = cw.describe_alarm_history(AlarmName=alarm)["AlarmHistoryItems"]
    assert [(i["HistoryItemType"], i["HistorySummary"]) for i in items] == [
        ("Action", f"Successfully executed action {arn}"),
        ("StateUpdate", "Alarm updated from OK to ALARM"),
        ("StateUpdate", "Alarm updated from INSUFFICIENT_DATA to OK"),
    ]
    assert all(i["AlarmName"] == alarm and i["AlarmType"] == "MetricAlarm" for i in items)
    data = json.loads(items[1]["HistoryData"])
    assert (data["version"], data["oldState"]["stateValue"], data["newState"]["stateValue"]) == ("1.0", "OK", "ALARM")
    assert data["newState"]["stateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [99.0]
    action = json.loads(items[0]["HistoryData"])
    assert (action["actionState"], action["notificationResource"]) == ("Succeeded", arn)
    only = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate", MaxRecords=1,
                                     ScanBy="TimestampAscending")
    assert [i["HistorySummary"] for i in only["AlarmHistoryItems"]] == ["Alarm updated from INSUFFICIENT_DATA to OK"]
    assert only["NextToken"]


def test_alarm_history_answers_the_query_protocol_too(cw, local_aws):
    """An older client's query-protocol DescribeAlarmHistory gets XML that botocore's query parser reads."""
    import urllib.parse
    import urllib.request

    import botocore.session
    from botocore.parsers import create_parser

    alarm = f"a-{uuid.uuid4().hex[:8]}"
    _alarm(cw, alarm)
    cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="by hand")
    body = urllib.parse.urlencode({"Action": "DescribeAlarmHistory", "Version": "2010-08-01", "AlarmName": alarm})
    request = urllib.request.Request(local_aws.endpoint + "/", data=body.encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/monitoring/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        raw = {"status_code": answer.status, "headers": dict(answer.headers), "body": answer.read()}
    model = botocore.session.get_session().get_service_model("cloudwatch").operation_model("DescribeAlarmHistory")
    parsed = create_parser("query").parse(raw, model.output_shape)
    assert [i["HistorySummary"] for i in parsed["AlarmHistoryItems"]] == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
