"""Throw-away certificates for TLS tests, made with the `openssl` command line.

`make_pki(directory)` writes a CA, a server certificate for 127.0.0.1/localhost (SAN),
a client certificate signed by the same CA, and a second, unrelated CA (the "wrong CA" a
misconfigured client trusts). Keys are unencrypted PKCS#8 PEM, mode 0600.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from election_testkit.zookeeper import ServerTls

DAYS = "2"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    server_keystore: Path  # key followed by certificate: ZooKeeper's PEM key store
    client_cert: Path
    client_key: Path
    other_ca: Path

    def server_tls(self, client_auth: str = "need") -> ServerTls:
        return ServerTls(
            keystore=self.server_keystore,
            truststore=self.ca,
            probe_ca=self.ca,
            probe_cert=self.client_cert,
            probe_key=self.client_key,
            client_auth=client_auth,
        )


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _self_signed_ca(directory: Path, name: str) -> tuple[Path, Path]:
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
        "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    return key, cert


def _signed(directory: Path, name: str, ca: tuple[Path, Path], extensions: str) -> Path:
    key, csr, cert = directory / f"{name}.key", directory / f"{name}.csr", directory / f"{name}.pem"
    ext = directory / f"{name}.ext"
    ext.write_text(extensions)
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
        "-subj", f"/CN={name}",
        cwd=directory,
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[1]), "-CAkey", str(ca[0]),
        "-CAcreateserial", "-out", str(cert), "-days", DAYS, "-extfile", str(ext),
        cwd=directory,
    )  # fmt: skip
    os.chmod(key, 0o600)
    return cert


def make_pki(directory: Path) -> Pki:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _self_signed_ca(directory, "ca")
    other_ca = _self_signed_ca(directory, "other-ca")
    server_cert = _signed(
        directory,
        "server",
        ca,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    client_cert = _signed(directory, "client", ca, "extendedKeyUsage=clientAuth\n")
    keystore = directory / "server-keystore.pem"
    keystore.write_bytes((directory / "server.key").read_bytes() + server_cert.read_bytes())
    os.chmod(keystore, 0o600)
    return Pki(
        ca=ca[1],
        server_cert=server_cert,
        server_key=directory / "server.key",
        server_keystore=keystore,
        client_cert=client_cert,
        client_key=directory / "client.key",
        other_ca=other_ca[1],
    )
