"""A loopback HTTP proxy in front of moto that answers the first N requests with an AWS error (throttling or
5xx), to prove that botocore's standard retry mode absorbs them."""

from __future__ import annotations

import http.server
import threading
import urllib.request

BODIES = {
    "throttle": (400, b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'),
    "unavailable": (503, b'{"__type": "ServiceUnavailableException", "message": "Service unavailable"}'),
    "internal": (500, b'{"__type": "InternalServiceError", "message": "internal error"}'),
}


class FlakyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.failures_left = 0
        self.kind = "throttle"
        self.failed = 0
        self.forwarded = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.failures_left > 0:
                    proxy.failures_left -= 1
                    proxy.failed += 1
                    status, payload = BODIES[proxy.kind]
                    self.send_response(status)
                    self.send_header("Content-Type", "application/x-amz-json-1.1")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(proxy.upstream + self.path, data=body, headers=headers, method="POST")
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, payload, kind = response.status, response.read(), response.headers.get("Content-Type")
                except urllib.error.HTTPError as exc:
                    status, payload, kind = exc.code, exc.read(), exc.headers.get("Content-Type")
                proxy.forwarded += 1
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def fail_next(self, count: int, kind: str = "throttle") -> None:
        self.failures_left, self.kind = count, kind

    def close(self) -> None:
        self.server.shutdown()
