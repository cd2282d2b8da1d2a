"""The OpenID Connect provider, on Authlib's provider framework and joserfc.

clients.py registers relying parties; keys.py keeps the signing keys (sealed at rest) and the
JWKS; provider.py stores codes, tokens and consents; grants.py and endpoints.py are Authlib's
documented extension points filled in with them. The routes are web/oidc_routes.py's and
web/oidc_authorization.py's.
"""
