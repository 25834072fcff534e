"""`provisioner doctor` against moto's Lambda, EC2, RDS and Secrets Manager APIs over its server, and the real
PostgreSQL: each check fails once (with its cause and fix) and passes once."""

from __future__ import annotations

import datetime as dt
import json

import boto3

from devtools import sandbox
from provisioner.commands.doctor import overdue


def function_in_vpc(name: str, subnet: str, group: str) -> str:
    return sandbox.register_rotation_function(name, vpc_config={"SubnetIds": [subnet], "SecurityGroupIds": [group]})


def statuses(env) -> tuple[dict[str, str], str]:
    text = env.cli("doctor", "-f", "accounts.yaml", expect=None)
    document = env.cli("doctor", "-f", "accounts.yaml", "--format", "json", expect=None)
    [report] = json.loads(document.out)
    return {c["name"]: c["status"] for c in report["checks"]}, text.out


def test_each_check_fails_once_and_passes_once(env, rotation_lambda):
    ec2, lam, rds, sm = (boto3.client(s) for s in ("ec2", "lambda", "rds", "secretsmanager"))
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    fn_group = ec2.create_security_group(GroupName=f"fn-{env.target}", Description="rotation", VpcId=vpc)["GroupId"]
    db_group = ec2.create_security_group(GroupName=f"db-{env.target}", Description="database", VpcId=vpc)["GroupId"]
    name = f"rotation-{env.target}"
    function = function_in_vpc(name, subnet, fn_group)
    instance = rds.create_db_instance(
        DBInstanceIdentifier=f"films-{env.target}", Engine="postgres", DBInstanceClass="db.t3.micro",
        MasterUsername="master", MasterUserPassword="not-used-here-1", AllocatedStorage=20,
        VpcSecurityGroupIds=[db_group])["DBInstance"]
    admin = env.admin_secret()
    sm.tag_resource(SecretId=admin, Tags=[{"Key": "aws:rds:primaryDBInstanceArn", "Value": instance["DBInstanceArn"]}])
    env.sql("CREATE TABLE films (id int)")
    env.manifest(f"""
        accounts:
          - name: app_user
            target: {env.target}
            rotation: {{strategy: single, schedule: rate(30 days), window: 4h, function: "{function}"}}
            grants:
              - {{privileges: [SELECT], tables: [public.films]}}
        """, admin_secret=True)
    env.apply()  # moto's RotateSecret leaves an AWSPENDING version behind: a half-done rotation

    first, text = statuses(env)
    print(text)  # the report shown in the closing note
    assert first == {"rotation-enabled": "PASS", "function-exists": "PASS", "invoke-permission": "FAIL",
                     "vpc-route-to-secrets-manager": "FAIL", "security-groups-reach-database": "FAIL",
                     "last-rotation": "FAIL", "replication": "SKIP", "current-credentials-log-in": "PASS"}
    assert "fix: aws lambda add-permission" in text and "--principal secretsmanager.amazonaws.com" in text
    assert "neither an interface endpoint for Secrets Manager nor a NAT route" in text
    assert f"aws ec2 authorize-security-group-ingress --group-id {db_group}" in text
    assert "is still AWSPENDING" in text and "provisioner rotate app_user" in text

    lam.add_permission(FunctionName=name, StatementId="secretsmanager", Action="lambda:InvokeFunction",
                       Principal="secretsmanager.amazonaws.com", SourceAccount="123456789012")
    endpoint = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.secretsmanager",
                                       VpcEndpointType="Interface", SubnetIds=[subnet], PrivateDnsEnabled=False,
                                       SecurityGroupIds=[fn_group])["VpcEndpoint"]["VpcEndpointId"]
    ec2.authorize_security_group_ingress(GroupId=db_group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": env.server.port, "ToPort": env.server.port,
        "UserIdGroupPairs": [{"GroupId": fn_group}]}])
    env.cli("rotate", "-f", "accounts.yaml", "app_user")  # resumes and finishes the pending version
    second, text = statuses(env)
    assert second["vpc-route-to-secrets-manager"] == "FAIL" and "has private DNS disabled" in text
    assert f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoint} --private-dns-enabled" in text
    # moto ignores modify-vpc-endpoint's private DNS flag: the same fix, made by replacing the endpoint
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint])
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.secretsmanager",
                            VpcEndpointType="Interface", SubnetIds=[subnet], PrivateDnsEnabled=True,
                            SecurityGroupIds=[fn_group])
    third, text = statuses(env)
    print(text)
    assert set(third.values()) == {"PASS", "SKIP"} and third["replication"] == "SKIP", third  # no replicas asked

    # Now break what passed: the login, the function's egress, the function itself, rotation on the secret.
    env.sql("ALTER ROLE app_user PASSWORD 'changed-behind-our-back'")
    ec2.revoke_security_group_egress(GroupId=fn_group, IpPermissions=[
        {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    broken, text = statuses(env)
    assert broken["current-credentials-log-in"] == "FAIL" and "--reset-password app_user" in text
    assert broken["security-groups-reach-database"] == "FAIL" and "allows egress to port" in text
    env.apply("--reset-password", "app_user")
    ec2.authorize_security_group_egress(GroupId=fn_group, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    repaired, _ = statuses(env)
    assert repaired["current-credentials-log-in"] == "PASS" and repaired["security-groups-reach-database"] == "PASS"

    lam.delete_function(FunctionName=name)
    gone, text = statuses(env)
    assert gone["function-exists"] == "FAIL" and "make lambda" in text
    function_in_vpc(name, subnet, fn_group)
    sm.cancel_rotate_secret(SecretId=f"{env.target}/app_user")
    sm.untag_resource(SecretId=f"{env.target}/app_user", TagKeys=["provisioner:rotation"])
    disabled, text = statuses(env)
    assert disabled["rotation-enabled"] == "FAIL" and "run `provisioner apply`" in text
    assert env.cli("doctor", "-f", "accounts.yaml", expect=None).code == 1


def test_nat_route_is_a_path_to_secrets_manager(env, rotation_lambda):
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"nat-{env.target}", Description="rotation", VpcId=vpc)["GroupId"]
    public = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.2.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=public, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    function = function_in_vpc(f"nat-{env.target}", subnet, group)
    boto3.client("lambda").add_permission(FunctionName=f"nat-{env.target}", StatementId="sm",
                                          Action="lambda:InvokeFunction", Principal="secretsmanager.amazonaws.com")
    env.sql("CREATE TABLE films (id int)")
    env.manifest(f"""
        accounts:
          - name: app_user
            target: {env.target}
            rotation: {{strategy: single, schedule: rate(30 days), function: "{function}"}}
        """)
    env.apply()
    before, _ = statuses(env)
    assert before["vpc-route-to-secrets-manager"] == "FAIL"
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    after, text = statuses(env)
    assert after["vpc-route-to-secrets-manager"] == "PASS" and "NAT gateway route" in text
    # no RDS instance matches this database: only the function's egress is checked, and the report says so
    assert "the database's own security groups were not identified" in text


def test_overdue_rotation_is_measured_against_the_schedule():
    now = dt.datetime(2026, 11, 24, tzinfo=dt.timezone.utc)
    assert overdue({}, "rate(30 days)", now - dt.timedelta(days=10), None, now) is None
    late = overdue({}, "rate(30 days)", now - dt.timedelta(days=45), None, now)
    assert late == "last rotated 45 days ago; the schedule asks for every 30 days"
    never = overdue({"AutomaticallyAfterDays": 7}, None, None, now - dt.timedelta(days=20), now)
    assert never == "never rotated since its creation 20 days ago; the schedule asks for every 7 days"
    assert overdue({}, "rate(12 hours)", now - dt.timedelta(hours=30), None, now) is None


def test_doctor_with_no_rotation_requested_skips_instead_of_failing(env):
    env.sql("CREATE TABLE films (id int)")
    env.manifest(f"""
        accounts:
          - name: app_user
            target: {env.target}
            rotation: {{strategy: none}}
        """)
    env.apply()
    result, text = statuses(env)
    assert result["rotation-enabled"] == "SKIP" and result["current-credentials-log-in"] == "PASS"
    assert env.cli("doctor", "-f", "accounts.yaml").code == 0
    assert "Doctor: 1 passed, 0 failed" in text
