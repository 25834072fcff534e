"""Connect: the admin credentials of a target and the admin session to it. Credentials come from an env var
holding a URL (`admin.url_env`) or from a Secrets Manager secret (`admin.secret`, including RDS-managed `rds!...`
secrets that hold only username and password).

Every password found here is registered for redaction before anything else can print it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from urllib.parse import unquote, urlsplit

from botocore.exceptions import BotoCoreError

from provisioner import redact
from provisioner.core.conventions import secret_database, secret_name, secret_name_needs_database
from provisioner.core.engine_facts import facts
from provisioner.core.model import ConnInfo, Principal, Target, Tls
from provisioner.engines import AuthenticationFailed, DatabaseUnreachable, Engine, Session, get_engine
from provisioner.errors import ProvisionerError
from provisioner.secrets.aws import SecretsError, aws_access_error, aws_session
from provisioner.secrets.store import SecretStore


def parse_url(url: str, engine: str, variable: str) -> dict[str, object]:
    """Split a postgresql:// or mysql:// URL into parts; errors never echo the URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ProvisionerError(f"${variable} is not a valid URL", "expected scheme://user:password@host:port/db"
                               ) from None
    redact.register(unquote(parts.password or ""))
    scheme = parts.scheme.split("+")[0]
    schemes = facts(engine).url_schemes
    if scheme not in schemes:
        raise ProvisionerError(f"${variable} has the scheme {scheme!r}, expected {schemes[0]}://",
                               f"a {engine} target needs a {schemes[0]}:// URL")
    if not parts.username:
        raise ProvisionerError(f"${variable} names no user", "expected scheme://user:password@host:port/db")
    return {
        "user": unquote(parts.username),
        "password": unquote(parts.password or ""),
        "host": parts.hostname,
        "port": port,
        "dbname": unquote(parts.path.lstrip("/")) or None,
    }


def admin_conninfo(target: Target, store: SecretStore) -> ConnInfo:
    """Where and as whom the provisioner connects to a target (target fields win over the source's)."""
    if target.admin.iam_user:
        return _iam_conninfo(target, target.admin.iam_user)
    if target.admin.url_env:
        variable = target.admin.url_env
        url = os.environ.get(variable)
        if not url:
            raise ProvisionerError(f"target {target.name}: the environment variable {variable} is not set",
                                   f"export {variable}=postgresql://USER:PASSWORD@HOST:PORT/DB (or mysql://...)")
        found = parse_url(url, target.engine, variable)
    else:
        assert target.admin.secret
        try:
            value = store.get_value(target.admin.secret)
        except SecretsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise ProvisionerError(f"target {target.name}: the admin secret {target.admin.secret} does not exist",
                                       "check admin.secret (name or ARN) and AWS_REGION") from None
            raise
        if "username" not in value or "password" not in value:
            raise ProvisionerError(f"target {target.name}: the admin secret {target.admin.secret} has no "
                                   f"username/password", "store a JSON value with username and password")
        found = {"user": value["username"], "password": value["password"], "host": value.get("host"),
                 "port": value.get("port"), "dbname": value.get("dbname")}
    refuse_two_endpoints(target, found)
    host = target.host or found.get("host")
    if not host:
        raise ProvisionerError(f"target {target.name}: no host to connect to",
                               "set `host:` on the target (an RDS-managed admin secret holds only username and "
                               "password)")
    port = int(target.port or found.get("port") or facts(target.engine).default_port)  # type: ignore[call-overload]
    dbname = target.database or found.get("dbname")
    dbname = dbname or facts(target.engine).default_database
    return ConnInfo(engine=target.engine, host=str(host), port=port, user=str(found["user"]),
                    password=str(found["password"]), dbname=str(dbname) if dbname else None, tls=target.tls)


def refuse_two_endpoints(target: Target, found: dict[str, object]) -> None:
    """SPEC 8 / never a silent switch of servers: when the target and its admin source both name a host (or a
    port) and they differ, neither wins; the run stops naming both."""
    source = f"${target.admin.url_env}" if target.admin.url_env else f"the admin secret {target.admin.secret}"
    host, port = found.get("host"), found.get("port")
    differs = []
    if target.host and host and str(host).strip().lower() != target.host.strip().lower():
        differs.append(f"host {target.host} (target) vs {host} ({source})")
    if target.port and port and str(port) != str(target.port):
        differs.append(f"port {target.port} (target) vs {port} ({source})")
    if differs:
        raise ProvisionerError(
            f"target {target.name} and its admin source name different servers: {'; '.join(differs)}. provisioner "
            f"never picks one of them silently",
            f"make both name the same server, or leave `host`/`port` off the target to use those of {source}")


def _iam_conninfo(target: Target, user: str) -> ConnInfo:
    """The admin with an RDS IAM authentication token (valid 15 minutes) as its password, over TLS (RDS accepts
    tokens only on encrypted connections)."""
    assert target.host, "validation requires a host for an IAM admin"
    port = int(target.port or facts(target.engine).default_port)
    try:
        token = aws_session().client("rds").generate_db_auth_token(DBHostname=target.host, Port=port,
                                                                     DBUsername=user)
    except BotoCoreError as exc:
        raise aws_access_error(f"target {target.name}: cannot make an IAM authentication token", exc) from None
    redact.register(token)
    tls = target.tls if target.tls and target.tls.mode not in ("disable", "prefer", "allow") else Tls(
        "require", target.tls.ca if target.tls else None)
    dbname = target.database or facts(target.engine).default_database
    return ConnInfo(engine=target.engine, host=target.host, port=port, user=user, password=token, dbname=dbname,
                    tls=tls)


def admin_secret_arn(target: Target, store: SecretStore) -> str | None:
    """The admin secret's ARN (for `masterarn`), when the admin comes from Secrets Manager."""
    if not target.admin.secret:
        return None
    if target.admin.secret.startswith("arn:"):
        return target.admin.secret
    return store.describe(target.admin.secret)["ARN"]


@dataclass
class Connection:
    target: Target
    engine: Engine
    info: ConnInfo
    session: Session
    masterarn: str | None = None  # the admin secret's ARN, when the admin comes from Secrets Manager
    others: dict[str, Session] = field(default_factory=dict)  # sessions in the target's other databases

    def session_for(self, database: str) -> Session:
        """The admin session in `database` ('' = the one the admin connects to), opened on first use."""
        if not database or database == self.info.dbname:
            return self.session
        if database not in self.others:
            self.others[database] = open_session(self.target, self.engine, replace(self.info, dbname=database))
        return self.others[database]

    def close(self) -> None:
        for session in [*self.others.values(), self.session]:
            session.close()
        self.others.clear()


def open_session(target: Target, engine: Engine, info: ConnInfo) -> Session:
    """An admin session to `info`, its failures as errors that name the target and never the password."""
    try:
        return engine.connect(info)
    except AuthenticationFailed:
        raise ProvisionerError(f"target {target.name}: the admin credentials were refused by "
                               f"{info.host}:{info.port} (user {info.user})",
                               "check the admin secret / URL; for RDS-managed secrets check that it was not "
                               "rotated while this ran") from None
    except DatabaseUnreachable as exc:
        raise ProvisionerError(f"target {target.name}: {exc.message}", exc.hint) from None
    except Exception as exc:
        raise ProvisionerError(f"target {target.name}: cannot connect to {info.host}:{info.port}"
                               f"{'/' + info.dbname if info.dbname else ''}: {_first_line(exc)}",
                               "check host, port, database, network path and TLS settings") from None


def connect(target: Target, store: SecretStore) -> Connection:
    engine = get_engine(target.engine)
    info = admin_conninfo(target, store)
    session = open_session(target, engine, info)
    return Connection(target, engine, info, session, admin_secret_arn(target, store))


def _first_line(exc: Exception) -> str:
    return redact.redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def admin_database(target: Target, store: SecretStore | None) -> str | None:
    """The database the admin connects to, without connecting: the target's, else the one its URL or admin
    secret names (None when that cannot be read here)."""
    if target.database:
        return target.database
    if target.admin.url_env:
        url = os.environ.get(target.admin.url_env)
        return str(parse_url(url, target.engine, target.admin.url_env).get("dbname") or "") or None if url else None
    if store is not None and target.admin.secret:
        try:
            return store.get_value(target.admin.secret).get("dbname") or None
        except ProvisionerError:
            return None
    return None


def secret_name_of(account: Principal, target: Target, store: SecretStore | None) -> str:
    """The name of an account's secret as apply made it, for commands that do not inspect the database (rotate,
    onboard): the one naming convention, with the database the admin connection uses (read from the admin URL
    or secret only when the name template needs it and the target does not say)."""
    database = admin_database(target, store) if secret_name_needs_database(account) else target.database
    connected = database or facts(target.engine).default_database
    return secret_name(account, target, secret_database(target, connected))
