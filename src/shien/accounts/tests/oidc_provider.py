"""A tiny OpenID Connect provider for tests: http.server in a thread on 127.0.0.1, RS256 with its own key.

Endpoints: discovery, /authorize (approves the configured user at once, or answers
error=access_denied), /token (client secret, single-use code, redirect_uri and PKCE checked; an
id_token with the nonce), /jwks, /userinfo. A test changes `provider.user` (the claims of the person
who "logs in") and the knobs below to make the provider misbehave.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

CLIENT_ID = "shien-test-client"
CLIENT_SECRET = "s3cret-for-tests"


def _rsa() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class Provider:
    key: Any = field(default_factory=_rsa)
    rogue_key: Any = field(default_factory=_rsa)  # a key the JWKS does not publish
    url: str = ""
    # who logs in, and how the provider behaves (reset by `reset`)
    user: dict[str, Any] = field(default_factory=dict)
    deny: bool = False  # /authorize answers error=access_denied
    sign_with_rogue_key: bool = False
    audience: str | None = None  # None: the client id
    lifetime: int = 300  # seconds until the id_token's exp (negative: already expired)
    amr: list[str] | None = None
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        self.user = {
            "sub": "gbiz-0001",
            "email": "gbiz@example.jp",
            "email_verified": True,
            "name": "広島 花子",
        }
        self.deny = self.sign_with_rogue_key = False
        self.audience, self.lifetime, self.amr = None, 300, None
        self.codes.clear()
        self.tokens.clear()
        self.token_requests.clear()

    # --- what the endpoints answer -------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": "test-key-1", "use": "sig", "alg": "RS256"}]}

    def authorize(self, query: dict[str, str]) -> str:
        redirect_uri = query["redirect_uri"]
        if query.get("client_id") != CLIENT_ID:
            return (
                redirect_uri
                + "?"
                + urlencode({"error": "unauthorized_client", "state": query.get("state", "")})
            )
        if self.deny:
            return (
                redirect_uri
                + "?"
                + urlencode(
                    {
                        "error": "access_denied",
                        "error_description": "user cancelled",
                        "state": query.get("state", ""),
                    }
                )
            )
        code = secrets.token_urlsafe(16)
        self.codes[code] = {
            "nonce": query.get("nonce"),
            "redirect_uri": redirect_uri,
            "challenge": query.get("code_challenge"),
            "user": dict(self.user),
        }
        return redirect_uri + "?" + urlencode({"code": code, "state": query["state"]})

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append(form)
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if (client_id, secret) != (CLIENT_ID, CLIENT_SECRET):
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # single use
        if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        if grant["challenge"]:
            verifier = form.get("code_verifier", "")
            digest = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
            )
            if digest != grant["challenge"]:
                return 400, {"error": "invalid_grant", "error_description": "PKCE"}
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.audience or CLIENT_ID,
            "iat": now,
            "exp": now + self.lifetime,
            "nonce": grant["nonce"],
            **grant["user"],
        }
        if self.amr is not None:
            claims["amr"] = self.amr
        key = self.rogue_key if self.sign_with_rogue_key else self.key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "test-key-1"})
        access_token = secrets.token_urlsafe(16)
        self.tokens[access_token] = grant["user"]
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        user = self.tokens.get(authorization.removeprefix("Bearer "))
        return (200, dict(user)) if user is not None else (401, {"error": "invalid_token"})


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def _json(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, provider.jwks())
            elif url.path == "/authorize":
                self.send_response(302)
                self.send_header("Location", provider.authorize(query))
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif url.path == "/userinfo":
                self._json(*provider.userinfo(self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlparse(self.path).path != "/token":
                self._json(404, {"error": "not_found"})
                return
            basic = None
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                basic = (user, password)
            self._json(*provider.token(form, basic))

    return Handler


class Running:
    """The provider served on 127.0.0.1:<free port> until `stop`."""

    def __init__(self) -> None:
        self.provider = Provider()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self.provider))
        self.provider.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.provider.reset()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
