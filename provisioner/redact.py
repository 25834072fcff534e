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

# scheme://user:password@host — the password part of any URL-looking string. The pattern starts at `://`, a
# literal the regex engine finds fast (a leading scheme pattern made it try every position of a large plan).
_URL_PASSWORD = re.compile(r"(?P<head>://[^:/?#@\s]*:)(?P<pw>[^@\s]*)(?P<tail>@)")
# libpq keyword form: password=... (quoted or not), tried only where the lower-cased text says `password`.
_KEYWORD_PASSWORD = re.compile(r"(?P<head>password\s*=\s*)(?P<pw>'(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def register(value: str | None) -> None:
    """Remember a secret value so that it is masked wherever it would be printed."""
    if isinstance(value, str) and len(value) >= 4:
        with _lock:
            _secrets.add(value)


def forget() -> None:
    """Drop every registered value: a warm Lambda container starting its next invocation keeps no password of
    the last one (what that run printed was masked then)."""
    with _lock:
        _secrets.clear()


def redact(text: str) -> str:
    """Return text with every registered secret and every URL/keyword password masked."""
    if not text:
        return text
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    if "://" in text:
        text = _URL_PASSWORD.sub(lambda m: m.group("head") + MASK + m.group("tail"), text)
    return _masked_keywords(text)


def _masked_keywords(text: str) -> str:
    """`_KEYWORD_PASSWORD` masked at every `password` (any case): what `.sub` does, without trying the
    case-insensitive pattern at each of the millions of positions of a large JSON plan."""
    lowered = text.lower()
    if "password" not in lowered:
        return text
    if len(lowered) != len(text):  # a character whose lower case is longer: positions would not line up
        return _KEYWORD_PASSWORD.sub(lambda m: m.group("head") + MASK, text)
    pieces: list[str] = []
    done = 0
    at = lowered.find("password")
    while at != -1:
        match = _KEYWORD_PASSWORD.match(text, at)
        if match:
            pieces += [text[done:match.start("pw")], MASK]
            done = match.end()
        at = lowered.find("password", max(at + 1, done))
    return "".join(pieces) + text[done:]


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
