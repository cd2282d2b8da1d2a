"""The app's state-changing routes and pages by name, for the tests that must try each one.

test_bodies.py sends every body-reading route a body it must refuse; test_cors.py sends every
state-changing one a cross-site write. Each test also checks its table against the app's URL
map (`routes_of`), so a new route cannot be left out of either.
"""

from __future__ import annotations

import re

from flask import Flask

# The methods that carry a body userauth reads.
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# Every route and page that reads a body: (method, path), a path's variables written as 1.
BODY_ROUTES = {
    "register": ("POST", "/users"),
    "login": ("POST", "/sessions"),
    "request-reset": ("POST", "/reset_password"),
    "reset": ("PUT", "/reset_password"),
    "change-password": ("PUT", "/profile/password"),
    "second-factor": ("POST", "/sessions/second-factor"),
    "reauthenticate": ("POST", "/sessions/reauthenticate"),
    "begin-totp": ("POST", "/factors/totp"),
    "confirm-totp": ("PUT", "/factors/totp"),
    "recovery-codes": ("POST", "/factors/recovery-codes"),
    "page-login": ("POST", "/auth/login"),
    "page-signup": ("POST", "/auth/signup"),
    "page-logout": ("POST", "/auth/logout"),
    "page-forgot": ("POST", "/auth/forgot"),
    "page-reset": ("POST", "/auth/reset"),
    "page-revoke": ("POST", "/auth/account/sessions/1/revoke"),
    "page-revoke-others": ("POST", "/auth/account/sessions/revoke-others"),
    "page-change-password": ("POST", "/auth/account/password"),
    "regenerate-recovery-codes": ("POST", "/factors/recovery-codes"),
    "page-second-factor": ("POST", "/auth/login/code"),
    "page-enable-totp": ("POST", "/auth/account/totp"),
    "page-confirm-totp": ("POST", "/auth/account/totp/confirm"),
    "page-disable-totp": ("POST", "/auth/account/totp/disable"),
    "page-recovery-codes": ("POST", "/auth/account/recovery-codes"),
    "page-recovery-codes-download": ("POST", "/auth/account/recovery-codes/download"),
    "request-verification": ("POST", "/email/verification"),
    "verify-email": ("PUT", "/email/verification"),
    "page-verify-email": ("POST", "/auth/verify-email"),
    "change-email": ("PUT", "/profile/email"),
    "confirm-email-change": ("PUT", "/email/change"),
    "page-confirm-email-change": ("POST", "/auth/confirm-email"),
    "page-send-verification": ("POST", "/auth/account/email/verification"),
    "page-change-email": ("POST", "/auth/account/email"),
    "page-export": ("POST", "/auth/account/export"),
    "page-delete-account": ("POST", "/auth/account/delete"),
    "passkey-registration-options": ("POST", "/passkeys/registration/options"),
    "passkey-registration": ("POST", "/passkeys/registration"),
    "rename-passkey": ("PATCH", "/passkeys/1"),
    "passkey-login-options": ("POST", "/sessions/passkey/options"),
    "passkey-login": ("POST", "/sessions/passkey"),
    "passkey-signup-options": ("POST", "/users/passkey/options"),
    "passkey-signup": ("POST", "/users/passkey"),
    "passkey-reauthentication-options": ("POST", "/sessions/reauthenticate/passkey/options"),
    "passkey-reauthentication": ("POST", "/sessions/reauthenticate/passkey"),
    # The OpenID Connect provider's (issue 27).
    "oidc-consent": ("POST", "/oauth2/authorize"),
    "page-revoke-app": ("POST", "/auth/account/apps/1/revoke"),
    "oidc-token": ("POST", "/oauth2/token"),
    "oidc-userinfo": ("POST", "/oauth2/userinfo"),
    "oidc-revoke": ("POST", "/oauth2/revoke"),
    "oidc-introspect": ("POST", "/oauth2/introspect"),
    "oidc-logout": ("POST", "/oauth2/logout"),
}
# Every state-changing route, the API's and the pages': those that read a body, and the
# DELETEs, which read none.
STATE_CHANGING_ROUTES = {
    **BODY_ROUTES,
    "logout": ("DELETE", "/sessions"),
    "revoke-session": ("DELETE", "/sessions/1"),
    "disable-totp": ("DELETE", "/factors/totp"),
    "delete-account": ("DELETE", "/account"),
    "remove-passkey": ("DELETE", "/passkeys/1"),
}


def routes_of(app: Flask, methods: frozenset[str]) -> set[tuple[str, str]]:
    """Return the app's (method, path) pairs for these methods, each path variable as 1."""
    return {
        (method, re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "1", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) & methods
    }
