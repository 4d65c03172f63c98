"""Does a host's sshd accept TCP connections? (From the machine, over the fleet's bridge.)"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import selectors
import socket
import time
from collections.abc import Sequence

__all__ = ["ports_open", "wait_for_port"]


async def wait_for_port(address: str, port: int, *, timeout: float) -> bool:
    """Poll until something accepts TCP connections on address:port; False after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(address, port), 1.0)
        except (OSError, TimeoutError):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.25)
            continue
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True


def ports_open(addresses: Sequence[str], port: int, *, timeout: float = 1.0) -> list[bool]:
    """For each address, whether a TCP connection to it succeeds; all probed at once."""
    results = [False] * len(addresses)
    selector = selectors.DefaultSelector()
    sockets: list[socket.socket] = []
    try:
        for index, address in enumerate(addresses):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.setblocking(False)
            code = sock.connect_ex((address, port))
            if code == 0:
                results[index] = True
            elif code in (errno.EINPROGRESS, errno.EAGAIN):
                selector.register(sock, selectors.EVENT_WRITE, index)
        deadline = time.monotonic() + timeout
        while selector.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                ready = key.fileobj
                assert isinstance(ready, socket.socket)
                results[key.data] = ready.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
                selector.unregister(ready)
    finally:
        selector.close()
        for sock in sockets:
            sock.close()
    return results
