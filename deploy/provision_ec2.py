"""Provision the AWS side of a deployment, idempotently: security group, artifact bucket, IAM role
and instance profile limited to that bucket, and the instance (current AMI from SSM, cloud-init).

    python deploy/provision_ec2.py --region eu-west-1 --key-name my-key --admin-cidr 203.0.113.7/32
    python deploy/provision_ec2.py ... --dry-run     # say what would change, change nothing

Run it again at any time: what exists is found and kept, what is missing is created, and the
security group's ingress is brought back to exactly: the gateway port from anywhere, SSH and the
MLflow UI from --admin-cidr.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from housing.defaults import GATEWAY_PORT, MLFLOW_PORT

ECR_HOST_PLACEHOLDER = "ECR_REGISTRY_HOST"  # in cloud-init.yaml; replaced with the account's

AMI_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
ASSUME_EC2 = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
ECR_READ_ONLY = "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"


@dataclass
class Plan:
    dry_run: bool
    actions: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)

    def do(self, description: str, call, *args, **kwargs):
        self.actions.append(("would " if self.dry_run else "") + description)
        return None if self.dry_run else call(*args, **kwargs)


def bucket_policy(bucket: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }


def ensure_security_group(
    ec2, plan: Plan, name: str, vpc_id: str, gateway_port: int, admin_cidr: str
) -> str | None:
    found = ec2.describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["SecurityGroups"]
    if found:
        group_id, current = found[0]["GroupId"], found[0]["IpPermissions"]
    else:
        created = plan.do(
            f"create security group {name} in {vpc_id}",
            ec2.create_security_group,
            GroupName=name,
            Description="housing-mlops: gateway, SSH, MLflow UI",
            VpcId=vpc_id,
        )
        group_id, current = (created or {}).get("GroupId"), []
    wanted = [
        _rule(gateway_port, "0.0.0.0/0", "gateway (the public API)"),
        _rule(22, admin_cidr, "SSH for deploys"),
        _rule(MLFLOW_PORT, admin_cidr, "MLflow UI"),
    ]
    key = lambda r: (r["FromPort"], r["IpRanges"][0]["CidrIp"])  # noqa: E731
    have = {(p.get("FromPort"), ip["CidrIp"]) for p in current for ip in p.get("IpRanges", [])}
    missing = [r for r in wanted if key(r) not in have]
    extra = [
        p
        for p in current
        if any(
            (p.get("FromPort"), ip["CidrIp"]) not in {key(r) for r in wanted}
            for ip in p.get("IpRanges", [])
        )
        or p.get("Ipv6Ranges")
        or p.get("UserIdGroupPairs")
    ]
    if extra and group_id:
        plan.do(
            f"revoke {len(extra)} unexpected ingress rule(s) on {name}",
            ec2.revoke_security_group_ingress,
            GroupId=group_id,
            IpPermissions=extra,
        )
    if missing:
        ports = ", ".join(str(r["FromPort"]) for r in missing)
        plan.do(
            f"open port(s) {ports} on {name}",
            ec2.authorize_security_group_ingress,
            GroupId=group_id or "sg-planned",
            IpPermissions=missing,
        )
    return group_id


def _rule(port: int, cidr: str, why: str) -> dict:
    return {
        "IpProtocol": "tcp",
        "FromPort": port,
        "ToPort": port,
        "IpRanges": [{"CidrIp": cidr, "Description": why}],
    }


def ensure_bucket(s3, plan: Plan, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
        return
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs = (
        {}
        if region == "us-east-1"
        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    )
    plan.do(f"create bucket {bucket}", s3.create_bucket, Bucket=bucket, **kwargs)
    plan.do(
        f"block public access on {bucket}",
        s3.put_public_access_block,
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )


def ensure_role(iam, plan: Plan, name: str, bucket: str, ecr: bool) -> str:
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        plan.do(
            f"create role {name}",
            iam.create_role,
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(ASSUME_EC2),
        )
    policy_name, wanted = f"{name}-artifacts", bucket_policy(bucket)
    try:
        current = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        current = json.loads(current) if isinstance(current, str) else current
    except iam.exceptions.NoSuchEntityException:
        current = None
    if current != wanted:
        plan.do(
            f"limit role {name} to bucket {bucket}",
            iam.put_role_policy,
            RoleName=name,
            PolicyName=policy_name,
            PolicyDocument=json.dumps(wanted),
        )
    if ecr:
        try:
            attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
        except iam.exceptions.NoSuchEntityException:
            attached = []
        if ECR_READ_ONLY not in [a["PolicyArn"] for a in attached]:
            plan.do(
                f"let role {name} pull from ECR",
                iam.attach_role_policy,
                RoleName=name,
                PolicyArn=ECR_READ_ONLY,
            )
    try:
        profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    except iam.exceptions.NoSuchEntityException:
        plan.do(
            f"create instance profile {name}", iam.create_instance_profile, InstanceProfileName=name
        )
        profile = {"Roles": []}
    if name not in [r["RoleName"] for r in profile.get("Roles", [])]:
        plan.do(
            f"add role {name} to instance profile {name}",
            iam.add_role_to_instance_profile,
            InstanceProfileName=name,
            RoleName=name,
        )
    return name


def ensure_instance(ec2, plan: Plan, args, group_id: str | None, ami: str, user_data: str):
    found = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [args.name]},
            {
                "Name": "instance-state-name",
                "Values": ["pending", "running", "stopping", "stopped"],
            },
        ]
    )["Reservations"]
    if found:
        return found[0]["Instances"][0]
    kwargs = dict(
        ImageId=ami,
        InstanceType=args.instance_type,
        MinCount=1,
        MaxCount=1,
        SecurityGroupIds=[group_id or "sg-planned"],
        UserData=user_data,
        IamInstanceProfile={"Name": args.name},
        # IMDSv2 only, one hop: the host reaches the instance role, its containers do not.
        MetadataOptions={
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": 1,
        },
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"VolumeSize": args.disk_gb, "VolumeType": "gp3", "Encrypted": True},
            }
        ],
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": args.name}]}
        ],
    )
    if args.key_name:
        kwargs["KeyName"] = args.key_name
    if args.subnet_id:
        kwargs["SubnetId"] = args.subnet_id
    created = plan.do(
        f"launch {args.instance_type} {args.name} from {ami}", ec2.run_instances, **kwargs
    )
    return created["Instances"][0] if created else None


def provision(args, session: boto3.session.Session) -> Plan:
    plan = Plan(dry_run=args.dry_run)
    ec2, s3, iam, ssm = (session.client(s) for s in ("ec2", "s3", "iam", "ssm"))
    account = session.client("sts").get_caller_identity()["Account"]
    vpc_id = (
        args.vpc_id
        or ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0][
            "VpcId"
        ]
    )
    bucket = args.bucket or f"{args.name}-artifacts-{account}"
    group_id = ensure_security_group(
        ec2, plan, args.name, vpc_id, args.gateway_port, args.admin_cidr
    )
    ensure_bucket(s3, plan, bucket, session.region_name)
    ensure_role(iam, plan, args.name, bucket, args.ecr)
    ami = ssm.get_parameter(Name=args.ami_parameter)["Parameter"]["Value"]
    # The credential helper is named for this account's ECR host only (not as credsStore, which
    # would take over `docker login` for every other registry, GHCR included).
    ecr_host = f"{account}.dkr.ecr.{session.region_name}.amazonaws.com"
    user_data = Path(args.user_data).read_text().replace(ECR_HOST_PLACEHOLDER, ecr_host)
    instance = ensure_instance(ec2, plan, args, group_id, ami, user_data)
    plan.result = {
        "security_group": group_id,
        "bucket": bucket,
        "role": args.name,
        "ami": ami,
        "instance_id": (instance or {}).get("InstanceId"),
        "public_ip": (instance or {}).get("PublicIpAddress"),
        "artifact_destination": f"s3://{bucket}/artifacts",
    }
    return plan


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--region", required=True)
    p.add_argument("--name", default="housing-mlops")
    p.add_argument("--admin-cidr", required=True, help="SSH and the MLflow UI only from here")
    p.add_argument("--key-name", help="EC2 key pair for SSH")
    p.add_argument("--instance-type", default="t3.large")
    p.add_argument("--disk-gb", type=int, default=40)
    p.add_argument("--gateway-port", type=int, default=GATEWAY_PORT)
    p.add_argument("--vpc-id")
    p.add_argument("--subnet-id")
    p.add_argument("--bucket", help="artifact bucket (default: <name>-artifacts-<account>)")
    p.add_argument("--ami-parameter", default=AMI_PARAMETER)
    p.add_argument("--user-data", default=str(Path(__file__).with_name("cloud-init.yaml")))
    p.add_argument("--ecr", action="store_true", help="let the instance pull from ECR")
    p.add_argument("--dry-run", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        plan = provision(args, boto3.session.Session(region_name=args.region))
    except (BotoCoreError, ClientError) as exc:
        print(f"provision: {exc}", file=sys.stderr)
        return 1
    for action in plan.actions:
        print(f"- {action}")
    if not plan.actions:
        print("- nothing to change")
    print(json.dumps(plan.result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
