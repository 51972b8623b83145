# SPDX-License-Identifier: Apache-2.0
"""cloister-vsock-proxy: argument and allowlist errors, forwarding of large
streams both ways, half-close, hundreds of concurrent connections, a
destination that goes away, and clients inside an enclave (through a vsock
broker, as the runtime's monitor serves it)."""
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import BIN_DIR, BUILD_DIR, run

PROXY = BIN_DIR / "cloister-vsock-proxy"
STREAM = BUILD_DIR / "tests" / "programs" / "vsock_stream"
ECHO = BUILD_DIR / "tests" / "programs" / "vsock_echo"
MONITOR = BUILD_DIR / "tests" / "programs" / "vsock_monitor"


class TcpServer:
    """A TCP server on 127.0.0.1 in a thread; handler(conn) per connection."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._handle, args=(c,), daemon=True).start()

    def _handle(self, c):
        try:
            self.handler(c)
        finally:
            c.close()

    def close(self):
        self.sock.close()


def echo(c):
    while True:
        d = c.recv(262144)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)


@pytest.fixture
def env(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    return {"CLOISTER_RUN_DIR": str(run_dir), "CLOISTER_LOG": "info"}


def allowlist(tmp_path, entries):
    p = tmp_path / "allow.yaml"
    p.write_text("allowlist:\n" + "".join(f"- {{address: {a}, port: {port}}}\n" for a, port in entries))
    return p


class Proxy:
    def __init__(self, env, local_port, remote, remote_port, config, *extra):
        self.log = open(os.path.join(env["CLOISTER_RUN_DIR"], "proxy.log"), "w+")
        self.proc = subprocess.Popen(
            [str(PROXY), str(local_port), remote, str(remote_port), "--config", str(config), *extra],
            env={**os.environ, **env}, stderr=self.log, stdout=subprocess.DEVNULL)
        sock = os.path.join(env["CLOISTER_RUN_DIR"], "vsock", "3", str(local_port))
        for _ in range(100):
            if os.path.exists(sock):
                return
            assert self.proc.poll() is None, self.output()
            time.sleep(0.05)
        raise AssertionError("proxy did not start listening: " + self.output())

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(timeout=10) == 0
        self.log.close()


@pytest.fixture
def echo_server():
    s = TcpServer(echo)
    yield s
    s.close()


def test_refuses_a_destination_not_on_the_allowlist(tmp_path, env, echo_server):
    cfg = allowlist(tmp_path, [("127.0.0.1", echo_server.port)])
    p = run([PROXY, "8000", "127.0.0.1", str(echo_server.port + 1), "--config", cfg], env=env)
    assert p.returncode == 1
    assert p.stderr == (
        "cloister-vsock-proxy: error: Error at checking the allowlist: The given address and port "
        f"are not allowed (127.0.0.1:{echo_server.port + 1}, resolved to 127.0.0.1; allowlist {cfg})\n")
    # Nothing listens afterwards.
    assert not os.path.exists(os.path.join(env["CLOISTER_RUN_DIR"], "vsock", "3", "8000"))


def test_allowlist_matches_a_name_by_its_address(tmp_path, env, echo_server):
    cfg = allowlist(tmp_path, [("localhost", echo_server.port)])
    proxy = Proxy(env, 8001, "127.0.0.1", echo_server.port, cfg, "-4")
    try:
        out = run([ECHO, "connect", "3", "8001", "via-localhost"], env=env, check=True)
        assert "GOT via-localhost" in out.stdout
    finally:
        proxy.stop()


@pytest.mark.parametrize("args,message", [
    (["8000", "127.0.0.1", "80", "-w", "0"],
     "--num_workers must be a whole number from 1 to 1024, not '0'"),
    (["8000", "127.0.0.1", "80", "-4", "-6"], "--ipv4 and --ipv6 conflict"),
    (["x", "127.0.0.1", "80"], "invalid LOCAL_PORT 'x' (a vsock port, 0 to 4294967295)"),
    (["8000", "127.0.0.1", "65536"], "invalid REMOTE_PORT '65536' (1 to 65535)"),
    (["8000", "127.0.0.1"], "expected LOCAL_PORT REMOTE_ADDR REMOTE_PORT"),
    (["8000", "no-such-host.invalid", "80"], None),
])
def test_bad_arguments(tmp_path, env, args, message):
    cfg = allowlist(tmp_path, [("127.0.0.1", 80)])
    p = run([PROXY, *args, "--config", cfg], env=env)
    assert p.returncode == 1
    if message:
        assert p.stderr.splitlines()[-1] == "cloister-vsock-proxy: error: " + message
    else:
        assert p.stderr.startswith(
            "cloister-vsock-proxy: error: DNS lookup of 'no-such-host.invalid' failed: ")


def test_missing_and_malformed_config(tmp_path, env):
    missing = tmp_path / "none.yaml"
    p = run([PROXY, "8000", "127.0.0.1", "80", "--config", missing], env=env)
    assert p.returncode == 1
    assert p.stderr == ("cloister-vsock-proxy: error: cannot load the allowlist: cannot open "
                        f"'{missing}': No such file or directory\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("allowlist:\n- {address: a, port: http}\n")
    p = run([PROXY, "8000", "127.0.0.1", "80", "--config", bad], env=env)
    assert p.stderr == ("cloister-vsock-proxy: error: cannot load the allowlist: "
                        f"'{bad}': line 2: invalid port 'http'\n")


def test_large_streams_both_ways(tmp_path, env, echo_server):
    cfg = allowlist(tmp_path, [("127.0.0.1", echo_server.port)])
    proxy = Proxy(env, 8000, "127.0.0.1", echo_server.port, cfg)
    try:
        # 64 MiB each way on each of 4 connections, compared byte for byte.
        out = run([STREAM, "echo-check", "3", "8000", str(64 << 20), "4"], env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"OK conns=4 bytes={64 << 20}\n"
    finally:
        proxy.stop()


def test_hundreds_of_concurrent_connections(tmp_path, env, echo_server):
    cfg = allowlist(tmp_path, [("127.0.0.1", echo_server.port)])
    proxy = Proxy(env, 8000, "127.0.0.1", echo_server.port, cfg, "-w", "2")
    try:
        out = run([STREAM, "echo-check", "3", "8000", "65536", "300"], env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "OK conns=300 bytes=65536\n"
        assert echo_server.accepted == 300
    finally:
        proxy.stop()


def test_half_close_is_passed_through(tmp_path, env):
    # The server answers only after the client's end of stream arrives.
    def answer_after_eof(c):
        got = b""
        while True:
            d = c.recv(4096)
            if not d:
                break
            got += d
        c.sendall(b"after-eof:" + got)
    server = TcpServer(answer_after_eof)
    cfg = allowlist(tmp_path, [("127.0.0.1", server.port)])
    proxy = Proxy(env, 8000, "127.0.0.1", server.port, cfg)
    try:
        out = run([ECHO, "connect", "3", "8000", "question"], env=env, check=True)
        assert "GOT after-eof:question" in out.stdout
    finally:
        proxy.stop()
        server.close()


def test_a_destination_that_goes_away(tmp_path, env):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    cfg = allowlist(tmp_path, [("127.0.0.1", port)])
    proxy = Proxy(env, 8000, "127.0.0.1", port, cfg)
    try:
        # The connection is accepted, then closed when the remote refuses.
        out = run([ECHO, "connect", "3", "8000", "anyone?"], env=env, timeout=30)
        # The client sees the end of the stream with nothing in it, or, when
        # the proxy closed before the client wrote, a broken pipe (SIGPIPE).
        if out.returncode == 0:
            assert out.stdout.endswith("\nGOT \n")
        else:
            assert out.returncode == -13 and "GOT" not in out.stdout
        assert proxy.proc.poll() is None  # the proxy lives on
        # The destination comes back: connections work again.
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", port))
        srv.listen()
        def serve():
            c, _ = srv.accept()
            echo(c)
            c.close()
        t = threading.Thread(target=serve, daemon=True)
        t.start()
        out = run([ECHO, "connect", "3", "8000", "back"], env=env, check=True, timeout=30)
        assert "GOT back" in out.stdout
        srv.close()
        assert "connection to the remote failed: Connection refused" in proxy.output()
    finally:
        proxy.stop()


def test_clients_inside_an_enclave(tmp_path, env, echo_server):
    cfg = allowlist(tmp_path, [("127.0.0.1", echo_server.port)])
    proxy = Proxy(env, 8000, "127.0.0.1", echo_server.port, cfg)
    monitor = subprocess.Popen([str(MONITOR), env["CLOISTER_RUN_DIR"], "21"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env={**os.environ, **env})
    try:
        line = monitor.stdout.readline()
        assert line.startswith("BROKER "), line
        broker = os.path.join(line.split(" ", 1)[1].strip(), "broker")
        enclave = {**env, "CLOISTER_VSOCK_BROKER": broker}
        out = run([STREAM, "echo-check", "3", "8000", str(8 << 20), "8"], env=enclave, timeout=120)
        assert out.stdout == f"OK conns=8 bytes={8 << 20}\n", out.stderr
        # The proxy saw the enclave's true CID.
        assert "connection from CID 21 port" in proxy.output()
    finally:
        monitor.stdin.close()
        monitor.wait(timeout=10)
        proxy.stop()
