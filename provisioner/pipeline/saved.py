"""Saved plans (SPEC 11): `plan --out FILE` writes what was reviewed — the changes of each target, the manifest's
digest, each server's identity and the inventory of what was inspected — and `apply FILE` applies exactly that,
or refuses, naming what changed (the manifest, the server, an inspected object, or the plan itself), before
anything is written. The file holds no password, verifier or URL password (it is redacted like all output).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from provisioner.core.diff import DiffOptions
from provisioner.core.fingerprint import digest, first_difference, steps_digest
from provisioner.core.model import Manifest
from provisioner.core.plan import Plan, TargetPlan
from provisioner.errors import ProvisionerError
from provisioner.redact import redact

FORMAT = "provisioner saved plan"
VERSION = 1


@dataclass(frozen=True)
class SavedTarget:
    name: str
    endpoint: str
    identity: str
    inventory: dict[str, str]
    steps: str  # steps_digest of the plan
    changes: int


@dataclass(frozen=True)
class SavedPlan:
    path: str
    digest: str
    manifest: str
    options: DiffOptions
    targets: dict[str, SavedTarget]

    def refusal(self, fresh: TargetPlan) -> str | None:
        """Why the plan made now of a target is not the saved one (None: it is)."""
        saved = self.targets[fresh.target]
        if fresh.errors:
            return "its plan now has errors: " + "; ".join(fresh.errors)
        if fresh.identity != saved.identity:
            return (f"the server is not the one the plan was made on ({saved.endpoint}, {saved.identity}; now "
                    f"{fresh.endpoint}, {fresh.identity})")
        changed = first_difference(saved.inventory, fresh.inventory)
        if changed:
            return f"the live state changed since the plan was saved: {changed}"
        if steps_digest(fresh.steps) != saved.steps:
            return "its changes are not the saved ones (same manifest and state: was the plan made by another version?)"
        return None


def manifest_digest(files: Iterable[str]) -> str:
    """sha256 over each manifest file's path (relative to the working directory where it is under it) and bytes:
    the plan of a pull request and the apply of its merge see the same files at the same paths."""
    hasher = hashlib.sha256()
    cwd = Path.cwd().resolve()
    for name, path in sorted((_shown(Path(f).resolve(), cwd), Path(f)) for f in files):
        hasher.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + hasher.hexdigest()


def _shown(path: Path, cwd: Path) -> str:
    return path.relative_to(cwd).as_posix() if path.is_relative_to(cwd) else path.as_posix()


def _options_document(options: DiffOptions) -> dict[str, Any]:
    return {"reset_passwords": sorted(options.reset_passwords), "create_secrets": options.create_secrets,
            "now": options.now.isoformat() if options.now else None}


def save(path: str | Path, plan: Plan, manifest: Manifest, options: DiffOptions, plan_document: dict[str, Any]
         ) -> str:
    """Write the saved plan; its digest (of everything in it but the digest itself)."""
    if plan.errors:
        raise ProvisionerError("no plan saved: the plan has errors (see above)", "fix them, then plan --out again")
    body = {
        "format": FORMAT, "version": VERSION,
        "manifest": manifest_digest(manifest.files),
        "options": _options_document(options),
        "targets": [{"name": t.target, "endpoint": t.endpoint, "identity": t.identity, "inventory": t.inventory,
                     "steps": steps_digest(t.steps), "changes": len(t.steps)} for t in plan.targets],
        "plan": plan_document,
    }
    found = "sha256:" + digest(body)
    text = redact(json.dumps({**body, "digest": found}, indent=1, sort_keys=True))
    Path(path).write_text(text + "\n", encoding="utf-8")
    return found


def load(path: str | Path) -> SavedPlan:
    """A saved plan read back, its digest checked (a file edited by hand is refused)."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProvisionerError(f"saved plan {path} does not exist", "make one with plan --out FILE") from None
    except (OSError, ValueError) as exc:
        raise ProvisionerError(f"{path} is not a saved plan ({exc.__class__.__name__})",
                               "pass the file plan --out wrote") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ProvisionerError(f"{path} is not a saved plan", "pass the file plan --out wrote")
    if document.get("version") != VERSION:
        raise ProvisionerError(f"{path} is a saved plan of format version {document.get('version')}; this "
                               f"provisioner reads version {VERSION}", "plan --out again with this version")
    found = document.pop("digest", None)
    if found != "sha256:" + digest(document):
        raise ProvisionerError(f"saved plan {path} was changed after it was written (its digest does not match)",
                               "plan --out again; never edit a saved plan")
    try:
        return _saved_plan(str(path), found, document)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # Only a file written by hand gets here (the digest matches what it says): refused, never `internal error`.
        raise ProvisionerError(f"saved plan {path} lacks what plan --out writes ({exc.__class__.__name__}: "
                               f"{str(exc)[:80]})", "plan --out again; never edit a saved plan") from None


def _saved_plan(path: str, found: str, document: dict[str, Any]) -> SavedPlan:
    options = document["options"]
    return SavedPlan(
        path=path, digest=found, manifest=str(document["manifest"]),
        options=DiffOptions(reset_passwords=frozenset(options["reset_passwords"]),
                            create_secrets=bool(options["create_secrets"]),
                            now=datetime.fromisoformat(options["now"]) if options["now"] else None),
        targets={t["name"]: SavedTarget(t["name"], t["endpoint"], t["identity"], dict(t["inventory"]), t["steps"],
                                        int(t["changes"])) for t in document["targets"]})
