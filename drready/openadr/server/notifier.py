"""Webhook notifications: a subscription's callback hears of the objects it may see change."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Awaitable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from drready.evidence import EvidenceSink
from drready.evidence.http import CHANNEL
from drready.evidence.http import record_request as _record_request
from drready.evidence.http import record_response as _record_response
from drready.openadr.server.records import Delivery, ServicerError
from drready.openadr.server.store import VEN_OWNED, ObjectStore
from drready.openadr.server.times import now_epoch


class Notifier:
    """Delivers notifications concurrently, each bounded by ``timeout_s``; keeps every outcome
    in :attr:`deliveries` and every fault of its own in the shared error list."""

    def __init__(
        self,
        evidence: EvidenceSink,
        store: ObjectStore,
        bugs: list[Exception],
        *,
        timeout_s: float,
        verify: ssl.SSLContext | bool,
    ) -> None:
        self._evidence = evidence
        self._store = store
        self._bugs = bugs
        self.timeout_s = timeout_s
        self._verify = verify
        self.deliveries: list[Delivery] = []
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def drain(self) -> None:
        """Wait for every notification running beside an answer."""
        if self.tasks:
            await asyncio.gather(*list(self.tasks))

    def spawn(self, coro: Awaitable[None]) -> None:
        """Run a notification beside the answer; :meth:`drain` awaits it, a fault is kept."""

        async def guarded() -> None:
            try:
                await coro
            except Exception as exc:
                self._bugs.append(exc)

        task = asyncio.ensure_future(guarded())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def notify(self, object_type: str, operation: str, obj: Mapping[str, Any]) -> None:
        """Deliver a notification to every matching subscription, concurrently, bounded."""
        sends = []
        for subscription in list(self._store.subscriptions.values()):
            client_id = subscription["clientID"]
            if object_type in VEN_OWNED and obj.get("clientID") != client_id:
                continue
            program_id = subscription.get("programID")
            if program_id and program_id != (
                obj["id"] if object_type == "PROGRAM" else obj.get("programID")
            ):
                continue
            served = self._store.served(obj, client_id, subscription.get("targets"))
            if served is None:
                continue
            note: dict[str, Any] = {"objectType": object_type, "operation": operation}
            note["object"] = served
            if served.get("targets"):
                note["targets"] = served["targets"]
            self._store.check_ours("notification", note)
            for target in subscription["objectOperations"]:
                if object_type in target["objects"] and operation in target["operations"]:
                    sends.append(self._deliver(subscription, target, note))
        if sends:
            await asyncio.gather(*sends)

    async def _deliver(
        self, subscription: Mapping[str, Any], target: Mapping[str, Any], note: Mapping[str, Any]
    ) -> None:
        url = str(target["callbackUrl"])
        parts = urlsplit(url)
        peer = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
        headers = {"Content-Type": "application/json"}
        if target.get("bearerToken"):
            headers["Authorization"] = f"Bearer {target['bearerToken']}"
        body = json.dumps(note, separators=(",", ":"))
        _record_request(self._evidence, peer, "POST", url, headers, body, note="notification")
        status: int | None = None
        problem = ""
        try:
            if self.session is None:
                raise ServicerError("the servicer is not running")
            async with (
                asyncio.timeout(self.timeout_s),
                self.session.post(
                    url, data=body, headers=headers, ssl=self._verify, allow_redirects=False
                ) as response,
            ):
                answer = await response.read()
                status = response.status
                _record_response(
                    self._evidence,
                    peer,
                    status,
                    response.reason or "",
                    response.headers.items(),
                    answer,
                )
            if not 200 <= status < 300:
                problem = f"callback answered {status}"
        except TimeoutError:
            problem = f"no answer within {self.timeout_s:g} s"
        except (aiohttp.ClientError, OSError, ValueError, ServicerError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            self._evidence.add(
                "note",
                CHANNEL,
                peer,
                f"notification failed: {note['objectType']} {note['operation']} to {url}: "
                f"{problem}",
            )
        self.deliveries.append(
            Delivery(
                now_epoch(),
                subscription["id"],
                subscription["clientID"],
                url,
                str(note["objectType"]),
                str(note["operation"]),
                str(note["object"].get("id", "")),
                status,
                problem,
            )
        )
