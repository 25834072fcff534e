"""`redact`: the password of every connection URL and libpq keyword string is masked, in any case and
position, and text without one comes back unchanged, however large."""

from __future__ import annotations

from provisioner.redact import MASK, redact


def test_url_passwords_are_masked_with_the_rest_kept():
    assert redact("postgresql://admin:s3cr3t@db:5432/app") == f"postgresql://admin:{MASK}@db:5432/app"
    assert redact("see mysql://u:p%40ss@h/x and postgres://v:w@h2") == (
        f"see mysql://u:{MASK}@h/x and postgres://v:{MASK}@h2")
    assert redact("postgresql://admin@db/app") == "postgresql://admin@db/app"  # no password: nothing to mask


def test_keyword_passwords_are_masked_in_any_case_quoted_or_not():
    assert redact("host=db password=hunter22 user=x") == f"host=db password={MASK} user=x"
    assert redact("PASSWORD = 'it' port=5") == f"PASSWORD = {MASK} port=5"
    assert redact("Password='a b\\' c' dbname=x") == f"Password={MASK} dbname=x"
    assert redact("a password=1 then password=2") == f"a password={MASK} then password={MASK}"
    assert redact('"password_length": 32, "passwords": 2') == '"password_length": 32, "passwords": 2'


def test_text_with_a_longer_lower_case_is_still_masked():
    # 'İ' lower-cases to two characters: positions in the lower-cased text no longer line up with the text.
    assert redact("İİ password=hunter22") == f"İİ password={MASK}"


def test_a_large_plan_keeps_its_text_and_loses_its_one_password():
    # (How long this takes is the benchmark's business: `apply --format json` at 1,000 x 2,000.)
    text = '{"schema": "app", "name": "t0001", "kind": "table"},\n' * 400_000  # ~20 MB, like a big JSON plan
    assert redact(text + "x://u:pw@h password=x\n" + text) == text + f"x://u:{MASK}@h password={MASK}\n" + text


def test_a_worker_error_is_redacted_where_the_worker_registered_the_password():
    """A planning worker learns passwords its parent never registers: its errors are redacted before they
    travel, whatever their type."""
    import pickle

    from provisioner import redact as registry
    from provisioner.errors import ProvisionerError
    from provisioner.pipeline.processes import _portable

    registry.register("worker-only-secret-77")
    ours = _portable(ProvisionerError("login failed with worker-only-secret-77", "hint worker-only-secret-77"))
    assert isinstance(ours, ProvisionerError) and "worker-only-secret-77" not in str(pickle.loads(pickle.dumps(ours)))
    other = _portable(KeyError("worker-only-secret-77"))
    assert isinstance(other, RuntimeError) and "KeyError" in str(other) and "worker-only-secret-77" not in str(other)
