"""Mail bodies from templates: each mail a plain-text and an HTML part, the operator's
templates first (USERAUTH_TEMPLATES_DIR/userauth/mail/NAME.txt and NAME.html, the same
folder as the pages' overrides), then the built-in ones (userauth/web/templates/userauth/mail/).

Rendered outside any request (the outbox's thread), by Jinja alone: the HTML part escapes
every value (OWASP XSS cheat sheet: output encoding), the text part keeps them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from userauth.settings import Settings

BUILT_IN = Path(__file__).resolve().parent / "web" / "templates"


@dataclass(frozen=True)
class MailMessage:
    """A mail to send: its subject, its plain text, and the same as HTML."""

    subject: str
    text: str = field(repr=False)
    html: str = field(repr=False)


class MailTemplates:
    """Render mails by name (`reset`, `verify_email`, ...) from the template folders."""

    def __init__(self, templates_dir: str | None) -> None:
        folders = [templates_dir] if templates_dir else []
        # The operator's folder first: a template found there replaces the built-in one.
        loader = FileSystemLoader([*folders, str(BUILT_IN)])
        # Plain text is no markup: escaping would show "&amp;" in its links.
        self._text = Environment(
            loader=loader,
            autoescape=False,  # noqa: S701
            keep_trailing_newline=True,
            undefined=StrictUndefined,
        )
        self._html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)

    def render(self, name: str, subject: str, **context: object) -> MailMessage:
        """Return the mail `name` with this subject, its templates given `context`.

        Raises:
            jinja2.TemplateNotFound: no template of that name (a bug, or an override's typo).
            jinja2.UndefinedError: a template uses a value the mail does not give.
        """
        values = {"subject": subject, **context}
        text = self._text.get_template(f"userauth/mail/{name}.txt").render(values)
        html = self._html.get_template(f"userauth/mail/{name}.html").render(values)
        return MailMessage(subject=subject, text=text, html=html)


@lru_cache(maxsize=8)
def _templates(templates_dir: str | None) -> MailTemplates:
    return MailTemplates(templates_dir)


def render(settings: Settings, name: str, subject: str, **context: object) -> MailMessage:
    """Render a mail with the templates the settings name (built once per folder)."""
    return _templates(settings.web.templates_dir).render(name, subject, **context)
