#!/usr/bin/env python3
"""A bare UDP responder for the benchmark, run as its own process like a device would be.

    python3 benchmarks/peer.py echo|canned --bind HOST:PORT --reply-hex HEX

``echo`` answers every datagram with the fixed reply; ``canned`` does the same but copies the
request's TID into it, so drready's gateway accepts it as the answer. Prints ``PORT n`` once bound,
then serves until SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any


class _Responder(asyncio.DatagramProtocol):
    def __init__(self, reply: bytes, copy_tid: bool) -> None:
        self.reply = reply
        self.copy_tid = copy_tid
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self.reply[:2] + data[2:4] + self.reply[4:] if self.copy_tid else self.reply
        self.transport.sendto(reply, addr)


async def serve(kind: str, host: str, port: int, reply: bytes) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Responder(reply, kind == "canned"), local_addr=(host, port)
    )
    print(f"PORT {transport.get_extra_info('sockname')[1]}", flush=True)
    try:
        await stop.wait()
    finally:
        transport.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["echo", "canned"])
    parser.add_argument("--bind", default="127.0.0.3:0")
    parser.add_argument("--reply-hex", required=True)
    args = parser.parse_args()
    host, _, port = args.bind.rpartition(":")
    asyncio.run(serve(args.kind, host, int(port), bytes.fromhex(args.reply_hex)))


if __name__ == "__main__":
    main()
