"""An HTTPS server standing in for a cluster server's remote API, with a certificate of
its own that carries the real server's name and addresses. Each request it receives is
appended to a file (so a test can prove none reached it) and answered 200.

Usage: impostor.py CERT KEY HOST PORT REQUESTS_FILE
"""

from __future__ import annotations

import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    cert, key, host, port, log = sys.argv[1:6]
    requests = Path(log)

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            with requests.open("a") as f:
                f.write(f"{self.command} {self.path}\n")
            body = b'{"impostor": true}'
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PATCH = do_DELETE = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    print("listening", flush=True)
    httpd.serve_forever()


if __name__ == "__main__":
    main()
