"""What moto 5.2.5 does WITHOUT the kit's fidelity layer, measured once per test session in a
subprocess (the layer patches moto in-process, so plain moto must run in another process).
The ext tests assert these facts next to the fixed behaviour: if moto changes, they say so."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import tempfile

SCRIPT = r'''
import json
import os
from collections import Counter
from datetime import datetime, timezone
from workshop.localaws.server import LocalAWS

server = LocalAWS(extensions=False).start()
os.environ["WORKSHOP_ENDPOINT"] = server.endpoint  # the kit's client factory, pointed at plain moto
from workshop import aws

ec2, asg, cw, ec = aws.client("ec2"), aws.client("autoscaling"), aws.client("cloudwatch"), aws.client("elasticache")
vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.40.{i}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
           for i, az in enumerate(("us-east-1c", "us-east-1d"))]
ec2.create_launch_template(LaunchTemplateName="plain-lt", LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"})
asg.create_auto_scaling_group(AutoScalingGroupName="g", LaunchTemplate={"LaunchTemplateName": "plain-lt"}, MinSize=1,
                              MaxSize=4, DesiredCapacity=4, VPCZoneIdentifier=",".join(subnets))
asg.set_desired_capacity(AutoScalingGroupName="g", DesiredCapacity=9)
group = asg.describe_auto_scaling_groups(AutoScalingGroupNames=["g"])["AutoScalingGroups"][0]
facts = {"autoscaling": {"azs": Counter(i["AvailabilityZone"] for i in group["Instances"]),
                         "desired": group["DesiredCapacity"],
                         "activities": len(asg.describe_scaling_activities(AutoScalingGroupName="g")["Activities"])}}
cw.put_metric_alarm(AlarmName="a", Namespace="N", MetricName="M", ComparisonOperator="GreaterThanThreshold",
                    EvaluationPeriods=1, Period=60, Threshold=5, Statistic="Average")
created = cw.describe_alarms(AlarmNames=["a"])["MetricAlarms"][0]["StateValue"]
cw.put_metric_data(Namespace="N", MetricData=[{"MetricName": "M", "Value": 99.0, "Timestamp": datetime.now(timezone.utc)}])
facts["cloudwatch"] = {"created": created, "after_breach": cw.describe_alarms(AlarmNames=["a"])["MetricAlarms"][0]["StateValue"]}
ec.create_cache_subnet_group(CacheSubnetGroupName="csg", CacheSubnetGroupDescription="x", SubnetIds=subnets)
rg = ec.create_replication_group(ReplicationGroupId="rg", ReplicationGroupDescription="x", Engine="redis",
                                 CacheNodeType="cache.t3.micro", NumCacheClusters=2, CacheSubnetGroupName="csg",
                                 AutomaticFailoverEnabled=True)["ReplicationGroup"]
clusters = ec.describe_cache_clusters(ShowCacheNodeInfo=True)["CacheClusters"]
facts["elasticache"] = {"members": len(rg["MemberClusters"]), "clusters": len(clusters),
                        "nodes": sum(len(c.get("CacheNodes", [])) for c in clusters)}
print(json.dumps(facts))
server.stop()
'''


@functools.lru_cache(maxsize=1)
def facts() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKSHOP_")}
    env["WORKSHOP_HOME"] = tempfile.mkdtemp(prefix="plain-moto-")
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=180, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"plain moto probe failed: {out.stderr[-1500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
