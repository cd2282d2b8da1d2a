"""QR codes for the hosted pages: an `otpauth://` URI drawn as an inline SVG by segno.

Inline, not an image: the pages' Content-Security-Policy allows images from this site only
(`img-src 'self'`), and a URL serving the QR would put the TOTP secret in a request line that
proxies log. An inline `<svg>` is part of the document, so no CSP fetch directive applies to
it, and segno draws it with presentation attributes only (no `style`, no script), which
`style-src 'self'` does not forbid.
"""

from __future__ import annotations

from markupsafe import Markup

# Error correction M (15% of the modules may be lost): a phone's camera on a screen seldom
# needs more, and a lower level keeps the code's modules larger at a given width.
ERROR_CORRECTION = "m"
# The quiet zone around the code, in modules: ISO/IEC 18004 asks for 4.
QUIET_ZONE = 4


def qr_svg(data: str, title: str) -> Markup:
    """Return `data` as a QR code: an inline `<svg>` element that scales to its box.

    `title` is the code's accessible name (its SVG `<title>`). The SVG has a `viewBox` and no
    width or height, so the stylesheet sizes it (class `qr`).
    """
    # Imported here: only the enrolment page draws a QR code, and segno costs each worker
    # about 1 MB of resident memory (docs/performance.md, issue 24's footprint).
    import segno

    code = segno.make(data, error=ERROR_CORRECTION, micro=False)
    svg = code.svg_inline(
        border=QUIET_ZONE,
        dark="#000",
        light="#fff",
        omitsize=True,
        title=title,
        svgclass="qr",
        lineclass=None,
    )
    # segno escapes the title and writes only its own path data: the markup is safe to embed.
    return Markup(svg)  # noqa: S704
