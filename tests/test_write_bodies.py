"""A write's JSON body takes only the fields its OpenAPI document lists: a misspelt field (``note`` for
``comment``) is refused with a 400 naming the fields it takes, never silently dropped."""
from __future__ import annotations

import pytest

from config import load_config
from tests.conftest import oai_library, write_config
from unionapi.app import create_app, load_openapi
from unionapi.auth import hash_token
from unionapi.services import Services

TOKEN = "bodies-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    config_dir = write_config(tmp_path_factory.mktemp("bodies"), [oai_library("tv-a", "http://127.0.0.1:1/oai")],
                              api={"tokens": [{"name": "thu-thu", "sha256": hash_token(TOKEN)}]})
    services = Services.open(load_config(config_dir))
    yield create_app(services).test_client()
    services.close()


@pytest.mark.parametrize("path, body, allowed", [
    ("/api/duplicates/1/merge", {"note": "same book"}, "comment"),
    ("/api/duplicates/1/reject", {"comment": "two editions", "reason": "x"}, "comment"),
    ("/api/entries/e1/split", {"record_id": "tv-a:1", "why": "x"}, "record_id, comment"),
    ("/api/identifiers/block", {"isbn": "9786045712252", "title": "x"}, "isbn, prefix, comment"),
])
def test_an_unknown_field_is_refused_with_the_fields_allowed(client, path, body, allowed):
    answer = client.post(path, json=body, headers=AUTH)
    assert answer.status_code == 400, answer.get_json()
    message = answer.get_json()["message"]
    assert f"the fields it takes: {allowed}" in message
    assert all(name in message for name in body if name not in allowed.split(", "))


def test_an_undo_takes_no_fields(client):
    answer = client.post("/api/decisions/1/undo", json={"comment": "oops"}, headers=AUTH)
    assert answer.status_code == 400 and "it takes no fields" in answer.get_json()["message"]
    assert client.post("/api/decisions/1/undo", headers=AUTH).status_code == 404


def test_the_documented_fields_are_taken(client):
    answer = client.post("/api/duplicates/1/merge", json={"comment": "same book"}, headers=AUTH)
    assert answer.status_code == 404 and answer.get_json()["message"] == "no duplicate report 1"


def test_the_openapi_document_lists_exactly_those_fields():
    paths = load_openapi()["paths"]
    for path in ("/api/duplicates/{id}/merge", "/api/duplicates/{id}/reject", "/api/entries/{id}/split",
                 "/api/identifiers/block"):
        schema = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert schema["additionalProperties"] is False, path
        assert schema["properties"]["comment"]["description"], path
