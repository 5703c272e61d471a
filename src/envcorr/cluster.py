"""Dask clusters for studies: a local cluster sized from the machine, or a running one.

By default a :class:`distributed.LocalCluster` of worker processes is started
on this machine (one per core, or one per GPU, each running one subject at a
time); ``scheduler`` connects to a running cluster instead, by address
(``"tcp://host:port"``) or scheduler file (as dask-jobqueue's ``SLURMCluster``
writes one). Dask is imported only when a cluster starts.
"""

from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Any

from ._utils.check import invalid
from ._utils.logs import logger
from .config import RunConfig

# mallopt parameters of glibc's malloc.h, and the thresholds where glibc's own
# adaptation of the mmap threshold ends on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX,
# with the trim threshold at twice the mmap threshold, as glibc sets it).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 2 * _MMAP_THRESHOLD

LOCAL_CLUSTER_CONFIG: dict[str, Any] = {
    # The statistical profiler samples every worker thread's stack every 10 ms
    # for the dashboard's profile page; the local cluster starts no dashboard.
    "distributed.worker.profile.enabled": False,
    # Event-loop responsiveness checks (default every 20 ms in the scheduler,
    # each nanny and each worker) and resource sampling (default 500 ms), for
    # warnings and dashboard plots: a subject's task takes minutes.
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}
"""Dask settings of the local cluster a study starts (:class:`StudyCluster`).

Without them its idle processes used about 0.07 CPU-seconds a second with two
workers (scheduler, nannies, workers), about 4 % of a study's total CPU time on
two cores; with them, about 0.03. A cluster given by ``scheduler`` keeps its
own settings.
"""


def relax_malloc_trim() -> bool:
    """Undo, in this process, the eager memory trimming Dask gives its workers.

    Dask's nannies start worker processes with ``MALLOC_TRIM_THRESHOLD_=65536``
    (``distributed.nanny.pre-spawn-environ``), so that freed memory goes back
    to the system at once. Setting that variable also stops glibc from raising
    its mmap threshold: every allocation of 128 KiB or more, as most of torch's
    CPU tensors are, then gets fresh pages from the kernel, faulted in and
    zeroed again at every training step, which made Deep4Net's training on a
    worker about 20 % slower than in a plain process. When the variable is set
    to less, the thresholds are set where glibc's own adaptation would take
    them (mmap 32 MiB, trim 64 MiB). Linux with glibc only.

    Returns
    -------
    changed : bool
        Whether the thresholds were changed.
    """
    value = os.environ.get("MALLOC_TRIM_THRESHOLD_")
    if value is None or not sys.platform.startswith("linux"):
        return False
    try:
        if int(value) >= _TRIM_THRESHOLD:
            return False
        mallopt = ctypes.CDLL(None).mallopt
    except (ValueError, OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    changed = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
        mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
    )
    if changed:
        logger.debug("malloc thresholds raised from MALLOC_TRIM_THRESHOLD_=%s", value)
    return changed


def count_gpus(config: RunConfig) -> int:
    if config.device is not None and not config.device.startswith("cuda"):
        return 0
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def cluster_shape(
    n_tasks: int,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    *,
    n_gpus: int = 0,
    cores: int | None = None,
) -> tuple[int, int]:
    """Workers and threads per worker of the local cluster.

    Without choices, one single-thread worker per core, but no more workers
    than subjects to run, the cores shared out among them; with GPUs, one
    worker (one subject at a time) per GPU.
    """
    cores = max(1, cores or os.cpu_count() or 1)
    if workers is None:
        if n_gpus:
            workers = n_gpus
        elif threads_per_worker is not None:
            workers = max(1, cores // threads_per_worker)
        else:
            workers = cores
        workers = max(1, min(workers, n_tasks))
    if threads_per_worker is None:
        threads_per_worker = max(1, cores // workers)
    return workers, threads_per_worker


def check_scheduler(scheduler: Any) -> Path | None:
    """Check ``scheduler``: None, a Client, an address, or an existing file.

    Returns the scheduler file's path, or None for the other kinds.
    """
    if scheduler is None or not isinstance(scheduler, str | os.PathLike):
        if scheduler is not None and not hasattr(scheduler, "submit"):
            raise invalid(
                "scheduler",
                f"expected an address, a scheduler file or a Client, got "
                f"{scheduler!r}.",
            )
        return None
    address = str(scheduler)
    if "://" in address:
        return None
    path = Path(address).expanduser()
    if not path.is_file():
        raise invalid(
            "scheduler",
            f"{address!r} is neither an address such as 'tcp://host:8786' nor a "
            "scheduler file (not found).",
            "Give the scheduler's address or the JSON file written by "
            "`dask scheduler --scheduler-file FILE`.",
        )
    return path


class StudyCluster:
    """A Client on a running cluster, or a LocalCluster started (and closed) here."""

    def __init__(
        self,
        scheduler: Any,
        n_tasks: int,
        workers: int | None,
        threads_per_worker: int | None,
        n_gpus: int,
    ) -> None:
        from distributed import Client

        self._own: list[Any] = []
        self.whole_worker = True
        if scheduler is None:
            import dask
            from distributed import LocalCluster

            n, t = cluster_shape(n_tasks, workers, threads_per_worker, n_gpus=n_gpus)
            logger.info("Starting %d Dask worker(s) of %d thread(s) each", n, t)
            # the scheduler, nannies and workers read these as they start (the
            # nannies pass the configuration on to the worker processes)
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                cluster = LocalCluster(
                    n_workers=n,
                    threads_per_worker=t,
                    processes=True,
                    resources={"subject": 1},  # one subject at a time per worker
                    dashboard_address=None,
                )
                self._own.append(cluster)
                self.client = Client(cluster)
            self._own.insert(0, self.client)
        elif isinstance(scheduler, Client):
            self.client = scheduler
        else:
            address = str(scheduler)
            if "://" in address:
                self.client = Client(address)
            else:
                path = check_scheduler(scheduler)
                self.client = Client(scheduler_file=str(path))
            self._own.append(self.client)
        if scheduler is None:
            return  # our LocalCluster: one subject per worker (resources)
        infos = self.client.scheduler_info().get("workers", {}).values()
        self.whole_worker = bool(infos) and all(
            "subject" in (w.get("resources") or {}) for w in infos
        )

    @property
    def resources(self) -> dict[str, int] | None:
        return {"subject": 1} if self.whole_worker else None

    def close(self) -> None:
        for thing in self._own:
            try:
                thing.close()
            except Exception:
                logger.debug("Could not close %r", thing, exc_info=True)
