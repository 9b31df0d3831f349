#!/usr/bin/env python3
"""A stub model server for the real-agent conformance suite (stdlib only).

It speaks the three wire APIs the real CLIs call, on 127.0.0.1 and a port the OS picks:
  Anthropic Messages   POST /v1/messages (SSE when "stream": true, JSON otherwise)
                       POST /v1/messages/count_tokens
  OpenAI Responses     POST /v1/responses (streamed events)
  Chat Completions     POST /v1/chat/completions (streamed chunks, or JSON)
  GET /v1/models (and anything else GET): a small JSON answer.

What it answers is scripted by a marker in the newest user text of a request that offers tools (a
harness's main turn; side requests such as a title are always answered with plain text):
  STUB:TOOL     ask for a tool call that writes a file (Claude raises a permission prompt for it)
  STUB:HANG     start the answer, then send nothing but keep-alive comments until release()
  STUB:SLOW     stream a word every 0.25 s until release(), then finish
  STUB:FAIL400 / STUB:FAIL401 / STUB:FAIL529   fail with that HTTP status and the API's error body
  anything else a short text answer: "stub reply <n>"
A request whose newest message is a tool result is answered with text ("tool done").
A test may set `Stub.answer` (the text main requests get instead of "stub reply <n>", e.g. a decision
block) and `Stub.usage` (the token counts every answer reports, in each API's own shape: Anthropic's
input excludes cache reads and writes, Responses' and Chat's input includes the cached tokens, Responses'
output includes the reasoning tokens).

Every request is logged (in memory and, with --log, as JSON lines): path, api, whether it offered tools,
the newest user text and the whole body, so a test can prove exactly what reached the model.

Run alone: python3 stub_model.py [--port-file F] [--log F]  (prints the port).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MARKERS = ("STUB:TOOL", "STUB:HANG", "STUB:SLOW", "STUB:FAIL400", "STUB:FAIL401", "STUB:FAIL529")
TOOL_FILE = "stub-tool-out.txt"
MAX_HOLD_S = 240.0
# the token counts every answer reports unless a test sets Stub.usage
USAGE = {"input": 12, "cached": 0, "cache_creation": 0, "output": 5, "reasoning": 0}


def _texts(content: Any) -> list[str]:
    """The text parts of a message content (a string, or a list of typed parts)."""
    if isinstance(content, str):
        return [content]
    out: list[str] = []
    if isinstance(content, list):
        for part in content:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and part.get("type") in ("text", "input_text", None):
                out.append(text)
    return out


def _is_tool_result(content: Any) -> bool:
    return isinstance(content, list) and any(
        isinstance(p, dict) and p.get("type") in ("tool_result", "function_call_output") for p in content
    )


def newest_user(api: str, body: dict[str, Any]) -> tuple[list[str], bool]:
    """(text parts of the newest user input, whether the newest input is a tool result)."""
    if api == "responses":
        items = body.get("input")
        if isinstance(items, str):
            return [items], False
        items = items if isinstance(items, list) else []
        if items and isinstance(items[-1], dict) and items[-1].get("type") == "function_call_output":
            return [], True
        for item in reversed(items):
            if isinstance(item, dict) and item.get("role") == "user":
                return _texts(item.get("content")), False
        return [], False
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []
    if messages and isinstance(messages[-1], dict):
        last = messages[-1]
        if last.get("role") == "tool":
            return [], True
        if _is_tool_result(last.get("content")):
            # a tool result, maybe with the next prompt folded into the same message
            texts = _texts(last.get("content"))
            return texts, not any(not t.startswith("<system-reminder>") for t in texts)
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _texts(msg.get("content")), False
    return [], False


class Stub:
    """The server, its request log and the release gate for HANG/SLOW answers."""

    def __init__(self, log_path: str | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.stopping = threading.Event()
        self.log_path = log_path
        self.answer: str | None = None
        self.usage: dict[str, int] = dict(USAGE)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="stub-model", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Stub:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.released.set()
        self.server.shutdown()
        self.server.server_close()

    def release(self) -> None:
        """Let every held (HANG/SLOW) answer finish; new ones are held again after rearm()."""
        self.released.set()

    def rearm(self) -> None:
        self.released.clear()

    def record(self, entry: dict[str, Any]) -> int:
        with self.lock:
            entry["n"] = len(self.requests) + 1
            self.requests.append(entry)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            return int(entry["n"])

    def main_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r.get("tools")]

    def prompts(self) -> list[str]:
        """The newest user text of every main request (joined parts), in order."""
        return ["\n".join(r["user_texts"]) for r in self.main_requests() if not r["tool_result"]]

    def user_parts(self) -> list[str]:
        """Every text part of the newest user input of every main request."""
        out: list[str] = []
        for r in self.main_requests():
            out.extend(r["user_texts"])
        return out

    def _handler(self) -> type:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                stub.record(
                    {
                        "method": "GET",
                        "path": self.path,
                        "api": "get",
                        "tools": False,
                        "user_texts": [],
                        "tool_result": False,
                        "body": None,
                        "t": time.time(),
                    }
                )
                self._json(200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})

            def do_HEAD(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else {}
                except ValueError:
                    body = {}
                body = body if isinstance(body, dict) else {}
                path = self.path.split("?", 1)[0]
                if path.endswith("/count_tokens"):
                    api = "count_tokens"
                elif path.endswith("/messages"):
                    api = "anthropic"
                elif path.endswith("/responses"):
                    api = "responses"
                elif path.endswith("/chat/completions"):
                    api = "chat"
                else:
                    api = "other"
                texts, tool_result = newest_user(api, body) if api != "other" else ([], False)
                tools = bool(body.get("tools")) and api in ("anthropic", "responses", "chat")
                n = stub.record(
                    {
                        "method": "POST",
                        "path": path,
                        "api": api,
                        "tools": tools,
                        "user_texts": texts,
                        "tool_result": tool_result,
                        "body": body,
                        "t": time.time(),
                    }
                )
                if api == "count_tokens":
                    self._json(200, {"input_tokens": 42})
                    return
                if api == "other":
                    self._json(404, {"error": {"message": f"stub: no route {path}"}})
                    return
                marker = ""
                if tools and not tool_result:
                    # only the newest part: a harness may fold an unanswered (failed) prompt and the
                    # next one into one user message
                    prompts = [t for t in texts if not t.startswith("<system-reminder>")]
                    newest = prompts[-1] if prompts else ""
                    marker = max(MARKERS, key=newest.rfind) if any(m in newest for m in MARKERS) else ""
                if marker.startswith("STUB:FAIL"):
                    self._fail(api, int(marker[len("STUB:FAIL") :]))
                    return
                if tool_result:
                    plan = ("text", "tool done")
                elif marker == "STUB:TOOL":
                    plan = ("tool", "")
                elif marker == "STUB:HANG":
                    plan = ("hang", "")
                elif marker == "STUB:SLOW":
                    plan = ("slow", "")
                else:
                    plan = ("text", stub.answer if tools and stub.answer is not None else f"stub reply {n}")
                stream = bool(body.get("stream")) or api == "responses"
                try:
                    if api == "anthropic":
                        self._anthropic(plan, stream, body)
                    elif api == "responses":
                        self._responses(plan, body)
                    else:
                        self._chat(plan, stream, body)
                except (BrokenPipeError, ConnectionResetError, OSError):
                    self.close_connection = True

            # ---- plumbing ----
            def _json(self, status: int, doc: Any) -> None:
                data = json.dumps(doc).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status >= 400:
                    self.send_header("x-should-retry", "true" if status == 529 else "false")
                self.end_headers()
                self.wfile.write(data)

            def _sse_start(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True

            def _event(self, name: str | None, doc: Any) -> None:
                head = f"event: {name}\n" if name else ""
                data = doc if isinstance(doc, str) else json.dumps(doc)
                self.wfile.write(f"{head}data: {data}\n\n".encode())
                self.wfile.flush()

            def _hold(self, each: Any) -> None:
                """Call each() every 0.25 s until released (or stopping, or MAX_HOLD_S)."""
                deadline = time.monotonic() + MAX_HOLD_S
                while not stub.released.is_set() and time.monotonic() < deadline:
                    each()
                    stub.released.wait(0.25)

            def _keepalive(self) -> None:
                self.wfile.write(b": keep-alive\n\n")
                self.wfile.flush()

            def _fail(self, api: str, status: int) -> None:
                if api == "anthropic":
                    kind = {
                        400: "invalid_request_error",
                        401: "authentication_error",
                        529: "overloaded_error",
                    }.get(status, "api_error")
                    msg = {400: "stub: bad request", 401: "stub: invalid x-api-key", 529: "Overloaded"}.get(
                        status, "stub error"
                    )
                    self._json(status, {"type": "error", "error": {"type": kind, "message": msg}})
                else:
                    kind = {
                        400: "invalid_request_error",
                        401: "invalid_api_key",
                        529: "server_overloaded",
                    }.get(status, "server_error")
                    self._json(
                        status,
                        {
                            "error": {
                                "message": f"stub: status {status}",
                                "type": kind,
                                "param": None,
                                "code": kind,
                            }
                        },
                    )

            def _tool_args(self, api: str, name: str) -> dict[str, Any]:
                lname = name.lower()
                if lname in ("write",):
                    key = "file_path" if api == "anthropic" else "path"
                    return {key: TOOL_FILE, "content": "written by the stub tool call\n"}
                if lname in ("shell", "local_shell"):
                    return {
                        "command": ["bash", "-lc", f"echo stub > {TOOL_FILE}"],
                        "sandbox_permissions": "require_escalated",
                        "justification": "stub: write a file",
                    }
                if lname in ("exec_command",):
                    return {
                        "cmd": f"echo stub > {TOOL_FILE}",
                        "sandbox_permissions": "require_escalated",
                        "justification": "stub: write a file",
                    }
                return {"command": f"echo stub > {TOOL_FILE}", "description": "write a file"}

            def _tool_name(self, api: str, body: dict[str, Any]) -> str:
                names: list[str] = []
                for t in body.get("tools") or []:
                    if not isinstance(t, dict):
                        continue
                    fn = t.get("function") if isinstance(t.get("function"), dict) else t
                    if isinstance(fn.get("name"), str):
                        names.append(fn["name"])
                for want in ("Bash", "shell", "exec_command", "bash", "local_shell", "write", "Write"):
                    if want in names:
                        return want
                return names[0] if names else "Bash"

            # ---- Anthropic Messages ----
            def _anthropic(self, plan: tuple[str, str], stream: bool, body: dict[str, Any]) -> None:
                kind, text = plan
                model = str(body.get("model") or "stub-model")
                counts = stub.usage
                usage = {
                    "input_tokens": counts["input"],
                    "output_tokens": 0,
                    "cache_creation_input_tokens": counts["cache_creation"],
                    "cache_read_input_tokens": counts["cached"],
                }
                tool = self._tool_name("anthropic", body) if kind == "tool" else ""
                if not stream:
                    if kind == "hang":
                        self._hold(lambda: None)
                    content: list[dict[str, Any]]
                    if kind == "tool":
                        content = [
                            {
                                "type": "tool_use",
                                "id": "toolu_stub1",
                                "name": tool,
                                "input": self._tool_args("anthropic", tool),
                            }
                        ]
                    else:
                        content = [{"type": "text", "text": text or "stub reply"}]
                    self._json(
                        200,
                        {
                            "id": "msg_stub",
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": content,
                            "stop_reason": "tool_use" if tool else "end_turn",
                            "stop_sequence": None,
                            "usage": dict(usage, output_tokens=counts["output"]),
                        },
                    )
                    return
                self._sse_start()
                self._event(
                    "message_start",
                    {
                        "type": "message_start",
                        "message": {
                            "id": "msg_stub",
                            "type": "message",
                            "role": "assistant",
                            "model": model,
                            "content": [],
                            "stop_reason": None,
                            "stop_sequence": None,
                            "usage": usage,
                        },
                    },
                )
                if kind == "hang":
                    self._hold(self._keepalive)
                    if stub.stopping.is_set():
                        return
                    kind, text = "text", "released"
                if kind == "tool":
                    self._event(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": 0,
                            "content_block": {
                                "type": "tool_use",
                                "id": "toolu_stub1",
                                "name": tool,
                                "input": {},
                            },
                        },
                    )
                    self._event(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {
                                "type": "input_json_delta",
                                "partial_json": json.dumps(self._tool_args("anthropic", tool)),
                            },
                        },
                    )
                    stop = "tool_use"
                else:
                    self._event(
                        "content_block_start",
                        {
                            "type": "content_block_start",
                            "index": 0,
                            "content_block": {"type": "text", "text": ""},
                        },
                    )

                    def word(w: str) -> None:
                        self._event(
                            "content_block_delta",
                            {
                                "type": "content_block_delta",
                                "index": 0,
                                "delta": {"type": "text_delta", "text": w},
                            },
                        )

                    if kind == "slow":
                        count = [0]

                        def more() -> None:
                            count[0] += 1
                            word(f"slow{count[0]} ")

                        self._hold(more)
                        word("end.")
                    else:
                        word(text)
                    stop = "end_turn"
                self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
                self._event(
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": counts["output"]},
                    },
                )
                self._event("message_stop", {"type": "message_stop"})

            # ---- OpenAI Responses ----
            def _responses(self, plan: tuple[str, str], body: dict[str, Any]) -> None:
                kind, text = plan
                model = str(body.get("model") or "stub-model")
                rid = f"resp_stub{len(stub.requests)}"
                base = {
                    "id": rid,
                    "object": "response",
                    "created_at": int(time.time()),
                    "model": model,
                    "status": "in_progress",
                    "output": [],
                }
                self._sse_start()
                self._event("response.created", {"type": "response.created", "response": base})
                self._event("response.in_progress", {"type": "response.in_progress", "response": base})
                if kind == "hang":
                    self._hold(self._keepalive)
                    if stub.stopping.is_set():
                        return
                    kind, text = "text", "released"
                output: list[dict[str, Any]] = []
                if kind == "tool":
                    tool = self._tool_name("responses", body)
                    item = {
                        "type": "function_call",
                        "id": "fc_stub1",
                        "call_id": "call_stub1",
                        "name": tool,
                        "arguments": json.dumps(self._tool_args("responses", tool)),
                        "status": "completed",
                    }
                    self._event(
                        "response.output_item.added",
                        {
                            "type": "response.output_item.added",
                            "output_index": 0,
                            "item": dict(item, arguments=""),
                        },
                    )
                    self._event(
                        "response.output_item.done",
                        {"type": "response.output_item.done", "output_index": 0, "item": item},
                    )
                    output.append(item)
                else:
                    mid = "msg_stub1"
                    self._event(
                        "response.output_item.added",
                        {
                            "type": "response.output_item.added",
                            "output_index": 0,
                            "item": {
                                "type": "message",
                                "id": mid,
                                "role": "assistant",
                                "status": "in_progress",
                                "content": [],
                            },
                        },
                    )
                    self._event(
                        "response.content_part.added",
                        {
                            "type": "response.content_part.added",
                            "item_id": mid,
                            "output_index": 0,
                            "content_index": 0,
                            "part": {"type": "output_text", "text": "", "annotations": []},
                        },
                    )
                    parts: list[str] = []

                    def word(w: str) -> None:
                        parts.append(w)
                        self._event(
                            "response.output_text.delta",
                            {
                                "type": "response.output_text.delta",
                                "item_id": mid,
                                "output_index": 0,
                                "content_index": 0,
                                "delta": w,
                            },
                        )

                    if kind == "slow":
                        count = [0]

                        def more() -> None:
                            count[0] += 1
                            word(f"slow{count[0]} ")

                        self._hold(more)
                        word("end.")
                    else:
                        word(text)
                    full = "".join(parts)
                    self._event(
                        "response.output_text.done",
                        {
                            "type": "response.output_text.done",
                            "item_id": mid,
                            "output_index": 0,
                            "content_index": 0,
                            "text": full,
                        },
                    )
                    item = {
                        "type": "message",
                        "id": mid,
                        "role": "assistant",
                        "status": "completed",
                        "content": [{"type": "output_text", "text": full, "annotations": []}],
                    }
                    self._event(
                        "response.output_item.done",
                        {"type": "response.output_item.done", "output_index": 0, "item": item},
                    )
                    output.append(item)
                done = dict(
                    base,
                    status="completed",
                    output=output,
                    usage={
                        "input_tokens": stub.usage["input"] + stub.usage["cached"],
                        "input_tokens_details": {"cached_tokens": stub.usage["cached"]},
                        "output_tokens": stub.usage["output"] + stub.usage["reasoning"],
                        "output_tokens_details": {"reasoning_tokens": stub.usage["reasoning"]},
                        "total_tokens": sum(
                            stub.usage[k] for k in ("input", "cached", "output", "reasoning")
                        ),
                    },
                )
                self._event("response.completed", {"type": "response.completed", "response": done})

            # ---- Chat Completions ----
            def _chat(self, plan: tuple[str, str], stream: bool, body: dict[str, Any]) -> None:
                kind, text = plan
                model = str(body.get("model") or "stub-model")
                cid = f"chatcmpl-stub{len(stub.requests)}"
                counts = stub.usage
                usage = {
                    "prompt_tokens": counts["input"] + counts["cached"],
                    "completion_tokens": counts["output"],
                    "total_tokens": counts["input"] + counts["cached"] + counts["output"],
                }
                tool = self._tool_name("chat", body) if kind == "tool" else ""
                if not stream:
                    if kind == "hang":
                        self._hold(lambda: None)
                    message: dict[str, Any] = {"role": "assistant", "content": text or "stub reply"}
                    if tool:
                        message = {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {
                                    "id": "call_stub1",
                                    "type": "function",
                                    "function": {
                                        "name": tool,
                                        "arguments": json.dumps(self._tool_args("chat", tool)),
                                    },
                                }
                            ],
                        }
                    self._json(
                        200,
                        {
                            "id": cid,
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": model,
                            "choices": [
                                {
                                    "index": 0,
                                    "message": message,
                                    "finish_reason": "tool_calls" if tool else "stop",
                                }
                            ],
                            "usage": usage,
                        },
                    )
                    return
                self._sse_start()

                def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
                    doc = {
                        "id": cid,
                        "object": "chat.completion.chunk",
                        "created": int(time.time()),
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }
                    doc.update(extra)
                    self._event(None, doc)

                chunk({"role": "assistant", "content": ""})
                if kind == "hang":
                    self._hold(self._keepalive)
                    if stub.stopping.is_set():
                        return
                    kind, text = "text", "released"
                if kind == "tool":
                    chunk(
                        {
                            "tool_calls": [
                                {
                                    "index": 0,
                                    "id": "call_stub1",
                                    "type": "function",
                                    "function": {
                                        "name": tool,
                                        "arguments": json.dumps(self._tool_args("chat", tool)),
                                    },
                                }
                            ]
                        }
                    )
                    finish = "tool_calls"
                elif kind == "slow":
                    count = [0]

                    def more() -> None:
                        count[0] += 1
                        chunk({"content": f"slow{count[0]} "})

                    self._hold(more)
                    chunk({"content": "end."})
                    finish = "stop"
                else:
                    chunk({"content": text})
                    finish = "stop"
                chunk({}, finish)
                chunk({}, None, choices=[], usage=usage) if body.get("stream_options") else None
                self._event(None, "[DONE]")

        return Handler


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description="stub model server (Anthropic, Responses, Chat Completions)")
    ap.add_argument("--port-file")
    ap.add_argument("--log")
    ns = ap.parse_args(argv)
    stub = Stub(ns.log).start()
    if ns.port_file:
        with open(ns.port_file, "w", encoding="utf-8") as fh:
            fh.write(str(stub.port))
    print(stub.port, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        stub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
