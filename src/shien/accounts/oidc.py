"""Login through an external OpenID Connect provider (GビズID or any OIDC provider), relying party side.

Flow: authorization code with `state`, `nonce` and PKCE (S256). `authorization_url` keeps the flow's
secrets in the session, keyed by state (a few tabs may log in at once; a flow lives 10 minutes and is
used once). `callback` checks the state, exchanges the code at the token endpoint (client secret by
Basic auth or in the body), verifies the id_token — RS256 signature against the provider's JWKS
(fetched again once when an unknown `kid` appears: key rotation), `iss`, `aud` (and `azp` when there
are several audiences), `exp`/`iat` (60 s leeway) and the `nonce` — and reads the userinfo endpoint
(its `sub` must be the id_token's). Configuration is in settings (`OIDC_*`, from the environment);
endpoints come from discovery (`<issuer>/.well-known/openid-configuration`, cached for an hour)
unless set one by one.

Why pyjwt + requests and not mozilla-django-oidc (installed): its backend decodes the id_token with
`verify_aud=False` and does not check `iss`; it finds users by email alone (no issuer+subject
identities, no `email_verified` rule); it has no discovery; and its failures are SuspiciousOperation
(400 page) or a redirect to a failure URL, not a Japanese explanation. Overriding all of that would
leave only the redirect helpers, which are a few lines here.

Account linking (`resolve`): an `ExternalIdentity(issuer, subject)` logs in its user. Otherwise the
verified address decides: a user with that email is linked only when the provider says
`email_verified`; else a new user is created — also only with a verified address, since an unverified
one would let someone hold an account under another person's email. Users created here have no
password (unusable; Django's password reset does not send mail to such users).

Sign-up does not prove that an address belongs to whoever signs up, so an existing user with a
password is linked only after a login with that password (`auth_views.LINK_KEY`): otherwise someone
who registered a victim's address in advance would share the account the victim then uses through
the provider (pre-account takeover). `record_login(by=...)` audits what proved the link.

Two-factor users: a user with TOTP enabled is still asked for the code after the provider, unless
the id_token's `amr` says the provider itself did multi-factor authentication (`OIDC_MFA_AMR`,
default `["mfa"]`, RFC 8176; only the signed id_token's `amr` counts, not userinfo's). The external
login is as strong as the provider's login, which we do not know in general; `amr` is the provider's
own statement. Linking an existing user by email waits until the code (or the password) is given,
also when `amr` says multi-factor, so a provider account alone never attaches itself to a user.

id_tokens: only asymmetric algorithms from `OIDC_RP_SIGN_ALGO` (never `none` or HS*, even if
configured: the key comes from the JWKS, and an HMAC "key" made of the public key is the classic
algorithm-confusion attack); `azp` must be ours whenever present; `iss` must be the provider's
issuer exactly as discovery writes it.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse

from shien.accounts.models import ExternalIdentity, User
from shien.core.errors import DomainError
from shien.core.services import audit_record
from shien.rules import clock

logger = logging.getLogger(__name__)

SESSION_KEY = "oidc_flows"
FLOW_TTL = 600  # seconds
MAX_FLOWS = 5
LEEWAY = 60  # seconds of clock difference allowed for exp/iat
DISCOVERY_TTL = 3600
JWKS_REFETCH_INTERVAL = 60  # seconds: a JWKS is fetched again for an unknown kid at most this often
# id_tokens are signed with the provider's key pair (from its JWKS): never `none`, never a shared secret
ASYMMETRIC = re.compile(r"(RS|PS|ES)(256|384|512)|ES256K|EdDSA")


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_ENABLED", False))


def provider_name() -> str:
    return str(getattr(settings, "OIDC_PROVIDER_NAME", "GビズID"))


class OIDCError(DomainError):
    """A login through the provider that cannot go on (its page's status: `core.errors`, by code)."""


# --- configuration and provider metadata --------------------------------------------------------


def _setting(name: str, default: Any = "") -> Any:
    return getattr(settings, name, default)


def _timeout() -> float:
    return float(_setting("OIDC_TIMEOUT", 10))


def _issuer() -> str:
    return str(_setting("OIDC_OP_ISSUER")).rstrip("/")


REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


def metadata() -> dict[str, Any]:
    """Endpoints: those set in settings, the rest from discovery.

    `issuer` is the one id_tokens must carry, exactly: the provider's own spelling from discovery
    (the setting may differ by a trailing slash), else the setting as written.
    """
    explicit = {
        "issuer": str(_setting("OIDC_OP_ISSUER")),
        "authorization_endpoint": _setting("OIDC_OP_AUTHORIZATION_ENDPOINT"),
        "token_endpoint": _setting("OIDC_OP_TOKEN_ENDPOINT"),
        "userinfo_endpoint": _setting("OIDC_OP_USER_ENDPOINT"),
        "jwks_uri": _setting("OIDC_OP_JWKS_ENDPOINT"),
    }
    if all(explicit[k] for k in REQUIRED_METADATA):
        return explicit
    url = _setting("OIDC_OP_DISCOVERY_URL") or f"{_issuer()}/.well-known/openid-configuration"
    key = f"oidc:discovery:{url}"
    found = cache.get(key)
    if found is None:
        found = _get_json(url)
        if str(found.get("issuer", "")).rstrip("/") != _issuer():
            raise OIDCError(
                "discovery", "認証サービスの設定（issuer）が一致しません。管理者に連絡してください"
            )
        cache.set(key, found, DISCOVERY_TTL)
    merged = {**found, **{k: v for k, v in explicit.items() if v and k != "issuer"}}
    if not all(isinstance(merged.get(k), str) and merged[k] for k in REQUIRED_METADATA):
        missing = ", ".join(k for k in REQUIRED_METADATA if not merged.get(k))
        logger.warning("OIDC: discovery at %s lacks %s", url, missing)
        raise OIDCError(
            "discovery", "認証サービスの設定（エンドポイント）が不足しています。管理者に連絡してください"
        )
    return merged


def _get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        response = requests.get(url, timeout=_timeout(), **kwargs)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OIDC: GET %s failed: %s", url, exc)
        raise _unreachable() from exc
    if not isinstance(data, dict):
        raise _unreachable()
    return data


def _unreachable() -> OIDCError:
    return OIDCError(
        "unreachable", f"{provider_name()}との通信に失敗しました。しばらくしてからもう一度お試しください"
    )


# --- step 1: to the provider ------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def redirect_uri(request: HttpRequest) -> str:
    return _setting("OIDC_RP_REDIRECT_URI") or request.build_absolute_uri(reverse("oidc-callback"))


def authorization_url(request: HttpRequest, next_url: str) -> str:
    """Where to send the browser; the flow's state, nonce and PKCE verifier stay in the session."""
    meta = metadata()
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    params = {
        "response_type": "code",
        "client_id": _setting("OIDC_RP_CLIENT_ID"),
        "redirect_uri": redirect_uri(request),
        "scope": _setting("OIDC_RP_SCOPES", "openid email profile"),
        "state": state,
        "nonce": nonce,
    }
    flow: dict[str, Any] = {"nonce": nonce, "next": next_url, "redirect_uri": params["redirect_uri"]}
    methods = meta.get("code_challenge_methods_supported", ["S256"])
    if _setting("OIDC_USE_PKCE", True) and "S256" in methods:
        verifier = secrets.token_urlsafe(64)
        flow["verifier"] = verifier
        params["code_challenge"] = _b64(hashlib.sha256(verifier.encode()).digest())
        params["code_challenge_method"] = "S256"
    now = clock.now().timestamp()
    flows = {s: f for s, f in request.session.get(SESSION_KEY, {}).items() if now - f.get("at", 0) < FLOW_TTL}
    flows[state] = {**flow, "at": now}
    request.session[SESSION_KEY] = dict(sorted(flows.items(), key=lambda kv: kv[1]["at"])[-MAX_FLOWS:])
    separator = "&" if "?" in meta["authorization_endpoint"] else "?"
    return f"{meta['authorization_endpoint']}{separator}{urlencode(params)}"


# --- step 2: back from the provider -----------------------------------------------------------

PROVIDER_ERRORS = {
    "access_denied": "{name}でのログインが許可されませんでした（キャンセルされたか、アクセスが拒否されました）",
    "login_required": "{name}にログインしていません。もう一度お試しください",
    "consent_required": "{name}で情報提供への同意が必要です。もう一度お試しください",
    "interaction_required": "{name}での操作が必要です。もう一度お試しください",
    "temporarily_unavailable": "{name}が一時的に利用できません。しばらくしてからお試しください",
}


@dataclass(frozen=True)
class Login:
    """A verified login: who, from which identity, and whether the provider did multi-factor."""

    user: User
    issuer: str
    subject: str
    email: str
    link: bool  # an existing user found by email: link it when the login completes
    provider_mfa: bool
    next_url: str


def callback(request: HttpRequest) -> Login:
    """Check the provider's answer and find (or create) the user. Raises OIDCError."""
    params = request.GET
    state = params.get("state", "")
    flows = request.session.get(SESSION_KEY, {})
    flow = flows.pop(state, None) if state else None
    request.session[SESSION_KEY] = flows  # a flow is used once, also when it fails
    if flow is None or clock.now().timestamp() - flow.get("at", 0) > FLOW_TTL:
        # also for error answers: a link made by someone else (no flow of this browser) shows nothing of theirs
        raise OIDCError(
            "state_mismatch",
            "ログインの確認情報（state）が一致しないか、期限が切れています。もう一度ログインしてください",
        )
    if params.get("error"):
        error = params["error"]
        # RFC 6749 error codes are ASCII words; anything else is not shown (no text injected into our page)
        shown = error if re.fullmatch(r"[a-z_]{1,40}", error) else "不明なエラー"
        message = PROVIDER_ERRORS.get(error, "{name}でログインできませんでした（エラー: {error}）")
        raise OIDCError(
            error if error in PROVIDER_ERRORS else "provider_error",
            message.format(name=provider_name(), error=shown),
        )
    code = params.get("code", "")
    if not code:
        raise OIDCError("no_code", f"{provider_name()}から認可コードが返されませんでした")
    meta = metadata()
    tokens = _exchange(meta, code, flow)
    claims = verify_id_token(str(tokens.get("id_token", "")), nonce=flow["nonce"])
    if meta.get("userinfo_endpoint") and tokens.get("access_token"):
        info = _get_json(
            meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        if info.get("sub") != claims["sub"]:
            raise OIDCError("userinfo_mismatch", "利用者情報（sub）がIDトークンと一致しません")
        # the signed id_token wins; how the person authenticated (amr) counts only from the id_token
        claims = {**{k: v for k, v in info.items() if k != "amr"}, **claims}
    return resolve(claims, next_url=flow.get("next", ""))


def _exchange(meta: dict[str, Any], code: str, flow: dict[str, Any]) -> dict[str, Any]:
    client_id, secret = _setting("OIDC_RP_CLIENT_ID"), _setting("OIDC_RP_CLIENT_SECRET")
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": flow["redirect_uri"]}
    if flow.get("verifier"):
        data["code_verifier"] = flow["verifier"]
    auth = None
    if _setting("OIDC_TOKEN_AUTH_METHOD", "client_secret_basic") == "client_secret_post":
        data |= {"client_id": client_id, "client_secret": secret}
    else:
        auth = (client_id, secret)
    try:
        response = requests.post(meta["token_endpoint"], data=data, auth=auth, timeout=_timeout())
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OIDC: token request failed: %s", exc)
        raise _unreachable() from exc
    if response.status_code != 200 or not isinstance(body, dict) or "id_token" not in body:
        error = body.get("error", response.status_code) if isinstance(body, dict) else response.status_code
        logger.warning("OIDC: token endpoint answered %s: %s", response.status_code, error)
        raise OIDCError(
            "token_error",
            f"{provider_name()}からIDトークンを受け取れませんでした（{error}）。もう一度ログインしてください",
        )
    return body


def _signing_key(kid: str | None, alg: str) -> Any:
    """The provider's public key for `kid` from its JWKS.

    A kid not in the cached JWKS fetches it again (key rotation), at most once a minute: unknown kids
    must not make every login wait for, and hammer, the provider's JWKS endpoint.
    """
    url = metadata()["jwks_uri"]
    cache_key = f"oidc:jwks:{url}"
    jwks, fetched = cache.get(cache_key), False
    for _ in range(2):
        if jwks is None:
            jwks, fetched = _get_json(url), True
            cache.set(cache_key, jwks, DISCOVERY_TTL)
            cache.set(f"{cache_key}:fetched", True, JWKS_REFETCH_INTERVAL)
        keys = [
            k
            for k in jwks.get("keys", [])
            if isinstance(k, dict) and k.get("use", "sig") == "sig" and k.get("alg", alg) == alg
        ]
        match = [k for k in keys if k.get("kid") == kid] if kid else keys[:1] if len(keys) == 1 else []
        if match:
            try:
                return jwt.PyJWK(match[0], algorithm=alg).key
            except jwt.PyJWTError as exc:
                raise _invalid_token("鍵を読み取れません") from exc
        if fetched or not cache.add(f"{cache_key}:fetched", True, JWKS_REFETCH_INTERVAL):
            break
        jwks = None
    raise _invalid_token("署名の鍵が見つかりません")


def _invalid_token(reason: str) -> OIDCError:
    return OIDCError(
        "invalid_token",
        f"{provider_name()}から受け取った本人確認情報（IDトークン）を検証できませんでした（{reason}）。"
        "もう一度ログインしてください",
    )


def verify_id_token(token: str, *, nonce: str) -> dict[str, Any]:
    configured = str(_setting("OIDC_RP_SIGN_ALGO", "RS256")).split(",")
    algorithms = [a.strip() for a in configured if ASYMMETRIC.fullmatch(a.strip())]
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid_token("形式が正しくありません") from exc
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise _invalid_token(f"署名方式 {str(alg)[:10]} は受け付けません")
    client_id = _setting("OIDC_RP_CLIENT_ID")
    kid = header.get("kid")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key=_signing_key(kid if isinstance(kid, str) else None, alg),
            algorithms=[alg],
            audience=client_id,
            issuer=metadata()["issuer"],
            leeway=LEEWAY,
            options={"require": ["iss", "sub", "aud", "exp", "iat"]},
        )
    except jwt.InvalidSignatureError as exc:
        raise _invalid_token("署名が正しくありません") from exc
    except jwt.ExpiredSignatureError as exc:
        raise _invalid_token("有効期限が切れています") from exc
    except jwt.InvalidAudienceError as exc:
        raise _invalid_token("宛先（aud）が本サービスではありません") from exc
    except jwt.InvalidIssuerError as exc:
        raise _invalid_token("発行者（iss）が一致しません") from exc
    except jwt.ImmatureSignatureError as exc:
        raise _invalid_token("発行時刻が未来になっています") from exc
    except jwt.PyJWTError as exc:
        raise _invalid_token(type(exc).__name__) from exc
    audience = claims["aud"]
    several = isinstance(audience, list) and len(audience) > 1
    if (several or "azp" in claims) and claims.get("azp") != client_id:
        raise _invalid_token("宛先（azp）が本サービスではありません")
    if not nonce or not secrets.compare_digest(str(claims.get("nonce", "")), nonce):
        raise _invalid_token("nonce が一致しません")
    return claims


# --- accounts ----------------------------------------------------------------------------------


def _email_verified(claims: dict[str, Any]) -> bool:
    value = claims.get("email_verified")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def resolve(claims: dict[str, Any], *, next_url: str = "") -> Login:
    """The user of verified claims: by identity, else by verified email (linked later), else new."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    email = str(claims.get("email") or "").strip().lower()
    amr = claims.get("amr") or []
    methods = {str(m) for m in (amr if isinstance(amr, list) else [amr])}
    provider_mfa = bool(methods & set(_setting("OIDC_MFA_AMR", ["mfa"])))
    login = {
        "issuer": issuer,
        "subject": subject,
        "email": email,
        "provider_mfa": provider_mfa,
        "next_url": next_url,
    }
    identity = ExternalIdentity.objects.select_related("user").filter(issuer=issuer, subject=subject).first()
    if identity is not None:
        return Login(user=_active(identity.user), link=False, **login)
    if not email:
        raise OIDCError(
            "no_email",
            f"{provider_name()}からメールアドレスが提供されなかったため、ログインできません。"
            f"{provider_name()}でメールアドレスを登録してからお試しください",
        )
    if not _email_verified(claims):
        existing = User.objects.filter(email=email).exists()
        raise OIDCError(
            "email_unverified",
            (
                f"このメールアドレスの利用者はすでに登録されていますが、{provider_name()}でメールアドレスの確認が"
                "済んでいないため連携できません。メールアドレスとパスワードでログインしてください"
            )
            if existing
            else f"{provider_name()}でメールアドレスの確認が済んでいないため、利用登録できません。"
            f"{provider_name()}でメールアドレスを確認してからお試しください",
        )
    user = User.objects.filter(email=email).first()
    if user is not None:
        return Login(user=_active(user), link=True, **login)
    return Login(user=_create(claims, issuer, subject, email), link=False, **login)


def _active(user: User) -> User:
    if not user.is_active:
        raise OIDCError("inactive", "この利用者は現在ログインできません。事務局にお問い合わせください")
    return user


def _create(claims: dict[str, Any], issuer: str, subject: str, email: str) -> User:
    name = str(
        claims.get("name") or f"{claims.get('family_name', '')} {claims.get('given_name', '')}"
    ).strip()
    try:
        with transaction.atomic():
            user = User.objects.create_user(email, None, name=name[:100])
            identity = ExternalIdentity.objects.create(user=user, issuer=issuer, subject=subject, email=email)
            audit_record(actor=user, action="user.create", obj=user, data={"via": "oidc", "issuer": issuer})
            audit_record(actor=user, action="auth.oidc_link", obj=identity, data={"issuer": issuer})
    except IntegrityError:  # the same person's other tab was quicker
        identity = ExternalIdentity.objects.select_related("user").get(issuer=issuer, subject=subject)
        user = identity.user
    return user


@transaction.atomic
def record_login(login: Login, *, by: str = "verified_email") -> ExternalIdentity:
    """When the login completes: link the identity if new, note the time, audit.

    `by`: what proved that the provider's person owns the existing user when linking by email —
    `verified_email` (a user without a password), `totp` (its code), `password` (its password).
    """
    identity, created = ExternalIdentity.objects.select_for_update().get_or_create(
        issuer=login.issuer, subject=login.subject, defaults={"user": login.user, "email": login.email}
    )
    if identity.user_id != login.user.pk:
        raise OIDCError("conflict", "この外部IDは別の利用者に連携されています")
    if created:
        audit_record(
            actor=login.user,
            action="auth.oidc_link",
            obj=identity,
            data={"issuer": login.issuer, "by": by},
        )
    identity.last_login_at = clock.now()
    if login.email and identity.email != login.email:
        identity.email = login.email
    identity.save(update_fields=["last_login_at", "email"])
    audit_record(
        actor=login.user,
        action="auth.oidc_login",
        obj=login.user,
        data={"issuer": login.issuer, "provider_mfa": login.provider_mfa},
    )
    return identity


def login_to_session(login: Login) -> dict[str, Any]:
    """A pending login in JSON (kept in the session while the TOTP step is asked)."""
    return {
        "issuer": login.issuer,
        "subject": login.subject,
        "email": login.email,
        "link": login.link,
        "provider_mfa": login.provider_mfa,
    }


def login_from_session(user: User, data: dict[str, Any], next_url: str) -> Login:
    return Login(user=user, next_url=next_url, **data)
