"""Where an account lives, recorded where a secret's value writers cannot reach (SPEC 8).

A secret's value (`host`, `port`, `dbname`, `engine`, `username`, `masterarn`) can be rewritten by anyone
allowed `secretsmanager:PutSecretValue` on it — often an application's own CI role. Rotation and `doctor` send
passwords to what the value names, so the value alone cannot be trusted to say where. Apply records the
endpoint it put each account on in the secret's `provisioner:binding` tag (writing tags takes
`secretsmanager:TagResource`, which value writers are not given: docs/security.md), and every step that logs
in first checks the value against it, naming each field that differs.

The tag holds one digest per field (128 bits of SHA-256 each, so nobody can forge a value to match one), in a
fixed order, so that a mismatch names its field while the tag stays within AWS's 256 characters and its
character set.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from provisioner.core.engine_facts import ENGINES, engine_from_secret

BINDING_TAG = "provisioner:binding"
VERSION = "b1"
# The fields of the record, in the order of their digests in the tag.
FIELDS = ("engine", "host", "port", "dbname", "account", "host_part", "masterarn")
_DIGEST_HEX = 32


@dataclass(frozen=True)
class Endpoint:
    """Where an account lives, normalised as the connection code reads it (engine aliases, default ports,
    PostgreSQL's default database, host names case-insensitive)."""

    engine: str
    host: str
    port: str
    dbname: str
    account: str
    host_part: str = ""
    masterarn: str = ""

    def values(self) -> tuple[str, ...]:
        return tuple(getattr(self, name) for name in FIELDS)


def _digest(field: str, value: str) -> str:
    return hashlib.sha256(f"{VERSION}\0{field}\0{value}".encode()).hexdigest()[:_DIGEST_HEX]


def endpoint_of(value: Mapping[str, object], account: str, host_part: str = "") -> Endpoint:
    """The endpoint a secret value (or the fields apply writes) names, for `account` (the manifest's name: an
    alternating pair's clone belongs to it) and its MySQL/MariaDB host part."""
    engine = engine_from_secret(str(value.get("engine") or "")) or str(value.get("engine") or "")
    facts = ENGINES.get(engine)
    port = value.get("port")
    default_port = facts.default_port if facts else ""
    dbname = value.get("dbname") or (facts.default_database if facts else "") or ""
    return Endpoint(engine=engine, host=str(value.get("host") or "").strip().lower(),
                    port=str(port if port not in (None, "") else default_port), dbname=str(dbname),
                    account=account, host_part=host_part if facts and facts.host_part else "",
                    masterarn=str(value.get("masterarn") or ""))


def record(endpoint: Endpoint) -> str:
    """The tag value recording `endpoint`."""
    return VERSION + ":" + ":".join(_digest(name, value) for name, value in zip(FIELDS, endpoint.values(),
                                                                                   strict=True))


def _digests(tag: str) -> tuple[str, ...] | None:
    version, _, rest = tag.partition(":")
    parts = tuple(rest.split(":"))
    if version != VERSION or len(parts) != len(FIELDS):
        return None
    return parts


def mismatches(tag: str | None, endpoint: Endpoint, ignore: tuple[str, ...] = ()) -> list[str]:
    """The fields of `endpoint` that differ from the record (every field when there is no readable record);
    `ignore`: fields the caller cannot know (a secret value holds no MySQL host part)."""
    recorded = _digests(tag or "")
    if recorded is None:
        return [name for name in FIELDS if name not in ignore]
    return [name for name, value, digest in zip(FIELDS, endpoint.values(), recorded, strict=True)
            if name not in ignore and _digest(name, value) != digest]


def host_part_matches(tag: str | None, host_part: str) -> bool:
    """Whether `host_part` is the MySQL/MariaDB host part the record names (rotation picks the account of a user
    name that exists under several host parts this way)."""
    recorded = _digests(tag or "")
    return recorded is not None and recorded[FIELDS.index("host_part")] == _digest("host_part", host_part)


def changed_fields(old: str | None, new: str | None) -> list[str]:
    """The fields whose digests differ between two records (every field when either is unreadable)."""
    before, after = _digests(old or ""), _digests(new or "")
    if before is None or after is None:
        return list(FIELDS)
    return [name for name, a, b in zip(FIELDS, before, after, strict=True) if a != b]
