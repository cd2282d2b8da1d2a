"""Mail bodies from templates: each mail a plain-text and an HTML part, the operator's
templates first (USERAUTH_TEMPLATES_DIR/userauth/mail/NAME.txt and NAME.html, the same
folder as the pages' overrides), then the built-in ones (userauth/web/templates/userauth/mail/).

Rendered outside any request (the outbox's thread), by Jinja alone, in the language the mail
was queued with (languages.py: USERAUTH_LANGUAGE, else the asker's Accept-Language, else
English), through Jinja's i18n extension and the same catalogues as the pages. The HTML part
escapes every value (OWASP XSS cheat sheet: output encoding), the text part keeps them as
they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from userauth import languages
from userauth.settings import Settings

BUILT_IN = Path(__file__).resolve().parent / "web" / "templates"


def N_(message: str) -> str:
    """Mark `message` for the catalogue; it is translated where it is rendered."""
    return message


@dataclass(frozen=True)
class MailMessage:
    """A mail to send: its subject, its plain text, and the same as HTML."""

    subject: str
    text: str = field(repr=False)
    html: str = field(repr=False)


class MailTemplates:
    """Render mails by name (`reset`, `verify_email`, ...) from the template folders."""

    def __init__(self, templates_dir: str | None) -> None:
        self._templates_dir = templates_dir
        folders = [templates_dir] if templates_dir else []
        # The operator's folder first: a template found there replaces the built-in one.
        self._loader = FileSystemLoader([*folders, str(BUILT_IN)])

    def render(
        self, name: str, subject: str, language: str = languages.SOURCE, **context: object
    ) -> MailMessage:
        """Return the mail `name` in `language` (`fr`), its subject a message of the
        catalogue (marked with `N_`), its templates given `context`.

        Raises:
            jinja2.TemplateNotFound: no template of that name (a bug, or an override's typo).
            jinja2.UndefinedError: a template uses a value the mail does not give.
        """
        text_environment, html_environment = self._environments(language)
        translated = languages.translations(language, self._templates_dir).gettext(subject)
        values = {"subject": translated, "language": language, **context}
        text = text_environment.get_template(f"userauth/mail/{name}.txt").render(values)
        html = html_environment.get_template(f"userauth/mail/{name}.html").render(values)
        return MailMessage(subject=translated, text=text, html=html)

    @lru_cache(maxsize=16)  # noqa: B019 (one per folder, kept for the process: _templates)
    def _environments(self, language: str) -> tuple[Environment, Environment]:
        # Plain text is no markup: escaping would show "&amp;" in its links.
        text = Environment(
            loader=self._loader,
            autoescape=False,  # noqa: S701
            keep_trailing_newline=True,
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        html = Environment(
            loader=self._loader,
            autoescape=True,
            undefined=StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        catalogue = languages.translations(language, self._templates_dir)
        for environment in (text, html):
            # Newstyle: `_("… %(hours)s …", hours=hours)` formats and, in HTML, escapes.
            environment.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]
        return text, html


@lru_cache(maxsize=8)
def _templates(templates_dir: str | None) -> MailTemplates:
    return MailTemplates(templates_dir)


def language_of(settings: Settings, accept_language: str) -> str:
    """Return a mail's language: USERAUTH_LANGUAGE, else the best one for the asker's
    Accept-Language (kept with the job), else English."""
    shipped = languages.available(settings.web.templates_dir)
    return settings.web.language or languages.negotiate(accept_language, shipped)


def render(
    settings: Settings, name: str, subject: str, accept_language: str = "", **context: object
) -> MailMessage:
    """Render a mail with the templates the settings name (built once per folder), in
    `language_of(settings, accept_language)` ("": no asker, as from the CLI)."""
    chosen = language_of(settings, accept_language)
    return _templates(settings.web.templates_dir).render(name, subject, chosen, **context)
