"""Instances that serve the web app on the local AWS: state, AZ outages, CPU slots and CloudWatch metrics."""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import socket
import threading
import time
import urllib.request

import boto3
import pytest

from workshop.localaws.server import LocalAWS
from workshop.webapp import userdata
from workshop.webapp.cpu import Cpu, Overloaded

AMI = "ami-12c6146b"  # one of moto's default AMIs


# --- the CPU model, alone ------------------------------------------------------------------

def _timed(cpu: Cpu, n: int, seconds: float = 0.05) -> tuple[list[float], list[str]]:
    """Run n requests of `seconds` at once on `cpu`; each one's finish time and any refusals."""
    async def main():
        start = asyncio.get_running_loop().time()
        finished, refused = [], []

        async def one():
            try:
                await cpu.work(seconds)
                finished.append(asyncio.get_running_loop().time() - start)
            except Overloaded as exc:
                refused.append(str(exc))

        await asyncio.gather(*(one() for _ in range(n)))
        return sorted(finished), refused

    return asyncio.run(main())


def test_one_vcpu_serves_one_request_at_a_time():
    """With 1 vCPU, 4 requests of 50 ms finish at ~50, 100, 150, 200 ms, and 0.2 vCPU-seconds are counted."""
    cpu = Cpu(1)
    finished, refused = _timed(cpu, 4)
    assert not refused and finished[-1] >= 0.19 and finished[0] < 0.09
    assert cpu.busy_seconds == pytest.approx(0.2, abs=0.03)


def test_at_scale_k_a_request_does_k_requests_work():
    """Scale 4: one local request stands for 4, so it puts 4 x 50 ms on the vCPU; it is answered after
    its own 50 ms, and the next one after its 200 ms wait ÷ 4 + 50 ms (a real request's latency behind
    requests four times finer; throughput of K: 0.4 vCPU-seconds booked)."""
    cpu = Cpu(1, scale=lambda: 4)
    finished, _ = _timed(cpu, 2)
    assert finished[0] < 0.09 and 0.09 <= finished[1] < 0.2
    assert cpu.busy_seconds == pytest.approx(0.4, abs=0.03)
    more_vcpus, _ = _timed(Cpu(2, scale=lambda: 4), 2)
    assert more_vcpus[-1] < 0.09  # a second vCPU takes the second request at once


def test_past_the_wait_limit_requests_are_refused():
    """An overloaded instance refuses at once: a request that would wait past the limit raises Overloaded
    (the app answers 503) and books nothing."""
    cpu = Cpu(1, max_wait_s=0.075)
    finished, errors = _timed(cpu, 4)  # waits would be 0, 50, 100, 100 ms: the last two refused
    assert len(errors) == 2 and len(finished) == 2
    assert cpu.busy_seconds == pytest.approx(0.1, abs=0.01)


def test_costs_come_from_the_capacity_model():
    """A dynamic request holds 1/20 s (20 requests/s/vCPU), a static one a quarter of that, /health nothing."""
    cpu = Cpu(1)
    assert (cpu.cost("/"), cpu.cost("/static/app.css"), cpu.cost("/health")) == pytest.approx((0.05, 0.0125, 0.0))
    # as the model's _load counts them: a POST is an event (0.05 of a page), a page from the cache 0.2 of one
    assert (cpu.cost("/messages", "POST"), cpu.cost("/", "GET", "cache"), cpu.cost("/", "GET", "reader")) == \
        pytest.approx((0.0025, 0.01, 0.05))
    with pytest.raises(ValueError):
        Cpu(0)


# --- instances on a local AWS --------------------------------------------------------------

@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    server = LocalAWS().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ec2(aws):
    return boto3.client("ec2", region_name="us-east-1", endpoint_url=aws.endpoint,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def _wait(predicate, timeout=10.0):  # returns as soon as it holds: room for a slow CI machine
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    return predicate()


def _run(ec2, instance_type="t2.micro", config=None, subnet=None):
    kwargs = {"SubnetId": subnet} if subnet else {}
    out = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, InstanceType=instance_type,
                            UserData=userdata.build(config or {"sessions": "memory"}), **kwargs)
    return out["Instances"][0]


def _serving(aws, instance):
    return _wait(lambda: aws.dataplane.find("instance", instance["InstanceId"]))


def _get(url, path="/whoami", timeout=2):
    with urllib.request.urlopen(url + path, timeout=timeout) as r:
        return r.status, dict(r.headers), r.read().decode()


def _refused(port) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True


def _listing(aws):
    with urllib.request.urlopen(f"{aws.endpoint}/_workshop/endpoints", timeout=5) as r:
        return [e for e in json.load(r)["endpoints"] if e["kind"] == "instance"]


def _post(aws, path, body):
    req = urllib.request.Request(f"{aws.endpoint}{path}", data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


@pytest.mark.slow
def test_a_running_instance_serves_the_app_with_its_id_and_az(aws, ec2):
    """An instance run with the kit's user data answers on its endpoint; one without the marker does not."""
    instance = _run(ec2)
    endpoint = _wait(lambda: aws.dataplane.find("instance", instance["InstanceId"]))
    assert endpoint is not None
    status, headers, body = _get(endpoint.url)
    assert json.loads(body) == {"instance_id": instance["InstanceId"], "az": instance["Placement"]["AvailabilityZone"],
                                "session_views": 1}
    assert headers["X-Instance-Id"] == instance["InstanceId"]
    assert endpoint.details["instance_type"] == "t2.micro" and endpoint.details["vcpus"] == 1
    assert instance["PrivateDnsName"] in endpoint.names and aws.dataplane.by_host(instance["PrivateDnsName"]) == endpoint
    plain = ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1, UserData="#!/bin/bash\necho hi\n")["Instances"][0]
    time.sleep(0.5)
    assert aws.dataplane.find("instance", plain["InstanceId"]) is None


@pytest.mark.slow
def test_stop_refuses_start_serves_terminate_withdraws(aws, ec2):
    """Stopped: connection refused within 1 s and open connections dropped; started: answers on the same port;
    terminated: gone from /_workshop/endpoints."""
    instance_id = _run(ec2)["InstanceId"]
    endpoint = _wait(lambda: aws.dataplane.find("instance", instance_id))
    kept = http.client.HTTPConnection("127.0.0.1", endpoint.port, timeout=2)
    kept.request("GET", "/health")
    assert kept.getresponse().read() == b"ok"
    ec2.stop_instances(InstanceIds=[instance_id])
    began = time.monotonic()
    assert _wait(lambda: _refused(endpoint.port), timeout=1.0), "still answering 1 s after StopInstances"
    assert time.monotonic() - began < 1.0
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        kept.request("GET", "/health")
        kept.getresponse().read()
    kept.close()
    ec2.start_instances(InstanceIds=[instance_id])
    again = _wait(lambda: aws.dataplane.find("instance", instance_id))
    assert again is not None and again.port == endpoint.port and _get(again.url, "/health")[2] == "ok"
    ec2.terminate_instances(InstanceIds=[instance_id])
    assert _wait(lambda: instance_id not in [e["resource_id"] for e in _listing(aws)], timeout=1.0)
    assert _refused(endpoint.port)


@pytest.mark.slow
def test_an_az_that_is_down_answers_nothing_though_ec2_says_running(aws, ec2):
    """POST /_workshop/dataplane/az takes every instance of an AZ dark (EC2 still says running) and brings it back."""
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet_b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="us-east-1b")["Subnet"]["SubnetId"]
    subnet_c = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.2.0/24", AvailabilityZone="us-east-1c")["Subnet"]["SubnetId"]
    in_b, in_c = _run(ec2, subnet=subnet_b)["InstanceId"], _run(ec2, subnet=subnet_c)["InstanceId"]
    b = _wait(lambda: aws.dataplane.find("instance", in_b))
    c = _wait(lambda: aws.dataplane.find("instance", in_c))
    try:
        assert _post(aws, "/_workshop/dataplane/az", {"az": "us-east-1b", "down": True}) == (200, {"down": ["us-east-1b"]})
        assert _refused(b.port) and aws.dataplane.find("instance", in_b) is None
        assert _get(c.url)[0] == 200
        state = ec2.describe_instances(InstanceIds=[in_b])["Reservations"][0]["Instances"][0]["State"]["Name"]
        assert state == "running"
        status, body = _post(aws, "/_workshop/dataplane/az", {"az": "Atlantis"})
        assert status == 400 and "us-east-1a" in body["message"]
    finally:
        _post(aws, "/_workshop/dataplane/az", {"az": "us-east-1b", "down": False})
    assert _get(_wait(lambda: aws.dataplane.find("instance", in_b)).url)[0] == 200
    ec2.terminate_instances(InstanceIds=[in_b, in_c])


def _concurrent(url, n, path="/whoami"):
    """n requests at once; (seconds each took, statuses)."""
    times, statuses = [None] * n, [None] * n
    began = time.monotonic()

    def one(i):
        try:
            statuses[i] = _get(url, path, timeout=5)[0]
        except urllib.error.HTTPError as exc:
            statuses[i] = exc.code
        times[i] = time.monotonic() - began

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(times), statuses


@pytest.mark.slow
def test_cpu_slots_follow_the_instance_type(aws, ec2):
    """1 vCPU (t2.micro): the 4th of 4 concurrent dynamic requests ends after ~4 x 50 ms; 4 vCPUs (c4.xlarge): ~50 ms."""
    micro, big = _serving(aws, _run(ec2, "t2.micro")), _serving(aws, _run(ec2, "c4.xlarge"))
    _get(micro.url, "/health"), _get(big.url, "/health")  # warm
    times, statuses = _concurrent(micro.url, 4)
    assert statuses == [200] * 4 and times[-1] >= 0.19, times
    times, statuses = _concurrent(big.url, 4)
    assert statuses == [200] * 4 and times[-1] < 0.17, times
    ec2.terminate_instances(InstanceIds=[micro.resource_id, big.resource_id])


@pytest.mark.slow
def test_cpu_utilization_reaches_cloudwatch_per_instance_and_per_group(aws, ec2):
    """After traffic, AWS/EC2 CPUUtilization has a datapoint > 0 for the instance and for its Auto Scaling group."""
    kw = {"region_name": "us-east-1", "endpoint_url": aws.endpoint,
          "aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    asg, cw = boto3.client("autoscaling", **kw), boto3.client("cloudwatch", **kw)
    data = base64.b64encode(userdata.build({"sessions": "memory"}).encode()).decode()
    ec2.create_launch_template(LaunchTemplateName="sbs-t-web", LaunchTemplateData={
        "ImageId": AMI, "InstanceType": "t2.micro", "UserData": data})
    asg.create_auto_scaling_group(AutoScalingGroupName="sbs-t-asg", MinSize=1, MaxSize=2, DesiredCapacity=1,
                                  LaunchTemplate={"LaunchTemplateName": "sbs-t-web"},
                                  AvailabilityZones=["us-east-1a"])
    instance_id = asg.describe_auto_scaling_groups(
        AutoScalingGroupNames=["sbs-t-asg"])["AutoScalingGroups"][0]["Instances"][0]["InstanceId"]
    endpoint = _wait(lambda: aws.dataplane.find("instance", instance_id))
    assert endpoint is not None and endpoint.details["autoscaling_group"] == "sbs-t-asg"
    _concurrent(endpoint.url, 8)
    status, body = _post(aws, "/_workshop/dataplane/metrics", {})  # publish now (a background round may have)
    assert status == 200 and {p["dimension"] for p in body["published"]} >= {instance_id, "sbs-t-asg"}

    def stat(name, value):
        now = time.time()
        points = cw.get_metric_statistics(Namespace="AWS/EC2", MetricName="CPUUtilization",
                                          Dimensions=[{"Name": name, "Value": value}], StartTime=now - 600,
                                          EndTime=now + 60, Period=60, Statistics=["Maximum"])["Datapoints"]
        return max((p["Maximum"] for p in points), default=0)

    assert _wait(lambda: stat("InstanceId", instance_id) > 0 and stat("AutoScalingGroupName", "sbs-t-asg") > 0)
    assert stat("AutoScalingGroupName", "sbs-t-asg") == stat("InstanceId", instance_id)  # its only instance
    asg.delete_auto_scaling_group(AutoScalingGroupName="sbs-t-asg", ForceDelete=True)
    assert _wait(lambda: aws.dataplane.find("instance", instance_id) is None)


@pytest.mark.slow
def test_overload_answers_503():
    """Past the queue limit an instance answers 503 (1 vCPU, 30 concurrent: the line holds 20)."""
    aws = LocalAWS().start()
    try:
        ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=aws.endpoint,
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        endpoint = _serving(aws, _run(ec2))
        _, statuses = _concurrent(endpoint.url, 30)
        assert 503 in statuses and 200 in statuses and set(statuses) <= {200, 503}
    finally:
        aws.stop()


@pytest.mark.slow
def test_a_box_with_its_own_database_keeps_it_while_stopped(aws, ec2):
    """DB writer `localhost` (stages 1-2): the box's own MySQL stores messages; they survive stop/start."""
    config = {"sessions": "memory", "db": {"writer": "localhost", "user": "sbs", "password": "pw", "database": "sbs"}}
    instance_id = _run(ec2, config=config)["InstanceId"]
    endpoint = _serving(aws, {"InstanceId": instance_id})
    req = urllib.request.Request(endpoint.url + "/messages", data=b"text=day+one", method="POST")
    with urllib.request.urlopen(req, timeout=5) as r:  # follows the 303
        assert "day one" in r.read().decode()
    ec2.stop_instances(InstanceIds=[instance_id])
    assert _wait(lambda: aws.dataplane.find("instance", instance_id) is None)
    ec2.start_instances(InstanceIds=[instance_id])
    again = _serving(aws, {"InstanceId": instance_id})
    status, headers, body = _get(again.url, "/")
    assert "day one" in body and headers["X-Data-Source"] == "writer"
    ec2.terminate_instances(InstanceIds=[instance_id])
    assert _wait(lambda: all(k[2] != instance_id for k in aws.ec2_web.onbox))


@pytest.mark.slow
def test_new_user_data_while_stopped_reconfigures_the_app(aws, ec2):
    """Stop, modify the user data (refused while running, as on AWS), start: the instance serves the new config."""
    instance_id = _run(ec2)["InstanceId"]
    _serving(aws, {"InstanceId": instance_id})
    new = userdata.build({"sessions": "memory", "db": {"writer": "sbs-t-db.x.us-east-1.rds.amazonaws.com"}})
    with pytest.raises(ec2.exceptions.ClientError, match="IncorrectInstanceState"):
        ec2.modify_instance_attribute(InstanceId=instance_id, UserData={"Value": new.encode()})
    ec2.stop_instances(InstanceIds=[instance_id])
    assert _wait(lambda: aws.dataplane.find("instance", instance_id) is None)
    ec2.modify_instance_attribute(InstanceId=instance_id, UserData={"Value": new.encode()})
    ec2.start_instances(InstanceIds=[instance_id])
    body = _get(_serving(aws, {"InstanceId": instance_id}).url, "/")[2]
    assert "the writer sbs-t-db.x.us-east-1.rds.amazonaws.com:3306 does not answer" in body
    ec2.terminate_instances(InstanceIds=[instance_id])


@pytest.mark.slow
def test_a_quick_stop_and_start_with_a_new_type_serves_with_the_new_cpu(aws, ec2):
    """Stop, change the type, start within one reconcile round (as moto's instant states allow): the
    instance serves again with the new type's vCPUs."""
    instance_id = _run(ec2, "t2.micro")["InstanceId"]
    assert _serving(aws, {"InstanceId": instance_id}).details["vcpus"] == 1
    aws.ec2_web._lock.acquire()  # hold the reconcile loop so the whole change happens between two rounds
    try:
        ec2.stop_instances(InstanceIds=[instance_id])
        ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "c4.xlarge"})
        ec2.start_instances(InstanceIds=[instance_id])
    finally:
        aws.ec2_web._lock.release()
    def four_vcpus():
        endpoint = aws.dataplane.find("instance", instance_id)
        return endpoint is not None and endpoint.details["vcpus"] == 4

    assert _wait(four_vcpus)
    ec2.terminate_instances(InstanceIds=[instance_id])


@pytest.mark.slow
def test_stop_refuses_and_start_serves_as_soon_as_the_call_answers(aws, ec2):
    """No reconcile round to wait for: refused right after StopInstances returns, and right after StartInstances
    the box answers with its new type (a resize never reaches the box of before the restart)."""
    instance_id = _run(ec2)["InstanceId"]
    endpoint = _serving(aws, {"InstanceId": instance_id})
    ec2.stop_instances(InstanceIds=[instance_id])
    assert _refused(endpoint.port)
    ec2.modify_instance_attribute(InstanceId=instance_id, InstanceType={"Value": "m4.xlarge"})
    ec2.start_instances(InstanceIds=[instance_id])
    again = aws.dataplane.find("instance", instance_id)
    assert again is not None and again.details["instance_type"] == "m4.xlarge"
    assert _get(again.url, "/health")[2] == "ok"
    ec2.terminate_instances(InstanceIds=[instance_id])


@pytest.mark.slow
def test_the_public_name_follows_an_elastic_ip(aws, ec2):
    """Associating an Elastic IP renames the serving box at once (same port, no restart): it answers as the
    address's public DNS name, and keeps it through a stop and start."""
    instance_id = _run(ec2)["InstanceId"]
    endpoint = _serving(aws, {"InstanceId": instance_id})
    address = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=address["AllocationId"], InstanceId=instance_id)
    name = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["PublicDnsName"]
    assert address["PublicIp"].replace(".", "-") in name
    renamed = aws.dataplane.by_host(name)
    assert renamed is not None and renamed.resource_id == instance_id and renamed.port == endpoint.port
    ec2.stop_instances(InstanceIds=[instance_id])
    ec2.start_instances(InstanceIds=[instance_id])
    assert aws.dataplane.by_host(name).resource_id == instance_id
    ec2.terminate_instances(InstanceIds=[instance_id])
    ec2.release_address(AllocationId=address["AllocationId"])


def test_session_writes_go_straight_to_the_backend_with_the_api_s_answers(local_aws):
    """The data plane's DynamoDB client (ext/_dynamo_direct.py) counts a session's views as the API does,
    what it wrote reads back through the API, and a missing table is AWS's own error."""
    import botocore.exceptions

    from workshop import aws, config
    from workshop.localaws.ext._dynamo_direct import Direct
    from workshop.webapp.sessions import DynamoSessions

    client = aws.client("dynamodb", "us-east-1", target=config.target("local", endpoint=local_aws.endpoint))
    client.create_table(TableName="direct-sessions", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}])
    direct = Direct(client, "us-east-1")
    sessions = DynamoSessions(direct, "direct-sessions", clock=lambda: 1000)
    assert [sessions.visit("abcdefgh"), sessions.visit("abcdefgh"), sessions.visit("zyxwvuts")] == [1, 2, 1]
    item = client.get_item(TableName="direct-sessions", Key={"session_id": {"S": "abcdefgh"}})["Item"]
    assert item["views"] == {"N": "2"} and int(item["expires_at"]["N"]) > 1000
    with pytest.raises(botocore.exceptions.ClientError, match="ResourceNotFound"):
        DynamoSessions(direct, "no-such-table").visit("abcdefgh")


def test_the_session_update_skips_moto_s_parser_and_answers_as_the_api(local_aws, monkeypatch):
    """`SET #e = :x ADD #v :n` on a hash-key table is applied to moto's item directly (moto's update_item is not
    called), with the API's results: a new item, a number added (3, not always 1), 8 threads x 50 visits counted
    to 400 (atomic, as DynamoDB's ADD); ADD to a string is still the API's ValidationException (moto decides)."""
    import threading

    import botocore.exceptions
    from moto.dynamodb.models import DynamoDBBackend

    from workshop import aws, config
    from workshop.localaws.ext._dynamo_direct import Direct

    client = aws.client("dynamodb", "us-east-1", target=config.target("local", endpoint=local_aws.endpoint))
    client.create_table(TableName="fast-sessions", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}])
    direct = Direct(client, "us-east-1")
    calls = []
    original = DynamoDBBackend.update_item
    monkeypatch.setattr(DynamoDBBackend, "update_item", lambda self, *a, **k: calls.append(a) or original(self, *a, **k))

    def visit(who, client_, add="1", expires="2000"):
        return client_.update_item(
            TableName="fast-sessions", Key={"session_id": {"S": who}}, UpdateExpression="SET #e = :x ADD #v :n",
            ExpressionAttributeNames={"#v": "views", "#e": "expires_at"},
            ExpressionAttributeValues={":n": {"N": add}, ":x": {"N": expires}}, ReturnValues="UPDATED_NEW")

    assert visit("fast-1", direct)["Attributes"]["views"] == {"N": "1"}
    assert visit("fast-1", direct, add="3", expires="3000")["Attributes"]["views"] == {"N": "4"}
    assert visit("api-1", client)["Attributes"]["views"] == {"N": "1"}  # the API's own path, for comparison
    assert visit("api-1", client, add="3", expires="3000")["Attributes"]["views"] == {"N": "4"}
    api_calls = len(calls)
    assert api_calls == 2  # only the two through the API reached moto's update_item
    fast, api = (client.get_item(TableName="fast-sessions", Key={"session_id": {"S": k}})["Item"] for k in ("fast-1", "api-1"))
    assert {k: v for k, v in fast.items() if k != "session_id"} == {k: v for k, v in api.items() if k != "session_id"}
    threads = [threading.Thread(target=lambda: [visit("busy", direct) for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert client.get_item(TableName="fast-sessions", Key={"session_id": {"S": "busy"}})["Item"]["views"] == {"N": "400"}
    assert len(calls) == api_calls
    client.put_item(TableName="fast-sessions", Item={"session_id": {"S": "odd"}, "views": {"S": "many"}})
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationException"):
        visit("odd", direct)
    with pytest.raises(botocore.exceptions.ClientError, match="ValidationException"):
        visit("odd", client)
