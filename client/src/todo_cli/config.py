"""Where `todo` keeps its login: the server it last logged in to, and a token per server.

The file lives in the user's config folder and only its owner can read it, from the moment it
exists: it is written to a new file created with mode 0600 (O_EXCL, so an attacker's file or
link is never reused) and then renamed over the old one.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from todo_cli.errors import InvalidInputError

DEFAULT_SERVER = "http://127.0.0.1:8000"
SERVER_ENV = "TODO_SERVER"
CREDENTIALS_FILE = "credentials.json"


def config_folder() -> Path:
    # The contract names $XDG_CONFIG_HOME first on every platform (platformdirs honours it only
    # on Linux); the XDG rules ignore a relative value.
    xdg = os.environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "todo"
    import platformdirs  # 15 ms to import: only when the environment does not say

    return platformdirs.user_config_path("todo", appauthor=False, roaming=True)


def normalize_server(url: str) -> str:
    url = url.strip().rstrip("/")
    scheme, separator, rest = url.partition("://")
    if not separator or scheme.lower() not in ("http", "https") or not rest:
        raise InvalidInputError(f"the server must be an http:// or https:// URL, not {url!r}")
    return f"{scheme.lower()}://{rest}"


@dataclass
class Credentials:
    server: str | None = None  # the one `todo login` last saved
    tokens: dict[str, str] = field(default_factory=dict)  # by server URL

    def token_for(self, server: str) -> str | None:
        return self.tokens.get(server)


def credentials_path() -> Path:
    return config_folder() / CREDENTIALS_FILE


def load_credentials() -> Credentials:
    path = credentials_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Credentials()
    except OSError as error:
        print(f"todo: warning: cannot read {path}: {error.strerror}", file=sys.stderr)
        return Credentials()
    try:
        data = json.loads(raw)
        server = data.get("server")
        tokens = data.get("tokens", {})
        if not (server is None or isinstance(server, str)) or not isinstance(tokens, dict):
            raise ValueError
        return Credentials(
            server=server,
            tokens={k: v for k, v in tokens.items() if isinstance(k, str) and isinstance(v, str)},
        )
    except (ValueError, AttributeError):
        print(f"todo: warning: ignoring {path}: not a file todo wrote", file=sys.stderr)
        return Credentials()


def save_credentials(credentials: Credentials) -> Path:
    path = credentials_path()
    body = json.dumps({"server": credentials.server, "tokens": credentials.tokens}, indent=2)
    write_private_file(path, body.encode() + b"\n")
    return path


def write_private_file(path: Path, content: bytes) -> None:
    # Only the folder this program owns is made owner-only; parents such as ~/.config keep
    # whatever mode the user gave them.
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.urandom(8).hex()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    descriptor = os.open(temporary, flags, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def resolve_server(given: str | None, credentials: Credentials) -> str:
    """--server, else $TODO_SERVER, else the saved one, else the local default."""
    for candidate in (given, os.environ.get(SERVER_ENV), credentials.server):
        if candidate:
            return normalize_server(candidate)
    return DEFAULT_SERVER
