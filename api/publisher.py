"""Publishing labels to the ``labels`` topic (aiokafka), keyed by event id.

The producer is opened in the application's lifespan. When Kafka is not
reachable then, the API still starts (``/readyz`` says so) and the producer is
opened on first use; a publish that Kafka does not acknowledge within the
timeout raises ``ServiceUnavailable`` (answered 503).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from api.errors import ServiceUnavailable
from contracts.kafka_security import aiokafka_config
from contracts.records import Label
from contracts.settings import Settings, get_settings

log = logging.getLogger(__name__)


class LabelPublisher:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        timeout_s: float,
        probe_timeout_s: float,
        security: Settings | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self._security = security or get_settings()
        self.topic = topic
        self.timeout_s = timeout_s
        self.probe_timeout_s = probe_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        try:
            await self._open(self.probe_timeout_s)
        except ServiceUnavailable as exc:
            log.warning("Kafka not reachable at start (%s); the producer opens on first use", exc)

    async def _open(self, timeout_s: float) -> AIOKafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    **aiokafka_config(
                        self._security,
                        bootstrap=self.bootstrap,
                        client_id="riskwire-api",
                        acks="all",
                        request_timeout_ms=int(self.timeout_s * 1000),
                    )
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout_s)
                except Exception as exc:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise ServiceUnavailable(f"kafka at {self.bootstrap} unreachable: {exc!r}") from exc
                self._producer = producer
            return self._producer

    async def publish(self, labels: Sequence[Label]) -> None:
        """Publish and wait until Kafka acknowledges every label."""
        producer = await self._open(self.timeout_s)

        async def send_all() -> None:
            acks = [
                await producer.send(
                    self.topic, key=lab.event_id.encode(), value=lab.model_dump_json().encode()
                )
                for lab in labels
            ]
            await asyncio.gather(*acks)

        try:
            await asyncio.wait_for(send_all(), self.timeout_s)
        except ServiceUnavailable:
            raise
        except Exception as exc:
            raise ServiceUnavailable(f"labels not acknowledged by kafka: {exc!r}") from exc

    async def ping(self) -> bool:
        """Kafka answers a metadata request within the probe timeout."""
        try:
            producer = await self._open(self.probe_timeout_s)
            await asyncio.wait_for(producer.client.fetch_all_metadata(), self.probe_timeout_s)
        except Exception:
            return False
        return True

    async def close(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
