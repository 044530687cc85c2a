"""nbgrader for every user of the course's hub beyond one machine (docs/scaling.md).

The Littlest JupyterHub: copied to /etc/jupyter/nbgrader_config.py. Kubernetes: the key
nbgrader_config.py of the ds4023-jupyter ConfigMap, mounted there in every user pod and in the
formgrader. The same settings as the nbgrader_config.py that ds4023/hub/config.py writes for
`make hub` (tests/test_scaling_docs.py compares them); only the exchange's path differs.
"""

c = get_config()  # noqa: F821
c.CourseDirectory.course_id = "ds4023"
# The shared exchange: mode 0777 (`ds4023 exchange init`), the same path on every server.
c.Exchange.root = "/srv/nbgrader/exchange"
# nbgrader's JupyterHub set-up: assignments below <home>/ds4023/, courses from hub groups.
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
# Validate runs the whole notebook: the course's cell limit (DS4023_CELL_TIMEOUT), not 30 s.
c.Execute.timeout = 180
