"""Helpers for the page tests: a small demo network harvested for real, and headless Chromium.

The browser is Debian's Chromium driven by Selenium through Debian's chromedriver; nothing is
downloaded (Selenium Manager is told to stay offline and is never needed: both paths are given).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, write_config
from unionapi.auth import hash_token

TOKEN = "page-test-token"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Without the background-networking flags Chromium's connections are refused by this closed network.
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--font-render-hinting=none")
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"


def build_demo(folder: Path, total_records: int = 1000, libraries=("tv-tinh", "tv-kim-son", "tv-yen-mo", "thpt-lvt")):
    """Harvest part of the demo network from real OAI-PMH providers; returns (config dir, providers).

    Only OAI libraries: the pages need branches (Koha MARC), Dublin Core records without items,
    a school under the provincial library, and duplicate reports; Zebra is not needed for that.
    """
    from unionapi.demo.network import DEMO_SEED, generate_network, save_records
    from unionapi.demo.provider import start_provider
    generated = generate_network(DEMO_SEED, total_records=total_records)
    demo = {e["id"]: e for e in yaml.safe_load((REPO / "config" / "demo-sources.yaml")
                                               .read_text(encoding="utf-8"))["libraries"]}
    providers, entries = [], []
    for library_id in libraries:
        entry = demo[library_id]
        path = folder / f"{library_id}.jsonl"
        save_records(path, generated[library_id])
        formats = "marc21,oai_dc" if entry["metadata_prefix"] == "marc21" else "oai_dc"
        provider = start_provider(path, port=0, page_size=200, formats=formats)
        providers.append(provider)
        entries.append({**entry, "endpoint": provider.url})
    config_dir = write_config(folder / "config", entries,
                              api={"tokens": [{"name": "lan", "sha256": hash_token(TOKEN)}]})
    subprocess.run([sys.executable, "-m", "unionapi.cli", "--config", str(config_dir), "harvest"], cwd=REPO,
                   capture_output=True, text=True, check=True, timeout=300,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    return config_dir, providers


MISSING_CHROMIUM = ("Debian's chromium and chromium-driver are not installed ({}): run scripts/install-peers "
                    "(a page test without its browser is a failure, never a skip)")


def require_chromium() -> None:
    """Fails the calling test with what to run when Chromium or ChromeDriver is missing."""
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(MISSING_CHROMIUM.format(", ".join(missing)), pytrace=False)


def start_chromium(width: int = 1280, height: int = 900):
    """A fresh headless Chromium with an empty profile (removed again by ``stop_chromium``)."""
    require_chromium()
    os.environ.setdefault("SE_OFFLINE", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    profile = tempfile.mkdtemp(prefix="unioncat-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.add_argument("--lang=vi")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.unioncat_profile = profile
    return driver


def stop_chromium(driver) -> None:
    try:
        driver.quit()
    finally:
        shutil.rmtree(driver.unioncat_profile, ignore_errors=True)


def screenshot(driver, name: str, width: int) -> Path:
    """The whole page at this width (the window is resized to the page's height)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.set_window_size(width, 900)
    height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, 600)")
    inner = driver.execute_script("return window.outerHeight - window.innerHeight")  # the window's own bars
    driver.set_window_size(width, min(int(height) + int(inner) + 20, 4000))
    path = SCREENSHOTS / f"{name}-{width}.png"
    driver.save_screenshot(str(path))
    return path
