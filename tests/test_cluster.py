"""Tests of envcorr.cluster: sizing a local cluster, naming a running one."""

import pytest

from envcorr import InvalidInputError
from envcorr.cluster import check_scheduler, cluster_shape, count_gpus
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
