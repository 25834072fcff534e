"""Keeps secrets out of every output: plans, logs, error messages and tracebacks.

Code that learns a password (generated, read from Secrets Manager, or parsed from an admin URL) registers it
here; `redact` replaces every registered value and the password part of any connection URL before text
reaches a terminal or a log handler.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "********"
_lock = threading.Lock()
_secrets: set[str] = set()

# scheme://user:password@host — the password part of any URL-looking string.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/?#@\s]*:)(?P<pw>[^@\s]*)(?P<tail>@)")
# libpq keyword form: password=... (quoted or not)
_KEYWORD_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def register(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it would be printed."""
    if value and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """Return text with every registered secret and every URL/keyword password masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + m.group("tail"), text)
    return _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


class RedactingFilter(logging.Filter):
    """Logging filter that renders each record's message once, redacted, so handlers never see a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg = message
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            import traceback

            record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)))
            record.exc_info = None
        return True


def install_logging(level: int) -> None:
    """Configure root logging to stderr with redaction applied to every record."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # botocore at DEBUG dumps request bodies (SecretString included) before our filter can judge them
    # field by field; the filter masks registered values, but keep its wire logs out unless asked.
    logging.getLogger("botocore").setLevel(max(level, logging.INFO))
    logging.getLogger("urllib3").setLevel(max(level, logging.INFO))
