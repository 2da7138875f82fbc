"""A real TLS-terminating reverse proxy for tests: Debian's nginx with a self-signed certificate made here.

nginx runs in the foreground with its own prefix, configuration, pid, logs and temp folders under a test
directory, listens on a loopback port and forwards to Kapu the way the README's production snippet does
(`X-Forwarded-For` appended, `X-Forwarded-Proto`, the `Host` passed on). Given several Kapu servers it spreads
requests over them (nginx's round robin); the access log names the server that answered each request.
"""

from __future__ import annotations

import datetime
import ipaddress
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.smtp_server import free_port
from tests.support.helpers import missing

NGINX = Path("/usr/sbin/nginx")
START_TIMEOUT = 10.0

CONFIG = """\
daemon off;
master_process on;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/logs/error.log warn;
events {{ worker_connections 64; }}
http {{
    log_format upstream '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr';
    access_log {root}/logs/access.log upstream;
    client_body_temp_path {root}/temp/body;
    proxy_temp_path {root}/temp/proxy;
    fastcgi_temp_path {root}/temp/fastcgi;
    uwsgi_temp_path {root}/temp/uwsgi;
    scgi_temp_path {root}/temp/scgi;
    upstream kapu {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {root}/cert.pem;
        ssl_certificate_key {root}/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            proxy_pass http://kapu;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
"""


def require_nginx():
    if not NGINX.exists():
        missing(f"{NGINX} is missing: install Debian's nginx package to run the TLS proxy tests")


def write_self_signed_certificate(cert_path: Path, key_path: Path, host: str = "127.0.0.1"):
    """An EC key and a one-day certificate for *host* (as an IP SAN) and localhost."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)


class TlsProxy:
    """nginx terminating TLS on https://127.0.0.1:<port> in front of http://127.0.0.1:<upstream_port> (or of
    several such servers, given a list of ports)."""

    def __init__(self, root: Path, upstream_port: int | list[int], port: int | None = None):
        self.root = Path(root)
        self.upstream_ports = [upstream_port] if isinstance(upstream_port, int) else list(upstream_port)
        self.port = port or free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> TlsProxy:
        require_nginx()
        for folder in ("logs", "temp"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        write_self_signed_certificate(self.root / "cert.pem", self.root / "key.pem")
        config = self.root / "nginx.conf"
        servers = "\n".join(f"        server 127.0.0.1:{port};" for port in self.upstream_ports)
        config.write_text(CONFIG.format(root=self.root, port=self.port, servers=servers))
        self.process = subprocess.Popen(
            [str(NGINX), "-p", str(self.root), "-c", str(config), "-e", str(self.root / "logs" / "error.log")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._wait_until_listening()
        return self

    def _wait_until_listening(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}: {self.errors()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError(f"nginx did not listen on port {self.port} within {START_TIMEOUT} s: {self.errors()}")

    def errors(self) -> str:
        log = self.root / "logs" / "error.log"
        finished = self.process.poll() is not None and not self.process.stderr.closed
        stderr = self.process.stderr.read().decode(errors="replace") if finished else ""
        return (stderr + (log.read_text(errors="replace") if log.exists() else "")).strip()

    def access_log(self) -> str:
        return (self.root / "logs" / "access.log").read_text(errors="replace")

    @property
    def certificate(self) -> Path:
        """The self-signed certificate, for a client that checks it (`ssl.create_default_context(cafile=...)`)."""
        return self.root / "cert.pem"

    def close(self):
        """SIGQUIT: nginx's graceful stop; SIGKILL if it does not end in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process.stderr.close()
