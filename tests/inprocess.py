"""The consoles run in this process, as `python -m <module> ARGS...` would run them in a new one.

`run_in_process` is what `tests.conftest.run_cli` calls: the console's `main()` with `sys.argv`
set, in `cwd`, with the environment a new process would get, its output captured, and the
`SystemExit` (or an uncaught exception, printed as Python prints it) turned into a return code;
the result looks like `subprocess.CompletedProcess`. A new process costs 3-5 s of imports per
call; the tests that need one (a kill, a signal, processes racing, a process's own exit code,
DDP, a memory limit, a multirun launcher) use `tests.conftest.run_process`.

What a run changes in the process is put back afterwards: the environment, the working
directory, `sys.argv`, the logging configuration Hydra installs, signal handlers, warning
filters, torch's global switches, Hydra's global state and the sweep failures
`ifns_train.run.sweeps` collects. Each call gets its own run token (`ifns_train.config.RUN_UID`,
one per process otherwise), so two runs started in the same second get their own run folders,
as two processes would.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import secrets
import signal
import subprocess
import sys
import traceback
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

# `python -m MODULE` -> the function its `__main__` block calls. The Hydra consoles take no
# arguments (they read sys.argv); the argparse ones take argv and return the exit code.
ENTRY_POINTS: dict[str, tuple[str, str]] = {
    "ifns_train": ("ifns_train.cli.train", "main"),
    "ifns_train.cli.train": ("ifns_train.cli.train", "main"),
    "ifns_train.cli.evaluate": ("ifns_train.cli.evaluate", "main"),
    "ifns_train.cli.predict": ("ifns_train.cli.predict", "main"),
    "ifns_train.cli.decide": ("ifns_train.cli.decide", "main"),
    "ifns_train.data": ("ifns_train.data.__main__", "main"),
    "ifns_train.sxe.admin": ("ifns_train.sxe.admin", "main"),
}
ARGV_MAINS = {"ifns_train.cli.decide", "ifns_train.data", "ifns_train.sxe.admin"}

# The warning filters of a new interpreter started without -W (what a console's user sees).
_FRESH_FILTERS = [
    ("default", None, DeprecationWarning, "__main__", 0),
    ("ignore", None, DeprecationWarning, None, 0),
    ("ignore", None, PendingDeprecationWarning, None, 0),
    ("ignore", None, ImportWarning, None, 0),
    ("ignore", None, ResourceWarning, None, 0),
]


def _entry(module: str) -> Callable[..., Any]:
    try:
        name, attr = ENTRY_POINTS[module]
    except KeyError:
        raise ValueError(f"no in-process entry point for `python -m {module}`; add it to "
                         "tests/inprocess.py ENTRY_POINTS or use run_process") from None
    return getattr(importlib.import_module(name), attr)


@contextlib.contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextlib.contextmanager
def _working_directory(cwd: Path) -> Iterator[None]:
    saved = os.getcwd()
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved)


@contextlib.contextmanager
def _logging_state() -> Iterator[None]:
    """Hydra's dictConfig replaces the root logger's handlers and sets levels; a job log file
    handler stays open. Put every logger that existed back as it was; close what was added."""
    manager = logging.Logger.manager
    loggers = {name: lg for name, lg in manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
    loggers[""] = logging.getLogger()
    saved = {name: (lg.level, list(lg.handlers), lg.propagate, lg.disabled)
             for name, lg in loggers.items()}
    disable = manager.disable
    try:
        yield
    finally:
        kept = {id(h) for state in saved.values() for h in state[1]}
        now = {name: lg for name, lg in manager.loggerDict.items()
               if isinstance(lg, logging.Logger)}
        now[""] = logging.getLogger()
        for name, lg in now.items():
            for handler in lg.handlers:
                if id(handler) not in kept:
                    with contextlib.suppress(Exception):
                        handler.close()
            if name in saved:
                lg.level, handlers, lg.propagate, lg.disabled = saved[name]
                lg.handlers = handlers
            else:  # a logger first made during the run: drop only the handlers it got there
                lg.handlers = [h for h in lg.handlers if id(h) in kept]
        logging.disable(disable)
        manager._clear_cache()


@contextlib.contextmanager
def _signal_handlers() -> Iterator[None]:
    saved = {}
    for sig in signal.valid_signals():
        with contextlib.suppress(ValueError, OSError, RuntimeError):
            saved[sig] = signal.getsignal(sig)
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None and signal.getsignal(sig) is not handler:
                with contextlib.suppress(ValueError, OSError, RuntimeError):
                    signal.signal(sig, handler)


@contextlib.contextmanager
def _torch_switches() -> Iterator[None]:
    torch = sys.modules.get("torch")
    if torch is None:  # not imported yet: nothing set that a later test would see
        try:
            yield
        finally:
            torch = sys.modules.get("torch")
            if torch is not None:
                torch.use_deterministic_algorithms(False)
        return
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.get_default_dtype(), torch.get_num_threads(),
             torch.get_float32_matmul_precision(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.set_default_dtype(saved[2])
        if torch.get_num_threads() != saved[3]:
            torch.set_num_threads(saved[3])
        torch.set_float32_matmul_precision(saved[4])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[5:]


@contextlib.contextmanager
def _module_state() -> Iterator[None]:
    """Hydra's singletons, the sweep failures of this 'process' and its run token."""
    from hydra.core.global_hydra import GlobalHydra

    import ifns_train.config as config

    def failed_sweeps() -> list[str] | None:
        sweeps = sys.modules.get("ifns_train.run.sweeps")
        return None if sweeps is None else sweeps.FAILED_SWEEPS

    GlobalHydra.instance().clear()
    if (failed := failed_sweeps()) is not None:
        failed.clear()
    run_uid = config.RUN_UID
    config.RUN_UID = f"{os.getpid():x}{secrets.token_hex(3)}"
    try:
        yield
    finally:
        config.RUN_UID = run_uid
        GlobalHydra.instance().clear()
        if (failed := failed_sweeps()) is not None:
            failed.clear()


@contextlib.contextmanager
def _fresh_warnings() -> Iterator[None]:
    """Warnings printed to stderr under a new interpreter's filters (pytest would record them)."""
    with warnings.catch_warnings():
        warnings.resetwarnings()
        for action, message, category, module, lineno in reversed(_FRESH_FILTERS):
            warnings.filterwarnings(action, message or "", category, module or "", lineno)
        warnings.showwarning = _show_warning
        yield


def _show_warning(message: Any, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _not_under_a_debugger() -> Iterator[None]:
    """Hydra re-raises a run's error, instead of printing it in one line and exiting 1, when
    sys.gettrace() is set (a coverage tracer): a console's own process never has one."""
    from hydra._internal import utils as hydra_utils

    saved = hydra_utils.is_under_debugger
    hydra_utils.is_under_debugger = lambda: False
    try:
        yield
    finally:
        hydra_utils.is_under_debugger = saved


def _exit_code(exc: SystemExit, stderr: io.StringIO) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    stderr.write(f"{code}\n")  # as the interpreter does with sys.exit("message")
    return 1


def run_in_process(*args: str, cwd: Path, env: dict[str, str] | None = None,
                   module: str = "ifns_train") -> subprocess.CompletedProcess[str]:
    """`python -m MODULE ARGS...` in `cwd`, in this process (see the module docstring)."""
    main = _entry(module)
    full_env = {**os.environ, **(env or {})}
    full_env.pop("HYDRA_FULL_ERROR", None)
    argv = [module, *args]
    out, err = io.StringIO(), io.StringIO()
    saved_argv = sys.argv
    with contextlib.ExitStack() as stack:
        stack.enter_context(_environment(full_env))
        stack.enter_context(_working_directory(Path(cwd)))
        stack.enter_context(_logging_state())
        stack.enter_context(_signal_handlers())
        stack.enter_context(_torch_switches())
        stack.enter_context(_module_state())
        stack.enter_context(_not_under_a_debugger())
        stack.enter_context(contextlib.redirect_stdout(out))
        stack.enter_context(contextlib.redirect_stderr(err))
        stack.enter_context(_fresh_warnings())
        sys.argv = argv
        try:
            if module in ARGV_MAINS:
                returncode = int(main(list(args)) or 0)
            else:
                main()
                returncode = 0
        except SystemExit as exc:
            returncode = _exit_code(exc, err)
        except Exception:
            traceback.print_exc(file=err)  # what the interpreter prints before exiting 1
            returncode = 1
        finally:
            sys.argv = saved_argv
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
    return subprocess.CompletedProcess([sys.executable, "-m", *argv], returncode,
                                       out.getvalue(), err.getvalue())
