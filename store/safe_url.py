"""Service URLs as they may be printed or logged: never with a password.

>>> redacted("rediss://:hunter2@10.0.0.5:6380/0?ssl_ca_certs=/etc/ca.pem")
'rediss://:***@10.0.0.5:6380/0?ssl_ca_certs=/etc/ca.pem'
>>> redacted("redis://app:hunter2@h:6379/1")
'redis://app:***@h:6379/1'
>>> redacted("redis://127.0.0.1:16379/0")
'redis://127.0.0.1:16379/0'
>>> redacted("not a url")
'not a url'
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["redacted"]


def redacted(url: str) -> str:
    """``url`` with any password replaced by ``***`` (the user name is kept)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port is not None else "")
    return urlunsplit(parts._replace(netloc=netloc))
