"""`provisioner onboard`: appends a least-privilege account keeping comments and order, validates, prints the
secret, the IAM policy and a connection snippet; bad input changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioner import cli

MANIFEST = """\
# yaml-language-server: $schema=./schemas/accounts.schema.json
# Accounts of the film platform. Owners: platform team.
version: 1

defaults:
  secret: {tags: {team: platform}}   # every secret carries the team tag

profiles:
  reader:
    - {privileges: [SELECT], tables: ["public.*"]}

targets:
  films:
    engine: postgres
    host: films.example.com
    database: filmdb
    admin: {url_env: FILMS_ADMIN_URL}

accounts:
  # the reporting job
  - name: reader_user
    target: films
    grants:
      - {privileges: [SELECT], tables: [public.films]}   # only the catalogue
"""


@pytest.fixture
def manifest(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.yaml"
    path.write_text(MANIFEST)
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_onboard_appends_keeps_comments_and_prints_what_the_service_needs(manifest, capsys):
    code, out, err = run(capsys, "onboard", "invoice_service", "--target", "films", "-f", manifest,
                         "--grant", "SELECT,INSERT:tables=public.invoices", "--grant", "USAGE:sequences=public.inv_seq",
                         "--description", "the invoicing service", "--region", "ap-northeast-1",
                         "--aws-account", "123456789012")
    assert code == 0, err
    text = manifest.read_text()
    assert text.startswith(MANIFEST)  # every original line, comment and order kept; the account is appended
    assert "  - name: invoice_service\n    target: films\n    description: the invoicing service\n" in text
    assert "      - {privileges: [SELECT, INSERT], tables: [public.invoices]}" in text
    assert "films/invoice_service" in out
    policy = json.loads(out[out.index("{"):out.index("\n}\n") + 2])
    assert policy["Statement"] == [{
        "Sid": "ReadItsDatabaseSecret", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
        "Resource": "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:films/invoice_service-??????"}]
    assert 'conn = provisioner.connect("films/invoice_service")' in out
    assert cli.main(["validate", "-f", str(manifest)]) == 0


def test_onboard_with_a_profile_and_a_customer_key(manifest, capsys):
    manifest.write_text(MANIFEST.replace("secret: {tags: {team: platform}}",
                                         "secret: {tags: {team: platform}, kms_key: alias/db-secrets}"))
    code, out, err = run(capsys, "onboard", "report_service", "--target", "films", "-f", manifest,
                         "--profile", "reader", "--rotation", "alternating", "--region", "eu-west-1")
    assert code == 1 and "uses alternating rotation, but target 'films' has no admin secret" in err
    code, out, err = run(capsys, "onboard", "report_service", "--target", "films", "-f", manifest,
                         "--profile", "reader", "--region", "eu-west-1")
    assert code == 0, err
    assert "profile: reader" in manifest.read_text()
    policy = json.loads(out[out.index("{"):out.index("\n}\n") + 2])
    kms = policy["Statement"][1]
    assert kms["Action"] == "kms:Decrypt" and kms["Resource"] == "*"
    assert kms["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/db-secrets"}
    assert kms["Condition"]["StringEquals"] == {"kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}


@pytest.mark.parametrize("args,message", [
    (["newsvc", "--target", "nope", "--grant", "SELECT:tables=public.a"], "unknown target 'nope'"),
    (["newsvc", "--target", "films", "--profile", "writer"], "unknown profile 'writer'"),
    (["postgres", "--target", "films", "--grant", "SELECT:tables=public.a"], "system or reserved account name"),
    (["reader_user", "--target", "films", "--grant", "SELECT:tables=public.a"], "declared twice"),
    (["newsvc", "--target", "films", "--grant", "SELEKT:tables=public.a"], "unknown privilege 'SELEKT'"),
    (["newsvc", "--target", "films", "--grant", "SELECT:tables=films"], "must be written as schema.name"),
    (["newsvc", "--target", "films", "--grant", "SELECT on films"], "is not PRIVILEGES:KIND=OBJECT"),
    (["newsvc", "--target", "films"], "needs --profile or at least one --grant"),
])
def test_bad_input_fails_clearly_and_leaves_the_file_unchanged(manifest, capsys, args, message):
    before = manifest.read_bytes()
    code, out, err = run(capsys, "onboard", *args, "-f", manifest)
    assert code == 1 and message in err, err
    assert manifest.read_bytes() == before and out == ""
    assert not list(manifest.parent.glob(".*.onboard"))


def test_onboard_an_iam_account_prints_the_rds_db_connect_policy(manifest, capsys):
    with_id = "    database: filmdb\n    resource_id: db-ABCDEFGH123\n"
    manifest.write_text(MANIFEST.replace("    database: filmdb\n", with_id))
    code, out, err = run(capsys, "onboard", "etl_iam", "--target", "films", "-f", manifest, "--auth", "iam",
                         "--grant", "SELECT:tables=public.*", "--region", "eu-west-1", "--aws-account", "123456789012")
    assert code == 0, err
    assert "  - name: etl_iam\n    target: films\n    auth: iam\n" in manifest.read_text()
    policy = json.loads(out[out.index("{"):out.index("\n}\n") + 2])
    assert policy["Statement"] == [{
        "Sid": "ConnectWithIamAuthentication", "Effect": "Allow", "Action": "rds-db:connect",
        "Resource": "arn:aws:rds-db:eu-west-1:123456789012:dbuser:db-ABCDEFGH123/etl_iam"}]
    assert "generate_db_auth_token" in out and "secretsmanager" not in out
    assert cli.main(["validate", "-f", str(manifest)]) == 0


def test_grant_flags_name_every_declarable_kind():
    from provisioner.commands.onboard import parse_grant

    assert parse_grant("USAGE:foreign_data_wrappers=postgres_fdw") == {
        "privileges": ["USAGE"], "foreign_data_wrappers": ["postgres_fdw"]}
    assert parse_grant("SET,ALTER SYSTEM:parameters=work_mem") == {
        "privileges": ["SET", "ALTER SYSTEM"], "parameters": ["work_mem"]}
    assert parse_grant("USAGE:types=app.*") == {"privileges": ["USAGE"], "types": ["app.*"]}
