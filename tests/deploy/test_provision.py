"""deploy/provision_ec2.py against moto's EC2, S3, IAM and SSM (AWS itself cannot run here)."""

from __future__ import annotations

import base64
import importlib.util
import json
import subprocess
import sys

import boto3
import pytest
import yaml
from moto import mock_aws

from tests.deploy.conftest import ROOT

REGION = "eu-west-1"
ADMIN = "203.0.113.7/32"

spec = importlib.util.spec_from_file_location("provision_ec2", ROOT / "deploy/provision_ec2.py")
provision_ec2 = importlib.util.module_from_spec(spec)
sys.modules["provision_ec2"] = provision_ec2  # dataclasses look their module up there
spec.loader.exec_module(provision_ec2)


@pytest.fixture(autouse=True)
def aws(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MOTO_IAM_LOAD_MANAGED_POLICIES": "true",  # AmazonEC2ContainerRegistryReadOnly exists
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def run(*extra: str):
    args = provision_ec2.parse(["--region", REGION, "--admin-cidr", ADMIN, *extra])
    return provision_ec2.provision(args, boto3.session.Session(region_name=REGION))


def ingress(group_id: str) -> set[tuple[int, str]]:
    group = boto3.client("ec2", REGION).describe_security_groups(GroupIds=[group_id])
    return {
        (p["FromPort"], ip["CidrIp"])
        for p in group["SecurityGroups"][0]["IpPermissions"]
        for ip in p["IpRanges"]
    }


def test_dry_run_creates_nothing():
    plan = run("--dry-run")
    assert plan.actions and all(a.startswith("would ") for a in plan.actions)
    ec2 = boto3.client("ec2", REGION)
    assert not ec2.describe_instances()["Reservations"]
    assert not [
        g
        for g in ec2.describe_security_groups()["SecurityGroups"]
        if g["GroupName"] == "housing-mlops"
    ]
    assert boto3.client("s3").list_buckets()["Buckets"] == []


def test_provisions_everything_with_least_access():
    plan = run("--ecr")
    result = plan.result
    assert ingress(result["security_group"]) == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0"), (22, ADMIN)}
    assert result["bucket"] in [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    iam = boto3.client("iam")
    policy = iam.get_role_policy(RoleName="housing-mlops", PolicyName="housing-mlops-artifacts")
    document = policy["PolicyDocument"]
    document = json.loads(document) if isinstance(document, str) else document
    resources = {r for s in document["Statement"] for r in [s["Resource"]]}
    assert resources == {f"arn:aws:s3:::{result['bucket']}", f"arn:aws:s3:::{result['bucket']}/*"}
    profile = iam.get_instance_profile(InstanceProfileName="housing-mlops")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["housing-mlops"]
    instance = boto3.client("ec2", REGION).describe_instances(InstanceIds=[result["instance_id"]])[
        "Reservations"
    ][0]["Instances"][0]
    ami = boto3.client("ssm", REGION).get_parameter(Name=provision_ec2.AMI_PARAMETER)
    assert instance["ImageId"] == ami["Parameter"]["Value"] == result["ami"]
    # Two hops: mlflow's and the trainer's containers reach the role (compose.aws.yaml).
    assert instance["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert result["env"] == {"MLFLOW_BUCKET": result["bucket"], "AWS_REGION": REGION}
    user_data = boto3.client("ec2", REGION).describe_instance_attribute(
        InstanceId=result["instance_id"], Attribute="userData"
    )["UserData"]["Value"]
    docker_config = base64.b64decode(user_data).decode()
    account = boto3.client("sts").get_caller_identity()["Account"]
    assert f'"{account}.dkr.ecr.{REGION}.amazonaws.com": "ecr-login"' in docker_config
    assert "credsStore" not in docker_config and "ECR_REGISTRY_HOST" not in docker_config
    assert instance["SecurityGroups"][0]["GroupId"] == result["security_group"]


def test_second_run_changes_nothing():
    first = run()
    second = run()
    assert second.actions == []
    assert second.result["instance_id"] == first.result["instance_id"]


def test_drifted_security_group_is_repaired():
    first = run()
    ec2 = boto3.client("ec2", REGION)
    ec2.authorize_security_group_ingress(
        GroupId=first.result["security_group"],
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )
    ec2.revoke_security_group_ingress(
        GroupId=first.result["security_group"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": ADMIN}]}
        ],
    )
    again = run()
    assert any("revoke" in a for a in again.actions) and any("open" in a for a in again.actions)
    assert ingress(first.result["security_group"]) == {
        (80, "0.0.0.0/0"),
        (443, "0.0.0.0/0"),
        (22, ADMIN),
    }


def test_cli_prints_a_summary(capsys):
    assert provision_ec2.main(["--region", REGION, "--admin-cidr", ADMIN, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would create security group" in out and '"bucket"' in out


def _user_data(instance_id: str) -> str:
    encoded = boto3.client("ec2", REGION).describe_instance_attribute(
        InstanceId=instance_id, Attribute="userData"
    )["UserData"]["Value"]
    return base64.b64decode(encoded).decode()


def test_a_swarm_of_three_a_manager_and_two_workers_joined_through_parameter_store():
    result = run("--nodes", "3").result
    assert [(n["name"], n["role"]) for n in result["nodes"]] == [
        ("housing-mlops-manager", "manager"),
        ("housing-mlops-worker-1", "worker"),
        ("housing-mlops-worker-2", "worker"),
    ]
    group = result["security_group"]
    rules = boto3.client("ec2", REGION).describe_security_groups(GroupIds=[group])
    inside = {
        (p["IpProtocol"], p.get("FromPort") if p["IpProtocol"] != "50" else None)
        for p in rules["SecurityGroups"][0]["IpPermissions"]
        if [pair["GroupId"] for pair in p.get("UserIdGroupPairs", [])] == [group]
    }
    assert inside == {("tcp", 2377), ("tcp", 7946), ("udp", 7946), ("udp", 4789), ("50", None)}
    assert ingress(group) == {(80, "0.0.0.0/0"), (443, "0.0.0.0/0"), (22, ADMIN)}
    manager, *workers = (_user_data(n["instance_id"]) for n in result["nodes"])
    token = "/housing-mlops/swarm/worker-token"  # noqa: S105 - a parameter's name
    assert "docker swarm init" in manager and f"--name {token} --type SecureString" in manager
    for worker in workers:
        assert f"--name {token} --with-decryption" in worker and "docker swarm join" in worker
    for script in (manager, *workers):  # the shell each node runs parses
        body = yaml.safe_load(script)["runcmd"][-1]
        assert subprocess.run(["bash", "-n"], input=body, text=True).returncode == 0
    policy = boto3.client("iam").get_role_policy(
        RoleName="housing-mlops", PolicyName="housing-mlops-swarm"
    )["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    (statement,) = policy["Statement"]
    assert statement["Resource"].endswith(":parameter/housing-mlops/swarm/*")
    assert run("--nodes", "3").actions == []  # a second run changes nothing


def test_one_node_stays_a_compose_host_without_swarm_ports():
    result = run().result
    assert "nodes" not in result
    assert "docker swarm" not in _user_data(result["instance_id"])


def _hops(instance_id: str) -> int:
    reservations = boto3.client("ec2", REGION).describe_instances(InstanceIds=[instance_id])
    return reservations["Reservations"][0]["Instances"][0]["MetadataOptions"][
        "HttpPutResponseHopLimit"
    ]


def test_each_node_gets_the_imds_guard_and_the_database_node_the_nightly_backup():
    host = yaml.safe_load(_user_data(run().result["instance_id"]))
    nodes = run("--nodes", "2").result["nodes"]
    manager, worker = (yaml.safe_load(_user_data(n["instance_id"])) for n in nodes)
    # The manager (the data node) lets only its node-local housing-cloud bridge through, as the
    # compose host does: never docker_gwbridge, every task's way out, the edge's included.
    expected = ((host, "housing-cloud", True), (manager, "housing-cloud", True),
                (worker, "", False))  # fmt: skip
    for config, bridge, backup in expected:
        files = {f["path"]: f["content"] for f in config["write_files"]}
        assert (
            files["/usr/local/sbin/housing-imds-guard"]
            == (ROOT / "deploy/imds_guard.sh").read_text()
        )
        assert f"IMDS_BRIDGE={bridge}\n" in files["/etc/default/housing-mlops"]
        assert ("/usr/local/sbin/housing-backup" in files) is backup
        enable = next(c for c in config["runcmd"] if "enable --now housing-" in c)
        assert ("housing-backup.timer" in enable) is backup and "housing-imds-guard" in enable
        for unit in (
            "housing-imds-guard.service",
            "housing-backup.service",
            "housing-backup.timer",
        ):
            assert f"/etc/systemd/system/{unit}" in files
    assert [_hops(n["instance_id"]) for n in nodes] == [2, 1]  # no container on a worker
    manager_script = next(c for c in manager["runcmd"] if "swarm init" in c)
    assert "--config-only -o com.docker.network.bridge.name=housing-cloud" in manager_script
    for config in (host, manager, worker):  # every engine: no task gains privileges (swarm
        # services cannot set no-new-privileges themselves)
        files = {f["path"]: f["content"] for f in config["write_files"]}
        assert json.loads(files["/etc/docker/daemon.json"])["no-new-privileges"] is True


def test_backups_expire_and_other_lifecycle_rules_are_kept():
    bucket = run("--dry-run").result["bucket"]  # its name, nothing made
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    other = {"ID": "mine", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
             "Expiration": {"Days": 1}}  # fmt: skip
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [other]})
    run("--backup-days", "14")
    rules = {r["ID"]: r for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]}
    assert rules["mine"]["Expiration"] == {"Days": 1}
    assert rules["housing-backups"]["Expiration"] == {"Days": 14}
    assert rules["housing-backups"]["Filter"] == {"Prefix": "backups/"}
    assert run("--backup-days", "14").actions == []
    with pytest.raises(SystemExit):
        provision_ec2.parse(["--region", REGION, "--admin-cidr", ADMIN, "--backup-days", "0"])
