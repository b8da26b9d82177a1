"""A local OpenAI-compatible server for tests: canned answers, garbage, refusals, timeouts, errors."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class LlmStub:
    """`/v1/chat/completions` that answers as `mode` says; every request body is kept in `requests`."""

    def __init__(self) -> None:
        self.mode = "good"
        self.grade = 3
        self.reasons = ["the stub says so"]
        self.delay = 0.0
        self.content: dict[str, Any] | None = None  # answer this JSON instead of a grade
        self.text: str | None = None  # answer this plain text instead
        self.requests: list[dict[str, Any]] = []
        handler = type("Handler", (_Handler,), {"stub": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(self) -> tuple[int, dict[str, Any]]:
        if self.mode == "error":
            return 500, {"error": {"message": "upstream exploded", "type": "server_error"}}
        content: str | None = self.text if self.text is not None else json.dumps(
            self.content if self.content is not None else {"grade": self.grade, "reasons": self.reasons})
        refusal = None
        finish = "stop"
        if self.mode == "garbage":
            content = "Sure! I think it's pretty bad, maybe a 2?"
        elif self.mode == "wrong_schema":
            content = json.dumps({"grade": 9, "why": "no"})
        elif self.mode == "refusal":
            content, refusal = None, "I can't help with that."
        elif self.mode == "length":
            content, finish = '{"grade": 2, "reas', "length"
        body = {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": "stub-model",
            "choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, "refusal": refusal}}],
        }
        if self.mode != "no_usage":
            body["usage"] = {"prompt_tokens": 120, "completion_tokens": 18, "total_tokens": 138}
        return 200, body


class _Handler(BaseHTTPRequestHandler):
    stub: LlmStub

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.stub.requests.append(json.loads(body or b"{}"))
        if self.stub.delay:
            time.sleep(self.stub.delay)
        status, payload = self.stub.answer()
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-request-id", "req_stub_1")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)
