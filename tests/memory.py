"""Runs under a memory limit, and a dataset wider than that limit, for the out-of-core tests
and `benchmarks/bench_memory.py`.

The limit is a kernel memory cgroup (v1 `memory.limit_in_bytes` or v2 `memory.max`), so it
counts what the kernel counts: anonymous memory and the page cache charged to the run. Pages
of a memory-mapped file are page cache: the kernel may drop them under the limit and read them
again, which is what lets a mapped table larger than the limit be used at all. Creating a
cgroup needs root; where that cannot be had, the tests skip with the reason.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

V1 = Path("/sys/fs/cgroup/memory")
V2 = Path("/sys/fs/cgroup")
WIDE_FAMILY = "Feature_WIDE_V1"


@dataclass
class Limited:
    """A finished run under a limit: its process result and what the cgroup saw."""

    result: subprocess.CompletedProcess[str]
    limit: int
    peak: int  # bytes charged at most (anonymous + page cache), as the kernel reports
    peak_anon: int  # sampled every 50 ms from /proc: resident anonymous memory of the process


def why_no_cgroup() -> str | None:
    """None if a memory cgroup can be made here (one is made and removed), else why not."""
    if os.geteuid() != 0:
        return "a memory cgroup needs root"
    try:
        with cgroup(64 << 20):
            return None
    except OSError as exc:
        return f"no memory cgroup can be made under /sys/fs/cgroup (v1 or v2): {exc}"


def _v1() -> bool:
    return V1.is_dir() and os.access(V1, os.W_OK)


@contextmanager
def cgroup(limit: int) -> Iterator[Path]:
    """A fresh memory cgroup limited to `limit` bytes, removed afterwards."""
    if not _v1():  # v2: the memory controller must be enabled for the children of the root
        control = V2 / "cgroup.subtree_control"
        if "memory" not in control.read_text().split():
            control.write_text("+memory")
    path = (V1 if _v1() else V2) / f"ifns-test-{os.getpid()}-{time.monotonic_ns()}"
    path.mkdir()
    try:
        if _v1():
            (path / "memory.limit_in_bytes").write_text(str(limit))
        else:
            (path / "memory.max").write_text(str(limit))
            (path / "memory.swap.max").write_text("0")
        yield path
    finally:
        for _ in range(50):  # the processes may take a moment to leave
            try:
                path.rmdir()
                break
            except OSError:
                time.sleep(0.1)


def _peak(path: Path) -> int:
    for name in ("memory.max_usage_in_bytes", "memory.peak"):
        if (path / name).is_file():
            return int((path / name).read_text())
    return -1


def _anon(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_limited(args: list[str], limit: int, cwd: Path, timeout: float = 900) -> Limited:
    """`python -m <args>` in a new process under a memory cgroup of `limit` bytes."""
    with cgroup(limit) as path:
        procs = path / "cgroup.procs"

        def enter() -> None:  # in the child, before exec: the child and what it starts
            procs.write_text(str(os.getpid()))

        env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=cwd, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=enter)
        peak_anon = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak_anon[0] = max(peak_anon[0], _anon(proc.pid))
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            out, err = proc.communicate(timeout=timeout)
        finally:
            done.set()
            sampler.join()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        return Limited(result, limit, _peak(path), peak_anon[0])


def drop_page_cache(folder: Path) -> None:
    """Evict a folder's files from the page cache (written outside the cgroup, they would be
    charged to no one and read for free)."""
    for file in folder.rglob("*"):
        if file.is_file():
            fd = os.open(file, os.O_RDONLY)
            try:
                os.fsync(fd)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def write_wide_dataset(registry: Path, dataset_id: str, *, symbols: int, years: float,
                       width: int, seed: int = 5) -> int:
    """The demo panel of `symbols` x `years` with `width` more float32 feature columns (noise:
    most factors of a wide set are), registered as feature family `WIDE_FAMILY`. Returns the
    bytes of the added columns."""
    from ifns_train.data.demo import FEATURE_FAMILIES, LABEL_FAMILIES, generate_panel
    from ifns_train.data.features import default_splits
    from ifns_train.data.index import register_dataset

    panel = generate_panel(n_symbols=symbols, n_years=years, seed=seed)
    names = [f"wide_{i:04d}" for i in range(width)]
    noise = np.random.default_rng(seed).standard_normal((len(panel), width), dtype=np.float32)
    frame = pd.concat([panel, pd.DataFrame(noise, columns=names)], axis=1)
    register_dataset(registry, dataset_id, frame,
                     feature_families={**FEATURE_FAMILIES, WIDE_FAMILY: names},
                     label_families=LABEL_FAMILIES, splits=default_splits(frame))
    return noise.nbytes
