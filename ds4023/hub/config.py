"""The hub's configuration files, generated from a :class:`~ds4023.hub.plan.Plan`.

Three files, all under the state folder: ``jupyterhub_config.py`` (the hub: authenticator,
spawner, nbgrader's groups, the roles and scopes nbgrader's JupyterHub support needs on
JupyterHub 2 and later, the formgrader and idle-culler services), ``etc/jupyter/nbgrader_config.py``
(every user's nbgrader: the exchange, the course, ``JupyterHubAuthPlugin``) and JupyterLab's
``page_config.json`` that hides the instructor's nbgrader panels from students.
"""

from __future__ import annotations

import json
from pathlib import Path

from ds4023 import settings
from ds4023.hub.plan import COURSE_ID, Plan

FORMGRADE_GROUP = f"formgrade-{COURSE_ID}"
STUDENT_GROUP = f"nbgrader-{COURSE_ID}"
CULLER = "idle-culler"
#: The scopes of each user server's $JUPYTERHUB_API_TOKEN. JupyterHub's default ("server" role)
#: cannot read the user's own groups, and nbgrader's JupyterHubAuthPlugin asks for exactly that:
#: without it students see no course (nbgrader issues #1533, #1936). Instructors also need to
#: list services (nbgrader's course list finds the formgrader with GET /services). A server gets
#: only those of these its user holds.
SERVER_TOKEN_SCOPES = [
    "users:activity!user",
    "access:servers!server",
    "read:users:name!user",
    "read:users:groups!user",
    "list:services",
    f"read:services!service={COURSE_ID}",
]
#: nbgrader's lab plugins a student has no use for (nbgrader's table: students get the
#: Assignment List and Validate only).
INSTRUCTOR_PLUGINS = [
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
]


def roles(plan: Plan) -> list[dict]:
    """JupyterHub roles: who may open the formgrader, what the formgrader and culler may do."""
    return [
        {
            "name": FORMGRADE_GROUP,
            "description": "the course's graders: open the formgrader, find it in Course List",
            "groups": [FORMGRADE_GROUP],
            "scopes": [
                f"access:services!service={COURSE_ID}",
                "list:services",
                f"read:services!service={COURSE_ID}",
            ],
        },
        {
            "name": f"{COURSE_ID}-formgrader",
            "description": "the formgrader adds and removes students of the course's group",
            "services": [COURSE_ID],
            "scopes": [
                "list:groups",
                "read:groups",
                f"groups!group={STUDENT_GROUP}",
                "read:users:groups",
            ],
        },
        {
            "name": CULLER,
            "description": "the idle culler stops servers nobody used for a while",
            "services": [CULLER],
            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"],
        },
    ]


def jupyter_config_path(plan: Plan, user: str) -> str:
    """$JUPYTER_CONFIG_PATH of a user's server: the role's lab settings, then the course's."""
    role = "instructor" if user == plan.instructor else "student"
    etc = plan.root / "etc"
    return f"{etc / role}:{etc / 'jupyter'}"


def services(plan: Plan) -> list[dict]:
    """The formgrader (named after the course, run as the instructor in the course directory)
    and the idle culler, both started and stopped by the hub."""
    formgrader = {
        "name": COURSE_ID,
        "url": f"http://127.0.0.1:{plan.formgrader_port}",
        "command": [plan.python, "-m", "jupyterhub.singleuser", "--ServerApp.root_dir=."],
        "cwd": str(plan.course),
        "oauth_no_confirm": True,
        "environment": {
            # nbgrader's JupyterHubAuthPlugin needs a user name even in a service.
            "JUPYTERHUB_USER": plan.instructor,
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
            "JUPYTER_CONFIG_PATH": jupyter_config_path(plan, plan.instructor),
            "DS4023_EXCHANGE": str(plan.exchange),
            "HOME": str(plan.home(plan.instructor)),
            "PATH": f"{Path(plan.python).parent}:/usr/bin:/bin",
        },
    }
    culler = {
        "name": CULLER,
        "command": [plan.python, "-m", "jupyterhub_idle_culler", f"--timeout={plan.cull_timeout}"],
    }
    if plan.mode == "users":
        formgrader["user"] = plan.instructor
        culler["user"] = "nobody"
        culler["cwd"] = "/"
    return [formgrader, culler]


def hub_config(plan: Plan) -> str:
    """The text of ``jupyterhub_config.py``: plain assignments of the values of ``plan``."""
    spawner = (
        "jupyterhub.spawner.LocalProcessSpawner"
        if plan.mode == "users"
        else "jupyterhub.spawner.SimpleLocalProcessSpawner"
    )
    settings = {
        "JupyterHub.bind_url": plan.url,
        "JupyterHub.hub_ip": "127.0.0.1",
        "JupyterHub.hub_port": plan.hub_port,
        "JupyterHub.db_url": f"sqlite:///{plan.path('jupyterhub.sqlite')}",
        "JupyterHub.cookie_secret_file": str(plan.path("jupyterhub_cookie_secret")),
        "JupyterHub.pid_file": str(plan.path("jupyterhub.pid")),
        "JupyterHub.cleanup_servers": True,
        "JupyterHub.authenticator_class": "shared-password",
        "SharedPasswordAuthenticator.user_password": plan.password,
        "Authenticator.allowed_users": set(plan.logins),
        "JupyterHub.load_groups": {
            FORMGRADE_GROUP: {"users": [plan.instructor]},
            STUDENT_GROUP: {"users": list(plan.students)},
        },
        "JupyterHub.load_roles": roles(plan),
        "JupyterHub.services": services(plan),
        "ConfigurableHTTPProxy.should_start": False,
        "ConfigurableHTTPProxy.api_url": f"http://127.0.0.1:{plan.proxy_api_port}",
        "JupyterHub.spawner_class": spawner,
        "Spawner.cmd": [plan.python, "-m", "jupyterhub.singleuser"],
        "Spawner.default_url": "/lab",
        "Spawner.server_token_scopes": SERVER_TOKEN_SCOPES,
        "Spawner.start_timeout": 180,
        "Spawner.http_timeout": 180,
        "Spawner.environment": {"PATH": f"{Path(plan.python).parent}:/usr/bin:/bin"},
    }
    if plan.mode == "single":
        settings["SimpleLocalProcessSpawner.home_dir_template"] = str(
            plan.root / "homes/{username}"
        )
    lines = [
        '"""JupyterHub configuration generated by ds4023.hub.config from plan.json: not edited."""',
        "",
        "from ds4023.hub.hooks import PreSpawn",
        "",
        "c = get_config()  # noqa: F821",
        "",
    ]
    for key, value in settings.items():
        lines.append(f"c.{key} = {value!r}")
    lines.append(f"c.Spawner.pre_spawn_hook = PreSpawn({str(plan.state)!r})")
    return "\n".join(lines) + "\n"


def nbgrader_config(plan: Plan) -> str:
    """Every user's nbgrader (students' servers and the formgrader): exchange, course, auth."""
    return "\n".join(
        [
            '"""nbgrader for every user of this hub, generated by ds4023.hub.config."""',
            "",
            "c = get_config()  # noqa: F821",
            f"c.CourseDirectory.course_id = {COURSE_ID!r}",
            f"c.Exchange.root = {str(plan.exchange)!r}",
            # nbgrader's JupyterHub set-up: assignments below <home>/<course>/, courses from groups
            "c.Exchange.path_includes_course = True",
            "c.Authenticator.plugin_class = 'nbgrader.auth.JupyterHubAuthPlugin'",
            # Validate runs the whole notebook: the course's cell limit, not nbgrader's 30 s
            f"c.Execute.timeout = {settings.read('DS4023_CELL_TIMEOUT')!r}",
            "",
        ]
    )


def page_config(role: str) -> str:
    """JupyterLab's ``labconfig/page_config.json`` of a role: students lose the graders' panels."""
    disabled = {name: True for name in INSTRUCTOR_PLUGINS} if role == "student" else {}
    return json.dumps({"disabledExtensions": disabled}, indent=1) + "\n"


def write_all(plan: Plan) -> list[Path]:
    """Write the three kinds of files (readable by every user, never writable by them)."""
    files = {
        plan.path("jupyterhub_config.py"): hub_config(plan),
        plan.root / "etc" / "jupyter" / "nbgrader_config.py": nbgrader_config(plan),
        plan.root / "etc" / "student" / "labconfig" / "page_config.json": page_config("student"),
        plan.root / "etc" / "instructor" / "labconfig" / "page_config.json": page_config("x"),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        for folder in [path.parent, *path.parent.parents]:
            if folder == plan.root:
                break
            folder.chmod(0o755)
        path.write_text(text)
        path.chmod(0o600 if path.name == "jupyterhub_config.py" else 0o644)
    return list(files)
