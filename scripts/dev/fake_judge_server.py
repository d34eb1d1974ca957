#!/usr/bin/env python3
"""A stand-in OpenAI-compatible judge for throughput measurements (standard library only).

Answers every POST to /v1/chat/completions with the verdict "A" after an optional fixed delay,
so that `selm bench judge` with judge.type=http measures selm's own overhead and concurrency
rather than a model's speed:

    python3 scripts/dev/fake_judge_server.py --port 8765 --delay-ms 20 &
    selm bench judge --requests 200 judge.type=http \\
        judge.http.base_url=http://127.0.0.1:8765/v1 judge.http.model=fake judge.http.max_concurrent=8

Each request is served on its own thread (ThreadingHTTPServer), so concurrent requests overlap
their delays as a real server's would.
"""

import argparse
import json
import socket
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(delay_seconds, verdict):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real API servers do

        def setup(self):
            super().setup()
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # client's delayed ACK add ~40 ms to every keep-alive response.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if self.path.rstrip("/") != "/v1/chat/completions":
                self.send_json(404, {"error": {"message": "unknown path " + self.path}})
                return
            try:
                request = json.loads(body or b"{}")
            except json.JSONDecodeError:
                self.send_json(400, {"error": {"message": "invalid JSON"}})
                return
            if delay_seconds > 0:
                time.sleep(delay_seconds)
            self.send_json(200, {
                "id": "fake-judge",
                "object": "chat.completion",
                "model": request.get("model", "fake"),
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": verdict}}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 1, "total_tokens": 1},
            })

        def send_json(self, status, payload):
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format, *args):  # quiet: one line per request would swamp the bench
            pass

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="fixed delay before each answer")
    parser.add_argument("--verdict", default="A", help="the reply's content (default A)")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.delay_ms / 1000.0, args.verdict))
    server.daemon_threads = True
    print(f"fake judge on http://{args.host}:{server.server_address[1]}/v1 (delay {args.delay_ms} ms)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
