"""Sessions shown inside an LMS's iframe: the iframe is a third-party context, where
browsers send only ``SameSite=None; Secure`` cookies. A session started by an LTI launch
(it holds ``lti_frame``) gets such a cookie, ``Partitioned`` too, when the service is
reached over https; every other session keeps SameSite=Lax. The pages' forms still carry
the CSRF token and the Origin check, which is what protects them once the cookie travels
cross-site."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin


class FramedSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app: Flask, session: SessionMixin, response: Any) -> None:
        g.lti_framed = bool(
            app.config.get("LTI_FRAME_SESSIONS") and session.get("lti_frame") and _secure(app)
        )
        super().save_session(app, session, response)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if g.get("lti_framed"):
            return "None"
        return super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(g.get("lti_framed")) or super().get_cookie_secure(app)

    def get_cookie_partitioned(self, app: Flask) -> bool:
        # CHIPS: browsers that block third-party cookies still keep a Partitioned one, for
        # this LMS's iframe alone.
        return bool(g.get("lti_framed")) or super().get_cookie_partitioned(app)


# Browsers treat these as secure contexts (W3C Secure Contexts): Secure cookies work there
# over plain http, for development on one machine.
_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def _secure(app: Flask) -> bool:
    return (
        request.is_secure
        or str(app.config.get("PUBLIC_URL", "")).startswith("https://")
        or urlsplit(request.host_url).hostname in _LOOPBACK
    )
