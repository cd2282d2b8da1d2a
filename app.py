"""The contract's `app` module (SPEC.md A): `app`, `AUTH`, and `python3 app.py` on :5000."""

import sys

from userauth.auth import Auth
from userauth.settings import Settings, SettingsError
from userauth.web import create_app

try:
    SETTINGS = Settings.from_env()
    AUTH = Auth.from_settings(SETTINGS)
    app = create_app(SETTINGS, AUTH)
except SettingsError as error:
    if __name__ != "__main__":
        raise
    sys.exit(f"userauth cannot start:\n{error}")

if __name__ == "__main__":
    # The contract's development server; `userauth serve` is the production one.
    app.run(host="0.0.0.0", port=SETTINGS.port)  # noqa: S104 - the contract's address
