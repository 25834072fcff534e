"""The AWS stack (SPEC 10) as files: the template and docs/iam/ are what their one source makes (no hand edits, so
the policies cannot drift apart), the template's parameters and outputs are the interface the issue names, it is
plain CloudFormation (no transform, no Fn::ForEach), cfn-lint finds nothing, and each role's statements are those
of its policy document."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from devtools import aws_stack

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "cloudformation" / "provisioner.yaml"


def _template() -> dict:
    return yaml.safe_load(TEMPLATE.read_text())


def test_the_committed_template_and_policies_are_what_the_source_makes():
    for path, text in aws_stack.rendered().items():
        assert path.read_text() == text, f"{path.relative_to(ROOT)}: run python -m devtools.aws_stack"
    assert aws_stack.main(["--check"]) == 0


def test_parameters_and_outputs_are_the_interface():
    template = _template()
    assert list(template["Parameters"]) == [
        "VpcId", "SubnetIds", "DatabaseSecurityGroupIds", "DatabasePort", "SecretNamePrefix", "SecretsKmsKeyArn",
        "CodeBucket", "CodeKey", "CreateSecretsManagerEndpoint", "ReconcileSchedule", "ReconcileMode",
        "ManifestS3Uri", "GitHubRepositoryUrl"]
    defaults = {k: v.get("Default") for k, v in template["Parameters"].items()}
    assert defaults["SecretsKmsKeyArn"] == "" and defaults["ReconcileSchedule"] == "rate(1 hour)"
    assert defaults["ReconcileMode"] == "plan" and defaults["ManifestS3Uri"] == ""
    assert defaults["GitHubRepositoryUrl"] == ""
    assert template["Parameters"]["CreateSecretsManagerEndpoint"]["AllowedValues"] == ["true", "false"]
    assert set(template["Outputs"]) == {"RotationFunctionArn", "ReconcileFunctionArn", "ReportsBucketName",
                                        "FunctionSecurityGroupId", "AlarmTopicArn"}


def test_plain_cloudformation_without_transforms_or_loops():
    text = TEMPLATE.read_text()
    assert "Transform" not in _template() and "Fn::ForEach" not in text and "AWS::Serverless" not in text
    assert "*id0" not in text  # no YAML aliases (CloudFormation rejects them)


def test_the_resources_the_stack_promises():
    resources = _template()["Resources"]
    types = {name: r["Type"] for name, r in resources.items()}
    for name, kind in {"RotationFunction": "AWS::Lambda::Function", "ReconcileFunction": "AWS::Lambda::Function",
                       "RotationInvokePermission": "AWS::Lambda::Permission",
                       "FunctionSecurityGroup": "AWS::EC2::SecurityGroup",
                       "DatabaseIngress1": "AWS::EC2::SecurityGroupIngress",
                       "SecretsManagerEndpoint": "AWS::EC2::VPCEndpoint", "ReportsBucket": "AWS::S3::Bucket",
                       "ReconcileRule": "AWS::Events::Rule", "AlarmTopic": "AWS::SNS::Topic",
                       "DriftAlarm": "AWS::CloudWatch::Alarm", "RotationLogGroup": "AWS::Logs::LogGroup",
                       "Runner": "AWS::CodeBuild::Project"}.items():
        assert types[name] == kind, name
    rotation, reconcile = resources["RotationFunction"]["Properties"], resources["ReconcileFunction"]["Properties"]
    assert rotation["Code"] == reconcile["Code"]  # one zip, two handlers
    assert rotation["Handler"] == "provisioner.rotation.lambda_handler"
    assert reconcile["Handler"] == "provisioner.reconcile.lambda_handler"
    assert rotation["VpcConfig"] == reconcile["VpcConfig"]
    bucket = resources["ReportsBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values()) and bucket["BucketEncryption"]
    assert resources["SecretsManagerEndpoint"]["Properties"]["PrivateDnsEnabled"] is True
    assert resources["Runner"]["Condition"] == "HasRunner"
    alarm = resources["DriftAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["ComparisonOperator"], alarm["Threshold"]) == (
        "Provisioner", "PlannedChanges", "GreaterThanThreshold", 0)


def _sids(document: dict) -> dict[str, list[str]]:
    return {s["Sid"]: sorted(s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
            for s in document["Statement"]}


def test_each_role_has_the_statements_of_its_policy_document():
    resources = _template()["Resources"]
    docs = {name: json.loads((ROOT / "docs" / "iam" / f"{name}.json").read_text())
            for name in ("rotation-lambda", "reconcile-lambda", "apply")}
    reconcile = resources["ReconcileRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    assert _sids(reconcile) == _sids(docs["reconcile-lambda"])
    rotation = _sids(resources["RotationRole"]["Properties"]["Policies"][0]["PolicyDocument"])
    kms = _sids(resources["KmsKeyPolicy"]["Properties"]["PolicyDocument"])
    assert {**rotation, **kms} == _sids(docs["rotation-lambda"])
    apply_mode = _sids(resources["ReconcileApplyPolicy"]["Properties"]["PolicyDocument"])
    assert all(_sids(docs["apply"]).get(sid) == actions for sid, actions in apply_mode.items())


def test_cfn_lint_finds_nothing():
    linter = shutil.which("cfn-lint", path=str(Path(sys.executable).parent))
    assert linter, "cfn-lint is a dev dependency"
    result = subprocess.run([linter, str(TEMPLATE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
