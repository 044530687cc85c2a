"""What one hub is: its folder, ports, logins and mode, written once by ``start`` (plan.json)."""

from __future__ import annotations

import json
import os
import secrets
import socket
from dataclasses import asdict, dataclass, field
from pathlib import Path

#: The checkout this package runs from (``make hub`` keeps its state there).
CHECKOUT = Path(__file__).resolve().parents[2]
#: The course id: nbgrader's groups are ``formgrade-<id>`` and ``nbgrader-<id>``, and the
#: formgrader service must have this name (nbgrader's course list looks it up by it).
COURSE_ID = "ds4023"
#: Where ``make hub`` keeps the hub's state (gitignored); ``--state`` or DS4023_HUB_DIR overrides.
DEFAULT_STATE = CHECKOUT / ".hub" / "state"
#: Where ``make hub`` installs configurable-http-proxy (``npm ci`` of ds4023/hub/proxy/).
DEFAULT_PROXY = CHECKOUT / ".hub" / "proxy" / "node_modules" / ".bin"
#: Shortest password SharedPasswordAuthenticator accepts.
MIN_PASSWORD = 8


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Plan:
    """One hub: every name, port and path its processes and config use."""

    state: str
    port: int
    students: list[str]
    instructor: str
    password: str
    #: ``users``: real Unix users, one per login (needs root); ``single``: every server runs as
    #: the Unix user who started the hub (a demo on a workstation, no isolation between users).
    mode: str
    python: str
    proxy_bin: str
    hub_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    formgrader_port: int = field(default_factory=free_port)
    #: Unix users ``start`` created (``stop --remove-users`` deletes exactly these).
    created_users: list[str] = field(default_factory=list)
    #: Seconds without activity after which the idle culler stops a user's server.
    cull_timeout: int = 3600

    @property
    def root(self) -> Path:
        """The state folder."""
        return Path(self.state)

    @property
    def url(self) -> str:
        """The hub's public address."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def logins(self) -> list[str]:
        """Everyone who may log in, the instructor first."""
        return [self.instructor, *self.students]

    def home(self, user: str) -> Path:
        """A login's home folder (its Unix home in ``users`` mode)."""
        return self.root / "homes" / user

    @property
    def course(self) -> Path:
        """The instructor's course directory, served by the formgrader service."""
        return self.home(self.instructor) / COURSE_ID

    @property
    def exchange(self) -> Path:
        """nbgrader's exchange root."""
        return self.root / "exchange"

    def path(self, name: str) -> Path:
        """A file of the state folder: config, database, logs, pid files."""
        return self.root / name

    def save(self) -> Path:
        """Write ``plan.json`` (private: it holds the password)."""
        target = self.path("plan.json")
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=1)
        return target


def load(state: Path) -> Plan | None:
    """The plan saved in ``state``, or None when no hub was started there."""
    try:
        return Plan(**json.loads((Path(state) / "plan.json").read_text()))
    except FileNotFoundError:
        return None


def new_password() -> str:
    """A demo password: short enough to type, long enough for SharedPasswordAuthenticator."""
    return secrets.token_urlsafe(9)
