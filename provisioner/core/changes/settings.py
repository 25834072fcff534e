"""The typed settings a change moves from one value to another: a role's (login, limits, attributes, comment,
settings, authentication) and a secret's (value fields, description, KMS key, tags). One class per setting."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar, TypeAlias


@dataclass(frozen=True)
class Login:
    name: ClassVar[str] = "login"
    value: bool


@dataclass(frozen=True)
class ConnectionLimit:
    name: ClassVar[str] = "connection_limit"
    value: int | None  # None = unlimited


@dataclass(frozen=True)
class Attributes:
    """Role attributes beyond LOGIN (SUPERUSER, CREATEDB, NOINHERIT, ...); a managed role holds those its entry
    lists, and no other."""

    name: ClassVar[str] = "attributes"
    value: tuple[str, ...]


@dataclass(frozen=True)
class Comment:
    name: ClassVar[str] = "comment"
    value: str | None


@dataclass(frozen=True)
class RequireTls:
    name: ClassVar[str] = "require_tls"
    value: bool


@dataclass(frozen=True)
class SessionRole:
    name: ClassVar[str] = "session_role"
    value: str | None


@dataclass(frozen=True)
class Settings:
    """PostgreSQL configuration settings of a role: (database, parameter, value), database '' meaning every
    database; a managed role holds those its entry lists, and no other (the session `role` apart)."""

    name: ClassVar[str] = "settings"
    value: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Authentication:
    """How an account proves itself: "password" (from its secret) or "iam" (RDS IAM database authentication)."""

    name: ClassVar[str] = "auth"
    value: str


RoleSetting: TypeAlias = (Login | ConnectionLimit | Attributes | Comment | RequireTls | SessionRole | Settings
                          | Authentication)


@dataclass(frozen=True)
class SecretFields:
    """The credential JSON of the secret, without its password."""

    name: ClassVar[str] = "value"
    value: Mapping[str, object]


@dataclass(frozen=True)
class SecretDescription:
    name: ClassVar[str] = "description"
    value: str | None


@dataclass(frozen=True)
class SecretKmsKey:
    name: ClassVar[str] = "kms_key"
    value: str | None  # None = the AWS managed key


@dataclass(frozen=True)
class SecretTags:
    name: ClassVar[str] = "tags"
    value: Mapping[str, str]


@dataclass(frozen=True)
class SecretReplicas:
    """Replicas of the secret in other regions: (region, KMS key there; '' = the AWS managed key), sorted."""

    name: ClassVar[str] = "replicas"
    value: tuple[tuple[str, str], ...]


SecretSetting: TypeAlias = SecretFields | SecretDescription | SecretKmsKey | SecretTags | SecretReplicas
