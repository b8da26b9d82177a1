"""A Socket Mode endpoint for the sandbox: a minimal WebSocket server (RFC 6455) on loopback.

`apps.connections.open` hands out its ws:// URL; the bot's builtin slack_sdk Socket Mode client
connects, and tests push envelopes (slash commands, events, interactions) and read the acks.
"""

from __future__ import annotations

import base64
import hashlib
import json
import queue
import socket
import struct
import threading
import uuid
from typing import Any

_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA


class SocketModeServer:
    """Accepts WebSocket clients; `send_envelope` pushes to the newest one and waits for its ack."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._clients: list[socket.socket] = []
        self._acks: dict[str, queue.Queue] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.connections = 0
        self._running = True
        threading.Thread(target=self._accept_loop, name="socket-mode-accept", daemon=True).start()

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link/?ticket={uuid.uuid4().hex}"

    def connected(self) -> bool:
        with self._lock:
            return bool(self._clients)

    def close(self) -> None:
        self._running = False
        self._listener.close()
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def send_envelope(self, kind: str, payload: dict[str, Any], *, timeout: float = 5.0) -> dict[str, Any]:
        """Deliver one envelope as Slack does and return the client's ack message."""
        envelope_id = str(uuid.uuid4())
        waiter: queue.Queue = queue.Queue(maxsize=1)
        self._acks[envelope_id] = waiter
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": kind != "events_api", "retry_attempt": 0, "retry_reason": ""}
        with self._lock:
            if not self._clients:
                raise ConnectionError("no Socket Mode client is connected")
            client = self._clients[-1]
        self._send(client, OP_TEXT, json.dumps(message).encode())
        try:
            return waiter.get(timeout=timeout)
        finally:
            self._acks.pop(envelope_id, None)

    # --- internals ----------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), name="socket-mode-client", daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            self._handshake(client)
            with self._lock:
                self._clients.append(client)
                self.connections += 1
            self._send(client, OP_TEXT, json.dumps({"type": "hello", "num_connections": 1}).encode())
            while True:
                opcode, data = _read_frame(client)
                if opcode == OP_CLOSE:
                    return
                if opcode == OP_PING:
                    self._send(client, OP_PONG, data)
                elif opcode == OP_TEXT:
                    self._on_text(data)
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            with self._lock:
                if client in self._clients:
                    self._clients.remove(client)
            client.close()

    def _on_text(self, data: bytes) -> None:
        message = json.loads(data.decode("utf-8"))
        waiter = self._acks.get(message.get("envelope_id", ""))
        if waiter is not None:
            waiter.put(message)

    def _handshake(self, client: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = client.recv(4096)
            if not chunk:
                raise ConnectionError("closed during handshake")
            request += chunk
        headers = {}
        for line in request.decode("latin-1").split("\r\n")[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        key = headers.get("sec-websocket-key")
        if not key:
            raise ValueError("not a WebSocket handshake")
        accept = base64.b64encode(hashlib.sha1((key + _GUID).encode()).digest()).decode()  # noqa: S324 — RFC 6455
        client.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())

    def _send(self, client: socket.socket, opcode: int, data: bytes) -> None:
        header = bytes([0x80 | opcode])
        length = len(data)
        if length < 126:
            header += bytes([length])
        elif length < 65536:
            header += bytes([126]) + struct.pack("!H", length)
        else:
            header += bytes([127]) + struct.pack("!Q", length)
        with self._send_lock:
            client.sendall(header + data)


def _recv_exactly(client: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = client.recv(count - len(data))
        if not chunk:
            raise ConnectionError("connection closed")
        data += chunk
    return data


def _read_frame(client: socket.socket) -> tuple[int, bytes]:
    first, second = _recv_exactly(client, 2)
    opcode = first & 0x0F
    length = second & 0x7F
    if length == 126:
        length = struct.unpack("!H", _recv_exactly(client, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", _recv_exactly(client, 8))[0]
    mask = _recv_exactly(client, 4) if second & 0x80 else b""
    payload = _recv_exactly(client, length)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return opcode, payload
