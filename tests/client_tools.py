"""The real CalDAV clients (the `caldav` library, vdirsyncer), in a virtual environment of
their own beside the service's: `.venv-clients`, made from tests/clients/requirements.lock on
first use and again whenever that lock changes.

They cannot share the service's environment: caldav's HTTP stack (niquests, urllib3-future)
rewrites the installed urllib3 at every interpreter start, which breaks requests and so the
schemathesis fuzzing. Test workers that need them at the same time wait on one lock file, so
the environment is made once.
"""

from __future__ import annotations

import fcntl
import hashlib
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
LOCK_FILE = REPOSITORY / "tests" / "clients" / "requirements.lock"
ENVIRONMENT = REPOSITORY / ".venv-clients"


def client_tools() -> Path:
    """The `bin` folder of the clients' environment, made or brought up to date first."""
    wanted = hashlib.sha256(LOCK_FILE.read_bytes()).hexdigest()
    stamp = ENVIRONMENT / "requirements.sha256"
    with open(REPOSITORY / ".venv-clients.lock", "a") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if not stamp.is_file() or stamp.read_text() != wanted:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(ENVIRONMENT)], check=True)
            subprocess.run(
                [
                    str(ENVIRONMENT / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "-r",
                    str(LOCK_FILE),
                ],
                check=True,
            )
            stamp.write_text(wanted)
    return ENVIRONMENT / "bin"
