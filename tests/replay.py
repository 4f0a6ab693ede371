"""Replays OAI-PMH traffic over a real socket.

Used two ways: to replay real recorded traffic (every body a production provider really sent,
with its status), and to script faults a real provider will not produce on demand (a 503 with
Retry-After, a token repeated forever). Requests nothing was recorded for get 404.
A route maps to one response or a list of them served in turn (the last one repeats).
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import yaml


def _key(query: str) -> frozenset:
    return frozenset(parse_qsl(query, keep_blank_values=True))


class ReplayServer:
    def __init__(self, routes: dict):
        self.routes = {(_key(k) if isinstance(k, str) else k): v for k, v in routes.items()}
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                query = urlsplit(self.path).query
                server.requests.append(dict(parse_qsl(query)))
                responses = server.routes.get(_key(query), (404, b"not recorded"))
                if isinstance(responses, list):
                    response = responses.pop(0) if len(responses) > 1 else responses[0]
                else:
                    response = responses
                status, body, headers = (*response, {})[:3]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/oai2d"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def answer(self, routes: dict) -> None:
        """From now on these routes answer differently (the scripted server 'is back' or breaks again)."""
        self.routes.update({(_key(k) if isinstance(k, str) else k): v for k, v in routes.items()})

    @classmethod
    def from_cassette(cls, cassette: Path, extra: dict[str, tuple[int, bytes]] = ()) -> "ReplayServer":
        """A scythe cassette: its request URLs with the bodies extracted beside it in ``xml/``."""
        stem = cassette.stem
        interactions = yaml.safe_load(cassette.read_text(encoding="utf-8"))["interactions"]
        routes = {}
        for number, interaction in enumerate(interactions):
            body = (cassette.parent / "xml" / f"{stem}_{number:02d}.xml").read_bytes()
            routes[_key(urlsplit(interaction["request"]["uri"]).query)] = (interaction["response"]["status"], body)
        for query, response in dict(extra).items():
            routes[_key(query)] = response
        return cls(routes)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
