"""What the browser tests share: Debian's chromium through Playwright, a JupyterLab server
on loopback, and screenshots (into the ``artifacts`` folder of ``tests/conftest.py``)."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
#: Headless flags that keep chromium off the (closed) network and away from user state.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Generous waits for page state: JupyterLab and a kernel start slowly on two busy cores.
PAGE_TIMEOUT_MS = 120_000
SERVER_START_TIMEOUT_S = 120


def require_chromium() -> None:
    """Skip without chromium on a workstation; in CI (CI=true) a missing browser fails."""
    if os.access(CHROMIUM, os.X_OK):
        return
    reason = f"{CHROMIUM} is missing: install Debian's chromium with .ci/install-chromium"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


def quiet_lab_settings(settings: Path) -> list[Path]:
    """Write JupyterLab user settings with no "fetch Jupyter news?" toast over screenshots
    (and no request to the internet).

    Args:
        settings: the user-settings folder.

    Returns:
        The folders and the file written, innermost last.
    """
    notification = settings / "@jupyterlab" / "apputils-extension"
    notification.mkdir(parents=True)
    file = notification / "notification.jupyterlab-settings"
    file.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    return [settings, settings / "@jupyterlab", notification, file]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_serving(proc: subprocess.Popen, status_url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"JupyterLab exited with {proc.returncode}; see {log}", pytrace=False)
        try:
            with urllib.request.urlopen(status_url, timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.25)  # polling the server's status, not waiting on the page
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s; see {log}")


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server: terminate, wait, then kill.

    On SIGTERM the server shuts its kernels down; a kernel whose server was killed exits on
    its own (it polls its parent process).
    """
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


@contextlib.contextmanager
def serve_lab(
    command: list[str], cwd: Path, env: dict, log: Path, launch: Callable = list
) -> Iterator[tuple[str, str]]:
    """JupyterLab on a free loopback port with a fresh token, until the block ends.

    Args:
        command: ``python -m jupyterlab`` and the options of this server.
        cwd: its working folder.
        env: its environment.
        log: the file its output goes to.
        launch: turns the whole command into the one to run (e.g. as another user).

    Yields:
        ``(url, token)`` once the server answers.
    """
    port, token = _free_port(), secrets.token_hex(16)
    cmd = [*command, "--no-browser", "--ip=127.0.0.1", f"--port={port}"]
    cmd += ["--ServerApp.port_retries=0", f"--ServerApp.token={token}"]
    with log.open("w") as log_file:
        proc = subprocess.Popen(
            launch(cmd),
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(proc, f"{url}/api/status?token={token}", log)
        yield url, token
    finally:
        _stop(proc)


@contextlib.contextmanager
def chromium(profile: Path, height: int = 1000) -> Iterator:
    """Headless Debian chromium with a fresh profile, driven by Playwright: its context."""
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": height},
        )
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def shoot(page, artifacts: Path, name: str, capsys) -> Path:
    """Save a screenshot of ``page`` as ``<artifacts>/<name>.png`` and print where it is."""
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path))
    with capsys.disabled():
        print(f"\n[browser screenshot] {path}")
    return path
