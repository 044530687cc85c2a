"""docs/scaling.md's hubs beyond one machine are configuration, not prose.

Every YAML file of docs/scaling/ parses; the Python ones compile and run against a stand-in
traitlets config; what they set (groups, roles, scopes, the formgrader service, nbgrader's
settings, the lab settings per role) equals what ds4023/hub/config.py generates for `make hub`;
the Kubernetes files agree with each other (names, ports, paths, images); every file and
`DS4023_*` setting the doc names exists; every pinned version named equals requirements.txt.
No network, no cluster: nothing here is deployed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from traitlets.config import Config, LazyConfigValue

from ds4023 import settings
from ds4023.hub import config as hub_config
from ds4023.hub.plan import COURSE_ID, Plan
from tests.helpers import COURSE_ROOT

DOC = COURSE_ROOT / "docs" / "scaling.md"
FILES = COURSE_ROOT / "docs" / "scaling"
TLJH_SNIPPET = FILES / "tljh" / "jupyterhub_config.d" / "ds4023.py"
Z2JH = FILES / "z2jh"
JUPYTER = FILES / "jupyter"
#: Where the docs put the exchange on every server (TLJH and Kubernetes alike).
EXCHANGE = "/srv/nbgrader/exchange"
#: The documents this test reads: the doc, and every file of docs/scaling/.
TEXTS = [DOC, *sorted(p for p in FILES.rglob("*") if p.is_file())]


def plan() -> Plan:
    """A `make hub` plan to generate the reference configuration from (no ports opened)."""
    return Plan(
        state="/nonexistent/state",
        port=8000,
        students=["student1", "student2", "student3"],
        instructor="instructor",
        password="x" * 12,
        mode="users",
        python="/nonexistent/venv/bin/python",
        proxy_bin="/nonexistent/proxy",
        hub_port=8081,
        proxy_api_port=8001,
        formgrader_port=8002,
    )


def value(entry):
    """A config value as the application would see it (appends and extends applied)."""
    return entry.get_value([]) if isinstance(entry, LazyConfigValue) else entry


def run_config(path: Path, c: Config | None = None) -> Config:
    """Run a jupyterhub/nbgrader config file against ``c`` as traitlets would."""
    c = Config() if c is None else c
    code = compile(path.read_text(), str(path), "exec")
    exec(code, {"get_config": lambda: c, "__file__": str(path), "__name__": "config"})  # noqa: S102
    return c


def run_text(text: str, c: Config) -> Config:
    exec(compile(text, "<config>", "exec"), {"get_config": lambda: c, "c": c})  # noqa: S102
    return c


def yaml_docs(path: Path) -> list:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def k8s(name: str, kind: str) -> dict:
    """The one object of ``kind`` in docs/scaling/z2jh/``name``."""
    found = [d for d in yaml_docs(Z2JH / name) if d.get("kind") == kind]
    assert len(found) == 1, f"{name}: {len(found)} objects of kind {kind}"
    return found[0]


def without_names(roles: list[dict]) -> dict[str, dict]:
    """JupyterHub's list of roles as the chart's dictionary of them (name as the key)."""
    return {r["name"]: {k: v for k, v in r.items() if k != "name"} for r in roles}


def course_roles() -> list[dict]:
    """The roles of `make hub` that a hub elsewhere must have (its own culler has its own)."""
    return [r for r in hub_config.roles(plan()) if r["name"] != hub_config.CULLER]


def role_differences(found: list[dict], wanted: list[dict]) -> list[str]:
    """What differs between two lists of roles, one line per difference (empty: equal)."""
    have, want = without_names(found), without_names(wanted)
    lines = [f"role {name} missing" for name in sorted(set(want) - set(have))]
    lines += [f"role {name} extra" for name in sorted(set(have) - set(want))]
    for name in sorted(set(have) & set(want)):
        for key in sorted(set(have[name]) | set(want[name])):
            a, b = have[name].get(key), want[name].get(key)
            if (sorted(a) if isinstance(a, list) else a) != (
                sorted(b) if isinstance(b, list) else b
            ):
                lines.append(f"role {name}: {key} is {a!r}, ds4023/hub/config.py has {b!r}")
    return lines


def reference_formgrader() -> dict:
    return hub_config.services(plan())[0]


def fake_spawner(name: str, groups: list[str], uid: int = 7) -> SimpleNamespace:
    user = SimpleNamespace(name=name, id=uid, groups=[SimpleNamespace(name=g) for g in groups])
    return SimpleNamespace(user=user, environment={"KEEP": "1"})


# ---------------------------------------------------------------- the doc and its files


def test_every_yaml_file_parses_and_every_kubernetes_object_is_named():
    """Does every YAML file parse, and does each Kubernetes object have kind and name?"""
    files = sorted(FILES.rglob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        for doc in yaml_docs(path):
            assert isinstance(doc, dict), path
            if "apiVersion" in doc:
                assert doc.get("kind") and doc["metadata"].get("name"), path


def test_every_python_file_and_block_compiles():
    """Do the Python config files and the doc's ```python blocks compile?"""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    for i, block in enumerate(blocks):
        compile(block, f"{DOC}:block{i}", "exec")
    for path in sorted(FILES.rglob("*.py")):
        compile(path.read_text(), str(path), "exec")


def test_every_file_the_doc_names_exists():
    """Is every repository path named in docs/scaling.md (and every file of docs/scaling/
    named in the others) a file of the repository?"""
    named = set()
    pattern = r"`((?:docs|ds4023|tests|benchmarks)/[\w./-]+)`"
    for path in TEXTS:
        if path.suffix in {".md", ".py", ".yaml", ""} or path.name == "Dockerfile":
            named |= set(re.findall(pattern, path.read_text()))
    missing = sorted(p for p in named if not (COURSE_ROOT / p.rstrip("/.")).exists())
    assert named and missing == []


def test_the_doc_names_every_file_of_docs_scaling():
    """Is no file of docs/scaling/ left unmentioned by docs/scaling.md (by path or name)?"""
    text = DOC.read_text()
    unnamed = [
        p.relative_to(COURSE_ROOT).as_posix()
        for p in FILES.rglob("*")
        if p.is_file() and p.relative_to(COURSE_ROOT).as_posix() not in text and p.name not in text
    ]
    assert unnamed == []


def test_every_ds4023_variable_named_is_a_setting():
    """Is every DS4023_* name in the doc and its files a setting of ds4023/settings.py?"""
    named = set()
    for path in TEXTS:
        named |= set(re.findall(r"\bDS4023_[A-Z0-9_]+", path.read_text()))
    assert named, "no DS4023_* setting named at all"
    assert sorted(named - set(settings.BY_NAME)) == []


def test_pinned_versions_are_the_requirements():
    """Does every `name==version` and every "name X.Y.Z" of a pinned package match
    requirements.txt (the images install requirements.lock)?"""
    pins = {}
    for line in (COURSE_ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    wrong = []
    for path in TEXTS:
        text = path.read_text()
        for name, version in re.findall(r"([A-Za-z][\w.-]*)==(\d[\w.]*)", text):
            key = name.lower().replace("_", "-")
            if key in pins and pins[key] != version:
                wrong.append(f"{path.name}: {name}=={version}, pinned {pins[key]}")
    section = DOC.read_text().split("**Versions.**", 1)[1].split("###", 1)[0]
    for name in ("nbgrader", "jupyterhub", "distributed"):
        assert re.search(rf"{name}\W[^.]*?{re.escape(pins[name])}", section), name
    assert "requirements.lock" in (Z2JH / "Dockerfile").read_text()
    assert wrong == []


def test_no_path_of_this_machine():
    """Do the doc, its files, the README and this test name no folder of this machine (the
    checkout, the folder it sits in, the home folder)?"""
    markers = {str(COURSE_ROOT), f"{COURSE_ROOT.parent}/", f"{Path.home()}/"} - {"//"}
    for path in [*TEXTS, COURSE_ROOT / "README.md", Path(__file__)]:
        text = path.read_text()
        assert [m for m in markers if m in text] == [], path


def test_the_readme_points_at_the_doc():
    """Does the README's hub section send readers beyond one machine to docs/scaling.md?"""
    readme = (COURSE_ROOT / "README.md").read_text()
    hub_section = readme.split("## On a JupyterHub", 1)[1].split("\n## ", 1)[0]
    assert "docs/scaling.md" in hub_section


# ---------------------------------------------------------------- every user's nbgrader and lab


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_lab_settings_per_role_are_make_hubs(role):
    """Are the page configs the ones make hub writes (students lose the graders' panels)?"""
    path = JUPYTER / role / "labconfig" / "page_config.json"
    assert json.loads(path.read_text()) == json.loads(hub_config.page_config(role))


def nbgrader_differences(found: Config) -> list[str]:
    """How an nbgrader config differs from make hub's, the exchange root aside."""
    want = run_text(hub_config.nbgrader_config(plan()), Config())
    lines = []
    for section in sorted(set(want) | set(found)):
        for key in sorted(set(want.get(section, {})) | set(found.get(section, {}))):
            a, b = found.get(section, {}).get(key), want.get(section, {}).get(key)
            if (section, key) != ("Exchange", "root") and a != b:
                lines.append(f"{section}.{key} is {a!r}, make hub has {b!r}")
    return lines


def test_every_users_nbgrader_config_is_make_hubs():
    """Is /etc/jupyter/nbgrader_config.py make hub's, with the shared exchange's root?"""
    found = run_config(JUPYTER / "nbgrader_config.py")
    assert nbgrader_differences(found) == []
    assert found.Exchange.root == EXCHANGE


def test_the_ngshare_nbgrader_config_differs_only_by_its_exchange(monkeypatch):
    """Does the ngshare variant keep every other nbgrader setting (ngshare stubbed)?"""
    import sys

    stub = SimpleNamespace(configureExchange=lambda c, url: c.ExchangeFactory.update(url=url))
    monkeypatch.setitem(sys.modules, "ngshare_exchange", stub)
    found = run_config(Z2JH / "ngshare" / "nbgrader_config.py")
    url = "http://ngshare:8080/services/ngshare"
    assert nbgrader_differences(found) == [f"ExchangeFactory.url is {url!r}, make hub has None"]


# ---------------------------------------------------------------- The Littlest JupyterHub


def tljh_config() -> Config:
    """The snippet run after TLJH's own settings (its culler service already listed)."""
    c = Config()
    c.JupyterHub.services = [{"name": "cull-idle", "admin": True, "command": ["cull"]}]
    return run_config(TLJH_SNIPPET, c)


def test_tljh_keeps_its_culler_and_adds_the_formgrader():
    """Does the snippet append to TLJH's services instead of replacing its culler?"""
    names = [s["name"] for s in value(tljh_config().JupyterHub.services)]
    assert names == ["cull-idle", COURSE_ID]


def test_tljh_groups_roles_and_scopes_are_make_hubs():
    """Are TLJH's groups, roles and server-token scopes those of ds4023/hub/config.py?"""
    c = tljh_config()
    groups = value(c.JupyterHub.load_groups)
    assert set(groups) == {hub_config.FORMGRADE_GROUP, hub_config.STUDENT_GROUP}
    assert groups[hub_config.FORMGRADE_GROUP]["users"] == [plan().instructor]
    assert role_differences(value(c.JupyterHub.load_roles), course_roles()) == []
    assert c.Spawner.server_token_scopes == hub_config.SERVER_TOKEN_SCOPES
    assert c.Spawner.default_url == "/lab"
    assert c.Spawner.cmd[1:] == ["-m", "jupyterhub.singleuser"]


def test_tljh_formgrader_is_make_hubs_service():
    """Is the formgrader service make hub's: name, command, settings, run as the instructor?"""
    service = value(tljh_config().JupyterHub.services)[-1]
    want = reference_formgrader()
    assert service["command"][1:] == want["command"][1:]
    assert service["oauth_no_confirm"] is want["oauth_no_confirm"]
    assert service["user"] == f"jupyter-{want['environment']['JUPYTERHUB_USER']}"
    assert service["cwd"].endswith(f"/{COURSE_ID}")
    env, reference = service["environment"], want["environment"]
    assert set(reference) <= set(env)
    extra = set(env) - set(reference)
    assert extra <= set(settings.BY_NAME), extra
    for key in ("JUPYTERHUB_USER", "JUPYTERHUB_DEFAULT_URL"):
        assert env[key] == reference[key]
    assert env["DS4023_EXCHANGE"] == EXCHANGE
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/ds4023/instructor"
    assert env["PATH"].split(":")[0] == str(Path(service["command"][0]).parent)


@pytest.mark.parametrize("config_of", ["tljh", "z2jh"])
def test_pre_spawn_hook_gives_each_role_its_lab_settings(config_of):
    """Does each hub's hook point graders and students at their own lab settings?"""
    c = tljh_config() if config_of == "tljh" else z2jh_extra_config()
    hook = c.Spawner.pre_spawn_hook if config_of == "tljh" else c.KubeSpawner.pre_spawn_hook
    for name, groups, role in [
        ("instructor", [hub_config.FORMGRADE_GROUP], "instructor"),
        ("student1", [hub_config.STUDENT_GROUP], "student"),
        ("nobody", [], "student"),
    ]:
        spawner = fake_spawner(name, groups)
        hook(spawner)
        assert spawner.environment == {"KEEP": "1", "JUPYTER_CONFIG_PATH": f"/etc/ds4023/{role}"}
        assert (JUPYTER / role / "labconfig" / "page_config.json").is_file()


# ---------------------------------------------------------------- Zero to JupyterHub


def values() -> dict:
    return yaml_docs(Z2JH / "config.yaml")[0]


def z2jh_extra_config() -> Config:
    c = Config()
    for text in values()["hub"]["extraConfig"].values():
        run_text(text, c)
    return c


def test_z2jh_groups_roles_and_scopes_are_make_hubs():
    """Are the chart's groups, roles, allowed logins and scopes those of ds4023/hub/config.py?"""
    hub = values()["hub"]
    groups = hub["config"]["JupyterHub"]["load_groups"]
    assert set(groups) == {hub_config.FORMGRADE_GROUP, hub_config.STUDENT_GROUP}
    assert groups[hub_config.FORMGRADE_GROUP]["users"] == [plan().instructor]
    logins = {u for g in groups.values() for u in g["users"]}
    assert set(hub["config"]["Authenticator"]["allowed_users"]) == logins
    roles = [{"name": k, **v} for k, v in hub["loadRoles"].items()]
    assert role_differences(roles, course_roles()) == []
    assert hub["config"]["Spawner"]["server_token_scopes"] == hub_config.SERVER_TOKEN_SCOPES
    assert values()["singleuser"]["defaultUrl"] == "/lab"
    assert values()["cull"]["timeout"] == plan().cull_timeout


def test_z2jh_gives_every_user_a_uid_of_their_own():
    """Do different users get different uids, the instructor the formgrader pod's?"""
    uid = z2jh_extra_config().KubeSpawner.uid
    pod = k8s("formgrader.yaml", "Deployment")["spec"]["template"]["spec"]
    assert uid(fake_spawner("instructor", [], uid=1)) == pod["securityContext"]["runAsUser"]
    students = {uid(fake_spawner(f"s{i}", [], uid=i)) for i in range(2, 50)}
    assert len(students) == 48 and pod["securityContext"]["runAsUser"] not in students
    assert min(students) > 60000  # far from the image's own users


def container_env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def formgrader_container() -> dict:
    pod = k8s("formgrader.yaml", "Deployment")["spec"]["template"]["spec"]
    return next(c for c in pod["containers"] if c["name"] == "formgrader")


def test_z2jh_formgrader_is_the_hubs_service():
    """Does the formgrader pod answer where hub.services.ds4023 says, as make hub's service?"""
    service = values()["hub"]["services"][COURSE_ID]
    assert service["oauth_no_confirm"] is True
    k8s_service = k8s("formgrader.yaml", "Service")
    port = k8s_service["spec"]["ports"][0]["port"]
    assert service["url"] == f"http://{k8s_service['metadata']['name']}:{port}"
    container = formgrader_container()
    assert container["ports"][0]["containerPort"] == port
    assert f"--ServerApp.port={port}" in container["command"]
    assert container["command"][:3] == ["python", "-m", "jupyterhub.singleuser"]
    env = container_env(container)
    reference = reference_formgrader()["environment"]
    assert set(reference) - {"PATH"} <= set(env)
    for key in ("JUPYTERHUB_USER", "JUPYTERHUB_DEFAULT_URL"):
        assert env[key] == reference[key]
    assert env["JUPYTERHUB_SERVICE_NAME"] == COURSE_ID
    assert env["JUPYTERHUB_SERVICE_PREFIX"] == f"/services/{COURSE_ID}/"
    token = env["JUPYTERHUB_API_TOKEN"]["secretKeyRef"]
    assert token == {"name": "hub", "key": f"hub.services.{COURSE_ID}.apiToken"}
    assert env["DS4023_DB_URL"]["secretKeyRef"]["key"] == "DS4023_DB_URL"
    assert env["DS4023_EXCHANGE"] == EXCHANGE
    assert env["JUPYTER_CONFIG_PATH"] == "/etc/ds4023/instructor"


def mounts_by_path(container_or_values: dict) -> dict[str, dict]:
    mounts = container_or_values.get("volumeMounts") or container_or_values["extraVolumeMounts"]
    mounts = mounts.values() if isinstance(mounts, dict) else mounts
    return {m["mountPath"]: m for m in mounts}


def test_z2jh_pods_mount_the_exchange_and_the_settings_alike():
    """Do user pods and the formgrader mount the same exchange claim and ConfigMap items?"""
    storage = values()["singleuser"]["storage"]
    user_volumes = {v["name"]: v for v in storage["extraVolumes"].values()}
    pod = k8s("formgrader.yaml", "Deployment")["spec"]["template"]["spec"]
    grader_volumes = {v["name"]: v for v in pod["volumes"]}
    user_mounts, grader_mounts = mounts_by_path(storage), mounts_by_path(formgrader_container())
    for path in (EXCHANGE, "/etc/ds4023", "/etc/jupyter/nbgrader_config.py"):
        a, b = user_volumes[user_mounts[path]["name"]], grader_volumes[grader_mounts[path]["name"]]
        assert {k: v for k, v in a.items() if k != "name"} == {
            k: v for k, v in b.items() if k != "name"
        }, path
    claim = k8s("exchange-nfs.yaml", "PersistentVolumeClaim")
    assert (
        user_volumes[user_mounts[EXCHANGE]["name"]]["persistentVolumeClaim"]["claimName"]
        == (claim["metadata"]["name"])
    )
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    volume = k8s("exchange-nfs.yaml", "PersistentVolume")
    assert volume["spec"]["accessModes"] == ["ReadWriteMany"] and "nfs" in volume["spec"]


def test_z2jh_configmap_items_come_from_the_shared_files():
    """Is every ConfigMap key the pods mount made, in the doc, from a file that exists, and
    does each item land where nbgrader and JupyterLab read it?"""
    made = dict(re.findall(r"--from-file=([\w.]+)=(docs/scaling/[\w./]+)", DOC.read_text()))
    items = values()["singleuser"]["storage"]["extraVolumes"]["ds4023-jupyter"]["configMap"]
    for item in items["items"]:
        assert (COURSE_ROOT / made[item["key"]]).is_file(), item
        assert made[item["key"]].endswith(item["path"]), item


def test_one_grader_image_everywhere_and_students_get_the_singleuser_one():
    """Do the formgrader, the Dask scheduler and the workers run one image (the workers'
    version check), and the Dockerfile build both images the configs name?"""
    grader = {formgrader_container()["image"]}
    cluster = k8s("dask-cluster.yaml", "DaskCluster")["spec"]
    for part in ("scheduler", "worker"):
        grader |= {c["image"] for c in cluster[part]["spec"]["containers"]}
    gateway = yaml_docs(Z2JH / "dask-gateway.yaml")[0]["gateway"]["backend"]["image"]
    grader.add(f"{gateway['name']}:{gateway['tag']}")
    assert len(grader) == 1, grader
    singleuser = values()["singleuser"]["image"]
    dockerfile = (Z2JH / "Dockerfile").read_text()
    for target, image in [("grader", grader.pop()), ("singleuser", singleuser["name"])]:
        assert re.search(rf"--target {target} -t {re.escape(image)}", dockerfile), target
        assert re.search(rf"^FROM .* AS {target}$", dockerfile, flags=re.M), target


def test_the_scheduler_address_names_the_dask_cluster():
    """Is DS4023_DASK_SCHEDULER the operator's Service for the DaskCluster, on its port?"""
    cluster = k8s("dask-cluster.yaml", "DaskCluster")
    name, namespace = cluster["metadata"]["name"], cluster["metadata"]["namespace"]
    port = cluster["spec"]["scheduler"]["service"]["ports"][0]["port"]
    address = container_env(formgrader_container())["DS4023_DASK_SCHEDULER"]
    assert address == f"tcp://{name}.{namespace}.svc.cluster.local:{port}"
    assert address in DOC.read_text()


def test_workers_can_run_the_sandbox_and_grade_one_at_a_time():
    """One thread per worker, and what bubblewrap needs as root in a container, in a namespace
    whose Pod Security level allows it (and only there)?"""
    docs = yaml_docs(Z2JH / "dask-cluster.yaml")
    cluster = k8s("dask-cluster.yaml", "DaskCluster")
    worker = cluster["spec"]["worker"]["spec"]["containers"][0]
    args = worker["args"]
    assert args[:2] == ["dask", "worker"] and args[args.index("--nthreads") + 1] == "1"
    security = worker["securityContext"]
    assert security["runAsUser"] == 0 and "SYS_ADMIN" in security["capabilities"]["add"]
    assert security["seccompProfile"]["type"] == "Unconfined"
    assert security["appArmorProfile"]["type"] == "Unconfined"
    namespace = next(d for d in docs if d["kind"] == "Namespace")
    assert namespace["metadata"]["name"] == cluster["metadata"]["namespace"] != "jhub"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    scheduler = cluster["spec"]["scheduler"]["spec"]["containers"][0]
    assert scheduler["args"][:2] == ["dask", "scheduler"]
    policy = next(d for d in docs if d["kind"] == "NetworkPolicy")["spec"]["ingress"][0]["from"]
    labels = k8s("formgrader.yaml", "Deployment")["spec"]["template"]["metadata"]["labels"]
    allowed = next(p for p in policy if "namespaceSelector" in p)["podSelector"]["matchLabels"]
    assert allowed.items() <= labels.items()


def test_the_ngshare_overlay_removes_the_exchange_volume_and_reaches_ngshare():
    """Does the ngshare overlay drop exactly the NFS exchange and register ngshare?"""
    overlay = yaml_docs(Z2JH / "ngshare" / "config.yaml")[0]
    assert overlay["singleuser"]["storage"]["extraVolumes"] == {"ds4023-exchange": None}
    dropped = overlay["singleuser"]["storage"]["extraVolumeMounts"]
    assert set(dropped) == {
        k
        for k, m in values()["singleuser"]["storage"]["extraVolumeMounts"].items()
        if m["mountPath"] == EXCHANGE
    }
    assert overlay["hub"]["services"]["ngshare"]["url"].startswith("http://ngshare:")
    chart = yaml_docs(Z2JH / "ngshare" / "values.yaml")[0]["ngshare"]
    assert plan().instructor in chart["admins"]


# ---------------------------------------------------------------- the comparisons can fail


def test_the_comparisons_notice_a_broken_config():
    """Would a role with a scope too many, or a student's group missing, be reported?"""
    roles = course_roles()
    broken = json.loads(json.dumps(roles))
    broken[0]["scopes"].append("admin:users")
    assert role_differences(broken, roles) == [
        f"role {roles[0]['name']}: scopes is {broken[0]['scopes']!r}, "
        f"ds4023/hub/config.py has {roles[0]['scopes']!r}"
    ]
    assert role_differences(roles[1:], roles) == [f"role {roles[0]['name']} missing"]
    wrong = run_config(JUPYTER / "nbgrader_config.py")
    wrong.Exchange.path_includes_course = False
    assert nbgrader_differences(wrong) == [
        "Exchange.path_includes_course is False, make hub has True"
    ]
