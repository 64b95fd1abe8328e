"""Test helper: create one of each kind of resource the course makes, tagged and named like the course.

Used by tests/test_teardown.py and tests/test_aws_target.py; calls only workshop.aws clients.
Returns {kind name as in workshop.teardown: set of ids} for exact assertions.
"""

from __future__ import annotations

import io
import json
import zipfile

from workshop import aws, tags

ASSUME_LAMBDA = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return buf.getvalue()


def create_all(run: str, stage: int = 5, region: str = "us-east-1") -> dict[str, set[str]]:
    """One resource of every kind teardown knows, all belonging to (run, stage)."""
    t = tags.tags(stage, run)
    tl = tags.tag_list(stage, run)
    n = lambda s: tags.name(s, run)  # noqa: E731
    made: dict[str, set[str]] = {}

    def add(kind, ident):
        made.setdefault(kind, set()).add(ident)

    def spec(rt):
        return [{"ResourceType": rt, "Tags": tl}]

    ec2 = aws.client("ec2", region=region)
    vpc = ec2.create_vpc(CidrBlock="10.42.0.0/16", TagSpecifications=spec("vpc"))["Vpc"]["VpcId"]
    add("ec2 vpc", vpc)
    subnets = []
    for i, az in enumerate(("a", "b")):
        sn = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=f"{region}{az}",
                               TagSpecifications=spec("subnet"))["Subnet"]["SubnetId"]
        subnets.append(sn)
        add("ec2 subnet", sn)
    igw = ec2.create_internet_gateway(TagSpecifications=spec("internet-gateway"))["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    add("ec2 internet gateway", igw)
    rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=spec("route-table"))["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=subnets[0])
    add("ec2 route table", rt)
    web_sg = ec2.create_security_group(GroupName=n("web"), Description="web", VpcId=vpc,
                                       TagSpecifications=spec("security-group"))["GroupId"]
    db_sg = ec2.create_security_group(GroupName=n("db"), Description="db", VpcId=vpc,
                                      TagSpecifications=spec("security-group"))["GroupId"]
    # each group names the other: teardown must revoke before it can delete
    ec2.authorize_security_group_ingress(GroupId=db_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306, "UserIdGroupPairs": [{"GroupId": web_sg}]}])
    ec2.authorize_security_group_ingress(GroupId=web_sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "UserIdGroupPairs": [{"GroupId": db_sg}]}])
    add("ec2 security group", web_sg)
    add("ec2 security group", db_sg)
    kp = ec2.create_key_pair(KeyName=n("key"), TagSpecifications=spec("key-pair"))["KeyPairId"]
    add("ec2 key pair", kp)

    ami = "ami-12c6146b"
    inst = ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1, InstanceType="t2.micro", SubnetId=subnets[0],
                             SecurityGroupIds=[web_sg],
                             TagSpecifications=[{"ResourceType": "instance", "Tags": tl + [{"Key": "Name", "Value": n("web")}]}]
                             )["Instances"][0]["InstanceId"]
    add("ec2 instance", inst)
    eip = ec2.allocate_address(Domain="vpc", TagSpecifications=spec("elastic-ip"))["AllocationId"]
    ec2.associate_address(AllocationId=eip, InstanceId=inst)
    add("ec2 elastic ip", eip)
    eni = ec2.create_network_interface(SubnetId=subnets[1], Groups=[web_sg], Description=n("spare-eni"),
                                       TagSpecifications=spec("network-interface"))["NetworkInterface"]["NetworkInterfaceId"]
    add("ec2 network interface", eni)

    lt = ec2.create_launch_template(LaunchTemplateName=n("web-lt"), TagSpecifications=spec("launch-template"),
                                    LaunchTemplateData={"ImageId": ami, "InstanceType": "t2.micro",
                                                        "SecurityGroupIds": [web_sg]})["LaunchTemplate"]["LaunchTemplateId"]
    add("ec2 launch template", lt)

    elbv2 = aws.client("elbv2", region=region)
    lb = elbv2.create_load_balancer(Name=n("alb"), Subnets=subnets, SecurityGroups=[web_sg], Tags=tl)[
        "LoadBalancers"][0]["LoadBalancerArn"]
    add("load balancer", lb)
    tg = elbv2.create_target_group(Name=n("tg"), Protocol="HTTP", Port=80, VpcId=vpc, Tags=tl)[
        "TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                          DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    add("target group", tg)

    asg = aws.client("autoscaling", region=region)
    asg.create_auto_scaling_group(AutoScalingGroupName=n("asg"), MinSize=2, MaxSize=4, DesiredCapacity=2,
                                  LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
                                  VPCZoneIdentifier=",".join(subnets), TargetGroupARNs=[tg],
                                  Tags=[{**x, "PropagateAtLaunch": True, "ResourceId": n("asg"),
                                         "ResourceType": "auto-scaling-group"} for x in tl])
    add("autoscaling group", n("asg"))

    cw = aws.client("cloudwatch", region=region)
    cw.put_metric_alarm(AlarmName=n("cpu-high"), MetricName="CPUUtilization", Namespace="AWS/EC2",
                        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=70,
                        ComparisonOperator="GreaterThanThreshold", Tags=tl)
    add("cloudwatch alarm", n("cpu-high"))

    rds = aws.client("rds", region=region)
    rds.create_db_subnet_group(DBSubnetGroupName=n("db-subnets"), DBSubnetGroupDescription="db",
                               SubnetIds=subnets, Tags=tl)
    add("rds db subnet group", n("db-subnets"))
    rds.create_db_instance(DBInstanceIdentifier=n("db"), DBInstanceClass="db.t3.micro", Engine="mysql",
                           MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                           MultiAZ=True, DBSubnetGroupName=n("db-subnets"), VpcSecurityGroupIds=[db_sg], Tags=tl)
    add("rds instance", n("db"))
    rds.create_db_instance_read_replica(DBInstanceIdentifier=n("db-replica-1"), SourceDBInstanceIdentifier=n("db"),
                                        DBInstanceClass="db.t3.micro", Tags=tl)
    add("rds instance (read replica)", n("db-replica-1"))

    ec = aws.client("elasticache", region=region)
    ec.create_cache_cluster(CacheClusterId=n("cache"), Engine="redis", CacheNodeType="cache.t3.micro",
                            NumCacheNodes=1, Tags=tl)
    add("elasticache cluster", n("cache"))

    s3 = aws.client("s3", region=region)
    where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    bucket = n("static")
    s3.create_bucket(Bucket=bucket, **where)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tl})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for i in range(3):
        s3.put_object(Bucket=bucket, Key="index.html", Body=f"v{i}".encode())
    s3.delete_object(Bucket=bucket, Key="index.html")  # a delete marker, too
    s3.put_object(Bucket=bucket, Key="app.css", Body=b"body{}")
    add("s3 bucket", bucket)
    logs_bucket = n("firehose-out")
    s3.create_bucket(Bucket=logs_bucket, **where)
    s3.put_bucket_tagging(Bucket=logs_bucket, Tagging={"TagSet": tl})
    add("s3 bucket", logs_bucket)

    cf = aws.client("cloudfront", region=region)
    dist = cf.create_distribution_with_tags(DistributionConfigWithTags={
        "DistributionConfig": {
            "CallerReference": n("cdn"), "Comment": n("cdn"), "Enabled": True,
            "Origins": {"Quantity": 1, "Items": [{"Id": "s3", "DomainName": f"{bucket}.s3.amazonaws.com",
                                                  "S3OriginConfig": {"OriginAccessIdentity": ""}}]},
            "DefaultCacheBehavior": {"TargetOriginId": "s3", "ViewerProtocolPolicy": "allow-all",
                                     "MinTTL": 0, "ForwardedValues": {"QueryString": False,
                                                                      "Cookies": {"Forward": "none"}},
                                     "TrustedSigners": {"Enabled": False, "Quantity": 0}}},
        "Tags": {"Items": tl}})["Distribution"]["Id"]
    add("cloudfront distribution", dist)

    ddb = aws.client("dynamodb", region=region)
    table = n("eventTable")
    arn = ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                           StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
                           Tags=tl)["TableDescription"]["TableArn"]
    add("dynamodb table", table)

    iam = aws.client("iam", region=region)
    role_arn = iam.create_role(RoleName=n("lambda-role"), AssumeRolePolicyDocument=ASSUME_LAMBDA, Tags=tl)["Role"]["Arn"]
    add("iam role", n("lambda-role"))
    pol = iam.create_policy(PolicyName=n("write-events"), Tags=tl, PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "dynamodb:PutItem", "Resource": arn}]}
    ))["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=n("lambda-role"), PolicyArn=pol)
    iam.put_role_policy(RoleName=n("lambda-role"), PolicyName="inline", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}]}))
    add("iam policy", pol)
    iam.create_instance_profile(InstanceProfileName=n("web-profile"), Tags=tl)
    web_role = iam.create_role(RoleName=n("web-role"), AssumeRolePolicyDocument=ASSUME_LAMBDA, Tags=tl)
    iam.add_role_to_instance_profile(InstanceProfileName=n("web-profile"), RoleName=n("web-role"))
    add("iam role", web_role["Role"]["RoleName"])
    add("iam instance profile", n("web-profile"))

    lam = aws.client("lambda", region=region)
    fn = n("writeToDynamoDB")
    lam.create_function(FunctionName=fn, Runtime="python3.12", Role=role_arn, Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Tags=t)
    add("lambda function", fn)
    fn2 = n("DynamoDBToFirehose")
    lam.create_function(FunctionName=fn2, Runtime="python3.12", Role=role_arn, Handler="handler.handler",
                        Code={"ZipFile": _zip()}, Tags=t)
    add("lambda function", fn2)
    stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    esm = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=fn2,
                                          StartingPosition="LATEST", Enabled=False)["UUID"]
    add("lambda event source mapping", esm)
    logs = aws.client("logs", region=region)
    logs.create_log_group(logGroupName=f"/aws/lambda/{fn}")  # as Lambda makes it: untagged
    add("cloudwatch log group", f"/aws/lambda/{fn}")

    fh = aws.client("firehose", region=region)
    fh.create_delivery_stream(DeliveryStreamName=n("firehoseToS3"), DeliveryStreamType="DirectPut",
                              ExtendedS3DestinationConfiguration={"RoleARN": role_arn,
                                                                  "BucketARN": f"arn:aws:s3:::{logs_bucket}"},
                              Tags=tl)
    add("firehose delivery stream", n("firehoseToS3"))

    apigw = aws.client("apigateway", region=region)
    api = apigw.create_rest_api(name=n("logger-api"), tags=t)["id"]
    add("api gateway rest api", api)

    r53 = aws.client("route53", region=region)
    zone = r53.create_hosted_zone(Name=f"{n('zone')}.example.com", CallerReference=n("zone"))["HostedZone"]["Id"]
    zid = zone.split("/")[-1]
    r53.change_tags_for_resource(ResourceType="hostedzone", ResourceId=zid, AddTags=tl)
    r53.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
        "Name": f"www.{n('zone')}.example.com", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "192.0.2.10"}]}}]})
    add("route53 hosted zone", zid)
    return made
