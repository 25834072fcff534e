"""The AWS stack (SPEC 10) deployed on moto's CloudFormation, over HTTP, in a region of its own (eu-central-1: the
scheduled rule it makes would otherwise receive the reconcile tests' events, and moto answers 500 for a Lambda
target): what moto creates is checked (functions in the VPC, the invoke permission, the endpoint with private DNS,
the security group rules, the bucket's encryption and public access block, the schedule, the topic), then an
account whose rotation names the stack's function is applied on a real PostgreSQL and `doctor` passes.

moto skips some resource types and says so; the template keeps them (AWS creates them): SKIPPED_BY_MOTO. It also
ignores a security group's SecurityGroupEgress (the default, allow-all, stays) and a bucket's properties but its
encryption and tags."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from support.recorders import ENDPOINT

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-central-1"
SKIPPED_BY_MOTO = {"AWS::CloudWatch::Alarm", "AWS::CodeBuild::Project"}


def _client(service: str):
    return boto3.client(service, endpoint_url=ENDPOINT[0], region_name=REGION)


def _allows(rules: list[dict], port: int) -> bool:
    return any(r["IpProtocol"] == "-1" or r.get("FromPort", 0) <= port <= r.get("ToPort", 0) for r in rules)


def _zip() -> bytes:
    """A stand-in for `make lambda`'s zip (moto stores the code, it runs none without Docker)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("provisioner/__init__.py", "")
    return buffer.getvalue()


@pytest.fixture
def stack(env, monkeypatch):
    """A VPC with two subnets and the database's security group, the zip in a bucket, the stack deployed."""
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    ec2, s3, cloudformation = _client("ec2"), _client("s3"), _client("cloudformation")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
    database_group = ec2.create_security_group(GroupName=f"db-{env.target}", Description="the database",
                                               VpcId=vpc)["GroupId"]
    code = f"code-{env.target}"
    s3.create_bucket(Bucket=code, CreateBucketConfiguration={"LocationConstraint": REGION})
    s3.put_object(Bucket=code, Key="provisioner/lambda.zip", Body=_zip())
    name = f"prov-{env.target}"
    parameters = {"VpcId": vpc, "SubnetIds": ",".join(subnets), "DatabaseSecurityGroupIds": database_group,
                  "DatabasePort": str(env.server.port), "SecretNamePrefix": f"{env.target}/", "CodeBucket": code,
                  "CodeKey": "provisioner/lambda.zip", "ReconcileMode": "apply",
                  "SecretsKmsKeyArn": f"arn:aws:kms:{REGION}:123456789012:key/0b1d5c6e-1111-2222-3333-444455556666",
                  "GitHubRepositoryUrl": "https://github.com/example-org/accounts"}
    cloudformation.create_stack(
        StackName=name, TemplateBody=(ROOT / "deploy" / "cloudformation" / "provisioner.yaml").read_text(),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"])
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    yield {"name": name, "vpc": vpc, "subnets": subnets, "database_group": database_group, "stack": described,
           "outputs": {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}}
    cloudformation.delete_stack(StackName=name)


def test_the_stack_deploys_on_moto_with_what_it_promises(stack, env):
    assert stack["stack"]["StackStatus"] == "CREATE_COMPLETE", stack["stack"].get("StackStatusReason")
    outputs = stack["outputs"]
    assert set(outputs) == {"RotationFunctionArn", "ReconcileFunctionArn", "ReportsBucketName",
                            "FunctionSecurityGroupId", "AlarmTopicArn"}
    # (moto lists a resource it skips as an entry without a type)
    created = {r.get("ResourceType") for r in _client("cloudformation").describe_stack_resources(
        StackName=stack["name"])["StackResources"]} - {None}
    template = yaml.safe_load((ROOT / "deploy" / "cloudformation" / "provisioner.yaml").read_text())
    promised = {resource["Type"] for resource in template["Resources"].values()}
    assert promised - created == SKIPPED_BY_MOTO  # every other type of the template was created
    lambda_ = _client("lambda")
    for arn, handler in ((outputs["RotationFunctionArn"], "provisioner.rotation.lambda_handler"),
                         (outputs["ReconcileFunctionArn"], "provisioner.reconcile.lambda_handler")):
        configuration = lambda_.get_function_configuration(FunctionName=arn)
        assert configuration["Handler"] == handler
        assert sorted(configuration["VpcConfig"]["SubnetIds"]) == sorted(stack["subnets"])
        assert configuration["VpcConfig"]["SecurityGroupIds"] == [outputs["FunctionSecurityGroupId"]]
    policy = json.loads(lambda_.get_policy(FunctionName=outputs["RotationFunctionArn"])["Policy"])
    assert any(s["Principal"] == {"Service": "secretsmanager.amazonaws.com"} for s in policy["Statement"])
    ec2 = _client("ec2")
    [endpoint] = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [stack["vpc"]]}])["VpcEndpoints"]
    assert endpoint["ServiceName"] == f"com.amazonaws.{REGION}.secretsmanager" and endpoint["PrivateDnsEnabled"]
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(
        GroupIds=[outputs["FunctionSecurityGroupId"], stack["database_group"]])["SecurityGroups"]}
    # moto ignores a security group's SecurityGroupEgress and keeps the default (everything allowed): AWS replaces
    # it with the template's two rules (checked in tests/unit/test_aws_stack_template.py). Either reaches both ports.
    egress = groups[outputs["FunctionSecurityGroupId"]]["IpPermissionsEgress"]
    assert _allows(egress, env.server.port) and _allows(egress, 443)
    ingress = groups[stack["database_group"]]["IpPermissions"]
    assert any(r.get("FromPort") == env.server.port and any(p["GroupId"] == outputs["FunctionSecurityGroupId"]
                                                            for p in r["UserIdGroupPairs"]) for r in ingress)
    s3 = _client("s3")
    bucket = outputs["ReportsBucketName"]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    # moto's CloudFormation sets a bucket's encryption and tags only (not its public access block, versioning or
    # lifecycle): those are checked in the template (tests/unit/test_aws_stack_template.py)
    events = _client("events")
    [rule] = [r for r in events.list_rules()["Rules"] if r.get("ScheduleExpression") == "rate(1 hour)"]
    [target] = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"] == outputs["ReconcileFunctionArn"]
    assert json.loads(target["Input"]) == {"manifest": f"s3://{bucket}/manifests/", "mode": "apply"}
    roles = {r["RoleName"]: r for r in _client("iam").list_roles()["Roles"]}
    reconcile_role = next(name for name in roles if "ReconcileRole" in name)
    attached = _client("iam").list_role_policies(RoleName=reconcile_role)["PolicyNames"]
    assert {"reconcile", "reconcile-apply", "secrets-kms-key"} <= set(attached)  # ReconcileMode apply, a KMS key
    assert outputs["AlarmTopicArn"] in [t["TopicArn"] for t in _client("sns").list_topics()["Topics"]]


def test_doctor_passes_against_the_deployed_stack(stack, env):
    function = stack["outputs"]["RotationFunctionArn"]
    env.sql("CREATE SCHEMA app; CREATE TABLE app.films (id int)")
    env.manifest(f"""
        accounts:
          - name: reporter
            target: {env.target}
            rotation: {{strategy: single, schedule: "rate(30 days)", function: "{function}"}}
            grants:
              - {{privileges: [SELECT], tables: [app.films]}}
        """)
    env.apply()
    # moto's RotateSecret leaves an empty AWSPENDING version (it runs no function): `rotate` finishes it, as it
    # would a rotation that failed on AWS
    env.cli("rotate", "-f", "accounts.yaml", "reporter")
    result = env.cli("doctor", "-f", "accounts.yaml", "--format", "json", expect=None)
    [report] = json.loads(result.out)
    checks = {c["name"]: c["status"] for c in report["checks"]}
    assert result.code == 0, result.text
    for name in ("rotation-enabled", "function-exists", "invoke-permission", "vpc-route-to-secrets-manager",
                 "security-groups-reach-database", "last-rotation", "current-credentials-log-in"):
        assert checks.get(name) == "PASS", (name, report["checks"])
