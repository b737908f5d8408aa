"""Provision the AWS side of a deployment, idempotently: security group, artifact bucket, IAM role
and instance profile limited to that bucket, and the instance (current AMI from SSM, cloud-init).

    python deploy/provision_ec2.py --region eu-west-1 --key-name my-key --admin-cidr 203.0.113.7/32
    python deploy/provision_ec2.py ... --dry-run     # say what would change, change nothing

Run it again at any time: what exists is found and kept, what is missing is created, and the
security group's ingress is brought back to exactly: HTTP and HTTPS (the edge) from anywhere, SSH
from --admin-cidr. The MLflow UI listens on the host's 127.0.0.1 only: reach it through SSH
(`ssh -L 5000:127.0.0.1:5000 ec2-user@<host>`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import yaml
from botocore.exceptions import BotoCoreError, ClientError

# The edge's ports (compose.yaml's `edge` service): HTTPS, and HTTP that redirects to it.
PUBLIC_PORTS = {80: "HTTP (redirects to HTTPS)", 443: "HTTPS (the API)"}
# Docker Swarm between nodes: cluster management, node gossip, the overlay networks (VXLAN), and
# ESP (IP protocol 50) for the encrypted ones; open only to the group's own members.
SWARM_PORTS = [("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789), ("50", None)]
HERE = Path(__file__).resolve().parent
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
    ec2, plan: Plan, name: str, vpc_id: str, admin_cidr: str, swarm: bool
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
            Description="housing-mlops: HTTP(S) edge, SSH, swarm inside the group",
            VpcId=vpc_id,
        )
        group_id, current = (created or {}).get("GroupId"), []
    wanted = [_rule("tcp", port, {"CidrIp": "0.0.0.0/0", "Description": why})
              for port, why in PUBLIC_PORTS.items()]  # fmt: skip
    wanted.append(
        _rule("tcp", 22, {"CidrIp": admin_cidr, "Description": "SSH: deploys, UI tunnel"})
    )
    if swarm:  # between the group's own nodes only
        own = {"GroupId": group_id or "sg-planned", "Description": "swarm nodes"}
        wanted += [_rule(protocol, port, own) for protocol, port in SWARM_PORTS]
    have = {key for p in current for key in _keys(p)}
    missing = [r for r in wanted if _keys(r)[0] not in have]
    wanted_keys = {_keys(r)[0] for r in wanted}
    extra = [
        p for p in current if any(k not in wanted_keys for k in _keys(p)) or p.get("Ipv6Ranges")
    ]
    if extra and group_id:
        plan.do(
            f"revoke {len(extra)} unexpected ingress rule(s) on {name}",
            ec2.revoke_security_group_ingress,
            GroupId=group_id,
            IpPermissions=extra,
        )
    if missing:
        ports = ", ".join(
            f"{r.get('FromPort', r['IpProtocol'])}/{r['IpProtocol']}" for r in missing
        )
        plan.do(
            f"open {ports} on {name}",
            ec2.authorize_security_group_ingress,
            GroupId=group_id or "sg-planned",
            IpPermissions=missing,
        )
    return group_id


def _rule(protocol: str, port: int | None, source: dict) -> dict:
    # A protocol without ports (ESP) takes -1 for both, which AWS ignores.
    rule = {"IpProtocol": protocol, "FromPort": -1 if port is None else port}
    rule["ToPort"] = rule["FromPort"]
    if "CidrIp" in source:
        rule["IpRanges"] = [source]
    else:
        rule["UserIdGroupPairs"] = [source]
    return rule


def _keys(permission: dict) -> list[tuple]:
    """One (protocol, port, source) per source of an ingress permission (no port for a protocol
    that has none, however AWS reports it)."""
    protocol = permission["IpProtocol"]
    head = (protocol, permission.get("FromPort") if protocol in ("tcp", "udp") else None)
    return [(*head, ip["CidrIp"]) for ip in permission.get("IpRanges", [])] + [
        (*head, pair["GroupId"]) for pair in permission.get("UserIdGroupPairs", [])
    ]


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


BACKUPS_RULE = "housing-backups"


def ensure_backup_expiry(s3, plan: Plan, bucket: str, days: int) -> None:
    """Dumps under backups/ (deploy/backup_database.sh) expire after `days`; other rules kept."""
    try:
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchLifecycleConfiguration", "NoSuchBucket"):
            raise
        rules = []
    wanted = {
        "ID": BACKUPS_RULE,
        "Filter": {"Prefix": "backups/"},
        "Status": "Enabled",
        "Expiration": {"Days": days},
    }
    current = next((r for r in rules if r.get("ID") == BACKUPS_RULE), None)
    if (
        current
        and current.get("Expiration") == wanted["Expiration"]
        and current.get("Filter") == wanted["Filter"]
    ):
        return
    others = [r for r in rules if r.get("ID") != BACKUPS_RULE]
    plan.do(
        f"expire {bucket}'s backups/ after {days} days",
        s3.put_bucket_lifecycle_configuration,
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [*others, wanted]},
    )


def swarm_policy(parameters_arn: str) -> dict:
    """The nodes' access to the swarm's join token in Parameter Store: the manager writes it, the
    workers read it (one role for all nodes)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:PutParameter"],
                "Resource": parameters_arn,
            }
        ],
    }


def _ensure_inline_policy(iam, plan: Plan, role: str, policy: str, wanted: dict, why: str):
    try:
        current = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        current = json.loads(current) if isinstance(current, str) else current
    except iam.exceptions.NoSuchEntityException:
        current = None
    if current != wanted:
        plan.do(
            why,
            iam.put_role_policy,
            RoleName=role,
            PolicyName=policy,
            PolicyDocument=json.dumps(wanted),
        )


def ensure_role(
    iam, plan: Plan, name: str, bucket: str, ecr: bool, swarm_parameters: str | None = None
) -> str:
    try:
        iam.get_role(RoleName=name)
    except iam.exceptions.NoSuchEntityException:
        plan.do(
            f"create role {name}",
            iam.create_role,
            RoleName=name,
            AssumeRolePolicyDocument=json.dumps(ASSUME_EC2),
        )
    _ensure_inline_policy(
        iam, plan, name, f"{name}-artifacts", bucket_policy(bucket),
        f"limit role {name} to bucket {bucket}",
    )  # fmt: skip
    if swarm_parameters:
        _ensure_inline_policy(
            iam, plan, name, f"{name}-swarm", swarm_policy(swarm_parameters),
            f"let role {name} keep the swarm's join token in {swarm_parameters}",
        )  # fmt: skip
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


def ensure_instance(
    ec2, plan: Plan, args, name: str, group_id: str | None, ami: str, user_data: str, hops: int
):
    found = ec2.describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [name]},
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
        # IMDSv2 only. Two hops where PostgreSQL and MLflow run (the host; a swarm's manager, its
        # data node), so that containers can reach the role at all; housing-imds-guard then lets
        # only mlflow's and the trainer's through. One hop elsewhere: no container reaches it.
        MetadataOptions={
            "HttpTokens": "required",
            "HttpEndpoint": "enabled",
            "HttpPutResponseHopLimit": hops,
        },
        BlockDeviceMappings=[
            {
                "DeviceName": "/dev/xvda",
                "Ebs": {"VolumeSize": args.disk_gb, "VolumeType": "gp3", "Encrypted": True},
            }
        ],
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}],
    )
    if args.key_name:
        kwargs["KeyName"] = args.key_name
    if args.subnet_id:
        kwargs["SubnetId"] = args.subnet_id
    created = plan.do(f"launch {args.instance_type} {name} from {ami}", ec2.run_instances, **kwargs)
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
    swarm = args.nodes > 1
    group_id = ensure_security_group(ec2, plan, args.name, vpc_id, args.admin_cidr, swarm)
    ensure_bucket(s3, plan, bucket, session.region_name)
    ensure_backup_expiry(s3, plan, bucket, args.backup_days)
    parameters = (
        f"arn:aws:ssm:{session.region_name}:{account}:parameter{swarm_parameter(args.name, '*')}"
    )
    ensure_role(iam, plan, args.name, bucket, args.ecr, parameters if swarm else None)
    ami = ssm.get_parameter(Name=args.ami_parameter)["Parameter"]["Value"]
    # The credential helper is named for this account's ECR host only (not as credsStore, which
    # would take over `docker login` for every other registry, GHCR included).
    ecr_host = f"{account}.dkr.ecr.{session.region_name}.amazonaws.com"
    base = Path(args.user_data).read_text().replace(ECR_HOST_PLACEHOLDER, ecr_host)
    nodes = []
    for name, role in node_names(args.name, args.nodes):
        data = with_host_services(base, role, args.project)
        if role:
            data = with_swarm_role(data, role, args.name, session.region_name)
        hops = 1 if role == "worker" else 2
        instance = ensure_instance(ec2, plan, args, name, group_id, ami, data, hops)
        nodes.append(
            {
                "name": name,
                "role": role or "host",
                "instance_id": (instance or {}).get("InstanceId"),
                "public_ip": (instance or {}).get("PublicIpAddress"),
            }
        )
    plan.result = {
        "security_group": group_id,
        "bucket": bucket,
        "role": args.name,
        "ami": ami,
        "instance_id": nodes[0]["instance_id"],
        "public_ip": nodes[0]["public_ip"],
        "artifact_destination": f"s3://{bucket}/artifacts",
        # For the env file of `deploy_to_ec2.sh --aws` (deploy/compose.aws.yaml).
        "env": {"MLFLOW_BUCKET": bucket, "AWS_REGION": session.region_name},
    }
    if args.nodes > 1:
        plan.result["nodes"] = nodes
    return plan


def node_names(name: str, count: int) -> list[tuple[str, str | None]]:
    """One host (compose) for one node; else a manager and count-1 workers (a swarm)."""
    if count == 1:
        return [(name, None)]
    return [(f"{name}-manager", "manager")] + [
        (f"{name}-worker-{i}", "worker") for i in range(1, count)
    ]


def swarm_parameter(name: str, key: str) -> str:
    return f"/{name}/swarm/{key}"


# Appended to cloud-init's runcmd. The manager starts the swarm and keeps the workers' join token
# in Parameter Store (SecureString); a worker waits for it there, then joins. IMDSv2 gives the
# node's private address (the swarm talks inside the VPC).
MANAGER_SCRIPT = r"""set -eu
imds=http://169.254.169.254/latest
t=$(curl -sf -X PUT "$imds/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300')
ip=$(curl -sf -H "X-aws-ec2-metadata-token: $t" "$imds/meta-data/local-ipv4")
state=$(docker info -f '{{.Swarm.LocalNodeState}}')
[ "$state" = active ] || docker swarm init --advertise-addr "$ip"
# The data node's bridge for mlflow and the trainer (deploy/swarm.py makes the swarm's network
# from it): the one way out that housing-imds-guard lets reach the instance role.
docker network inspect housing-cloud-config >/dev/null 2>&1 || docker network create \
  --config-only -o com.docker.network.bridge.name=housing-cloud housing-cloud-config >/dev/null
aws ssm put-parameter --region REGION --name TOKEN --type SecureString --overwrite \
  --value "$(docker swarm join-token -q worker)" >/dev/null
aws ssm put-parameter --region REGION --name MANAGER --type String --overwrite \
  --value "$ip:2377" >/dev/null
"""
WORKER_SCRIPT = r"""set -eu
for _ in $(seq 180); do
  token=$(aws ssm get-parameter --region REGION --name TOKEN --with-decryption \
    --query Parameter.Value --output text 2>/dev/null) &&
  manager=$(aws ssm get-parameter --region REGION --name MANAGER \
    --query Parameter.Value --output text 2>/dev/null) && break
  sleep 10
done
state=$(docker info -f '{{.Swarm.LocalNodeState}}')
[ "$state" = active ] || docker swarm join --token "$token" "$manager"
"""


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (scripts) as literal blocks, so that user data reads as written."""


_BlockDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def cloud_config(config: dict) -> str:
    return "#cloud-config\n" + yaml.dump(config, Dumper=_BlockDumper, sort_keys=False)


def with_host_services(user_data: str, role: str | None, project: str) -> str:
    """The IMDS guard on every node; the nightly backup where PostgreSQL runs (the compose host,
    or the manager: deploy/swarm.py labels it the data node). The scripts are deploy/'s own."""
    config = yaml.safe_load(user_data)
    # Which containers may reach the role: compose.aws.yaml's bridge, on the compose host and on
    # a swarm's data node alike (there, a node-local bridge of the same name that only mlflow
    # and the trainer join: deploy/swarm.py; docker_gwbridge, the way out of every other task,
    # the edge's included, is refused); on a worker, none.
    bridge = {None: "housing-cloud", "manager": "housing-cloud", "worker": ""}[role]
    files = [
        ("/usr/local/sbin/housing-imds-guard", (HERE / "imds_guard.sh").read_text(), "0755"),
        (
            "/etc/default/housing-mlops",
            f"IMDS_BRIDGE={bridge}\nHOUSING_PROJECT={project}\n",
            "0644",
        ),
    ]
    units = ["housing-imds-guard.service"]
    if role != "worker":
        files.append(
            ("/usr/local/sbin/housing-backup", (HERE / "backup_database.sh").read_text(), "0755")
        )
        units.append("housing-backup.timer")
    config["write_files"] += [
        {"path": path, "permissions": mode, "content": content} for path, content, mode in files
    ]
    config["runcmd"].append(f"systemctl daemon-reload && systemctl enable --now {' '.join(units)}")
    return cloud_config(config)


def with_swarm_role(user_data: str, role: str, name: str, region: str) -> str:
    config = yaml.safe_load(user_data)
    script = MANAGER_SCRIPT if role == "manager" else WORKER_SCRIPT
    for placeholder, value in (
        ("REGION", region),
        ("TOKEN", swarm_parameter(name, "worker-token")),
        ("MANAGER", swarm_parameter(name, "manager")),
    ):
        script = script.replace(placeholder, value)
    config["runcmd"].append(script)
    return cloud_config(config)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--region", required=True)
    p.add_argument("--name", default="housing-mlops")
    p.add_argument("--admin-cidr", required=True, help="SSH (and so the MLflow UI) only from here")
    p.add_argument("--key-name", help="EC2 key pair for SSH")
    p.add_argument("--instance-type", default="t3.large")
    p.add_argument("--disk-gb", type=int, default=40)
    p.add_argument("--vpc-id")
    p.add_argument("--subnet-id")
    p.add_argument("--bucket", help="artifact bucket (default: <name>-artifacts-<account>)")
    p.add_argument("--ami-parameter", default=AMI_PARAMETER)
    p.add_argument("--user-data", default=str(Path(__file__).with_name("cloud-init.yaml")))
    p.add_argument("--ecr", action="store_true", help="let the instance pull from ECR")
    p.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="1: one compose host; N > 1: a swarm manager and N-1 workers",
    )
    p.add_argument(
        "--backup-days", type=int, default=30, help="keep the nightly database dumps this long"
    )
    p.add_argument(
        "--project", default="housing-mlops", help="the deploy's project (or stack) name"
    )
    p.add_argument("--dry-run", action="store_true")
    args = p.parse_args(argv)
    if args.backup_days < 1:
        p.error("--backup-days must be at least 1")
    return args


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
