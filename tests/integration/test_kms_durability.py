# SPDX-License-Identifier: Apache-2.0
"""Durability: a bounded load of CreateKey and Encrypt from several clients,
kill -9 of the server in the middle of it, restart on the same data
directory: every key whose CreateKey was answered exists and every
acknowledged ciphertext decrypts. The audit chain survives too."""
import threading
import time

from botocore.exceptions import ClientError, EndpointConnectionError

from kmsserver import KmsServer, wait_for


def test_kill9_mid_load(tmp_path):
    srv = KmsServer(tmp_path / "data", http=True)
    acked_keys, acked_blobs = [], []
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def load(kms, n):
        for i in range(n):
            if stop.is_set():
                return
            try:
                kid = kms.create_key(Description=f"load {i}")["KeyMetadata"]["KeyId"]
                with lock:
                    acked_keys.append(kid)
                pt = f"{kid}:{i}".encode()
                blob = kms.encrypt(KeyId=kid, Plaintext=pt,
                                   EncryptionContext={"i": str(i)})["CiphertextBlob"]
                with lock:
                    acked_blobs.append((kid, i, pt, blob))
            except (ClientError, EndpointConnectionError, Exception) as e:  # the kill cuts requests
                if not stop.is_set():
                    errors.append(repr(e))
                return

    # Clients are made here, one by one: boto3's default session is not
    # thread-safe, and creating clients from several threads at once can
    # fail inside botocore (KeyError: 'endpoint_resolver').
    clients = [srv.client() for _ in range(4)]
    threads = [threading.Thread(target=load, args=(kms, 200)) for kms in clients]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(acked_blobs) >= 40, timeout=120)
    stop.set()
    srv.kill9()           # mid-load: requests are in flight
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    n_keys, n_blobs = len(acked_keys), len(acked_blobs)
    assert n_keys >= 40

    srv.start()           # same data directory
    kms = srv.client()
    listed = set()
    for page in kms.get_paginator("list_keys").paginate():
        listed |= {k["KeyId"] for k in page["Keys"]}
    missing = [k for k in acked_keys if k not in listed]
    assert not missing, f"{len(missing)} acknowledged keys lost"
    for kid, i, pt, blob in acked_blobs:
        out = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"i": str(i)})
        assert out["Plaintext"] == pt and out["KeyId"].endswith(kid)
    srv.stop()
    p = srv.cli("audit", "verify")
    assert p.returncode == 0, p.stderr
    assert "chain intact" in p.stdout
    assert n_blobs >= 40
