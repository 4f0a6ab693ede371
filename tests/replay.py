"""Replays real recorded OAI-PMH traffic over a real socket.

Not a mock of a provider's behaviour: every body served is a response a production provider
(Zenodo, DSpace, EPrints, Alma...) really sent, with the status it was sent with. Requests that
were never recorded get 404, which is what a harvester meets when a provider forgets a listing.
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
    def __init__(self, routes: dict[frozenset, tuple[int, bytes]]):
        self.routes = routes
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                query = urlsplit(self.path).query
                server.requests.append(dict(parse_qsl(query)))
                status, body = server.routes.get(_key(query), (404, b"not recorded"))
                self.send_response(status)
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
