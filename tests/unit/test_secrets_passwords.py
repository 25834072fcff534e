"""Passwords made locally as GetRandomPassword makes them: the length, no excluded character, every kind that
remains, from the CSPRNG (no two alike)."""

from __future__ import annotations

import string

import pytest

from provisioner.errors import ProvisionerError
from provisioner.secrets.passwords import generate

EXCLUDED = ":/@\"'\\"


@pytest.mark.parametrize("length", [4, 16, 32, 128])
def test_length_exclusions_and_every_kind(length):
    for _ in range(200):
        password = generate(length, EXCLUDED)
        assert len(password) == length
        assert not set(password) & set(EXCLUDED) and " " not in password
        for kind in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
            assert set(password) & set(kind), password
        assert set(password) & (set(string.punctuation) - set(EXCLUDED))


def test_no_two_alike_and_every_allowed_character_appears():
    made = {generate(32, EXCLUDED) for _ in range(2000)}
    assert len(made) == 2000
    seen = set("".join(made))
    assert seen == {chr(c) for c in range(33, 127)} - set(EXCLUDED)


def test_a_kind_that_is_excluded_entirely_is_not_required_and_an_impossible_policy_is_refused():
    assert set(generate(20, string.punctuation)) <= set(string.ascii_letters + string.digits)
    with pytest.raises(ProvisionerError, match=r"raise password\.length"):
        generate(3, "")
