"""Bad input and unusable coordinators raise the documented exceptions with the CLI's words."""

import socket

import numpy as np
import pytest

import chirpfarm


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(signals=[-1.0]), "chirp mass"),
        (dict(signals=[float("nan")]), "chirp mass"),
        (dict(bank="1.0:0.9:0.01", signals=[1.2]), "bank"),
        (dict(bank="0.8:1.74:0", signals=[1.2]), "step"),
        (dict(bank=[], signals=[1.2]), "empty"),
        (dict(bank=np.array([[1.0, 1.2]]), signals=[1.2]), "one-dimensional"),
        (dict(signals=[1.2], convention="loud"), "convention"),
        (dict(signals=[1.2], colour="red"), "unknown search option"),
        (dict(signals=[1.2], max_templates=10), "10"),
        (dict(data=np.zeros(10), signals=[1.2]), "sample_rate"),
        (dict(data=np.zeros(4096), sample_rate=1000.0), "power of two"),
        (dict(data=np.array([0.0, np.inf]), sample_rate=4096.0), "finite"),
    ],
)
def test_bad_input_raises_value_error(kwargs, words):
    with pytest.raises(ValueError, match=words):
        chirpfarm.search(**kwargs)


def test_template_refuses_bad_masses():
    with pytest.raises(ValueError, match="chirp mass"):
        chirpfarm.template(0.0)
    with pytest.raises(ValueError, match="delay"):
        chirpfarm.template(1.2, delay=float("inf"))


def test_an_address_without_a_scheme_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="did you mean http://127.0.0.1:9"):
        chirpfarm.Farm("127.0.0.1:9")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_listening_raises_connection_error():
    with pytest.raises(ConnectionError):
        chirpfarm.Farm(f"http://127.0.0.1:{free_port()}")


def test_a_port_that_is_not_grpc_raises_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        port = s.getsockname()[1]
        with pytest.raises(ConnectionError):
            chirpfarm.Farm(f"http://127.0.0.1:{port}")


def test_wrong_token_raises_permission_error(cluster_factory, tmp_path):
    token = tmp_path / "token"
    token.write_text("the-right-secret-0123456789abcdef\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-secret-0123456789abcdef00\n")
    c = cluster_factory("--token-file", str(token))
    with pytest.raises(PermissionError):
        chirpfarm.Farm(c.url, token_file=wrong)
    with chirpfarm.Farm(c.url, token_file=token) as farm:
        assert farm.workers() == []
    with pytest.raises(ValueError, match="token"):
        chirpfarm.Farm(c.url, token_file=tmp_path / "missing")


def http1_listener():
    """A loopback port answering every request with an HTTP/1.1 error (not gRPC); its address."""
    import threading
    import time

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)

    def serve():
        while True:
            try:
                conn, _ = s.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(1024)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                    time.sleep(0.3)
                except OSError:
                    pass

    threading.Thread(target=serve, daemon=True).start()
    return s, "127.0.0.1:%d" % s.getsockname()[1]


def test_each_farm_names_its_own_address_when_it_is_not_a_coordinator():
    # One session, two wrong addresses: each error names the address it came from (the
    # address is the connection's, not the first one the process used).
    a, addr_a = http1_listener()
    b, addr_b = http1_listener()
    with a, b:
        for addr in (addr_a, addr_b):
            with pytest.raises(ConnectionError) as e:
                chirpfarm.Farm(f"http://{addr}")
            assert f"{addr} did not answer as a chirpfarm coordinator" in str(e.value)
