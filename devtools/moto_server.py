"""moto's server (`python -m moto.server`) with two corrections, so that the local Secrets Manager behaves as AWS
documents (run it as `python -m devtools.moto_server -H 127.0.0.1 -p PORT`; `sandbox` does).

moto 5.x keeps a `default_version_id` per secret that `UpdateSecretVersionStage` does not update when it moves
AWSCURRENT. A later `PutSecretValue(VersionStages=["AWSCURRENT"])` then relabels that stale version AWSPREVIOUS
and leaves the real current one labelled too: two versions say AWSCURRENT, and `GetSecretValue` returns the
older. On AWS the label has one version at a time. The correction moves moto's default with the label.

moto reports every replica's `KmsKeyId` as the AWS managed key, whatever key `ReplicateSecretToRegions` named;
AWS reports the key the replica uses. The correction records the key given. Nothing else of moto changes.
"""

from __future__ import annotations

from typing import Any


def correct_moto() -> None:
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.update_secret_version_stage
    if getattr(original, "_corrected", False):
        return

    def update_secret_version_stage(self: Any, secret_id: str, version_stage: str, remove_from_version_id: str,
                                    move_to_version_id: str) -> tuple[str, str]:
        result = original(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
        if version_stage == "AWSCURRENT" and move_to_version_id and secret_id in self.secrets:
            self.secrets[secret_id].default_version_id = move_to_version_id
        return result

    update_secret_version_stage._corrected = True  # type: ignore[attr-defined]
    SecretsManagerBackend.update_secret_version_stage = update_secret_version_stage  # type: ignore[method-assign]
    _correct_replica_keys()


def _correct_replica_keys() -> None:
    from moto.secretsmanager.models import FakeSecret

    original = FakeSecret.create_replicas

    def create_replicas(self: Any, replica_regions: list[dict[str, str]], force_overwrite: bool) -> list[Any]:
        replicas = original(self, replica_regions, force_overwrite)
        for replica, config in zip(replicas, replica_regions, strict=True):
            if config.get("KmsKeyId"):
                replica.config["KmsKeyId"] = config["KmsKeyId"]
        return replicas

    FakeSecret.create_replicas = create_replicas  # type: ignore[method-assign]


if __name__ == "__main__":
    correct_moto()
    from moto.server import main

    main()
