# SPDX-License-Identifier: Apache-2.0
"""Every answer of cloister-kms against botocore's KMS model: kms_shapes.py
runs under the python3 on PATH (boto3 1.43, whose model has all 54
operations), calls each operation through boto3 on a real server, and
checks the raw JSON of every success against the operation's output shape
and every failure's type against the errors the model lists for it. A
shape mistake in any operation fails here."""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent

# Operations whose every answer here is an error: this server's account
# has no custom key store and cannot make one (docs/kms.md).
ERRORS_ONLY = {"ConnectCustomKeyStore", "CreateCustomKeyStore", "DeleteCustomKeyStore",
               "DisconnectCustomKeyStore", "UpdateCustomKeyStore"}


def run_shapes(srv):
    py = shutil.which("python3")
    if not py or Path(py).resolve() == Path("/usr/bin/python3").resolve():
        pytest.skip("needs the separate python3 with boto3 1.43 on PATH (the full KMS model)")
    args = {"endpoint": srv.endpoint, "region": srv.region, "ca": srv.ca, "ak": srv.admin[0],
            "sk": srv.admin[1]}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "AWS_"))}
    p = subprocess.run([py, str(HERE / "kms_shapes.py")], input=json.dumps(args),
                       capture_output=True, text=True, timeout=300, env=env)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_every_answer_fits_the_model(srv):
    out = run_shapes(srv)
    assert out["problems"] == []
    ops = set(out["operations"])
    assert len(ops) == 54, out["version"]
    assert set(out["succeeded"]) == ops - ERRORS_ONLY
    assert ERRORS_ONLY <= set(out["failed"])


def test_the_operation_table_lists_every_operation(srv):
    """docs/kms.md's operation table names each of the model's operations."""
    import re
    ops = run_shapes(srv)["operations"]
    text = (HERE.parents[1] / "docs" / "kms.md").read_text()
    start = text.index("| operation | status | notes |")
    rows = text[start:text.index("\n\n", start)].splitlines()[2:]
    named = " ".join(row.split("|")[1] for row in rows)
    assert [op for op in ops if not re.search(rf"\b{op}\b", named)] == []
