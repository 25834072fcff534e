"""`provisioner doctor`: checks, for each managed secret, that rotation can actually work — the failures that
cost teams days: rotation not enabled, a function that does not exist or may not be invoked by Secrets
Manager, a function in a VPC with no route to Secrets Manager or no path to the database port, a rotation left
half-done or overdue, and an AWSCURRENT that no longer logs in. Every failure says its cause and its fix.

Reads only: Secrets Manager, Lambda, EC2 and RDS descriptions, and one login per secret.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from provisioner.core import schedule
from provisioner.core.checks import FAIL, PASS, SKIP, SecretReport
from provisioner.core.conventions import ROTATION_TAG
from provisioner.core.model import Manifest, SecretState
from provisioner.core.secret_value import CURRENT
from provisioner.engines import AuthenticationFailed
from provisioner.errors import ProvisionerError
from provisioner.secrets.aws import aws_access_error, aws_session, retry_config
from provisioner.secrets.store import SecretStore, replicas_of
from provisioner.secrets.trust import conninfo, engine_of, verify_endpoint


class Aws:
    """The AWS clients doctor reads from (standard credential chain and endpoints, standard retries)."""

    def __init__(self) -> None:
        session = aws_session()
        self.region = session.region_name or "us-east-1"
        try:
            self.lambda_ = session.client("lambda", config=retry_config())
            self.ec2 = session.client("ec2", config=retry_config())
            self.rds = session.client("rds", config=retry_config())
        except BotoCoreError as exc:
            raise aws_access_error("cannot set up the AWS clients doctor reads", exc) from None


def _code(exc: Exception) -> str:
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else type(exc).__name__


def overdue(rules: dict[str, Any], expression: str | None, last: dt.datetime | None, created: dt.datetime | None,
            now: dt.datetime) -> str | None:
    """Why the last rotation is older than the schedule allows (None when it is not)."""
    parsed = schedule.parse(expression) if expression else schedule.reported_schedule(rules)
    days: float | None
    if parsed is None or parsed.cron:
        days = 31 if parsed and parsed.cron else None  # a cron schedule fires at least monthly in practice
    else:
        days = parsed.days or (parsed.hours or 24) / 24
    if days is None:
        return None
    since = last or created
    if since is None:
        return None
    limit = dt.timedelta(days=days) + dt.timedelta(days=1)  # the rotation window and a day of slack
    age = now - since
    if age > limit:
        what = "last rotated" if last else "never rotated since its creation"
        return f"{what} {age.days} days ago; the schedule asks for every {days:g} days"
    return None


def run_doctor(manifest: Manifest, target_names: Iterable[str] | None, store: SecretStore, aws: Aws | None = None,
               now: dt.datetime | None = None) -> list[SecretReport]:
    aws = aws or Aws()
    now = now or dt.datetime.now(dt.timezone.utc)
    selected = set(target_names or manifest.targets)
    accounts = {(p.target, p.name): p for p in manifest.principals if p.login}
    reports = []
    for secret in sorted(store.managed(refresh=True).values(), key=lambda s: s.name):
        if secret.deleted or secret.target not in selected:
            continue
        report = SecretReport(secret.name, secret.target, secret.account)
        account = accounts.get((secret.target, secret.account))
        wanted = account is not None and account.rotation.strategy != "none" and account.rotation.function
        description = store.describe(secret.name)
        function = _rotation_check(report, secret, bool(wanted))
        configuration = _function_checks(report, aws, function) if function else None
        if configuration is not None:
            port = int(str(secret.fields.get("port") or 0))
            _network_checks(report, aws, configuration, port, secret, store, manifest)
        else:
            for name in ("vpc-route-to-secrets-manager", "security-groups-reach-database"):
                report.add(name, SKIP, "no rotation function to check")
        _last_rotation_check(report, secret, description, account.rotation.schedule if account else None, now)
        _replication_check(report, description, dict(account.secret.replica_regions) if account else {})
        _login_check(report, store, secret)
        reports.append(report)
    return reports


def _rotation_check(report: SecretReport, secret: SecretState, wanted: bool) -> str | None:
    # moto reports rotation disabled after a ScheduleExpression; the fingerprint tag says apply configured it.
    configured = bool(secret.rotation_lambda) and (secret.rotation_enabled or ROTATION_TAG in secret.tags)
    if configured:
        rules = ", ".join(f"{k}={v}" for k, v in sorted(secret.rotation_rules.items())) or "rules not reported"
        report.add("rotation-enabled", PASS, f"rotation by {secret.rotation_lambda} ({rules})")
        return secret.rotation_lambda
    if not wanted:
        report.add("rotation-enabled", SKIP, "the manifest asks for no Lambda rotation (rotate with `provisioner "
                   "rotate` from cron, or set rotation.function)")
        return None
    report.add("rotation-enabled", FAIL, "rotation is not enabled on the secret, though the manifest sets a function",
               "run `provisioner apply` (it calls RotateSecret with the function and schedule)")
    return None


def _function_checks(report: SecretReport, aws: Aws, function: str) -> dict[str, Any] | None:
    try:
        configuration = aws.lambda_.get_function(FunctionName=function)["Configuration"]
    except (ClientError, BotoCoreError) as exc:
        report.add("function-exists", FAIL, f"the rotation function {function} cannot be found ({_code(exc)})",
                   "deploy it: `make lambda`, then `aws lambda create-function ... --handler "
                   "provisioner.rotation.lambda_handler` (README: Deploying the rotation Lambda); check its region")
        report.add("invoke-permission", SKIP, "no function")
        return None
    report.add("function-exists", PASS, f"{configuration.get('FunctionName')} ({configuration.get('Runtime')})")
    try:
        policy = json.loads(aws.lambda_.get_policy(FunctionName=function)["Policy"])
    except ClientError as exc:
        policy = {"Statement": []} if _code(exc) == "ResourceNotFoundException" else None
        if policy is None:
            report.add("invoke-permission", FAIL, f"cannot read the function's resource policy ({_code(exc)})",
                       "allow lambda:GetPolicy to whoever runs doctor")
            return configuration
    allowed = any(_allows_secrets_manager(s) for s in policy.get("Statement", []))
    if allowed:
        report.add("invoke-permission", PASS, "secretsmanager.amazonaws.com may invoke the function")
    else:
        report.add("invoke-permission", FAIL,
                   "the function's resource policy does not let secretsmanager.amazonaws.com invoke it: rotation "
                   "fails before the function runs",
                   f"aws lambda add-permission --function-name {function} --statement-id secretsmanager "
                   "--action lambda:InvokeFunction --principal secretsmanager.amazonaws.com "
                   "--source-account ACCOUNT_ID")
    return configuration


def _allows_secrets_manager(statement: dict[str, Any]) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else principal
    services = services if isinstance(services, list) else [services]
    actions = statement.get("Action")
    actions = actions if isinstance(actions, list) else [actions]
    return "secretsmanager.amazonaws.com" in services and any(a in ("lambda:InvokeFunction", "lambda:*", "*")
                                                              for a in actions)


def _network_checks(report: SecretReport, aws: Aws, configuration: dict[str, Any], port: int, secret: SecretState,
                    store: SecretStore, manifest: Manifest) -> None:
    vpc_config = configuration.get("VpcConfig") or {}
    subnets = vpc_config.get("SubnetIds") or []
    groups = vpc_config.get("SecurityGroupIds") or []
    if not subnets:
        report.add("vpc-route-to-secrets-manager", SKIP, "the function does not run in a VPC")
        report.add("security-groups-reach-database", SKIP, "the function does not run in a VPC")
        return
    described = aws.ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    vpc = described[0]["VpcId"]
    service = f"com.amazonaws.{aws.region}.secretsmanager"
    endpoints = aws.ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                                        {"Name": "service-name", "Values": [service]}])["VpcEndpoints"]
    usable = [e for e in endpoints if e.get("State", "available").lower() == "available"]
    nat = _nat_routes(aws, vpc, subnets)
    if any(e.get("PrivateDnsEnabled") for e in usable):
        report.add("vpc-route-to-secrets-manager", PASS, f"interface endpoint {usable[0]['VpcEndpointId']} with "
                   f"private DNS in {vpc}")
    elif nat:
        report.add("vpc-route-to-secrets-manager", PASS, f"a NAT gateway route in every subnet ({', '.join(nat)})")
    elif usable:
        report.add("vpc-route-to-secrets-manager", FAIL,
                   f"the endpoint {usable[0]['VpcEndpointId']} for {service} has private DNS disabled: the function "
                   f"still resolves the public name and times out after the \"Found credentials\" log line",
                   f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {usable[0]['VpcEndpointId']} --private-dns-enabled")
    else:
        report.add("vpc-route-to-secrets-manager", FAIL,
                   f"the function runs in {vpc}, which has neither an interface endpoint for Secrets Manager nor a "
                   f"NAT route: rotation times out after the \"Found credentials\" log line",
                   f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface --service-name {service} "
                   f"--subnet-ids {' '.join(subnets)} --security-group-ids SG_ALLOWING_443 --private-dns-enabled "
                   f"(or route 0.0.0.0/0 through a NAT gateway)")
    _security_group_check(report, aws, groups, described, port, secret, store, manifest)


def _nat_routes(aws: Aws, vpc: str, subnets: list[str]) -> list[str]:
    tables = aws.ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    main = next((t for t in tables if any(a.get("Main") for a in t.get("Associations", []))), None)
    found = []
    for subnet in subnets:
        table = next((t for t in tables if any(a.get("SubnetId") == subnet for a in t.get("Associations", []))), main)
        routes = (table or {}).get("Routes", [])
        nat = next((r["NatGatewayId"] for r in routes
                    if r.get("DestinationCidrBlock") == "0.0.0.0/0" and r.get("NatGatewayId")), None)
        if not nat:
            return []
        found.append(nat)
    return found


def _allows(permissions: list[dict[str, Any]], port: int, groups: set[str], cidrs: list[str]) -> bool:
    for rule in permissions:
        protocol = rule.get("IpProtocol")
        if protocol not in ("-1", "tcp", "6"):
            continue
        if protocol != "-1" and not (rule.get("FromPort", 0) <= port <= rule.get("ToPort", 65535)):
            continue
        if any(pair.get("GroupId") in groups for pair in rule.get("UserIdGroupPairs", [])):
            return True
        for ip_range in rule.get("IpRanges", []):
            network = ipaddress.ip_network(ip_range["CidrIp"], strict=False)
            if not cidrs or all(_within(ipaddress.ip_network(c), network) for c in cidrs):
                return True
    return False


def _security_group_check(report: SecretReport, aws: Aws, groups: list[str], subnets: list[dict[str, Any]],
                          port: int, secret: SecretState, store: SecretStore, manifest: Manifest) -> None:
    described = aws.ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"] if groups else []
    if not any(_allows(g.get("IpPermissionsEgress", []), port, set(), []) for g in described):
        report.add("security-groups-reach-database", FAIL,
                   f"no security group of the function ({', '.join(groups) or 'none'}) allows egress to port {port}",
                   f"aws ec2 authorize-security-group-egress --group-id {groups[0] if groups else 'SG'} "
                   f"--protocol tcp --port {port} --cidr DATABASE_CIDR")
        return
    database_groups = _database_groups(aws, secret, store, manifest)
    if database_groups is None:
        report.add("security-groups-reach-database", PASS,
                   f"egress to port {port} allowed (the database's own security groups were not identified: not an "
                   f"RDS endpoint, and no aws:rds:* tag on the admin secret)")
        return
    ingress = aws.ec2.describe_security_groups(GroupIds=database_groups)["SecurityGroups"]
    cidrs = [s["CidrBlock"] for s in subnets]
    if any(_allows(g.get("IpPermissions", []), port, set(groups), cidrs) for g in ingress):
        report.add("security-groups-reach-database", PASS,
                   f"the function's groups reach port {port} and the database's groups "
                   f"({', '.join(database_groups)}) admit them")
    else:
        report.add("security-groups-reach-database", FAIL,
                   f"the database's security groups ({', '.join(database_groups)}) admit neither the function's "
                   f"groups nor its subnets on port {port}",
                   f"aws ec2 authorize-security-group-ingress --group-id {database_groups[0]} --protocol tcp "
                   f"--port {port} --source-group {groups[0]}")


def _database_groups(aws: Aws, secret: SecretState, store: SecretStore, manifest: Manifest) -> list[str] | None:
    """The RDS security groups of the secret's database: by endpoint address, or by the admin secret's RDS tags."""
    host = str(secret.fields.get("host") or "")
    target = manifest.targets.get(secret.target)
    tagged: dict[str, str] = {}
    if target and target.admin.secret:
        try:
            tagged = {t["Key"]: t["Value"] for t in store.describe(target.admin.secret).get("Tags", [])}
        except ProvisionerError:
            tagged = {}
    try:
        for instance in aws.rds.describe_db_instances()["DBInstances"]:
            if (instance.get("Endpoint") or {}).get("Address") == host or \
                    instance.get("DBInstanceArn") == tagged.get("aws:rds:primaryDBInstanceArn"):
                return [g["VpcSecurityGroupId"] for g in instance.get("VpcSecurityGroups", [])]
        for cluster in aws.rds.describe_db_clusters()["DBClusters"]:
            if host in (cluster.get("Endpoint"), cluster.get("ReaderEndpoint")) or \
                    cluster.get("DBClusterArn") == tagged.get("aws:rds:primaryDBClusterArn"):
                return [g["VpcSecurityGroupId"] for g in cluster.get("VpcSecurityGroups", [])]
    except (ClientError, BotoCoreError):
        return None
    return None


def _last_rotation_check(report: SecretReport, secret: SecretState, description: dict[str, Any],
                         expression: str | None, now: dt.datetime) -> None:
    stages = description.get("VersionIdsToStages", {})
    stuck = [v for v, s in stages.items() if "AWSPENDING" in s and "AWSCURRENT" not in s]
    if stuck:
        report.add("last-rotation", FAIL,
                   f"version {stuck[0]} is still AWSPENDING: a rotation started and did not finish",
                   "read the function's CloudWatch logs (CloudTrail: RotationFailed); "
                   f"`provisioner rotate {secret.account}` (or `apply`) replaces it with a new password and finishes")
        return
    if not secret.rotation_lambda:
        report.add("last-rotation", SKIP, "no rotation configured")
        return
    reason = overdue(dict(description.get("RotationRules") or {}), expression, description.get("LastRotatedDate"),
                     description.get("CreatedDate"), now)
    if reason:
        report.add("last-rotation", FAIL, reason,
                   "check the function's CloudWatch logs and CloudTrail's RotationFailed/RotationAbandoned events; "
                   f"`provisioner rotate {secret.account}` rotates now")
    else:
        last = description.get("LastRotatedDate")
        report.add("last-rotation", PASS, f"last rotated {last:%Y-%m-%d %H:%M} UTC" if last else
                   "within its schedule (not rotated yet)")


def _replication_check(report: SecretReport, description: dict[str, Any], wanted: dict[str, str]) -> None:
    """Replicas (SPEC 11): each region the manifest asks for holds one, InSync."""
    statuses = {region: status for region, (_, status) in replicas_of(description).items()}
    if not statuses and not wanted:
        report.add("replication", SKIP, "the secret has no replicas and the manifest asks for none")
        return
    failed = [f"{region}: {status}" for region, status in sorted(statuses.items()) if status != "InSync"]
    missing = sorted(set(wanted) - set(statuses))
    if failed or missing:
        report.add("replication", FAIL, "; ".join(failed + [f"{r}: no replica" for r in missing]),
                   "check that the KMS key of that region exists and that the applying identity may use it, then "
                   "`provisioner apply` (it removes a failed replica and replicates again)")
        return
    report.add("replication", PASS, f"in sync in {', '.join(sorted(statuses))}")


def _login_check(report: SecretReport, store: SecretStore, secret: SecretState) -> None:
    try:
        value = store.get_value(secret.name, CURRENT)
        # A password goes only where apply put the account (SPEC 8): the value is checked against the record.
        verify_endpoint(secret.name, dict(secret.tags), value, CURRENT)
        engine_of(value).check_login(conninfo(value))
    except AuthenticationFailed:
        report.add("current-credentials-log-in", FAIL, "the database refuses the AWSCURRENT credentials",
                   f"`provisioner apply --reset-password {secret.account}` sets a new password in both places")
        return
    except ProvisionerError as exc:
        report.add("current-credentials-log-in", FAIL, f"cannot log in from here: {exc.message}", exc.hint)
        return
    except KeyError as exc:
        report.add("current-credentials-log-in", FAIL, f"the secret value lacks {exc}",
                   "run `provisioner apply` to rewrite the secret's fields")
        return
    report.add("current-credentials-log-in", PASS, f"{value.get('username')} logs in with AWSCURRENT")


def _within(inner: ipaddress.IPv4Network | ipaddress.IPv6Network,
            outer: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return inner.version == outer.version and inner.subnet_of(outer)  # type: ignore[arg-type]
