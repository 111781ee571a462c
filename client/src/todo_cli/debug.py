"""`todo --debug`: every HTTP request and response on standard error, as `curl -v` shows them,
for a bug report that can be pasted anywhere: the token and the password never appear.

Secrets are removed three ways: the credential headers by name, the secret fields of JSON and
form bodies by name, and any remaining occurrence of a secret the client holds (the token it
sends, the password it was given) by value.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from contextlib import suppress
from typing import Any, TextIO
from urllib.parse import parse_qsl

import httpx

REDACTED = "[redacted]"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
SECRET_FIELDS = frozenset(
    {"password", "access_token", "refresh_token", "id_token", "token", "client_secret"}
)
MAX_BODY_CHARACTERS = 10_000  # a page of 200 tasks is about 100 kB: its start is enough


class ExchangePrinter:
    """httpx event hooks that print each request and response, secrets redacted."""

    def __init__(self, secrets: Iterable[str] = (), stream: TextIO | None = None) -> None:
        self._secrets = {secret for secret in secrets if secret}
        self._stream = stream

    def add_secret(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def note(self, line: str) -> None:
        self._print(f"* {line}")

    def request(self, request: httpx.Request) -> None:
        lines = [f"> {request.method} {request.url}"]
        lines += [f"> {name}: {value}" for name, value in self._headers(request.headers)]
        lines.append(">")
        body = self._body(request.content, request.headers.get("Content-Type", ""))
        self._print("\n".join([*lines, *body]))

    def response(self, response: httpx.Response) -> None:
        response.read()  # the body, for printing; httpx keeps it for the caller too
        lines = [f"< {response.http_version} {response.status_code} {response.reason_phrase}"]
        lines += [f"< {name}: {value}" for name, value in self._headers(response.headers)]
        lines.append("<")
        body = self._body(response.content, response.headers.get("Content-Type", ""))
        self._print("\n".join([*lines, *body]))

    def _headers(self, headers: httpx.Headers) -> list[tuple[str, str]]:
        shown = []
        for name, value in headers.multi_items():
            if name.lower() in SECRET_HEADERS:
                scheme, _, credentials = value.partition(" ")
                value = f"{scheme} {REDACTED}" if credentials else REDACTED
            shown.append((name, value))
        return shown

    def _body(self, content: bytes, content_type: str) -> list[str]:
        if not content:
            return []
        text = content.decode("utf-8", errors="replace")
        if "json" in content_type:
            # Not JSON after all: shown as it came, and the redaction by value still applies.
            with suppress(ValueError):
                text = json.dumps(_without_secret_fields(json.loads(text)), ensure_ascii=False)
        elif "x-www-form-urlencoded" in content_type:
            fields = parse_qsl(text, keep_blank_values=True)
            text = "&".join(
                f"{key}={REDACTED if key in SECRET_FIELDS else value}" for key, value in fields
            )
        if len(text) > MAX_BODY_CHARACTERS:
            cut = len(text) - MAX_BODY_CHARACTERS
            text = f"{text[:MAX_BODY_CHARACTERS]}... ({cut} more characters)"
        return [text]

    def _print(self, text: str) -> None:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        print(text, file=self._stream or sys.stderr, flush=True)


def _without_secret_fields(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: REDACTED if key in SECRET_FIELDS else _without_secret_fields(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_secret_fields(item) for item in value]
    return value
