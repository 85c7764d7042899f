"""The django-helpdesk 2.6.1 peer's own virtualenv, var/peers/helpdesk-venv: built once, rebuilt when the pins change.

Used by the side-by-side benchmark (bench/peers/compare.py) and by the import tests' source
database (tests/support/helpdesk_source/build.py, built by .ci/run). Run as a script, it builds
the venv if needed and prints its interpreter's path:

    .venv/bin/python bench/peers/helpdesk/peer_venv.py
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PEER = ROOT / "bench" / "peers" / "helpdesk"
PEER_VENV = ROOT / "var" / "peers" / "helpdesk-venv"


def peer_python() -> Path:
    """Return the peer venv's interpreter, creating the venv and installing the pins when they changed."""
    python = PEER_VENV / "bin" / "python"
    requirements = PEER / "requirements.txt"
    installed = PEER_VENV / "installed-requirements.txt"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    if not installed.exists() or installed.read_text() != requirements.read_text():
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True)
        shutil.copyfile(requirements, installed)
    return python


if __name__ == "__main__":
    print(peer_python())
