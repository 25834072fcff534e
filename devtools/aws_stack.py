"""The one source of the AWS permissions and of the stack that runs the tool inside an account (SPEC 10): the IAM
statements of each command and function, written as docs/iam/*.json (placeholders a reader replaces) and into
deploy/cloudformation/provisioner.yaml (the same statements with the stack's own ARNs). Neither file is edited by
hand: `python -m devtools.aws_stack` writes both, `--check` (make lint, and a unit test) fails when a committed
file is not what this module makes, so the policies of the docs and of the stack cannot drift apart.

Plain CloudFormation: no transform, no Fn::ForEach (moto's CloudFormation answers 500 on them). The ingress rules on
the databases' security groups are five conditional resources (the first five groups of the list): CloudFormation
has no loop without a transform.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
IAM_DIR = ROOT / "docs" / "iam"
TEMPLATE = ROOT / "deploy" / "cloudformation" / "provisioner.yaml"
MAX_DATABASE_GROUPS = 5

# ---------------------------------------------------------------- the statements, with {PLACEHOLDERS}

MANAGED = {"StringEquals": {"secretsmanager:ResourceTag/provisioner:managed": "true"}}
SECRETS = "arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{MANAGED_SECRETS}"
ADMIN_SECRETS = "arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{ADMIN_SECRETS}"
KEY = "{KMS_KEY_ARN}"
VIA_SECRETS_MANAGER = {"StringEquals": {"kms:ViaService": "secretsmanager.{REGION}.amazonaws.com"}}


def statement(sid: str, actions: list[str] | str, resource: Any, condition: dict[str, Any] | None = None
              ) -> dict[str, Any]:
    found: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource}
    if condition:
        found["Condition"] = condition
    return found


READ_MANAGED = [
    statement("ListAndReadManagedSecrets", ["secretsmanager:ListSecrets", "secretsmanager:BatchGetSecretValue"], "*"),
    statement("ReadManagedSecretValues", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], SECRETS,
              MANAGED),
    statement("ReadTheAdminSecrets", ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
              [ADMIN_SECRETS]),
]
DECRYPT = [statement("DecryptWithACustomerKey", ["kms:Decrypt"], KEY, VIA_SECRETS_MANAGER)]
CHANGE_MANAGED = [
    statement("CreateManagedSecrets", ["secretsmanager:CreateSecret", "secretsmanager:TagResource"], SECRETS,
              {"StringEquals": {"aws:RequestTag/provisioner:managed": "true"}}),
    statement("ChangeManagedSecrets", [
        "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage", "secretsmanager:UpdateSecret",
        "secretsmanager:TagResource", "secretsmanager:UntagResource", "secretsmanager:DeleteSecret",
        "secretsmanager:RestoreSecret", "secretsmanager:RotateSecret", "secretsmanager:CancelRotateSecret",
        "secretsmanager:ReplicateSecretToRegions", "secretsmanager:RemoveRegionsFromReplication"], SECRETS, MANAGED),
    statement("LetRotateSecretInvokeTheFunction", ["lambda:InvokeFunction"],
              "arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{ROTATION_FUNCTION}"),
]
ENCRYPT = [
    statement("EncryptWithACustomerKey", ["kms:GenerateDataKey", "kms:Decrypt"], KEY, VIA_SECRETS_MANAGER),
    statement("EncryptReplicasWithCustomerKeys", ["kms:GenerateDataKey", "kms:Encrypt"],
              "arn:{PARTITION}:kms:{REPLICA_REGION}:{ACCOUNT}:key/{REPLICA_KEY_ID}",
              {"StringEquals": {"kms:ViaService": "secretsmanager.{REPLICA_REGION}.amazonaws.com"}}),
]
ROTATE = [
    statement("RotateManagedSecrets", ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue",
                                       "secretsmanager:PutSecretValue", "secretsmanager:UpdateSecretVersionStage"],
              SECRETS, MANAGED),
    statement("ReadTheAdminSecretForAlternatingRotation", ["secretsmanager:GetSecretValue"], ADMIN_SECRETS),
]
ROTATE_KEY = [statement("CustomerManagedKey", ["kms:Decrypt", "kms:GenerateDataKey"], KEY)]
VPC = [statement("VpcNetworkInterfaces", ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface",
                                          "ec2:DescribeNetworkInterfaces", "ec2:AssignPrivateIpAddresses",
                                          "ec2:UnassignPrivateIpAddresses"], "*")]


def logs(function: str) -> list[dict[str, Any]]:
    return [statement("WriteItsLogs", ["logs:CreateLogStream", "logs:PutLogEvents"],
                      "arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/" + function + ":*")]


DOCTOR = [statement("InspectTheRotationPath", [
    "lambda:GetFunction", "lambda:GetPolicy", "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints",
    "ec2:DescribeRouteTables", "ec2:DescribeSecurityGroups", "rds:DescribeDBInstances", "rds:DescribeDBClusters"], "*")]
RECONCILE = [
    statement("ReadTheManifests", ["s3:GetObject"], "arn:{PARTITION}:s3:::{MANIFEST_BUCKET}/*"),
    statement("ListTheManifests", ["s3:ListBucket"], "arn:{PARTITION}:s3:::{MANIFEST_BUCKET}"),
    statement("WriteTheReports", ["s3:PutObject"], "arn:{PARTITION}:s3:::{REPORTS_BUCKET}/reports/*"),
    statement("PutTheMetrics", ["cloudwatch:PutMetricData"], "*",
              {"StringEquals": {"cloudwatch:namespace": "Provisioner"}}),
    statement("PutTheEvents", ["events:PutEvents"], "arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/default"),
]

# What each command and function may do. The documents of docs/iam/ are these; the stack's roles use the same.
POLICIES: dict[str, list[dict[str, Any]]] = {
    "plan": READ_MANAGED + DECRYPT,
    "apply": READ_MANAGED + DECRYPT + CHANGE_MANAGED + ENCRYPT,
    "doctor": READ_MANAGED + DOCTOR,
    "rotate": ROTATE + ROTATE_KEY,
    "rotation-lambda": ROTATE + ROTATE_KEY + VPC + logs("{ROTATION_FUNCTION}"),
    "reconcile-lambda": READ_MANAGED + RECONCILE + VPC + logs("{RECONCILE_FUNCTION}"),
}
# The stack's values of each placeholder (the docs keep the placeholder's name for the reader to replace).
STACK_VALUES = {
    "PARTITION": "${AWS::Partition}", "REGION": "${AWS::Region}", "ACCOUNT": "${AWS::AccountId}",
    "MANAGED_SECRETS": "${SecretNamePrefix}*",
    # the master secrets RDS manages for a database (rds!db-..., rds!cluster-...), and the prefix's
    "ADMIN_SECRETS": "rds!*", "KMS_KEY_ARN": "${SecretsKmsKeyArn}",
    "ROTATION_FUNCTION": "${AWS::StackName}-rotation", "RECONCILE_FUNCTION": "${AWS::StackName}-reconcile",
    "REPLICA_REGION": "*", "REPLICA_KEY_ID": "*",
    "MANIFEST_BUCKET": "${ManifestBucket}", "REPORTS_BUCKET": "${ReportsBucket}",
}
DOC_VALUES = {"PARTITION": "aws", "MANAGED_SECRETS": "*", "ADMIN_SECRETS": "ADMIN_SECRET_NAME-*",
              "KMS_KEY_ARN": "arn:aws:kms:REGION:ACCOUNT:key/KEY_ID"}
_PLACEHOLDER = re.compile(r"\{([A-Z_]+)\}")


def _rendered(value: Any, render: Any) -> Any:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, list):
        return [_rendered(v, render) for v in value]
    if isinstance(value, dict):
        return {_rendered(k, render) if isinstance(k, str) and "{" in k else k: _rendered(v, render)
                for k, v in value.items()}
    return value


def doc_text(value: str) -> str:
    return _PLACEHOLDER.sub(lambda m: DOC_VALUES.get(m.group(1), m.group(1)), value)


def stack_text(value: str) -> Any:
    """A string of the source in the template: as is, or an Fn::Sub of the stack's values."""
    if not _PLACEHOLDER.search(value):
        return value
    return {"Fn::Sub": _PLACEHOLDER.sub(lambda m: STACK_VALUES[m.group(1)], value)}


def policy_document(name: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": _rendered(POLICIES[name], doc_text)}


def stack_policy(statements: Iterable[dict[str, Any]]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": _rendered(list(statements), stack_text)}


# ---------------------------------------------------------------- the template


def _ref(name: str) -> dict[str, Any]:
    return {"Ref": name}


def _sub(text: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"Fn::Sub": [text, values] if values else text}


def _database_group(index: int) -> dict[str, Any]:
    """The index-th database security group, '' past the end of the list (padded so Fn::Select never fails)."""
    padded = {"Fn::Join": ["", [{"Fn::Join": [",", _ref("DatabaseSecurityGroupIds")]}, "," * MAX_DATABASE_GROUPS]]}
    return {"Fn::Select": [index, {"Fn::Split": [",", padded]}]}


PARAMETERS: dict[str, dict[str, Any]] = {
    "VpcId": {"Type": "AWS::EC2::VPC::Id", "Description": "The VPC of the databases"},
    "SubnetIds": {"Type": "List<AWS::EC2::Subnet::Id>", "Description": "Private subnets the functions run in"},
    "DatabaseSecurityGroupIds": {"Type": "List<AWS::EC2::SecurityGroup::Id>",
                                 "Description": f"The databases' security groups (the first {MAX_DATABASE_GROUPS} "
                                                f"get an ingress rule from the functions)"},
    "DatabasePort": {"Type": "Number", "Default": 5432, "MinValue": 1, "MaxValue": 65535},
    "SecretNamePrefix": {"Type": "String", "MinLength": 1,
                         "Description": "The managed secrets' names start with it (the manifest's secret.name)"},
    "SecretsKmsKeyArn": {"Type": "String", "Default": "",
                         "Description": "The KMS key of the managed secrets ('' for the AWS managed key)"},
    "CodeBucket": {"Type": "String", "Description": "The bucket holding the `make lambda` zip"},
    "CodeKey": {"Type": "String", "Description": "The zip's key"},
    "CreateSecretsManagerEndpoint": {"Type": "String", "Default": "true", "AllowedValues": ["true", "false"],
                                     "Description": "An interface endpoint with private DNS (false: the subnets "
                                                    "reach Secrets Manager through NAT)"},
    "ReconcileSchedule": {"Type": "String", "Default": "rate(1 hour)"},
    "ReconcileMode": {"Type": "String", "Default": "plan", "AllowedValues": ["plan", "apply"]},
    "ManifestS3Uri": {"Type": "String", "Default": "",
                      "Description": "s3://bucket/prefix/ of the manifests ('' for the stack bucket's manifests/)"},
    "GitHubRepositoryUrl": {"Type": "String", "Default": "",
                            "Description": "A repository whose GitHub Actions jobs get a runner in the VPC ('' for "
                                           "none)"},
}
CONDITIONS: dict[str, Any] = {
    "CreateEndpoint": {"Fn::Equals": [_ref("CreateSecretsManagerEndpoint"), "true"]},
    "HasRunner": {"Fn::Not": [{"Fn::Equals": [_ref("GitHubRepositoryUrl"), ""]}]},
    "UseStackBucket": {"Fn::Equals": [_ref("ManifestS3Uri"), ""]},
    "HasKmsKey": {"Fn::Not": [{"Fn::Equals": [_ref("SecretsKmsKeyArn"), ""]}]},
    "ApplyMode": {"Fn::Equals": [_ref("ReconcileMode"), "apply"]},
    **{f"HasDatabaseGroup{i + 1}": {"Fn::Not": [{"Fn::Equals": [_database_group(i), ""]}]}
       for i in range(MAX_DATABASE_GROUPS)},
}
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
MANIFEST_URI = {"Fn::If": ["UseStackBucket", _sub("s3://${ReportsBucket}/manifests/"), _ref("ManifestS3Uri")]}
# s3://bucket/prefix/ -> the bucket, for the reconcile role's S3 statements
MANIFEST_PARTS = {"ManifestBucket": {"Fn::Select": [2, {"Fn::Split": ["/", MANIFEST_URI]}]}}


def _with_manifest(document: dict[str, Any]) -> dict[str, Any]:
    """Statements that name the manifest bucket get its parts as Fn::Sub variables."""
    def fix(value: Any) -> Any:
        if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str) and \
                "${Manifest" in value["Fn::Sub"]:
            return {"Fn::Sub": [value["Fn::Sub"], MANIFEST_PARTS]}
        if isinstance(value, dict):
            return {k: fix(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value
    return fix(document)


def _role(name: str, policy: str, statements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": LAMBDA_TRUST,
        "Policies": [{"PolicyName": policy, "PolicyDocument": _with_manifest(stack_policy(statements))}],
        "Tags": [{"Key": "provisioner:function", "Value": name}]}}


def _function(name: str, handler: str, role: str, timeout: int, memory: int, log_group: str,
              environment: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "FunctionName": _sub("${AWS::StackName}-" + name), "Runtime": "python3.12", "Handler": handler,
        "Role": {"Fn::GetAtt": [role, "Arn"]},
        "Code": {"S3Bucket": _ref("CodeBucket"), "S3Key": _ref("CodeKey")},
        "Timeout": timeout, "MemorySize": memory,
        "VpcConfig": {"SubnetIds": _ref("SubnetIds"), "SecurityGroupIds": [_ref("FunctionSecurityGroup")]},
    }
    if environment:
        properties["Environment"] = {"Variables": environment}
    return {"Type": "AWS::Lambda::Function", "DependsOn": log_group, "Properties": properties}


def _alarm(metric: str, description: str) -> dict[str, Any]:
    return {"Type": "AWS::CloudWatch::Alarm", "Properties": {
        "AlarmDescription": description, "Namespace": "Provisioner", "MetricName": metric, "Statistic": "Maximum",
        "Period": 3600, "EvaluationPeriods": 1, "Threshold": 0, "ComparisonOperator": "GreaterThanThreshold",
        "TreatMissingData": "notBreaching", "AlarmActions": [_ref("AlarmTopic")]}}


def _network() -> dict[str, Any]:
    egress = [{"IpProtocol": "tcp", "FromPort": _ref("DatabasePort"), "ToPort": _ref("DatabasePort"),
               "CidrIp": "0.0.0.0/0", "Description": "the databases"},
              {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0",
               "Description": "AWS APIs (Secrets Manager, S3, CloudWatch, EventBridge)"}]
    resources: dict[str, Any] = {
        "FunctionSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
            "GroupDescription": "provisioner functions: to the databases and AWS APIs", "VpcId": _ref("VpcId"),
            "SecurityGroupEgress": egress}},
        "EndpointSecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Condition": "CreateEndpoint", "Properties": {
            "GroupDescription": "Secrets Manager endpoint: HTTPS from the provisioner functions",
            "VpcId": _ref("VpcId"), "SecurityGroupIngress": [
                {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
                 "SourceSecurityGroupId": {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}}]}},
        "SecretsManagerEndpoint": {"Type": "AWS::EC2::VPCEndpoint", "Condition": "CreateEndpoint", "Properties": {
            "VpcEndpointType": "Interface", "ServiceName": _sub("com.amazonaws.${AWS::Region}.secretsmanager"),
            "VpcId": _ref("VpcId"), "SubnetIds": _ref("SubnetIds"), "PrivateDnsEnabled": True,
            "SecurityGroupIds": [{"Fn::GetAtt": ["EndpointSecurityGroup", "GroupId"]}]}},
    }
    for i in range(MAX_DATABASE_GROUPS):
        resources[f"DatabaseIngress{i + 1}"] = {
            "Type": "AWS::EC2::SecurityGroupIngress", "Condition": f"HasDatabaseGroup{i + 1}", "Properties": {
                "GroupId": _database_group(i), "IpProtocol": "tcp", "FromPort": _ref("DatabasePort"),
                "ToPort": _ref("DatabasePort"), "Description": "provisioner functions",
                "SourceSecurityGroupId": {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}}}
    return resources


def _functions() -> dict[str, Any]:
    rotation = _role("rotation", "rotation", POLICIES["rotation-lambda"][:2] + VPC + logs("{ROTATION_FUNCTION}"))
    reconcile = _role("reconcile", "reconcile", POLICIES["reconcile-lambda"])
    return {
        "RotationRole": rotation,
        "ReconcileRole": reconcile,
        "ReconcileApplyPolicy": {"Type": "AWS::IAM::Policy", "Condition": "ApplyMode", "Properties": {
            "PolicyName": "reconcile-apply", "Roles": [_ref("ReconcileRole")],
            "PolicyDocument": stack_policy(CHANGE_MANAGED)}},
        "KmsKeyPolicy": {"Type": "AWS::IAM::Policy", "Condition": "HasKmsKey", "Properties": {
            "PolicyName": "secrets-kms-key", "Roles": [_ref("RotationRole"), _ref("ReconcileRole")],
            "PolicyDocument": stack_policy(ROTATE_KEY)}},
        "RotationLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": _sub("/aws/lambda/${AWS::StackName}-rotation"), "RetentionInDays": 90}},
        "ReconcileLogGroup": {"Type": "AWS::Logs::LogGroup", "Properties": {
            "LogGroupName": _sub("/aws/lambda/${AWS::StackName}-reconcile"), "RetentionInDays": 90}},
        "RotationFunction": _function("rotation", "provisioner.rotation.lambda_handler", "RotationRole", 120, 256,
                                      "RotationLogGroup"),
        "ReconcileFunction": _function("reconcile", "provisioner.reconcile.lambda_handler", "ReconcileRole", 900,
                                       1024, "ReconcileLogGroup", {"REPORTS_BUCKET": _ref("ReportsBucket")}),
        "RotationInvokePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Fn::GetAtt": ["RotationFunction", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "secretsmanager.amazonaws.com", "SourceAccount": _ref("AWS::AccountId")}},
        "ReconcileRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Description": "provisioner reconcile", "ScheduleExpression": _ref("ReconcileSchedule"),
            "State": "ENABLED", "Targets": [{
                "Id": "reconcile", "Arn": {"Fn::GetAtt": ["ReconcileFunction", "Arn"]},
                "Input": _sub('{"manifest": "${Manifest}", "mode": "${Mode}"}',
                              {"Manifest": MANIFEST_URI, "Mode": _ref("ReconcileMode")})}]}},
        "ReconcileInvokePermission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["ReconcileRule", "Arn"]}}},
    }


def _storage_and_alarms() -> dict[str, Any]:
    return {
        "ReportsBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
                          "Properties": {
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": [{"Id": "reports", "Status": "Enabled", "Prefix": "reports/",
                                                  "ExpirationInDays": 90}]}}},
        "AlarmTopic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": "alias/aws/sns"}},
        "DriftAlarm": _alarm("PlannedChanges", "a reconcile found targets that differ from the manifest"),
        "ErrorsAlarm": _alarm("Errors", "a reconcile could not plan or apply a target"),
    }


def _runner() -> dict[str, Any]:
    codebuild_trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "codebuild.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    runner_statements = [
        *VPC,
        statement("NetworkInterfacePermission", ["ec2:CreateNetworkInterfacePermission"],
                  "arn:{PARTITION}:ec2:{REGION}:{ACCOUNT}:network-interface/*"),
        statement("DescribeTheVpc", ["ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs",
                                     "ec2:DescribeDhcpOptions"], "*"),
        statement("WriteItsLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                  "arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/*")]
    return {
        "RunnerRole": {"Type": "AWS::IAM::Role", "Condition": "HasRunner", "Properties": {
            "AssumeRolePolicyDocument": codebuild_trust,
            "Policies": [{"PolicyName": "runner", "PolicyDocument": stack_policy(runner_statements)}]}},
        "Runner": {"Type": "AWS::CodeBuild::Project", "Condition": "HasRunner", "Properties": {
            "Name": _sub("${AWS::StackName}-runner"),
            "Description": "A GitHub Actions runner inside the VPC: pull-request plans and merge applies reach the "
                           "private databases",
            "Source": {"Type": "GITHUB", "Location": _ref("GitHubRepositoryUrl")},
            "Artifacts": {"Type": "NO_ARTIFACTS"},
            "Environment": {"Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL",
                            "Image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0"},
            "ServiceRole": {"Fn::GetAtt": ["RunnerRole", "Arn"]},
            "VpcConfig": {"VpcId": _ref("VpcId"), "Subnets": _ref("SubnetIds"),
                          "SecurityGroupIds": [_ref("FunctionSecurityGroup")]},
            "Triggers": {"Webhook": True, "FilterGroups": [[{"Type": "EVENT", "Pattern": "WORKFLOW_JOB_QUEUED"}]]}}},
    }


OUTPUTS = {
    "RotationFunctionArn": {"Value": {"Fn::GetAtt": ["RotationFunction", "Arn"]},
                            "Description": "the manifest's rotation.function"},
    "ReconcileFunctionArn": {"Value": {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}},
    "ReportsBucketName": {"Value": _ref("ReportsBucket"), "Description": "manifests/ and reports/"},
    "FunctionSecurityGroupId": {"Value": {"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}},
    "AlarmTopicArn": {"Value": _ref("AlarmTopic"), "Description": "subscribe to hear about drift and failures"},
}


def template() -> dict[str, Any]:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "provisioner: the rotation and reconcile functions inside the VPC, with their roles, network "
                       "path, manifests and reports bucket, schedule, alarms and an optional GitHub Actions runner",
        "Parameters": PARAMETERS, "Conditions": CONDITIONS,
        "Resources": {**_storage_and_alarms(), **_network(), **_functions(), **_runner()},
        "Outputs": OUTPUTS,
    }


HEADER = ("# Generated by `python -m devtools.aws_stack` from devtools/aws_stack.py (the one source of these\n"
          "# permissions and of docs/iam/): edit that module, never this file. Deploy: README, \"Running inside "
          "AWS\".\n")


class _NoAliases(yaml.SafeDumper):
    """CloudFormation rejects YAML aliases: a value used twice is written twice."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def rendered() -> dict[Path, str]:
    """Every file this module makes, with its text."""
    files = {TEMPLATE: HEADER + yaml.dump(template(), Dumper=_NoAliases, sort_keys=False, width=120)}
    for name in POLICIES:
        files[IAM_DIR / f"{name}.json"] = json.dumps(policy_document(name), indent=2) + "\n"
    return files


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail when a committed file differs")
    args = parser.parse_args(argv)
    stale = []
    for path, text in rendered().items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if args.check:
            stale.append(path.relative_to(ROOT).as_posix())
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"not what devtools/aws_stack.py makes: {', '.join(stale)} (run python -m devtools.aws_stack)")
        return 1
    print("docs/iam/ and deploy/cloudformation/provisioner.yaml are what devtools/aws_stack.py makes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
