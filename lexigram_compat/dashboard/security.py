"""Who may use the dashboard, and which requests may change anything.

- Binding a non-loopback address requires a token (``--token`` or
  ``$LEXIGRAM_DASHBOARD_TOKEN``); with a token set, every request without it
  gets 401. A browser presents it once as ``?token=...``: the answer sets an
  HttpOnly cookie and redirects to the same page without it (so it leaves
  the address bar and history). Scripts may send ``Authorization: Bearer``.
- Actions (replay, purge) are POSTs, refused with 403 unless the dashboard
  was started with ``--allow-actions``, and each carries a CSRF token: an
  HMAC of a per-process secret, embedded in the dashboard's own forms (a
  cross-site page cannot read it). A POST without it gets 403.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TOKEN_COOKIE", "TOKEN_ENV", "DashboardSecurity", "SecurityHeaders", "TokenGate", "is_loopback"]

TOKEN_ENV = "LEXIGRAM_DASHBOARD_TOKEN"
TOKEN_COOKIE = "lexigram_dashboard"
CSRF_FIELD = "csrf_token"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and 127.0.0.0/8 / ::1 addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class DashboardSecurity:
    """The token (None: open, loopback only), whether actions are allowed, and the CSRF secret."""

    token: str | None = None
    allow_actions: bool = False
    csrf_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __repr__(self) -> str:
        return f"DashboardSecurity(token={'set' if self.token else None}, allow_actions={self.allow_actions})"

    def token_ok(self, presented: str | None) -> bool:
        if self.token is None:
            return True
        return presented is not None and hmac.compare_digest(presented.encode(), self.token.encode())

    def csrf_token(self) -> str:
        """The token the dashboard's forms carry."""
        return hmac.new(self.csrf_secret, b"lexigram-dashboard-csrf", hashlib.sha256).hexdigest()

    def csrf_ok(self, presented: object) -> bool:
        return isinstance(presented, str) and hmac.compare_digest(presented, self.csrf_token())


class TokenGate:
    """ASGI middleware: 401 for every HTTP request without the token."""

    def __init__(self, app: ASGIApp, security: DashboardSecurity) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.security.token is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._check(request)
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)

    def _check(self, request: Request) -> Response | None:
        from_query = request.query_params.get("token")
        if from_query is not None and self.security.token_ok(from_query):
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(TOKEN_COOKIE, from_query, httponly=True, samesite="strict")
            return response
        header = request.headers.get("authorization", "")
        bearer = header[7:] if header.lower().startswith("bearer ") else None
        if self.security.token_ok(bearer) or self.security.token_ok(request.cookies.get(TOKEN_COOKIE)):
            return None
        return PlainTextResponse(
            "401 unauthorized: this dashboard needs its token (open it once with ?token=...)",
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )


HEADERS = [
    # No framing (a framed confirmation page could be clicked through), nothing
    # loaded from elsewhere, and no Referer carrying a ?token= URL away.
    (b"content-security-policy", b"default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
]


class SecurityHeaders:
    """ASGI middleware: the headers above on every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
