"""EC2 Auto Scaling scaled by a CloudWatch alarm, with the CLI steps of AWS's user guides."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from tutorial_cli import wait_for

pytestmark = pytest.mark.slow

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"


def test_a_breaching_metric_fires_the_alarm_and_the_simple_policy_adds_capacity(cli):
    """Create a launch template for an Auto Scaling group
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/create-launch-template.html, AMI from the public SSM
    parameter), Create an Auto Scaling group using a launch template
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/create-asg-launch-template.html), Step and simple
    scaling policies for Amazon EC2 Auto Scaling
    (https://docs.aws.amazon.com/autoscaling/ec2/userguide/as-scaling-simple-step.html: `put-scaling-policy`
    simple scaling, then `put-metric-alarm --alarm-actions <PolicyARN>`), Publish custom metrics
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/publishingMetrics.html: `put-metric-data`)
    and Viewing alarm history (CloudWatch User Guide: `describe-alarm-history`). Outcome: two breaching periods
    put the alarm in ALARM, its action runs the policy, the desired capacity goes from 1 to 2 with a
    scaling activity, and the alarm's history shows the state change and the action.
    Deviations: the metric is a custom one published by hand (instances on the local AWS send no
    CPUUtilization, and AWS refuses put-metric-data in the AWS/ namespaces); the datapoints carry the last
    two minutes' timestamps instead of waiting two real periods."""
    ami = cli("ssm", "get-parameters", "--names", AMI_PARAMETER)["Parameters"][0]["Value"]
    cli("ec2", "create-launch-template", "--launch-template-name", "my-template-for-auto-scaling",
        "--version-description", "version1",
        "--launch-template-data", json.dumps({"ImageId": ami, "InstanceType": "t2.micro"}))
    subnets = [s["SubnetId"] for s in cli("ec2", "describe-subnets", "--filters", "Name=default-for-az,Values=true")["Subnets"]]
    cli("autoscaling", "create-auto-scaling-group", "--auto-scaling-group-name", "my-asg",
        "--launch-template", "LaunchTemplateName=my-template-for-auto-scaling,Version=$Default",
        "--min-size", "1", "--max-size", "3", "--desired-capacity", "1", "--vpc-zone-identifier", ",".join(subnets[:2]))
    group = cli("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "my-asg")["AutoScalingGroups"][0]
    assert group["DesiredCapacity"] == 1 and len(group["Instances"]) == 1

    policy = cli("autoscaling", "put-scaling-policy", "--policy-name", "my-simple-scale-out-policy",
                 "--auto-scaling-group-name", "my-asg", "--policy-type", "SimpleScaling",
                 "--adjustment-type", "ChangeInCapacity", "--scaling-adjustment", "1", "--cooldown", "300")
    cli("cloudwatch", "put-metric-alarm", "--alarm-name", "Simple-Scaling-AlarmHigh-AddCapacity",
        "--metric-name", "RequestLoad", "--namespace", "MyApp", "--statistic", "Average",
        "--period", "60", "--evaluation-periods", "2", "--threshold", "70",
        "--comparison-operator", "GreaterThanThreshold", "--dimensions", "Name=AutoScalingGroupName,Value=my-asg",
        "--alarm-actions", policy["PolicyARN"])
    alarm = cli("cloudwatch", "describe-alarms", "--alarm-names", "Simple-Scaling-AlarmHigh-AddCapacity")["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA" and alarm["AlarmActions"] == [policy["PolicyARN"]]

    now = datetime.now(timezone.utc).replace(second=30, microsecond=0)
    for minutes_ago in (1, 0):
        cli("cloudwatch", "put-metric-data", "--namespace", "MyApp", "--metric-name", "RequestLoad",
            "--dimensions", "AutoScalingGroupName=my-asg", "--value", "90", "--unit", "Percent",
            "--timestamp", (now - timedelta(minutes=minutes_ago)).isoformat())
        time.sleep(0.1)

    def state():
        return cli("cloudwatch", "describe-alarms", "--alarm-names", "Simple-Scaling-AlarmHigh-AddCapacity",
                   )["MetricAlarms"][0]["StateValue"] == "ALARM"

    assert wait_for(state, timeout=15), "the alarm did not go to ALARM"

    def scaled():
        g = cli("autoscaling", "describe-auto-scaling-groups", "--auto-scaling-group-names", "my-asg")["AutoScalingGroups"][0]
        return g if g["DesiredCapacity"] == 2 and len(g["Instances"]) == 2 else None

    assert wait_for(scaled, timeout=15), "the desired capacity did not go from 1 to 2"
    activities = cli("autoscaling", "describe-scaling-activities", "--auto-scaling-group-name", "my-asg")["Activities"]
    assert any("Simple-Scaling-AlarmHigh-AddCapacity" in a.get("Cause", "") and "from 1 to 2" in a["Cause"]
               for a in activities), [a.get("Cause") for a in activities]

    history = cli("cloudwatch", "describe-alarm-history", "--alarm-name", "Simple-Scaling-AlarmHigh-AddCapacity")
    items = history["AlarmHistoryItems"]
    updates = [i for i in items if i["HistoryItemType"] == "StateUpdate"]
    assert any(i["HistorySummary"].endswith("to ALARM") for i in updates), [i["HistorySummary"] for i in items]
    to_alarm = next(i for i in updates if i["HistorySummary"].endswith("to ALARM"))
    assert json.loads(to_alarm["HistoryData"])["newState"]["stateValue"] == "ALARM"
    assert any(i["HistoryItemType"] == "Action" and policy["PolicyARN"] in i["HistorySummary"] for i in items)
