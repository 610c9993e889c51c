#!/usr/bin/env python3
"""A small TCP proxy for fault injection between moe4 processes (loopback only).

    tcp_proxy.py LISTEN_PORT CONTROL_FILE UPSTREAM_PORT [UPSTREAM_PORT...]

LISTEN_PORT 0 lets the kernel pick a free port; the first line printed,
"proxy listening on 127.0.0.1:PORT -> [...]", says which.

Forwards every connection to the first upstream (on 127.0.0.1) that accepts
it, trying them in order from a rotating start: with two coordinators it is a
load balancer that fails over when one dies. The mode is read from
CONTROL_FILE every 50 ms:

    pass    forward bytes both ways
    stall   a silently dead network: accept connections and keep them open,
            but move no byte in either direction (nothing is closed, no RST)
    drop    refuse new connections and reset the open ones (RST), then behave
            as `pass` for connections made afterwards
Prints one line per mode change and, at exit (SIGTERM), the totals.
"""
import asyncio
import os
import signal
import socket
import struct
import sys

listen_port = int(sys.argv[1])
control = sys.argv[2]
upstreams = [int(p) for p in sys.argv[3:]]
mode = "pass"
conns = set()
stats = {"connections": 0, "bytes": 0, "resets": 0, "refused": 0}
next_upstream = 0


def reset(writer):
    """Closes a connection with an RST (linger 0), as a crashed peer or a
    middlebox dropping state would."""
    try:
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except (OSError, AttributeError):
        pass
    writer.transport.abort()


async def pipe(reader, writer):
    try:
        while True:
            while mode == "stall":
                await asyncio.sleep(0.05)
            data = await reader.read(65536)
            if not data:
                break
            while mode == "stall":
                await asyncio.sleep(0.05)
            writer.write(data)
            stats["bytes"] += len(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(client_reader, client_writer):
    global next_upstream
    if mode == "drop":
        stats["refused"] += 1
        reset(client_writer)
        return
    upstream = None
    for i in range(len(upstreams)):
        port = upstreams[(next_upstream + i) % len(upstreams)]
        try:
            upstream = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
            next_upstream = (next_upstream + i + 1) % len(upstreams)
            break
        except (OSError, asyncio.TimeoutError):
            continue
    if upstream is None:
        stats["refused"] += 1
        client_writer.close()
        return
    up_reader, up_writer = upstream
    stats["connections"] += 1
    entry = (client_writer, up_writer)
    conns.add(entry)
    try:
        await asyncio.gather(pipe(client_reader, up_writer), pipe(up_reader, client_writer))
    finally:
        conns.discard(entry)


async def watch_control():
    global mode
    while True:
        try:
            with open(control) as f:
                wanted = f.read().strip() or "pass"
        except OSError:
            wanted = "pass"
        if wanted != mode:
            print(f"proxy {listen_port}: {mode} -> {wanted} ({len(conns)} open)", flush=True)
            mode = wanted
            if mode == "drop":
                for client_writer, up_writer in list(conns):
                    reset(client_writer)
                    reset(up_writer)
                    stats["resets"] += 1
                conns.clear()
        await asyncio.sleep(0.05)


async def main():
    global listen_port
    server = await asyncio.start_server(handle, "127.0.0.1", listen_port)
    listen_port = server.sockets[0].getsockname()[1]
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    loop.add_signal_handler(signal.SIGINT, stop.set_result, None)
    print(f"proxy listening on 127.0.0.1:{listen_port} -> {upstreams}", flush=True)
    watcher = asyncio.ensure_future(watch_control())
    async with server:
        await stop
    watcher.cancel()
    print(f"proxy {listen_port}: totals {stats}", flush=True)
    os._exit(0)


asyncio.run(main())
