"""New passwords, generated locally with the operating system's CSPRNG (`secrets`), as Secrets Manager's
GetRandomPassword makes them: printable ASCII without space, the excluded characters left out, at least one
character of each kind that remains (lowercase, uppercase, digit, punctuation). One AWS call less per account."""

from __future__ import annotations

import secrets
import string

from provisioner.errors import ProvisionerError

PRINTABLE = "".join(chr(c) for c in range(33, 127))
KINDS = (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation)


def generate(length: int, exclude_characters: str = "") -> str:
    alphabet = "".join(ch for ch in PRINTABLE if ch not in exclude_characters)
    kinds = [[ch for ch in kind if ch in alphabet] for kind in KINDS]
    kinds = [kind for kind in kinds if kind]
    if not alphabet or length < len(kinds):
        raise ProvisionerError(f"cannot make a password of {length} characters from {len(alphabet)} allowed ones "
                               f"with each kind included", "raise password.length or exclude fewer characters")
    chosen = [secrets.choice(kind) for kind in kinds]
    chosen += [secrets.choice(alphabet) for _ in range(length - len(chosen))]
    # Shuffle with the CSPRNG so the guaranteed characters have no fixed place.
    for i in range(len(chosen) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chosen[i], chosen[j] = chosen[j], chosen[i]
    return "".join(chosen)
