"""Two targets, one server: roles are server-wide, so a role declared under both would be created by one and
refused by the other (after that one's secret was written). Before anything is read or written for a run, the
targets that declare a common role are connected and compared by the server's own identity (PostgreSQL's
`system_identifier`, MySQL's server UUID, MariaDB's host, port and data directory); the same identity stops
the run. Targets that share no role name cost nothing.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import combinations

from provisioner.core.diff import database_principals
from provisioner.core.engine_facts import facts
from provisioner.core.model import Manifest, Target
from provisioner.errors import ProvisionerError
from provisioner.pipeline.connect import connect
from provisioner.secrets.store import SecretStore


def role_names(manifest: Manifest, target: Target) -> set[str]:
    return {m.name for p in manifest.for_target(target.name) for m in database_principals(p, target.engine)}


def sharing_pairs(manifest: Manifest, targets: list[Target]) -> list[tuple[Target, Target, set[str]]]:
    """Pairs of targets of one engine family that declare a role of the same name."""
    names = {t.name: role_names(manifest, t) for t in targets}
    return [(a, b, names[a.name] & names[b.name]) for a, b in combinations(targets, 2)
            if facts(a.engine).family == facts(b.engine).family and names[a.name] & names[b.name]]


def refuse_same_server(manifest: Manifest, targets: list[Target], store: SecretStore) -> None:
    """Stop the run when a selected target shares a role name with any target of the manifest (selected or not:
    `--target a` must not let `a` take a role `b` owns on the same server) and the two reach the same server. A
    target that cannot be reached is left out: its own plan reports why, and writes nothing."""
    selected = {t.name for t in targets}
    pairs = [pair for pair in sharing_pairs(manifest, sorted(manifest.targets.values(), key=lambda t: t.name))
             if pair[0].name in selected or pair[1].name in selected]
    if not pairs:
        return
    identities: dict[str, str] = {}
    for target in {t.name: t for pair in pairs for t in pair[:2]}.values():
        try:
            conn = connect(target, store)
        except ProvisionerError:
            continue
        try:
            identities[target.name] = conn.engine.server_identity(conn.session)
        finally:
            conn.close()
    clashes: dict[tuple[str, str], set[str]] = defaultdict(set)
    for a, b, shared in pairs:
        if a.name in identities and identities[a.name] == identities.get(b.name):
            clashes[(a.name, b.name)] |= shared
    if clashes:
        found = "; ".join(f"targets {a} and {b} declare {', '.join(sorted(names))}"
                          for (a, b), names in sorted(clashes.items()))
        raise ProvisionerError(
            f"the same server is reached by two targets and roles are server-wide: {found}. Nothing was changed",
            "declare each role under one target of that server")
