"""What the command line tells a person to do works: the token line pasted into settings.yaml, and the
demo's commands (two demos side by side, then `unioncat --demo status` as the demo's banner prints it)."""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml

from config import load_settings
from tests.conftest import REPO, free_port
from unionapi.auth import who_holds
from unionapi.cli import main

UNIONCAT = Path(sys.executable).with_name("unioncat")  # the program ./demo runs


def test_the_token_line_pasted_under_tokens_keeps_the_other_api_settings(tmp_path, capsys):
    assert main(["token", "Lan: cataloguer"]) == 0
    printed = capsys.readouterr().out
    token = re.search(r"give it to them\): (\S+)", printed).group(1)
    lines = [line for line in printed.splitlines() if line.lstrip().startswith("- ")]
    assert len(lines) == 1 and not any(line.strip() == "api:" for line in printed.splitlines())
    assert "reload" in printed and "kill -HUP" in printed
    settings = tmp_path / "settings.yaml"
    settings.write_text(f"api:\n  port: 9000\n  tokens:\n    - {{name: old, sha256: {'a' * 64}}}\n{lines[0]}\n",
                        encoding="utf-8")
    loaded = load_settings(settings)
    assert loaded.api_port == 9000 and len(loaded.api_tokens) == 2
    assert who_holds(token, loaded.api_tokens) == "Lan: cataloguer"


def test_two_demos_at_once_and_the_commands_their_banner_prints(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONCAT_")}
    port = free_port()
    serving = subprocess.Popen([str(UNIONCAT), "--data-dir", str(tmp_path / "a"), "demo", "--records", "150",
                                "--port", str(port)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=open(tmp_path / "a.log", "wb"), text=True)
    try:
        other = subprocess.run([str(UNIONCAT), "--data-dir", str(tmp_path / "b"), "demo", "--records", "150",
                                "--no-serve"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert other.returncode == 0, other.stderr[-3000:]
        banner = read_banner(serving, tmp_path / "a.log")
        status_command = next(line.split(": ", 1)[-1].strip() for line in banner if line.endswith(" status"))
        assert shlex.split(status_command)[1:] == ["--demo", "--data-dir", str(tmp_path / "a"), "status"]
        status = subprocess.run(shlex.split(status_command), cwd=REPO, env=env, capture_output=True, text=True,
                                timeout=120)
        assert status.returncode == 0, status.stderr
        rows = {line.split()[0]: line.split() for line in status.stdout.splitlines()[1:]}
        assert len(rows) == 6 and all(int(row[-2]) > 0 for row in rows.values()), status.stdout
        addresses = [where(tmp_path / name / "sources.yaml") for name in ("a", "b")]
        assert not set(addresses[0].values()) & set(addresses[1].values()), addresses
        endpoint = next(value for value in addresses[0].values() if value.startswith("http"))
        assert requests.get(endpoint, params={"verb": "Identify"}, timeout=10).ok
    finally:
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(60) is not None
    assert not answers(endpoint), "the demo's providers outlived it"


def read_banner(process: subprocess.Popen, log: Path) -> list[str]:
    lines, deadline = [], time.monotonic() + 300
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip())
        if line.startswith("Press Ctrl-C"):
            return lines
    raise AssertionError(f"no banner: {lines}\n{log.read_text(errors='replace')[-3000:]}")


def where(sources_file: Path) -> dict[str, str]:
    """Each library's address in a demo's sources.yaml (endpoint, Z39.50 port or export folder)."""
    entries = yaml.safe_load(sources_file.read_text(encoding="utf-8"))["libraries"]
    return {e["id"]: str(e.get("endpoint") or e.get("port") or e.get("path")) for e in entries}


def answers(url: str) -> bool:
    try:
        requests.get(url, params={"verb": "Identify"}, timeout=2)
    except requests.ConnectionError:
        return False
    return True
