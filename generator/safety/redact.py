"""The one redaction function: the run's secrets never reach a file, a merge request or a log.

A secret leaks in more shapes than its raw value: report.json escapes it as JSON, junit.xml
and HTML as XML entities, URLs percent-encode it, HTTP Basic credentials and many config
formats base64 it, a hostile test hex-dumps or reverses it to slip past a plain match, and a
credential can ride inside any URL as `user:password@`. The
`Redactor` therefore knows every escaped form of every secret (and those forms escaped once
more, e.g. JSON inside XML), masks them all in one regex pass, strips user-info from every
URL it sees, and can say which secret a candidate file contains without ever showing it.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "[MASKED]"
#: Shorter values are ignored: masking them would shred ordinary text.
MIN_SECRET_LEN = 4
#: A base64 fragment shorter than this matches ordinary words too often to be masked.
_MIN_BASE64_LEN = 8

# scheme://user:password@host — the user-info ends at the last "@" before the host part.
_URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/?#\"'<>]*@")


def _b64_forms(value: str) -> set[str]:
    """Base64 of `value` as it appears at any byte alignment inside a longer encoded stream.

    A secret embedded in a larger blob is encoded differently depending on its offset modulo
    3; the characters fully determined by the secret's own bits are the same in every blob
    with that offset, so masking those three cores covers every embedding.
    """
    data = value.encode("utf-8")
    forms = {base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        start = -(-offset * 8 // 6)  # characters touched by the padding bytes
        end = (offset + len(data)) * 8 // 6  # characters complete before the tail
        core = encoded[start:end]
        if len(core) >= _MIN_BASE64_LEN:
            forms.update({core, core.replace("+", "-").replace("/", "_")})
    return forms


_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda s: json.dumps(s)[1:-1],
    lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
    html.escape,  # &quot; &#x27; &lt; &gt; &amp;
    lambda s: html.escape(s, quote=False),
    lambda s: html.escape(s).replace("&#x27;", "&#39;"),
    lambda s: html.escape(s, quote=False).replace('"', "&quot;").replace("'", "&apos;"),
    lambda s: html.escape(s, quote=False).replace('"', "&quot;").replace("\n", "&#10;"),  # ElementTree attributes
    lambda s: quote(s, safe=""),
    quote,
    quote_plus,
)


def _hex_forms(value: str) -> set[str]:
    """Hex of the secret's bytes, as `bytes.hex()`, `binascii.hexlify` and `%x`-style dumps write it."""
    encoded = value.encode("utf-8").hex()
    return {encoded, encoded.upper()}


def escaped_forms(value: str) -> set[str]:
    """Every shape `value` takes in our outputs: raw, reversed, escaped once or twice, base64, hex."""
    once = {value, value[::-1]} | {escape(value) for escape in _ESCAPES}
    twice = {escape(form) for form in once for escape in _ESCAPES}
    return once | twice | _b64_forms(value) | _hex_forms(value)


def url_credentials(url: str | None) -> dict[str, str]:
    """The user-info of a configured URL (`http://user:pass@host`), as secrets to mask.

    `user:password` is a secret in every form, Basic-auth base64 included; the password alone
    only when long enough not to be an ordinary word ("pass" would mask "password").
    """
    if not url:
        return {}
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return {}
    found: dict[str, str] = {}
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        found["user-info"] = f"{user}:{password}" if password else user
        raw_userinfo = parts.netloc.rsplit("@", 1)[0]
        if raw_userinfo != found["user-info"]:
            found["user-info (as written)"] = raw_userinfo
        if len(password) >= 8:
            found["password"] = password
    return {name: value for name, value in found.items() if len(value) >= MIN_SECRET_LEN}


class Redactor:
    """Masks the run's secrets (in every escaped form) and URL user-info in any text.

    Built once per run from `Settings.secret_items()`; a label per secret (the variable it
    came from) lets a rejection say *which* credential a file contains, never its value.
    """

    def __init__(self, secrets: Mapping[str, str] | Iterable[str] = ()) -> None:
        items = secrets.items() if isinstance(secrets, Mapping) else ((str(i), s) for i, s in enumerate(secrets))
        self._labels: dict[str, str] = {}
        for label, value in items:
            if not value or len(value) < MIN_SECRET_LEN:
                continue
            for form in escaped_forms(value):
                if len(form) >= MIN_SECRET_LEN:
                    self._labels.setdefault(form, label)
        forms = sorted(self._labels, key=len, reverse=True)  # longest first: a secret containing another is whole
        self._pattern = re.compile("|".join(map(re.escape, forms))) if forms else None

    def __call__(self, text: str) -> str:
        """`text` with every secret form masked and every URL's user-info removed."""
        if self._pattern is not None:
            text = self._pattern.sub(MASK, text)
        return _URL_USERINFO.sub(r"\1", text)

    def found(self, text: str) -> list[str]:
        """Labels of the secrets `text` contains (raw or escaped), for a diagnostic; never the values."""
        if self._pattern is None:
            return []
        return list(dict.fromkeys(self._labels[m.group(0)] for m in self._pattern.finditer(text)))
