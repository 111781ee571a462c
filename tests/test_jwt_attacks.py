"""RFC 8725 attacks on bearer tokens: each one is a 401 with an invalid_token challenge.

The service here trusts both a shared HS256 secret and a live JWKS (EdDSA, ES256, RS256),
with an issuer and audience set, which is the configuration with the most to confuse.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.conftest import TEST_SECRET, assert_problem, bearer, make_token, open_client
from tests.jwks_server import IssuerKey, JwksServer
from todo_api.app import create_app
from todo_api.settings import Settings

ORIGIN = "https://app.example.com"
INVALID_TOKEN = 'Bearer error="invalid_token"'
Keys = dict[str, IssuerKey]


@pytest.fixture(scope="module")
def keys() -> Keys:
    return {algorithm: IssuerKey.generate(algorithm) for algorithm in ("EdDSA", "ES256", "RS256")}


@pytest.fixture
def settings(
    settings_factory: Callable[..., Settings], jwks_server: JwksServer, keys: Keys
) -> Settings:
    jwks_server.publish(*keys.values())
    return settings_factory(
        jwt_jwks_url=jwks_server.url,
        jwt_issuer=ORIGIN,
        jwt_audience=ORIGIN,
        jwt_jwks_timeout_seconds=1,
    )


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())
    values: dict[str, Any] = {
        "sub": "attacker",
        "iss": ORIGIN,
        "aud": ORIGIN,
        "iat": now,
        "exp": now + 300,
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not ...}


def assemble(header: dict[str, Any] | str, payload: dict[str, Any] | str, signature: bytes) -> str:
    """A token from raw parts, for what no honest library would produce."""
    header_text = header if isinstance(header, str) else json.dumps(header)
    payload_text = payload if isinstance(payload, str) else json.dumps(payload)
    return f"{b64(header_text.encode())}.{b64(payload_text.encode())}.{b64(signature)}"


def hmac_signed(
    header: dict[str, Any], payload: dict[str, Any] | str, secret: bytes, digest: str = "sha256"
) -> str:
    unsigned = assemble(header, payload, b"").rsplit(".", 1)[0]
    signature = hmac.new(secret, unsigned.encode(), getattr(hashlib, digest)).digest()
    return f"{unsigned}.{b64(signature)}"


def eddsa_signed(key: IssuerKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Signed with a real key, with a header PyJWT itself would refuse to write."""
    assert isinstance(key.private_key, ed25519.Ed25519PrivateKey)
    unsigned = assemble(header, payload, b"").rsplit(".", 1)[0]
    return f"{unsigned}.{b64(key.private_key.sign(unsigned.encode()))}"


def hs256(payload: dict[str, Any] | str, secret: str = TEST_SECRET) -> str:
    return hmac_signed({"alg": "HS256", "typ": "JWT"}, payload, secret.encode())


def tampered(token: str, **changes: Any) -> str:
    header, payload, signature = token.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    decoded.update(changes)
    return f"{header}.{b64(json.dumps(decoded).encode())}.{signature}"


def a_valid_token(keys: Keys) -> str:
    return keys["EdDSA"].sign(claims())


ATTACKS: dict[str, Callable[[Keys], str]] = {
    # alg "none" in every spelling, with or without a signature, with a real kid.
    "alg none": lambda k: assemble({"alg": "none", "typ": "JWT"}, claims(), b""),
    "alg None": lambda k: assemble({"alg": "None"}, claims(), b""),
    "alg NONE with a signature": lambda k: assemble({"alg": "NONE"}, claims(), b"sig"),
    "alg none with a real kid": lambda k: assemble(
        {"alg": "none", "kid": k["EdDSA"].kid}, claims(), b""
    ),
    "no alg at all": lambda k: assemble({"typ": "JWT"}, claims(), b"sig"),
    "alg not a string": lambda k: assemble({"alg": ["HS256"]}, claims(), b"sig"),
    # Algorithm confusion: the public key used as an HMAC secret.
    "HS256 keyed with the RSA public key PEM": lambda k: hmac_signed(
        {"alg": "HS256", "kid": k["RS256"].kid}, claims(), k["RS256"].public_pem()
    ),
    "HS256 keyed with the Ed25519 public key PEM": lambda k: hmac_signed(
        {"alg": "HS256", "kid": k["EdDSA"].kid}, claims(), k["EdDSA"].public_pem()
    ),
    "HS256 keyed with the JWK's own JSON": lambda k: hmac_signed(
        {"alg": "HS256", "kid": k["ES256"].kid},
        claims(),
        json.dumps(k["ES256"].public_jwk()).encode(),
    ),
    "HS256 keyed with an empty secret": lambda k: hs256(claims(), secret=""),
    # Algorithms outside the allow-list, even with the right key.
    "HS512 with the right secret": lambda k: hmac_signed(
        {"alg": "HS512"}, claims(), TEST_SECRET.encode(), "sha512"
    ),
    "RS384 from a published RSA key": lambda k: k["RS256"].sign(claims(), algorithm="RS384"),
    "PS256 from a published RSA key": lambda k: k["RS256"].sign(claims(), algorithm="PS256"),
    # The JWK decides its algorithm, not the header.
    "ES256 header naming the Ed25519 key": lambda k: k["ES256"].sign(
        claims(), headers={"kid": k["EdDSA"].kid}
    ),
    "EdDSA header naming the RSA key": lambda k: k["EdDSA"].sign(
        claims(), headers={"kid": k["RS256"].kid}
    ),
    # Key selection.
    "unknown kid": lambda k: k["EdDSA"].sign(claims(), headers={"kid": "no-such-key"}),
    "no kid": lambda k: jwt.encode(claims(), k["EdDSA"].private_key, "EdDSA"),
    "kid not a string": lambda k: eddsa_signed(k["EdDSA"], {"alg": "EdDSA", "kid": 7}, claims()),
    "kid a list": lambda k: eddsa_signed(
        k["EdDSA"], {"alg": "EdDSA", "kid": [k["EdDSA"].kid]}, claims()
    ),
    "empty kid": lambda k: k["EdDSA"].sign(claims(), headers={"kid": ""}),
    "kid of 10,000 characters": lambda k: k["EdDSA"].sign(claims(), headers={"kid": "k" * 10_000}),
    "a stranger's key under a published kid": lambda k: jwt.encode(
        claims(),
        ed25519.Ed25519PrivateKey.generate(),
        "EdDSA",
        headers={"kid": k["EdDSA"].kid},
    ),
    "the key embedded in the header (jwk)": lambda k: _self_signed_with_jwk_header(),
    # Integrity.
    "tampered payload": lambda k: tampered(a_valid_token(k), sub="someone-else"),
    "tampered HS256 payload": lambda k: tampered(hs256(claims()), sub="someone-else"),
    "signature stripped": lambda k: a_valid_token(k).rsplit(".", 1)[0] + ".",
    "signature of another token": lambda k: (
        a_valid_token(k).rsplit(".", 1)[0]
        + "."
        + k["EdDSA"].sign(claims(sub="other")).rsplit(".", 1)[1]
    ),
    "unknown critical header": lambda k: k["EdDSA"].sign(
        claims(), headers={"crit": ["x-unknown"], "x-unknown": True}
    ),
    "unencoded payload (b64 false)": lambda k: assemble(
        {"alg": "HS256", "b64": False, "crit": ["b64"]}, claims(), b"sig"
    ),
    # Time.
    "expired": lambda k: k["EdDSA"].sign(claims(exp=int(datetime.now(UTC).timestamp()) - 120)),
    "missing exp": lambda k: k["EdDSA"].sign(claims(), drop=("exp",)),
    "exp not a number": lambda k: hs256(claims(exp="tomorrow")),
    "exp Infinity": lambda k: hs256(
        json.dumps(claims(exp=0)).replace('"exp": 0', '"exp": Infinity')
    ),
    "iat NaN": lambda k: hs256(json.dumps(claims(iat=0)).replace('"iat": 0', '"iat": NaN')),
    "nbf in the future": lambda k: k["EdDSA"].sign(
        claims(nbf=int(datetime.now(UTC).timestamp()) + 300)
    ),
    "iat in the future beyond the leeway": lambda k: k["ES256"].sign(
        claims(iat=int(datetime.now(UTC).timestamp()) + 300)
    ),
    # Issuer and audience.
    "wrong iss": lambda k: k["EdDSA"].sign(claims(iss="https://evil.example.com")),
    "missing iss": lambda k: k["EdDSA"].sign(claims(iss=...)),
    "iss of the /api/auth URL": lambda k: k["EdDSA"].sign(claims(iss=f"{ORIGIN}/api/auth")),
    "wrong aud": lambda k: k["RS256"].sign(claims(aud="https://other.example.com")),
    "missing aud": lambda k: k["RS256"].sign(claims(aud=...)),
    "aud list without ours": lambda k: k["RS256"].sign(claims(aud=["https://a", "https://b"])),
    "HS256 with a wrong iss": lambda k: hs256(claims(iss="https://evil.example.com")),
    # Subject.
    "missing sub": lambda k: k["EdDSA"].sign(claims(sub=...), drop=("sub",)),
    "sub a number": lambda k: hs256(claims(sub=42)),
    "sub null": lambda k: hs256(claims(sub=None)),
    "sub a list": lambda k: hs256(claims(sub=["a"])),
    "sub an object": lambda k: hs256(claims(sub={"id": "a"})),
    "sub empty": lambda k: k["EdDSA"].sign(claims(sub="")),
    "sub of 256 characters": lambda k: k["EdDSA"].sign(claims(sub="s" * 256)),
    # Size and shape.
    "oversized but validly signed": lambda k: k["EdDSA"].sign(claims(padding="x" * 9000)),
    "one segment": lambda k: "abc",
    "two segments": lambda k: "abc.def",
    "four segments": lambda k: a_valid_token(k) + ".extra",
    "only dots": lambda k: "..",
    "not base64": lambda k: "!!!.@@@.###",
    "header not JSON": lambda k: f"{b64(b'not json')}.{b64(b'{}')}.",
    "header a JSON array": lambda k: f"{b64(b'[1, 2]')}.{b64(b'{}')}.",
    "header not UTF-8": lambda k: f"{b64(bytes([0xFF, 0xFE]))}.{b64(b'{}')}.",
    "payload not JSON": lambda k: hs256("not json at all"),
    "payload a JSON array": lambda k: hs256("[1, 2, 3]"),
    "non-ASCII garbage": lambda k: "ëÿ.☃.💥",
    "10 KB of garbage": lambda k: "A" * 10_240,
}


def _self_signed_with_jwk_header() -> str:
    # CVE-2018-0114: trusting a key that the token carries itself.
    stranger = IssuerKey.generate("EdDSA")
    return stranger.sign(claims(), headers={"jwk": stranger.public_jwk(), "kid": stranger.kid})


@pytest.mark.parametrize("attack", list(ATTACKS), ids=list(ATTACKS))
async def test_attack_is_401_invalid_token(
    client: httpx.AsyncClient, keys: Keys, attack: str
) -> None:
    token = ATTACKS[attack](keys)
    # Sent as bytes, so a token that is not ASCII reaches the service as it is.
    response = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}".encode()})
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == INVALID_TOKEN
    assert body["detail"] == "The bearer token is invalid or expired."
    for leak in ("jwt", "PyJWT", "signature", "kid", "BEGIN PUBLIC KEY", TEST_SECRET):
        assert leak.lower() not in response.text.lower()


@pytest.mark.parametrize("attack", ["alg none", "tampered payload", "expired", "sub empty"])
async def test_attacks_are_refused_on_tasks_too(
    client: httpx.AsyncClient, keys: Keys, attack: str
) -> None:
    headers = bearer(ATTACKS[attack](keys))
    for response in (
        await client.get("/tasks", headers=headers),
        await client.post("/tasks", json={"title": "x"}, headers=headers),
    ):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == INVALID_TOKEN


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"]
)
async def test_no_bearer_token_is_401_with_a_plain_challenge(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await client.get("/auth/me", headers=headers)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda k: k["EdDSA"].sign(claims()), id="EdDSA"),
        pytest.param(lambda k: k["ES256"].sign(claims()), id="ES256"),
        pytest.param(lambda k: k["RS256"].sign(claims()), id="RS256"),
        pytest.param(lambda k: hs256(claims()), id="HS256 shared secret"),
        pytest.param(
            lambda k: k["EdDSA"].sign(claims(exp=int(datetime.now(UTC).timestamp()) - 10)),
            id="expired within the leeway",
        ),
        pytest.param(
            lambda k: k["EdDSA"].sign(claims(nbf=int(datetime.now(UTC).timestamp()) + 10)),
            id="nbf within the leeway",
        ),
        pytest.param(lambda k: k["EdDSA"].sign(claims(sub="s" * 255)), id="sub of 255"),
        pytest.param(lambda k: k["EdDSA"].sign(claims(aud=[ORIGIN, "x"])), id="aud list"),
    ],
)
async def test_the_controls_pass(
    client: httpx.AsyncClient, keys: Keys, token: Callable[[Keys], str]
) -> None:
    # Without these the attack tests could pass against a service that refuses everything.
    response = await client.get("/auth/me", headers=bearer(token(keys)))
    assert response.status_code == 200, response.text


async def test_a_jku_header_is_never_followed(
    client: httpx.AsyncClient, jwks_server: JwksServer
) -> None:
    attacker = JwksServer()
    attacker.start()
    try:
        stranger = IssuerKey.generate("EdDSA")
        attacker.publish(stranger)
        token = stranger.sign(claims(), headers={"jku": attacker.url, "x5u": attacker.url})
        response = await client.get("/auth/me", headers=bearer(token))
        assert_problem(response, 401)
        assert attacker.fetches == 0
    finally:
        attacker.stop()


async def test_an_hmac_token_is_never_checked_against_the_jwks(
    settings_factory: Callable[..., Settings], jwks_server: JwksServer
) -> None:
    # An "oct" key in the JWKS must not become an HMAC secret, even with HS256 allowed.
    secret = b"published-symmetric-secret-0123456789"
    jwks_server.keys = [
        {"kty": "oct", "kid": "sym", "alg": "HS256", "k": b64(secret)},
        IssuerKey.generate("EdDSA").public_jwk(),
    ]
    app = create_app(
        settings_factory(jwt_jwks_url=jwks_server.url, jwt_algorithms="HS256,EdDSA,ES256,RS256")
    )
    async with open_client(app) as service:
        token = hmac_signed({"alg": "HS256", "kid": "sym"}, claims(), secret)
        assert_problem(await service.get("/auth/me", headers=bearer(token)), 401)
        # Nor is an EdDSA token whose kid names the symmetric key.
        eddsa = IssuerKey.generate("EdDSA").sign(claims(), headers={"kid": "sym"})
        assert_problem(await service.get("/auth/me", headers=bearer(eddsa)), 401)


async def test_without_a_jwks_asymmetric_tokens_are_refused(
    client: httpx.AsyncClient, settings_factory: Callable[..., Settings], keys: Keys
) -> None:
    app = create_app(settings_factory(jwt_algorithms="HS256,EdDSA"))
    async with open_client(app) as secret_only:
        response = await secret_only.get("/auth/me", headers=bearer(a_valid_token(keys)))
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == INVALID_TOKEN


async def test_an_hs256_only_service_refuses_other_algorithms(
    settings_factory: Callable[..., Settings], keys: Keys
) -> None:
    app = create_app(settings_factory())
    async with open_client(app) as secret_only:
        assert (
            await secret_only.get("/auth/me", headers=bearer(make_token("me")))
        ).status_code == 200
        response = await secret_only.get("/auth/me", headers=bearer(a_valid_token(keys)))
        assert_problem(response, 401)
