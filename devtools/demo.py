"""`make demo`: the main job end to end on embedded defaults.

Starts a throwaway PostgreSQL, a throwaway MariaDB and a local Secrets Manager endpoint (moto's server, with
the rotation Lambda registered in its Lambda API), creates the example schemas and admin secrets, then runs
the real command line against `accounts.yaml`: validate, plan, apply, logs in as the new accounts with the
passwords from their secrets (SELECT/INSERT allowed, INSERT/DELETE denied), rotates the accounts while a
connection made through `provisioner.connect` keeps working, and shows that a second plan is empty. Never
prints a password.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pymysql

from devtools import sandbox

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "accounts.yaml"

SCHEMA = """
CREATE ROLE app_owner NOLOGIN;
CREATE SCHEMA catalog AUTHORIZATION app_owner;
CREATE TABLE catalog.genres (id int PRIMARY KEY, name text);
ALTER TABLE catalog.genres OWNER TO app_owner;
CREATE TABLE public.films (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE public.rentals (id serial PRIMARY KEY, film_id int REFERENCES public.films, customer_id int);
CREATE TABLE public.customers (id int PRIMARY KEY, name text, email text);
CREATE FUNCTION public.rental_count(film integer) RETURNS bigint LANGUAGE sql
  AS 'SELECT count(*) FROM public.rentals WHERE film_id = film';
INSERT INTO public.films (title) VALUES ('Metropolis'), ('Nosferatu'), ('Sunrise');
INSERT INTO catalog.genres VALUES (1, 'silent');
"""


BILLING = """
CREATE TABLE billing.invoices (id INT PRIMARY KEY AUTO_INCREMENT, customer VARCHAR(64), total INT);
CREATE TABLE billing.customers (id INT PRIMARY KEY, name VARCHAR(64), email VARCHAR(128));
INSERT INTO billing.invoices (customer, total) VALUES ('ada', 120), ('grace', 80)
"""


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def run_cli(*args: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> int:
    command = ["provisioner", *args]
    print(f"$ {' '.join(command)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "provisioner", *args], env=env, cwd=ROOT).returncode
    if code not in ok:
        raise SystemExit(f"demo: `{' '.join(command)}` exited {code}")
    return code


def secret_value(client: Any, name: str) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")
                                       ["SecretString"])
    shown = {k: ("<hidden>" if k == "password" else v) for k, v in value.items()}
    print(f"secret {name} = {json.dumps(shown)}")
    return value


def start_servers(stack: contextlib.ExitStack) -> tuple[Any, Any, Any]:
    """Every server is stopped on every exit path: each stop is registered the moment its server is up."""
    banner("Starting a throwaway PostgreSQL (scram-sha-256), MariaDB and a local Secrets Manager endpoint")
    server = sandbox.start_postgres()
    stack.callback(server.stop)
    maria = sandbox.start_mariadb()
    stack.callback(maria.stop)
    endpoint = sandbox.start_secrets_manager()
    stack.callback(endpoint.stop)
    print(f"PostgreSQL {server.host}:{server.port}, MariaDB {maria.host}:{maria.port}, Secrets Manager {endpoint.url}")
    return server, maria, endpoint


def seed(server: Any, maria: Any, endpoint: Any) -> Any:
    sandbox.mysql_as_admin(maria, "CREATE DATABASE billing;\n" + BILLING)
    sandbox.psql_as_admin(server, "CREATE DATABASE filmdb")
    sandbox.psql_as_admin(server, SCHEMA, database="filmdb")
    os.environ.update(endpoint.environment())
    client = boto3.client("secretsmanager")
    client.create_secret(Name="demo/films-admin", SecretString=json.dumps(
        {"username": server.user, "password": server.password, "host": server.host, "port": server.port}))
    client.create_secret(Name="demo/billing-admin", SecretString=json.dumps(
        {"username": maria.user, "password": maria.password, "host": maria.host, "port": maria.port}))
    sandbox.register_rotation_function()
    print("admin secrets demo/films-admin, demo/billing-admin and rotation function db-rotation registered")
    return client


def show_reader(client: Any) -> None:
    banner("Log in as reader_user with the password from its secret")
    secret = secret_value(client, "films/reader_user")
    with psycopg.connect(host=secret["host"], port=secret["port"], user=secret["username"],
                         password=secret["password"], dbname=secret["dbname"], autocommit=True) as conn:
        titles = [r[0] for r in conn.execute("SELECT title FROM public.films ORDER BY id")]
        print(f"SELECT title FROM public.films -> {titles}  (allowed)")
        try:
            conn.execute("INSERT INTO public.films (title) VALUES ('Faust')")
            raise SystemExit("demo: INSERT should have been denied")
        except psycopg.errors.InsufficientPrivilege as exc:
            print(f"INSERT INTO public.films -> denied, SQLSTATE {exc.sqlstate}: {str(exc).strip()}")
    try:
        psycopg.connect(host=secret["host"], port=secret["port"], user=secret["username"],
                        password="not-the-password", dbname=secret["dbname"]).close()
        raise SystemExit("demo: a wrong password should have been refused")
    except psycopg.OperationalError:
        print("a wrong password -> refused (password authentication is enforced)")


def show_billing(client: Any) -> None:
    banner("Log in to MariaDB as billing_app@127.0.0.% with the password from its secret")
    billing = secret_value(client, "billing/billing_app")
    with pymysql.connect(host=billing["host"], port=billing["port"], user=billing["username"],
                         password=billing["password"], database=billing["dbname"], autocommit=True) as conn, \
            conn.cursor() as cur:
        cur.execute("INSERT INTO invoices (customer, total) VALUES ('linus', 42)")
        cur.execute("SELECT COUNT(*) FROM invoices")
        print(f"INSERT INTO invoices, then SELECT COUNT(*) -> {cur.fetchone()[0]}  (allowed)")
        try:
            cur.execute("DELETE FROM invoices")
            raise SystemExit("demo: DELETE should have been denied")
        except pymysql.err.OperationalError as exc:
            print(f"DELETE FROM invoices -> denied, error {exc.args[0]}: {exc.args[1]}")


def show_rotation(client: Any, env: dict[str, str]) -> None:
    banner("Rotate the accounts while connections made through provisioner.connect keep working")
    import provisioner as app_side

    before = app_side.connect("films/reader_user", ttl=3600)  # caches the secret for an hour
    before.autocommit = True
    run_cli("rotate", "-f", str(MANIFEST), "reader_user", "films_app", "billing_app", env=env)
    after = app_side.connect("films/reader_user", ttl=3600)  # stale cache -> refused -> re-read -> ok
    for label, conn in (("opened before the rotation", before), ("opened after, from a stale cache", after)):
        count = conn.execute("SELECT count(*) FROM public.films").fetchone()[0]
        print(f"reader_user connection {label}: SELECT count(*) -> {count}")
        conn.close()
    app = secret_value(client, "films/films_app")
    print(f"films/films_app now names {app['username']} (alternating users); the previous user keeps working "
          f"until the next rotation")
    billing = secret_value(client, "billing/billing_app")
    with pymysql.connect(host=billing["host"], port=billing["port"], user=billing["username"],
                         password=billing["password"], database=billing["dbname"]):
        print(f"billing/billing_app now names {billing['username']}@127.0.0.% and logs in "
              f"(host-specific accounts rotate; AWS's own MySQL function fails there)")


def main() -> int:
    with contextlib.ExitStack() as stack:
        server, maria, endpoint = start_servers(stack)
        client = seed(server, maria, endpoint)
        env = {**os.environ, **endpoint.environment()}
        banner("Validate the manifest (offline, no credentials needed)")
        run_cli("validate", "-f", str(MANIFEST), env=env)
        banner("Plan: what apply would change")
        run_cli("plan", "-f", str(MANIFEST), "--detailed-exitcode", env=env, ok=(2,))
        banner("Apply")
        run_cli("apply", "--yes", "-f", str(MANIFEST), env=env)
        show_reader(client)
        show_billing(client)
        show_rotation(client, env)
        banner("A second plan is empty")
        run_cli("plan", "-f", str(MANIFEST), "--detailed-exitcode", env=env)
        banner("Demo complete")
    return 0


if __name__ == "__main__":
    sys.exit(main())
