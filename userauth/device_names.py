"""Devices as people name them: "Chrome on Linux", read from a User-Agent header by ua-parser.

ua-parser is imported on the first name asked for (a list of sessions), not with the module:
a worker that serves no such list never loads it, nor the PyYAML it imports (about 1.2 MB
per worker; docs/performance.md, issue 24's peak after the second factor and a passkey login).
"""

from __future__ import annotations

UNKNOWN_DEVICE = "unknown device"
# ua-parser's answer for a part it does not recognise.
_UNRECOGNISED = "Other"


def describe(user_agent: str) -> str:
    """Return the browser and system a User-Agent header names: "Firefox on Windows".

    A program without a system ("curl", "Python Requests") is its name alone; a header that
    names nothing ua-parser's rules recognise (or none) is "unknown device". The raw header
    stays the record: this is only how it is shown.
    """
    if not user_agent:
        return UNKNOWN_DEVICE
    # Imported here, not above (see the module's docstring). ua-parser compiles its rules
    # lazily and caches recent answers.
    import ua_parser

    parsed = ua_parser.parse(user_agent).with_defaults()
    browser, system = parsed.user_agent.family, parsed.os.family
    if browser == _UNRECOGNISED:
        return UNKNOWN_DEVICE if system == _UNRECOGNISED else f"a browser on {system}"
    return browser if system == _UNRECOGNISED else f"{browser} on {system}"
