"""Connection pools across rotations of both strategies: a SQLAlchemy engine (`provisioner.pools.sqlalchemy_engine`)
and a psycopg_pool pool (`provisioner.pools.psycopg_connection_class`), with pooled connections opened before and
after each rotation, under load from several threads, and zero failed requests."""

from __future__ import annotations

import threading
import time

import pytest
from psycopg_pool import ConnectionPool
from sqlalchemy import text

from provisioner import client, pools

ACCOUNT = """
accounts:
  - name: app_user
    target: {target}
    rotation: {{strategy: {strategy}}}
    grants:
      - {{privileges: [SELECT], tables: [public.films]}}
"""
ROTATIONS = 3
WORKERS = 4


def under_load(env, request_once, renew) -> dict[str, object]:
    """Run `request_once` from WORKERS threads while the account rotates ROTATIONS times; after each rotation,
    `renew` makes the pool open new connections (idle ones are closed), so connections opened before and after
    every rotation serve requests."""
    stop = threading.Event()
    counts = {"ok": 0, "errors": 0}
    errors: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        while not stop.is_set():
            try:
                request_once()
                with lock:
                    counts["ok"] += 1
            except Exception as exc:
                with lock:
                    counts["errors"] += 1
                    errors.append(repr(exc)[:300])

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(ROTATIONS):
            time.sleep(0.4)
            env.cli("rotate", "-f", "accounts.yaml", "app_user")
            renew()
        time.sleep(0.4)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    return {**counts, "errors_seen": errors[:3]}


@pytest.fixture
def applied(env, request):
    strategy = request.param
    env.sql("CREATE TABLE public.films (id int); INSERT INTO public.films VALUES (1), (2)")
    env.manifest(ACCOUNT.format(target=env.target, strategy=strategy), admin_secret=strategy == "alternating")
    env.apply()
    client.invalidate()
    return env, f"{env.target}/app_user", strategy


@pytest.mark.parametrize("applied", ["single", "alternating"], indirect=True)
def test_sqlalchemy_engine_across_rotations(applied):
    env, secret_id, strategy = applied
    engine = pools.sqlalchemy_engine(secret_id, ttl=3600, pool_size=3, max_overflow=2,
                                     connect_args={"connect_timeout": 5})
    assert "app_user" not in str(engine.url) and engine.url.password is None  # no credentials in the URL

    def request_once() -> None:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM public.films")).scalar() == 2

    result = under_load(env, request_once, renew=engine.pool.dispose)
    engine.dispose()
    print(f"sqlalchemy ({strategy}): {result['ok']} requests, {result['errors']} failed across {ROTATIONS} rotations")
    assert result["errors"] == 0, result["errors_seen"]
    assert result["ok"] > 50


@pytest.mark.parametrize("applied", ["single", "alternating"], indirect=True)
def test_psycopg_pool_across_rotations(applied):
    env, secret_id, strategy = applied
    pool = ConnectionPool(connection_class=pools.psycopg_connection_class(secret_id, ttl=3600), min_size=2,
                          max_size=4, kwargs={"connect_timeout": 5}, open=True)
    opened_before = pool.get_stats().get("connections_num", 0)

    def request_once() -> None:
        with pool.connection() as conn:
            assert conn.execute("SELECT count(*) FROM public.films").fetchone() == (2,)

    def renew() -> None:
        # Close the idle connections and open fresh ones with the (now stale) cached secret.
        with pool.connection() as conn:
            conn.close()
        pool.check()

    try:
        result = under_load(env, request_once, renew)
        stats = pool.get_stats()
    finally:
        pool.close()
    print(f"psycopg_pool ({strategy}): {result['ok']} requests, {result['errors']} failed across {ROTATIONS} "
          f"rotations; {stats.get('connections_num', 0) - opened_before} connections opened during the run")
    assert result["errors"] == 0, result["errors_seen"]
    assert result["ok"] > 50
    assert stats.get("connections_num", 0) > opened_before  # connections were opened after rotations too
