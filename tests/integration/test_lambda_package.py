"""`make lambda` builds the deployment zip of both functions: each handler imports with what the zip packs (the
drivers, the manifest loader and its schema), on the Lambda runtime's boto3 alone."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_lambda_builds_an_importable_handler(tmp_path):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    build = subprocess.run(["make", "-s", "lambda", f"LAMBDA_PYTHON={version}", f"PYTHON={sys.executable}"],
                           cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    archive = ROOT / "build" / "provisioner-lambda.zip"
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path)
    assert "provisioner/rotation.py" in names and "provisioner/reconcile.py" in names
    assert "provisioner/schemas/accounts.schema.json" in names
    assert any(n.startswith("psycopg_binary/") for n in names) and any(n.startswith("pymysql/") for n in names)
    assert not any("__pycache__" in n for n in names)
    # Dev tools (throwaway servers, the demo) stay out of the deployment.
    assert not any(n.startswith("devtools/") or n.endswith(("sandbox.py", "demo.py")) for n in names)
    # The Lambda runtime provides boto3; everything else must come from the zip.
    import boto3
    import botocore

    runtime_libs = {str(Path(boto3.__file__).parent.parent), str(Path(botocore.__file__).parent.parent)}
    probe = (
        "import sys; sys.path[:0] = [sys.argv[1]]; "
        "from provisioner.rotation import lambda_handler; import psycopg, pymysql; "
        "from provisioner.reconcile import lambda_handler as reconcile; "
        "from provisioner.manifest import load_sources; "
        "load_sources([('s3://b/a.yaml', 'version: 1\\ntargets:\\n  t: {engine: postgres, admin: {url_env: X}}\\n')]); "
        "import yaml, jsonschema; assert yaml.__file__.startswith(sys.argv[1]); "
        "from provisioner.engines import get_engine; get_engine('postgres'); "
        "assert psycopg.__file__.startswith(sys.argv[1]), psycopg.__file__; "
        "assert pymysql.__file__.startswith(sys.argv[1]); print('ok', psycopg.pq.__impl__)"
    )
    env = {"PYTHONPATH": ":".join(sorted(runtime_libs)), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, env=env,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok binary"
