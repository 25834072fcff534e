"""`make demo`: the main job end to end on embedded defaults.

Starts a throwaway PostgreSQL and a local Secrets Manager endpoint, creates the example schema, then runs the
real command line against `accounts.yaml`: validate, plan, apply, logs in as the reader with the password
from its secret (SELECT allowed, INSERT denied), and shows that a second plan is empty. Never prints a password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg

from . import sandbox

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


def banner(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def provisioner(*args: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> int:
    command = ["provisioner", *args]
    print(f"$ {' '.join(command)}", flush=True)
    code = subprocess.run([sys.executable, "-m", "provisioner", *args], env=env, cwd=ROOT).returncode
    if code not in ok:
        raise SystemExit(f"demo: `{' '.join(command)}` exited {code}")
    return code


def main() -> int:
    banner("Starting a throwaway PostgreSQL (scram-sha-256) and a local Secrets Manager endpoint")
    server = sandbox.start_postgres()
    endpoint = sandbox.start_secrets_manager()
    try:
        print(f"PostgreSQL {server.host}:{server.port}, Secrets Manager {endpoint.url}")
        sandbox.psql_as_admin(server, "CREATE DATABASE filmdb")
        sandbox.psql_as_admin(server, SCHEMA, database="filmdb")
        env = {**os.environ, **endpoint.environment(), "FILMS_ADMIN_URL": server.url("filmdb")}
        os.environ.update(endpoint.environment())

        banner("Validate the manifest (offline, no credentials needed)")
        provisioner("validate", "-f", str(MANIFEST), env=env)

        banner("Plan: what apply would change")
        provisioner("plan", "-f", str(MANIFEST), "--detailed-exitcode", env=env, ok=(2,))

        banner("Apply")
        provisioner("apply", "--yes", "-f", str(MANIFEST), env=env)

        banner("Log in as reader_user with the password from its secret")
        client = boto3.client("secretsmanager")
        secret = json.loads(client.get_secret_value(SecretId="films/reader_user",
                                                    VersionStage="AWSCURRENT")["SecretString"])
        shown = {k: ("<hidden>" if k == "password" else v) for k, v in secret.items()}
        print(f"secret films/reader_user = {json.dumps(shown)}")
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

        banner("A second plan is empty")
        provisioner("plan", "-f", str(MANIFEST), "--detailed-exitcode", env=env)
        banner("Demo complete")
        return 0
    finally:
        endpoint.stop()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
