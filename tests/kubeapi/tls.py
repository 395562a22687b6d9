"""HTTPS for the emulator: a throwaway self-signed certificate for 127.0.0.1.

Owns making the certificate (with the `openssl` command, as the standard library cannot)
and the server-side TLS context. Opt-in (`Emulator(tls=True)`): over HTTPS kubectl sends
bearer tokens, so RBAC is exercised with real credentials rather than impersonation headers.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

CERTIFICATE_DAYS = 2  # lives as long as a test run, never longer


def self_signed(directory: Path) -> tuple[Path, Path]:
    """(certificate, key) for 127.0.0.1 and localhost; the certificate is its own CA."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("Emulator(tls=True) needs the openssl command to make a certificate")
    cert, key = directory / "emulator.crt", directory / "emulator.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            str(CERTIFICATE_DAYS),
            "-subj",
            "/CN=kubeapi-emulator",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
