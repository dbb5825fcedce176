"""Request bodies that take one object or an array of them (labels, transactions)."""

from __future__ import annotations

from typing import Any


def one_or_many(value: Any) -> Any:
    """Validator: a single object becomes a one-item list."""
    return [value] if isinstance(value, dict) else value


def document_one_or_many(spec: dict[str, Any], path: str, title: str) -> None:
    """OpenAPI: the body at ``path`` is an object *or* an array (FastAPI documents only the array)."""
    content = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    array = content["schema"]
    if "anyOf" not in array:
        array.pop("title", None)
        content["schema"] = {"title": title, "anyOf": [array["items"], array]}
