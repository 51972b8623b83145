# SPDX-License-Identifier: Apache-2.0
"""Shared fixtures for the integration tests: where the built programs,
the source tree and ../shared are, and a helper that runs a program and
captures what it printed."""
import os
import subprocess
from pathlib import Path

import pytest

SOURCE_DIR = Path(os.environ.get("CLOISTER_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("CLOISTER_BUILD_DIR", SOURCE_DIR / "build"))
BIN_DIR = Path(os.environ.get("CLOISTER_BIN_DIR", BUILD_DIR / "bin"))
SHARED_DIR = Path(os.environ.get("CLOISTER_SHARED_DIR", SOURCE_DIR.parent / "shared"))


def run(args, check=False, env=None, input=None, timeout=120, cwd=None):
    """Runs a command; returns the CompletedProcess with text stdout/stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          env=full_env, input=input, timeout=timeout, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def cloister(*args, **kw):
    return run([BIN_DIR / "cloister", *args], **kw)


@pytest.fixture
def bin_dir():
    return BIN_DIR


@pytest.fixture
def shared_dir():
    return SHARED_DIR


@pytest.fixture
def rt(tmp_path):
    """A private Cloister runtime (state, run and CA directories under
    tmp_path; test_runtime.Runtime); every enclave it started is gone after
    the test."""
    from test_runtime import Runtime
    r = Runtime(tmp_path)
    yield r
    r.cleanup()
    left = r.describe()
    assert left == [], left


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A real cloister-kms of the test module's own (kmsserver.KmsServer),
    stopped after the module. A module that needs another server defines
    its own `srv`."""
    from kmsserver import KmsServer
    s = KmsServer(tmp_path_factory.mktemp("kms") / "data")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def kms(srv):
    """A boto3 KMS client of srv's default principal."""
    return srv.client()
