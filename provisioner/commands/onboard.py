"""`provisioner onboard`: add a least-privilege account to the manifest and say what the service needs.

The manifest is edited with ruamel.yaml's round-trip mode, which keeps the file's comments, order and quoting
(a plain YAML dump would lose them). The edited manifest is validated as a whole before the file is written:
bad input changes nothing.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from provisioner.core.engine_facts import facts
from provisioner.core.kinds import SPECS, Family, Naming
from provisioner.core.model import Manifest, Principal, Target
from provisioner.errors import Problem, ProvisionerError, ValidationError
from provisioner.manifest import load_sources, manifest_files
from provisioner.pipeline.connect import secret_name_of
from provisioner.secrets.store import SecretStore

_GRANT = re.compile(r"^(?P<privs>[A-Za-z ,]+):(?P<kind>[a-z_]+)=(?P<objects>.+)$")


@dataclass
class Onboarded:
    file: Path
    manifest: Manifest
    account: Principal
    secret: str


def parse_grant(spec: str) -> dict[str, Any]:
    """`SELECT,INSERT:tables=public.films,public.rentals` -> a manifest grant entry."""
    match = _GRANT.match(spec.strip())
    keys = [s.key for s in SPECS if s.key and s.written(Family.POSTGRES) != Naming.COLUMNS
            and any(s.written(f) not in (Naming.COLUMNS, Naming.NONE) for f in Family)]
    if not match or match.group("kind") not in keys:
        kinds = ", ".join(keys)
        raise ProvisionerError(f"--grant {spec!r} is not PRIVILEGES:KIND=OBJECT[,OBJECT...]",
                               f"e.g. --grant SELECT,INSERT:tables=public.films; KIND is one of {kinds} "
                               f"(column grants go in a profile)")
    privs = [p.strip().upper() for p in match.group("privs").split(",") if p.strip()]
    objects = [o.strip() for o in match.group("objects").split(",") if o.strip()]
    return {"privileges": privs, match.group("kind"): objects}


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 120
    return yaml


def _flow(entry: dict[str, Any]) -> CommentedMap:
    grant = CommentedMap()
    for key, value in entry.items():
        items = CommentedSeq(value)
        items.fa.set_flow_style()
        grant[key] = items
    grant.fa.set_flow_style()
    return grant


def _entry(name: str, target: str, profile: str | None, grants: list[str], description: str | None,
           host: str | None, rotation: str | None, member_of: list[str] | None, auth: str = "password"
           ) -> CommentedMap:
    """The new account entry, in the flow style the rest of the file uses for short lists."""
    entry = CommentedMap()
    entry["name"] = name
    entry["target"] = target
    if description:
        entry["description"] = description
    if host:
        entry["host"] = host
    if auth == "iam":
        entry["auth"] = "iam"
    if profile:
        entry["profile"] = profile
    if grants:
        entry["grants"] = CommentedSeq([_flow(parse_grant(g)) for g in grants])
    if member_of:
        members = CommentedSeq(member_of)
        members.fa.set_flow_style()
        entry["member_of"] = members
    if rotation:
        strategy = CommentedMap(strategy=rotation)
        strategy.fa.set_flow_style()
        entry["rotation"] = strategy
    return entry


def onboard(paths: list[str], name: str, target: str, profile: str | None, grants: list[str],
            description: str | None = None, host: str | None = None, rotation: str | None = None,
            member_of: list[str] | None = None, store: SecretStore | None = None, auth: str = "password"
            ) -> Onboarded:
    files = manifest_files(paths)
    current = {str(f): f.read_text(encoding="utf-8") for f in files}
    manifest = load_sources(list(current.items()))  # the manifest must be valid before it is edited
    if target not in manifest.targets:
        raise ProvisionerError(f"unknown target {target!r}",
                               f"targets in the manifest: {', '.join(sorted(manifest.targets)) or 'none'}")
    if not profile and not grants:
        raise ProvisionerError("onboard needs --profile or at least one --grant",
                               "e.g. --grant SELECT:tables=public.films, or --profile reader")
    location = manifest.targets[target].location
    file = Path(location.file) if location and location.file in current else files[0]

    entry = _entry(name, target, profile, grants, description, host, rotation, member_of, auth)

    yaml = _yaml()
    document = yaml.load(current[str(file)]) or CommentedMap()
    accounts = document.get("accounts")
    if accounts is None:
        document["accounts"] = accounts = CommentedSeq()
    accounts.append(entry)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    edited = buffer.getvalue()

    # Problems in the edited file cite lines that exist only after the edit: they are labelled so, and a last
    # note says which lines the new entry would take (the file itself is left as it was).
    label = f"{file} (after the edit)"
    try:
        result = load_sources([(label if f == str(file) else f, edited if f == str(file) else text)
                               for f, text in current.items()])
    except ValidationError as exc:
        first = len(current[str(file)].splitlines()) + 1
        note = Problem(None, f"{file} was not changed; lines cited as '{label}' are those the file would have: the "
                             f"new account {name!r} would be lines {first}-{len(edited.splitlines())}",
                       "fix the flag that produced the entry (--grant, --profile, --member-of, --host, --rotation)")
        raise ValidationError([*exc.problems, note]) from None
    account = next(p for p in result.principals if p.name == name and p.target == target and p.login)
    temporary = file.with_name(f".{file.name}.onboard")
    temporary.write_text(edited, encoding="utf-8")
    os.replace(temporary, file)
    return Onboarded(file, result, account, secret_name_of(account, result.targets[target], store))


def iam_policy(secret: str, kms_key: str | None, region: str, account_id: str) -> dict[str, Any]:
    """The policy that lets a service read exactly its own secret (and decrypt it with a customer key)."""
    statements: list[dict[str, Any]] = [{
        "Sid": "ReadItsDatabaseSecret",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        # Secrets Manager appends a hyphen and six random characters to a secret's name in its ARN.
        "Resource": f"arn:aws:secretsmanager:{region}:{account_id}:secret:{secret}-??????",
    }]
    if kms_key and kms_key not in ("alias/aws/secretsmanager", "aws/secretsmanager"):
        statement: dict[str, Any] = {"Sid": "DecryptWithTheSecretsKey", "Effect": "Allow", "Action": "kms:Decrypt",
                                     "Condition": {"StringEquals": {
                                         "kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}}}
        if kms_key.startswith("arn:aws") and ":key/" in kms_key:
            statement["Resource"] = kms_key
        elif kms_key.startswith(("alias/", "arn:aws")):
            alias = kms_key.split(":", 5)[-1] if kms_key.startswith("arn:") else kms_key
            statement["Resource"] = "*"
            statement["Condition"]["ForAnyValue:StringEquals"] = {"kms:ResourceAliases": alias}
        else:
            statement["Resource"] = f"arn:aws:kms:{region}:{account_id}:key/{kms_key}"
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def iam_connect_policy(target: Target, user: str, region: str, account_id: str) -> dict[str, Any]:
    """The policy that lets a service connect as `user` with an IAM authentication token."""
    resource = target.resource_id or "RESOURCE_ID"
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "ConnectWithIamAuthentication", "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": f"arn:aws:rds-db:{region}:{account_id}:dbuser:{resource}/{user}"}]}


def _iam_instructions(result: Onboarded, target: Target, region: str, account_id: str) -> str:
    name = result.account.name
    placeholder = "" if target.resource_id else (" (RESOURCE_ID: the instance's DbiResourceId or the cluster's "
                                                 "resource id; set `resource_id:` on the target to fill it in)")
    lines = [
        f"added account {name} (target {target.name}, {target.engine}, IAM authentication) to {result.file}",
        "next: commit the change; `provisioner apply` creates the account (no password, no secret)",
        "",
        f"IAM policy for the service (connect as {name}){placeholder}:",
        json.dumps(iam_connect_policy(target, name, region, account_id), indent=2),
        "",
        "connect from the service with a token (valid 15 minutes; TLS is required):",
        '    token = boto3.client("rds").generate_db_auth_token(DBHostname=HOST, Port=PORT, '
        f'DBUsername="{name}")',
    ]
    return "\n".join(lines) + "\n"


def instructions(result: Onboarded, region: str | None, account_id: str | None) -> str:
    target: Target = result.manifest.targets[result.account.target]
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "REGION"
    account_id = account_id or "ACCOUNT_ID"
    if result.account.auth == "iam":
        return _iam_instructions(result, target, region, account_id)
    policy = iam_policy(result.secret, result.account.secret.kms_key, region, account_id)
    driver = facts(target.engine).driver
    alternating = result.account.rotation.strategy == "alternating"
    lines = [
        f"added account {result.account.name} (target {target.name}, {target.engine}) to {result.file}",
        "next: commit the change; `provisioner apply` creates the account and its secret",
        "",
        f"secret name: {result.secret}",
        f"secret ARN:  arn:aws:secretsmanager:{region}:{account_id}:secret:{result.secret}-?????? "
        f"(six random characters end the ARN)",
        "",
        "IAM policy for the service (read exactly its own secret):",
        json.dumps(policy, indent=2),
        "",
        "connect from the service (re-reads the secret when a rotation changes the password):",
        "    import provisioner",
        "",
        f'    conn = provisioner.connect("{result.secret}")   # a {driver} connection',
    ]
    if alternating:
        lines.append(f"    # alternating rotation: the user switches between {result.account.name} and "
                     f"{result.account.name}_clone; take it from the secret, never hard-code it")
    return "\n".join(lines) + "\n"
