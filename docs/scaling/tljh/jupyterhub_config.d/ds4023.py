"""The DS4023 course on The Littlest JupyterHub (docs/scaling.md, "The Littlest JupyterHub").

Install as /opt/tljh/config/jupyterhub_config.d/ds4023.py, then `sudo tljh-config reload hub`.
TLJH loads it after its own settings (tljh-config), so these win. TLJH keeps the proxy, the
authenticator, the Unix users (`jupyter-<login>`, made on first start) and the idle culler; this
file adds what `make hub` adds (ds4023/hub/config.py): nbgrader's two groups, the roles and the
server-token scopes nbgrader's JupyterHub support needs, the formgrader service, the course's
venv for every server, and the lab settings per role. tests/test_scaling_docs.py runs it against
a stand-in config and compares it with what ds4023/hub/config.py generates.

The hub's environment (/opt/tljh/hub) has no ds4023 package: this file must not import it.
"""

COURSE_ID = "ds4023"
INSTRUCTOR = "instructor"
#: The class's JupyterHub logins (also `tljh-config add-item users.allowed NAME`). The formgrader
#: adds a student to nbgrader's group too when the instructor adds them in Manage Students.
STUDENTS = ["student1", "student2", "student3"]
FORMGRADE_GROUP = f"formgrade-{COURSE_ID}"
STUDENT_GROUP = f"nbgrader-{COURSE_ID}"
#: The course's venv: requirements.lock and this package (`make setup VENV=/opt/ds4023/venv`).
VENV = "/opt/ds4023/venv"
#: The instructor's course directory (a copy of the course, private to the instructor).
HOME = f"/home/jupyter-{INSTRUCTOR}"
COURSE = f"{HOME}/{COURSE_ID}"
#: nbgrader's exchange, mode 0777 (`ds4023 exchange init`); /etc/jupyter/nbgrader_config.py
#: names the same root for every user.
EXCHANGE = "/srv/nbgrader/exchange"
#: Lab settings per role: /etc/ds4023/<role>/labconfig/page_config.json (docs/scaling/jupyter/).
ETC = "/etc/ds4023"
PATH = f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin"
#: Where the formgrader listens (on this machine only; the proxy routes /services/ds4023/ to it).
FORMGRADER_URL = "http://127.0.0.1:15023"
#: The gradebook (docs/scaling.md, "PostgreSQL for the gradebook"); the password goes in the
#: instructor's ~/.pgpass (mode 600), never here.
DB_URL = "postgresql://ds4023@db.example.org:5432/ds4023?connect_timeout=10"

c = get_config()  # noqa: F821

c.JupyterHub.load_groups = {
    FORMGRADE_GROUP: {"users": [INSTRUCTOR]},
    STUDENT_GROUP: {"users": STUDENTS},
}

# The roles nbgrader needs on JupyterHub 2 and later (nbgrader issues #1533, #1936). TLJH's own
# culler service keeps its own rights; TLJH defines no other roles, so extend rather than set.
c.JupyterHub.load_roles.extend(
    [
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
    ]
)

# The formgrader: a hub-managed service named after the course (nbgrader's course list finds
# it by that name), run by the hub as the instructor's Unix user in the course directory.
# TLJH has already put its culler ("cull-idle") in this list: append, never replace.
c.JupyterHub.services.append(
    {
        "name": COURSE_ID,
        "url": FORMGRADER_URL,
        "command": [f"{VENV}/bin/python", "-m", "jupyterhub.singleuser", "--ServerApp.root_dir=."],
        "cwd": COURSE,
        "user": f"jupyter-{INSTRUCTOR}",
        "oauth_no_confirm": True,
        "environment": {
            # nbgrader's JupyterHubAuthPlugin needs a user name even in a service.
            "JUPYTERHUB_USER": INSTRUCTOR,
            "JUPYTERHUB_DEFAULT_URL": "/formgrader",
            "JUPYTER_CONFIG_PATH": f"{ETC}/instructor",
            "DS4023_EXCHANGE": EXCHANGE,
            "DS4023_DB_URL": DB_URL,
            "HOME": HOME,
            "PATH": PATH,
        },
    }
)

# Every user's server runs from the course's venv (JupyterLab, nbgrader's extensions, the
# kernel's numpy/scipy at the lock's versions), not from TLJH's user environment.
c.Spawner.cmd = [f"{VENV}/bin/python", "-m", "jupyterhub.singleuser"]
c.SystemdSpawner.extra_paths = [f"{VENV}/bin"]
c.Spawner.default_url = "/lab"
# What each server's $JUPYTERHUB_API_TOKEN may do: read its own user's groups (nbgrader's course
# list) and find the formgrader. A server gets only those of these its user holds.
c.Spawner.server_token_scopes = [
    "users:activity!user",
    "access:servers!server",
    "read:users:name!user",
    "read:users:groups!user",
    "list:services",
    f"read:services!service={COURSE_ID}",
]


def course_role_config(spawner):
    """Lab settings by role: graders keep nbgrader's instructor panels, students do not."""
    groups = {group.name for group in spawner.user.groups}
    role = "instructor" if FORMGRADE_GROUP in groups else "student"
    spawner.environment = {**spawner.environment, "JUPYTER_CONFIG_PATH": f"{ETC}/{role}"}


c.Spawner.pre_spawn_hook = course_role_config
