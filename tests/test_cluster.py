"""Tests of envcorr.cluster: sizing a local cluster, naming a running one."""

import json
import os
import subprocess
import sys

import pytest

from envcorr import InvalidInputError
from envcorr.cluster import (
    LOCAL_CLUSTER_CONFIG,
    StudyCluster,
    check_scheduler,
    cluster_shape,
    count_gpus,
)
from envcorr.config import RunConfig


def test_cluster_shape():
    assert cluster_shape(9, cores=16) == (9, 1)
    assert cluster_shape(20, cores=16) == (16, 1)
    assert cluster_shape(20, threads_per_worker=4, cores=16) == (4, 4)
    assert cluster_shape(20, workers=2, cores=16) == (2, 8)
    assert cluster_shape(9, n_gpus=2, cores=16) == (2, 8)
    assert cluster_shape(1, cores=1) == (1, 1)


def test_scheduler_is_an_address_a_file_or_a_client(tmp_path):
    assert check_scheduler(None) is None
    assert check_scheduler("tcp://127.0.0.1:8786") is None
    file = tmp_path / "scheduler.json"
    file.write_text("{}")
    assert check_scheduler(str(file)) == file

    class Client:
        def submit(self):
            pass

    assert check_scheduler(Client()) is None
    with pytest.raises(InvalidInputError, match=r"'scheduler'.*neither an address"):
        check_scheduler(str(tmp_path / "missing.json"))
    with pytest.raises(InvalidInputError, match=r"'scheduler'.*expected an address"):
        check_scheduler(42)


def test_no_gpus_for_a_cpu_device():
    assert count_gpus(RunConfig(device="cpu")) == 0


_PAGE_FAULTS = """
import json, resource, sys
import numpy as np
from envcorr.cluster import relax_malloc_trim

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(100):
        np.ones(1 << 17)  # 1 MiB, allocated and freed
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

eager = faults()
changed = relax_malloc_trim()
print(json.dumps({"eager": eager, "changed": changed, "relaxed": faults()}))
"""


def _page_faults(env: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"} | env
    proc = subprocess.run(
        [sys.executable, "-c", _PAGE_FAULTS],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(proc.stdout.splitlines()[-1])


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt")
def test_dask_workers_memory_trimming_is_relaxed():
    # as a Dask nanny starts its workers: every 1-MiB array gets fresh pages
    dask_like = _page_faults({"MALLOC_TRIM_THRESHOLD_": "65536"})
    assert dask_like["changed"]
    assert dask_like["eager"] > 100 * 200  # 256 pages per MiB, each time
    assert dask_like["relaxed"] < 0.1 * dask_like["eager"]  # the pages are reused
    # a process started without the variable is left as it is
    plain = _page_faults({})
    assert not plain["changed"]
    assert plain["eager"] < 0.1 * dask_like["eager"]


@pytest.mark.parametrize("value", ["not a number", str(128 * 1024 * 1024)])
def test_malloc_trim_left_alone_when_not_a_small_threshold(monkeypatch, value):
    from envcorr.cluster import relax_malloc_trim

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", value)
    assert relax_malloc_trim() is False


def _worker_settings(dask_worker) -> dict:
    import dask

    return {
        "profile": dask.config.get("distributed.worker.profile.enabled"),
        "tick": dask.config.get("distributed.admin.tick.interval"),
        "monitor": dask.config.get("distributed.admin.system-monitor.interval"),
        "profile_callback": "profile" in dask_worker.periodic_callbacks,
    }


def test_local_cluster_runs_without_dashboard_sampling():
    """The study's own cluster: no profiler, slower ticks, in its workers only."""
    import dask
    import distributed  # noqa: F401  (loads Dask's distributed settings)

    before = {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG}
    cluster = StudyCluster(None, 1, 1, 1, 0)
    try:
        settings = list(cluster.client.run(_worker_settings).values())
    finally:
        cluster.close()
    assert settings == [
        {"profile": False, "tick": "1s", "monitor": "2s", "profile_callback": False}
    ]
    assert before["distributed.worker.profile.enabled"] is True  # Dask's default
    # the settings were for the cluster only, not for this process
    assert {key: dask.config.get(key) for key in LOCAL_CLUSTER_CONFIG} == before
