"""reaper-controller over HTTPS with the kubeconfig's CA data and client certificate data, the way
kind/kubeadm kubeconfigs authenticate (marker `controller`)."""
import base64
import ssl
import subprocess

import pytest

from conftest import BUILD
from harness.daemon import Daemon
from kubeapi.fake_apiserver import FakeApiServer
from kubeapi.helpers import wait_for

pytestmark = pytest.mark.controller


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
            "-days", "1", "-subj", "/CN=fake-ca", cwd=d)
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    for name, ext in (("server", ["-extfile", "san.ext"]), ("client", [])):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out",
                f"{name}.csr", "-subj", f"/CN={name}/O=system:masters", cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.crt", "-days", "1", *ext, cwd=d)


def b64(path):
    return base64.b64encode(path.read_bytes()).decode()


def test_tls_with_client_certificate(tmp_path):
    make_pki(tmp_path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    ctx.load_verify_locations(tmp_path / "ca.crt")
    ctx.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no API
    api = FakeApiServer(bookmark_interval=0.5, tls=ctx).start()
    kc = api.kubeconfig(
        tmp_path / "kubeconfig",
        cluster_extra=f"    certificate-authority-data: {b64(tmp_path / 'ca.crt')}\n",
        user=f"    client-certificate-data: {b64(tmp_path / 'client.crt')}\n"
             f"    client-key-data: {b64(tmp_path / 'client.key')}\n")
    ctl = Daemon([BUILD / "src/controller/reaper-controller", "--kubeconfig", kc,
                  "--leader-elect=false"], tmp_path / "ctl.log")
    try:
        api.store.create("reaperpods", "default", {"metadata": {"name": "tls"},
                                                   "spec": {"command": ["true"]}})
        wait_for(lambda: api.store.get("pods", "default", "tls"),
                 what=lambda: "a Pod over TLS:\n" + ctl.text())
    finally:
        assert ctl.stop() == 0, ctl.text()
        api.stop()
