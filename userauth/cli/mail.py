"""`userauth mail test`: check the SMTP settings by sending a mail."""

from __future__ import annotations

import click

from userauth import emails, mail_failures
from userauth.cli.errors import usage_errors
from userauth.cli.opening import load_settings
from userauth.mail import SmtpMailer, test_message


@click.group("mail")
def mail_group() -> None:
    """Check the SMTP settings by sending mail."""


@mail_group.command("test")
@click.argument("address")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=10,
    show_default=True,
    help="Seconds to wait for each answer of the mail server.",
)
def test_mail(address: str, timeout: float) -> None:
    """Send a test mail to ADDRESS; say how the SMTP conversation ended, and the fix."""
    settings = load_settings()
    if settings.mail.smtp_host is None:
        raise click.UsageError(
            "USERAUTH_SMTP_HOST is not set: name the SMTP server that sends userauth's mail"
        )
    with usage_errors("'ADDRESS'"):
        recipient = emails.normalize(address)
    mail = settings.mail
    server = f"{mail.smtp_host}:{mail.smtp_port} (USERAUTH_SMTP_TLS={mail.smtp_tls})"
    click.echo(f"mail server: {server}", err=True)
    subject, body = test_message(settings)
    try:
        SmtpMailer(settings, timeout=timeout).send(recipient, subject, body)
    except Exception as error:
        failure = mail_failures.diagnose(error, settings)
        if failure is None:
            raise
        raise click.ClickException(f"no mail sent: {failure.sentence}") from None
    click.echo(
        f"Sent a test mail to {recipient}: {mail.smtp_host}:{mail.smtp_port} accepted "
        "it (if it does not arrive, look in the mail server's log and the spam folder)."
    )
