"""The model store: versioned artefacts on disk, checked before loading.

Storage only: files, hashes, pointers and history. Whether a version can *serve*
(XGBoost reads it, the catalogue feeds it, the online state restores) is
``models.loading``, whose ``ModelRegistry`` adds that check to promotion; this module
imports no model class, so the models can import it without a cycle.

Layout under ``RISKWIRE_MODEL_DIR``::

    versions/<version>/model.json      XGBoost's JSON format
    versions/<version>/online.json     optional: the online learner's initial state
    versions/<version>/manifest.json   the model card, with each file's SHA-256
    CURRENT                            the version that serves
    SHADOW                             optional: a candidate scored in shadow, never acted on

A file whose hash does not match its manifest is refused *before* it is
deserialised, so a tampered artefact never reaches XGBoost's parser; so is a
file the manifest does not list, and a listed file that is not one of the
known artefacts. The online state must also say its format in its first bytes
(JSON object, ``"format": "riskwire-online-learner/1"``) before it is parsed.

Versions are kept: decision records name the batch version that scored them, and
the API explains allowed payments on demand with that version's booster, for as
long as the records live (``RISKWIRE_DECISION_TTL_S``). Nothing in riskwire deletes
a version except ``remove``, which refuses the current and shadow versions and any
version that served (per ``PROMOTIONS.jsonl``) within that time.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.errors import ModelError, ModelIntegrityError, ModelNotFoundError

if TYPE_CHECKING:
    pass

MODEL_FILE = "model.json"
ONLINE_FILE = "online.json"
MANIFEST_FILE = "manifest.json"
PROMOTIONS_FILE = "PROMOTIONS.jsonl"
#: The only artefacts a version may hold: nothing else is ever deserialised.
ARTEFACT_FILES = frozenset({MODEL_FILE, ONLINE_FILE})
ONLINE_FORMAT = "riskwire-online-learner/1"


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ModelArtefact:
    """A verified model version: its manifest and the bytes of its model file."""

    version: str
    manifest: dict[str, Any]
    model_bytes: bytes
    online_bytes: bytes | None = None

    def online_state(self) -> dict[str, Any] | None:
        """The online learner's initial state (verified bytes), or None if the version has none.

        The bytes must open as a JSON object of the expected format; anything else
        (a pickle renamed, another schema) is refused as a ``ModelIntegrityError``.
        """
        if self.online_bytes is None:
            return None
        head = self.online_bytes.lstrip()[:1]
        if head != b"{":
            raise ModelIntegrityError(f"{self.version}: {ONLINE_FILE} is not a JSON object")
        try:
            state = json.loads(self.online_bytes)
        except ValueError as exc:
            raise ModelIntegrityError(f"{self.version}: {ONLINE_FILE} is not valid JSON: {exc}") from exc
        if not isinstance(state, dict) or state.get("format") != ONLINE_FORMAT:
            raise ModelIntegrityError(f"{self.version}: {ONLINE_FILE} is not a {ONLINE_FORMAT} state")
        return state


class ModelStore:
    """Save, list and load model versions in a directory (``models.loading.ModelRegistry``
    is the one that also refuses, before promoting, a version the models cannot load)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @property
    def _versions(self) -> Path:
        return self.root / "versions"

    def save(
        self,
        version: str,
        model_bytes: bytes,
        manifest: dict[str, Any],
        online_state: dict[str, Any] | None = None,
        *,
        promote: bool = True,
    ) -> Path:
        """Write a new version and (by default) make it current, atomically via rename.

        ``online_state`` (an ``OnlineLearner.to_state()``) is stored as ``online.json``,
        hashed in the manifest like the model; ``promote=False`` keeps the current
        version serving (for a shadow candidate).
        """
        target = self._versions / version
        if target.exists():
            raise FileExistsError(f"model version {version} already exists")
        staging = self._versions / f".{version}.tmp"
        staging.mkdir(parents=True)
        files = {MODEL_FILE: model_bytes}
        if online_state is not None:
            # Key order kept, not sorted: the restored learner must sum in the same order.
            files[ONLINE_FILE] = json.dumps(online_state).encode()
        for name, data in files.items():
            (staging / name).write_bytes(data)
        card = {**manifest, "version": version}
        card["files"] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
        (staging / MANIFEST_FILE).write_text(json.dumps(card, indent=2, sort_keys=True))
        staging.rename(target)
        if promote:
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
        self.check(version)
        self._point("CURRENT", version)
        with (self.root / PROMOTIONS_FILE).open("a") as log:
            log.write(json.dumps({"version": version, "at": datetime.now(UTC).isoformat()}) + "\n")

    def check(self, version: str) -> object:
        """Refuse a version that could not serve; here, what storage can tell: tampered or
        unlisted files, an online state of the wrong format (``models.loading`` adds the
        models' own checks). Returns what ``verify`` made of it (the loaded model there, so
        a booster is parsed once)."""
        try:
            return self.verify(self.load(version))
        except ModelError:
            raise
        except Exception as exc:
            raise ModelIntegrityError(f"{version}: cannot be loaded: {exc}") from exc

    def verify(self, artefact: ModelArtefact) -> object:
        """Raise if a verified artefact cannot serve (storage alone: the online format)."""
        return artefact.online_state()

    def _point(self, pointer: str, version: str | None) -> None:
        path = self.root / pointer
        if version is None:
            path.unlink(missing_ok=True)
            return
        tmp = self.root / f"{pointer}.tmp"
        tmp.write_text(version + "\n")
        os.replace(tmp, path)

    def set_shadow(self, version: str | None) -> None:
        """Score ``version`` in shadow (never acted on), or stop shadowing with None."""
        if version is not None:
            if not (self._versions / version).is_dir():
                raise ModelNotFoundError(f"no model version {version} in {self.root}")
            self.check(version)
        self._point("SHADOW", version)

    def shadow(self) -> str | None:
        """The version scored in shadow, if any."""
        pointer = self.root / "SHADOW"
        if not pointer.exists():
            return None
        return pointer.read_text().strip() or None

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

    def served_until(self, version: str) -> datetime | None:
        """When ``version`` last stopped being current (now, if it is); None if it never served."""
        history = self.promotions()
        until: datetime | None = None
        for i, step in enumerate(history):
            if step["version"] != version:
                continue
            later = [p for p in history[i + 1 :] if p["version"] != version]
            until = datetime.fromisoformat(later[0]["at"]) if later else datetime.now(UTC)
        return until

    def remove(self, version: str, *, keep_s: float, now: datetime | None = None) -> None:
        """Delete a version's folder, unless decisions may still name it: the current or
        shadow version, or one that was current less than ``keep_s`` (the decision TTL) ago."""
        folder = self._versions / version
        if not folder.is_dir():
            raise ModelNotFoundError(f"no model version {version} in {self.root}")
        pointers = {self.shadow()} | ({self.current()} if (self.root / "CURRENT").exists() else set())
        if version in pointers:
            raise ModelError(f"{version} is current or in shadow: it cannot be removed")
        until = self.served_until(version)
        now = now or datetime.now(UTC)
        if until is not None and (now - until).total_seconds() < keep_s:
            raise ModelError(
                f"{version} scored decisions until {until.isoformat()}: they are kept for {keep_s:.0f} s "
                "and explained with it, so it cannot be removed yet"
            )
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()

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
        if not isinstance(listed, dict):
            raise ModelIntegrityError(f"{version}: manifest's files is not a name → SHA-256 map")
        present = {p.name for p in folder.iterdir()} - {MANIFEST_FILE}
        if unlisted := present - set(listed):
            raise ModelIntegrityError(f"{version}: files not in the manifest: {sorted(unlisted)}")
        if unknown := set(listed) - ARTEFACT_FILES:
            raise ModelIntegrityError(f"{version}: manifest lists unknown artefacts: {sorted(unknown)}")
        if MODEL_FILE not in listed:
            raise ModelIntegrityError(f"{version}: manifest lists no {MODEL_FILE}")
        verified = {}
        for name, digest in listed.items():
            if not (folder / name).is_file():
                raise ModelIntegrityError(f"{version}: {name} is listed but missing")
            data = (folder / name).read_bytes()
            if hashlib.sha256(data).hexdigest() != digest:
                raise ModelIntegrityError(f"{version}: {name} does not match its SHA-256")
            verified[name] = data
        return ModelArtefact(
            version=version,
            manifest=manifest,
            model_bytes=verified[MODEL_FILE],
            online_bytes=verified.get(ONLINE_FILE),
        )
