"""The course on a JupyterHub: ``make hub``, ``ds4023 hub start|stop|exec`` (README)."""
