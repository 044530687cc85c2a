"""Grade the course on a dask-gateway cluster (docs/scaling.md): run in the formgrader pod, in
the course directory, as `python grade_with_gateway.py`.

dask-gateway's client is not in requirements.txt: pin it (dask-gateway 2026.3.0 is the newest
release) before using this. Then `ds4023 feedback` and `ds4023 report` as usual.
"""

from functools import partial

from dask_gateway import Gateway

from ds4023.grading.runners.dask import run_dask
from ds4023.pipeline import grade_course
from ds4023.sandbox.kernelspec import GRADING_HOOK

WORKERS = 16

gateway = Gateway()  # address and JupyterHub auth from the pod's dask-gateway config
with gateway.new_cluster() as cluster:
    cluster.scale(WORKERS)
    with cluster.get_client() as client:
        client.wait_for_workers(1, timeout=1800)
        # the sandbox on every worker, as `ds4023 grade` does by default
        runner = partial(run_dask, client=client)
        grade_course(".", setup_hook=GRADING_HOOK, runner=runner)
