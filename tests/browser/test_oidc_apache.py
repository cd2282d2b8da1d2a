"""Apache httpd with Debian's mod_auth_openidc, a relying party nobody here wrote, protects a
location with userauth as its OpenID Connect provider; Chromium (Playwright) logs in through
it and reaches the protected page with the claims mod_auth_openidc passes on."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page

from tests.conftest import IN_CI, free_port
from tests.oidc_live import EMAIL, PASSWORD, LiveProvider, live_provider
from tests.proxy_servers import ProxyProcess, need_binary, upstream
from tests.second_factor import oathtool_code
from userauth.clock import utcnow

__all__ = ["live_provider"]
pytestmark = [pytest.mark.browser, pytest.mark.databases("sqlite")]

MODULES = Path("/usr/lib/apache2/modules")
APACHE_CONF = """ServerRoot {run}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {run}/httpd.pid
ErrorLog {run}/error.log
LogLevel warn
LoadModule mpm_event_module {modules}/mod_mpm_event.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule authz_user_module {modules}/mod_authz_user.so
LoadModule authn_core_module {modules}/mod_authn_core.so
LoadModule proxy_module {modules}/mod_proxy.so
LoadModule proxy_http_module {modules}/mod_proxy_http.so
LoadModule auth_openidc_module {modules}/mod_auth_openidc.so
User nobody
Group nogroup
OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
OIDCClientID {client_id}
OIDCClientSecret {client_secret}
OIDCRedirectURI http://127.0.0.1:{port}/protected/redirect_uri
OIDCCryptoPassphrase {passphrase}
OIDCScope "openid email"
OIDCPKCEMethod S256
OIDCSSLValidateServer Off
<Location /protected/>
    AuthType openid-connect
    Require valid-user
    ProxyPass http://127.0.0.1:{app_port}/
</Location>
<Location /protected/admin/>
    OIDCPathAuthRequestParams acr_values=aal2
    Require claim acr:aal2
</Location>
"""


def need_mod_auth_openidc() -> None:
    need_binary("apache2")
    if not (MODULES / "mod_auth_openidc.so").exists():
        reason = "mod_auth_openidc is not installed (apt-get install libapache2-mod-auth-openidc)"
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


@pytest.fixture
def apache(live_provider: LiveProvider, tmp_path: Path) -> Iterator[ProxyProcess]:
    need_mod_auth_openidc()
    port = free_port()
    redirect_uri = f"http://127.0.0.1:{port}/protected/redirect_uri"
    added = live_provider.auth.oidc.clients.add(
        "Apache",
        [redirect_uri],
        first_party=True,
        backchannel_logout_uri=f"{redirect_uri}?logout=backchannel",
    )
    tmp_path.chmod(0o755)
    with upstream() as app_port:
        conf = tmp_path / "httpd.conf"
        conf.write_text(
            APACHE_CONF.format(
                run=tmp_path,
                port=port,
                modules=MODULES,
                issuer=live_provider.issuer,
                client_id=added.client_id,
                client_secret=added.client_secret,
                passphrase=secrets.token_hex(16),
                app_port=app_port,
            )
        )
        process = ProxyProcess(
            [need_binary("apache2"), "-f", str(conf), "-DFOREGROUND"], port, tmp_path
        )
        try:
            yield process
        finally:
            process.stop()


def test_a_browser_logs_in_through_mod_auth_openidc_and_gets_the_claims(
    apache: ProxyProcess, page: Page, live_provider: LiveProvider
) -> None:
    page.goto(f"{apache.url}/protected/hello")
    assert "/auth/login" in page.url
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{apache.url}/protected/hello")
    echoed = json.loads(page.inner_text("body"))
    headers = {name.lower(): value for name, value in echoed["headers"].items()}
    assert headers["oidc_claim_email"] == EMAIL
    assert headers["oidc_claim_acr"] == "aal1"
    assert headers["oidc_claim_iss"] == live_provider.issuer


def test_revoking_the_session_from_the_account_page_logs_the_browser_out_of_apache(
    apache: ProxyProcess, page: Page, live_provider: LiveProvider
) -> None:
    page.goto(f"{apache.url}/protected/hello")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{apache.url}/protected/hello")
    # Another device of the user (the fixture's logged-in client) revokes the browser's session.
    other = requests.Session()
    other.headers["Cookie"] = live_provider.cookie
    listed = other.get(f"{live_provider.issuer}/sessions", timeout=10).json()["sessions"]
    [browser_session] = [s for s in listed if not s["current"]]
    revoked = other.delete(f"{live_provider.issuer}/sessions/{browser_session['id']}", timeout=10)
    assert revoked.status_code == 200
    live_provider.auth.outbox.join(timeout=15)
    page.goto(f"{apache.url}/protected/hello")
    assert "/auth/login" in page.url


def test_a_location_requiring_two_factors_gets_a_login_with_both_and_acr_aal2(
    apache: ProxyProcess, page: Page, live_provider: LiveProvider
) -> None:
    other = requests.Session()
    other.headers["Cookie"] = live_provider.cookie
    begun = other.post(f"{live_provider.issuer}/factors/totp", timeout=10).json()
    code = oathtool_code(begun["secret"], utcnow())
    confirmed = other.put(f"{live_provider.issuer}/factors/totp", data={"code": code}, timeout=10)
    recovery_code = confirmed.json()["recovery_codes"][0]
    page.goto(f"{apache.url}/protected/admin/hello")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("text=Use a recovery code instead")
    page.fill("input[name=code]", recovery_code)
    page.click("button[type=submit]")
    page.wait_for_url(f"{apache.url}/protected/admin/hello")
    echoed = json.loads(page.inner_text("body"))
    headers = {name.lower(): value for name, value in echoed["headers"].items()}
    assert headers["oidc_claim_acr"] == "aal2"
    assert headers["oidc_claim_email"] == EMAIL
