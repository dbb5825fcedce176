"""The model registry: versioned artefacts on disk, checked before loading.

Layout under ``RISKWIRE_MODEL_DIR``::

    versions/<version>/model.json      XGBoost's JSON format
    versions/<version>/manifest.json   the model card, with each file's SHA-256
    CURRENT                            the version that serves

A file whose hash does not match its manifest is refused *before* it is
deserialised, so a tampered artefact never reaches XGBoost's parser.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from models.errors import ModelError, ModelIntegrityError, ModelNotFoundError

MODEL_FILE = "model.json"
MANIFEST_FILE = "manifest.json"
PROMOTIONS_FILE = "PROMOTIONS.jsonl"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ModelArtefact:
    """A verified model version: its manifest and the bytes of its model file."""

    version: str
    manifest: dict[str, Any]
    model_bytes: bytes


class ModelRegistry:
    """Save, list and load model versions in a directory."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def _versions(self) -> Path:
        return self.root / "versions"

    def save(self, version: str, model_bytes: bytes, manifest: dict[str, Any]) -> Path:
        """Write a new version and make it current (atomically, via rename)."""
        target = self._versions / version
        if target.exists():
            raise FileExistsError(f"model version {version} already exists")
        staging = self._versions / f".{version}.tmp"
        staging.mkdir(parents=True)
        (staging / MODEL_FILE).write_bytes(model_bytes)
        card = {**manifest, "version": version}
        card["files"] = {MODEL_FILE: hashlib.sha256(model_bytes).hexdigest()}
        (staging / MANIFEST_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
        staging.rename(target)
        self.promote(version)
        return target

    def versions(self) -> list[str]:
        """All versions, oldest first."""
        if not self._versions.exists():
            return []
        return sorted(p.name for p in self._versions.iterdir() if not p.name.startswith("."))

    def current(self) -> str:
        pointer = self.root / "CURRENT"
        if not pointer.exists():
            raise ModelNotFoundError(f"no model in {self.root}: run `riskwire train` first")
        return pointer.read_text().strip()

    def promote(self, version: str) -> None:
        """Make ``version`` current (atomic rename) and note it in the promotion history."""
        if not (self._versions / version).is_dir():
            raise ModelNotFoundError(f"no model version {version} in {self.root}")
        # Refuse what could not serve before it can become current: a tampered file,
        # features the catalogue no longer has, a model XGBoost cannot read.
        from models.batch_model import BatchModel

        try:
            BatchModel(self.load(version))
        except ModelError:
            raise
        except Exception as exc:
            raise ModelIntegrityError(f"{version}: cannot be loaded: {exc}") from exc
        tmp = self.root / "CURRENT.tmp"
        tmp.write_text(version + "\n")
        os.replace(tmp, self.root / "CURRENT")
        with (self.root / PROMOTIONS_FILE).open("a") as log:
            log.write(json.dumps({"version": version, "at": datetime.now(UTC).isoformat()}) + "\n")

    def promotions(self) -> list[dict[str, str]]:
        """Every promotion, oldest first."""
        path = self.root / PROMOTIONS_FILE
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def rollback(self) -> str:
        """Promote the version that was current before the current one; returns it."""
        current = self.current()
        history = [p["version"] for p in self.promotions()]
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise ModelNotFoundError(f"nothing to roll back to: {current} is the only version promoted")
        self.promote(history[-1])
        return history[-1]

    def load(self, version: str | None = None) -> ModelArtefact:
        """Read and verify a version (the current one by default)."""
        version = version or self.current()
        folder = self._versions / version
        if not folder.is_dir():
            raise ModelNotFoundError(f"no model version {version} in {self.root}")
        try:
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
        except (OSError, ValueError) as exc:
            raise ModelIntegrityError(f"{version}: unreadable {MANIFEST_FILE}: {exc}") from exc
        listed = manifest.get("files", {})
        present = {p.name for p in folder.iterdir()} - {MANIFEST_FILE}
        if unlisted := present - set(listed):
            raise ModelIntegrityError(f"{version}: files not in the manifest: {sorted(unlisted)}")
        if MODEL_FILE not in listed:
            raise ModelIntegrityError(f"{version}: manifest lists no {MODEL_FILE}")
        if not (folder / MODEL_FILE).is_file():
            raise ModelIntegrityError(f"{version}: {MODEL_FILE} is listed but missing")
        data = (folder / MODEL_FILE).read_bytes()
        if hashlib.sha256(data).hexdigest() != listed[MODEL_FILE]:
            raise ModelIntegrityError(f"{version}: {MODEL_FILE} does not match its SHA-256")
        return ModelArtefact(version=version, manifest=manifest, model_bytes=data)
