"""nbgrader for every user with the ngshare exchange (docs/scaling.md): the ds4023-jupyter
ConfigMap's nbgrader_config.py in place of docs/scaling/jupyter/nbgrader_config.py.

Needs ngshare-exchange in the images (not pinned in requirements.txt). ngshare keeps its own
course roster: `ngshare-course-management create_course ds4023 instructor`, then
`add_students ds4023 roster.csv`; nbgrader's groups still give the course list.
"""

from ngshare_exchange import configureExchange

c = get_config()  # noqa: F821
configureExchange(c, "http://ngshare:8080/services/ngshare")
c.CourseDirectory.course_id = "ds4023"
c.Exchange.path_includes_course = True
c.Authenticator.plugin_class = "nbgrader.auth.JupyterHubAuthPlugin"
c.Execute.timeout = 180
