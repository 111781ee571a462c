"""A real JWKS endpoint on loopback for the tests, and the issuer keys it publishes.

It is an actual HTTP server in a thread, not a stand-in for PyJWT, so the service's fetching,
caching, timeouts and rate limits are exercised as in production. Tests change what it
publishes while it runs, count the fetches it answers, stop it, or make it hang.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

JWKS_PATH = "/api/auth/jwks"
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass
class IssuerKey:
    """One signing key of an outside issuer: it signs tokens and publishes its public JWK."""

    algorithm: str
    private_key: PrivateKey
    kid: str = field(default_factory=lambda: uuid.uuid4().hex)

    @classmethod
    def generate(cls, algorithm: str) -> IssuerKey:
        private_key: PrivateKey
        if algorithm == "EdDSA":
            private_key = ed25519.Ed25519PrivateKey.generate()
        elif algorithm == "ES256":
            private_key = ec.generate_private_key(ec.SECP256R1())
        elif algorithm == "RS256":
            private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            raise ValueError(algorithm)
        return cls(algorithm, private_key)

    def public_jwk(self, **overrides: Any) -> dict[str, Any]:
        public_key = self.private_key.public_key()
        jwk: dict[str, Any]
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            jwk = OKPAlgorithm.to_jwk(public_key, as_dict=True)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
        else:
            jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.algorithm, **overrides}

    def public_pem(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def sign(
        self,
        claims: dict[str, Any] | None = None,
        *,
        lifetime: timedelta = timedelta(minutes=15),
        headers: dict[str, Any] | None = None,
        algorithm: str | None = None,
        drop: tuple[str, ...] = (),
    ) -> str:
        now = datetime.now(UTC)
        payload: dict[str, Any] = {
            "sub": f"issuer-user-{uuid.uuid4().hex}",
            "iat": now,
            "exp": now + lifetime,
            **(claims or {}),
        }
        for name in drop:
            payload.pop(name, None)
        return jwt.encode(
            payload,
            self.private_key,
            algorithm=algorithm or self.algorithm,
            headers={"kid": self.kid, **(headers or {})},
        )


class JwksServer:
    """Serves `{"keys": [...]}` at /api/auth/jwks on 127.0.0.1 and counts the fetches."""

    def __init__(self) -> None:
        self.keys: list[dict[str, Any]] = []
        self.raw_body: bytes | None = None
        self.status = 200
        self._fetches = 0
        self._lock = threading.Lock()
        self._stopped = False
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # serve_forever notices shutdown() only between polls: 0.5 s by default, paid by
        # every test that stops its server.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.port = self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{JWKS_PATH}"

    @property
    def fetches(self) -> int:
        with self._lock:
            return self._fetches

    def publish(self, *keys: IssuerKey) -> None:
        self.keys = [key.public_jwk() for key in keys]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """After this the port refuses connections: the issuer is down."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != JWKS_PATH:
                    self.send_error(404)
                    return
                with server._lock:
                    server._fetches += 1
                body = server.raw_body
                if body is None:
                    body = json.dumps({"keys": server.keys}).encode()
                self.send_response(server.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def unresponsive_endpoint() -> Iterator[str]:
    """A JWKS URL whose server accepts connections and then never answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}{JWKS_PATH}"
    finally:
        listener.close()
