"""The analyst console: server-drawn pages (Jinja2, inline SVG, a little plain JavaScript)
under ``/ui`` on the API's origin. Pages sign in with an API key kept in an HttpOnly
cookie and call the JSON API's own route functions with the key's principal, so the
roles and tenant rules are the API's, unchanged."""

from api.console.app import install

__all__ = ["install"]
