"""redis-py over Strata's TLS port, with certificates made by the `openssl` CLI at run time
(a CA, a server certificate for localhost/127.0.0.1 and a client certificate; nothing is
committed). Mutual TLS (`tls-auth-clients yes`, the default) serves a client presenting a
certificate the CA signed and refuses one without a certificate or with another CA's;
`CONFIG SET tls-auth-clients optional` on the plain port lets a client without a certificate
in; RESP3 (`HELLO 3`) works over TLS.

rustls accepts only X.509 v3 certificates, so the leaf certificates carry v3 extensions
(subjectAltName, basicConstraints, extendedKeyUsage) and the CA basicConstraints CA:TRUE.
"""

import shutil
import socket
import subprocess
from types import SimpleNamespace

import pytest
import redis

from conftest import StrataServer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")

LEAF_EXTENSIONS = (
    "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
    "basicConstraints=CA:FALSE\n"
    "keyUsage=critical,digitalSignature\n"
    "extendedKeyUsage=serverAuth,clientAuth\n"
)


def openssl(*args):
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


def make_pki(dir, name):
    """A CA named `name` with a server and a client certificate it signed (P-256 keys)."""
    dir.mkdir(parents=True, exist_ok=True)
    ca_key, ca = dir / f"{name}-ca.key", dir / f"{name}-ca.crt"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", f"/CN=Strata test CA {name}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    ext = dir / f"{name}-leaf.ext"
    ext.write_text(LEAF_EXTENSIONS)
    files = {"ca": ca}
    for role in ("server", "client"):
        key, csr, crt = (dir / f"{name}-{role}.{suffix}" for suffix in ("key", "csr", "crt"))
        openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key, "-out", csr, "-subj", f"/CN=localhost {role}")
        openssl("x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-days", "2",
                "-out", crt, "-extfile", ext)
        files[f"{role}_crt"], files[f"{role}_key"] = crt, key
    return SimpleNamespace(**files)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    certs = tmp_path_factory.mktemp("pki")
    return SimpleNamespace(a=make_pki(certs, "a"), b=make_pki(certs, "b"))


@pytest.fixture
def tls_server(tmp_path, pki):
    tls_port = free_port()
    # A named plain port: `--port 0` beside a TLS port would serve TLS only (as in Redis).
    s = StrataServer(
        tmp_path / "data",
        port=free_port(),
        extra=["--tls-port", str(tls_port), "--tls-cert-file", str(pki.a.server_crt),
               "--tls-key-file", str(pki.a.server_key), "--tls-ca-cert-file", str(pki.a.ca)],
    )
    s.tls_port = tls_port
    yield s
    s.stop()


def tls_client(server, ca, cert=None, key=None, **kwargs):
    extra = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)} if cert else {}
    return redis.Redis(host="127.0.0.1", port=server.tls_port, ssl=True, ssl_ca_certs=str(ca),
                       ssl_check_hostname=True, socket_timeout=10, decode_responses=True, **extra, **kwargs)


def test_mutual_tls_set_get_ping(tls_server, pki):
    c = tls_client(tls_server, pki.a.ca, pki.a.client_crt, pki.a.client_key)
    try:
        assert c.ping() is True
        assert c.set("tls:key", "over tls") is True
        assert c.get("tls:key") == "over tls"
        big = "x" * 200_000  # several TLS records each way
        assert c.set("tls:big", big) is True
        assert c.get("tls:big") == big
        # The plain port serves the same data beside the TLS one.
        plain = tls_server.client(decode_responses=True)
        assert plain.get("tls:key") == "over tls"
        plain.close()
    finally:
        c.close()


def test_client_without_certificate_is_refused(tls_server, pki):
    c = tls_client(tls_server, pki.a.ca)
    # TLS 1.3: the client learns of the refusal (an alert) on its first read.
    with pytest.raises(redis.exceptions.ConnectionError, match="(?i)certificate required"):
        c.ping()
    c.close()
    # A certificate signed by another CA is refused as well.
    other = tls_client(tls_server, pki.a.ca, pki.b.client_crt, pki.b.client_key)
    with pytest.raises(redis.exceptions.ConnectionError, match="(?i)unknown ca"):
        other.ping()
    other.close()


def test_tls_auth_clients_optional(tls_server, pki):
    plain = tls_server.client(decode_responses=True)
    try:
        assert plain.config_set("tls-auth-clients", "optional") is True
        assert plain.config_get("tls-auth-clients") == {"tls-auth-clients": "optional"}
        anonymous = tls_client(tls_server, pki.a.ca)
        assert anonymous.ping() is True
        assert anonymous.set("k", "v") is True and anonymous.get("k") == "v"
        anonymous.close()
        # A certificate is still accepted when offered, and still has to be the CA's.
        signed = tls_client(tls_server, pki.a.ca, pki.a.client_crt, pki.a.client_key)
        assert signed.get("k") == "v"
        signed.close()
        foreign = tls_client(tls_server, pki.a.ca, pki.b.client_crt, pki.b.client_key)
        with pytest.raises(redis.exceptions.ConnectionError, match="(?i)unknown ca"):
            foreign.ping()
        foreign.close()
        # Back to `yes`: new connections need a certificate again.
        assert plain.config_set("tls-auth-clients", "yes") is True
        refused = tls_client(tls_server, pki.a.ca)
        with pytest.raises(redis.exceptions.ConnectionError, match="(?i)certificate required"):
            refused.ping()
        refused.close()
    finally:
        plain.close()


def test_resp3_over_tls(tls_server, pki):
    c = tls_client(tls_server, pki.a.ca, pki.a.client_crt, pki.a.client_key, protocol=3)
    try:
        assert c.ping() is True
        hello = c.execute_command("HELLO", "3")
        assert hello["proto"] == 3
        c.hset("tls:h", mapping={"a": "1", "b": "2"})
        assert c.hgetall("tls:h") == {"a": "1", "b": "2"}  # a RESP3 map
        assert c.set("tls:s", "v") is True and c.get("tls:s") == "v"
        c.sadd("tls:set", "x", "y")
        assert c.smembers("tls:set") == {"x", "y"}  # a RESP3 set
    finally:
        c.close()
