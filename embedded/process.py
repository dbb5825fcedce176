"""Child processes that cannot outlive riskwire, plus the loopback port helpers they need.

Three layers stop orphans: on Linux every child gets ``PR_SET_PDEATHSIG`` (the kernel
sends it SIGTERM when we die, even by SIGKILL); an ``atexit`` hook stops whatever is
still running at a normal exit; and callers stop children explicitly. The kernel ties
the death signal to the *thread* that forked, so all children are forked from one
long-lived spawner thread: starting services from a short-lived thread stays safe.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from embedded.errors import EmbeddedServiceError

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1
_live: set[subprocess.Popen[bytes]] = set()
_lock = threading.Lock()
_spawner: ThreadPoolExecutor | None = None


def _load_prctl() -> Callable[..., int] | None:
    """Resolve prctl once in the parent: the forked child must not load libraries."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """A preexec_fn that makes the child receive SIGTERM when its parent dies."""

    def preexec() -> None:
        if _PRCTL is not None and _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os.kill(os.getpid(), signal.SIGTERM)

    return preexec


def _primary_gid(uid: int) -> int:
    import pwd

    return pwd.getpwuid(uid).pw_gid


def _spawner_pool() -> ThreadPoolExecutor:
    """The single thread that forks every child; it lives until interpreter exit."""
    global _spawner
    with _lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embedded-spawner")
        return _spawner


def spawn(
    argv: Sequence[str],
    log_path: Path,
    env: Mapping[str, str],
    cwd: Path | None = None,
    user: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start argv in its own session with output appended to log_path, tied to our life.

    ``user``: the uid (and its group) to run as, for servers that refuse root (PostgreSQL);
    the death signal is set after the switch, which would otherwise clear it.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        log.write(f"=== {stamp} riskwire starts: {shlex.join(argv)}\n".encode())
        log.flush()
        future = _spawner_pool().submit(
            subprocess.Popen,
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=cwd,
            close_fds=True,
            user=user,
            group=None if user is None else _primary_gid(user),
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
            preexec_fn=_die_with_parent(os.getpid()),
        )
        try:
            popen: subprocess.Popen[bytes] = future.result()
        except (OSError, subprocess.SubprocessError) as exc:
            raise EmbeddedServiceError(f"cannot run {argv[0]}: {exc}") from exc
    with _lock:
        _live.add(popen)
    return popen


def terminate(popen: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGTERM) -> None:
    """Ask a child's process group to stop (SIGTERM, or ``sig``) without waiting."""
    _signal_group(popen, sig)


def reap(popen: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Wait for a terminated child, SIGKILL it after timeout, and forget it."""
    try:
        popen.wait(timeout)
    except subprocess.TimeoutExpired:
        _signal_group(popen, signal.SIGKILL)
        popen.wait()
    with _lock:
        _live.discard(popen)


def _signal_group(popen: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    """Signal the child's whole session group; skip it once reaped (its pid may be reused)."""
    if popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(popen.pid, sig)


@atexit.register
def _stop_all() -> None:
    """At interpreter exit, stop every child nobody stopped."""
    with _lock:
        children = list(_live)
    for popen in children:
        terminate(popen)
    for popen in children:
        reap(popen)


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 20) -> str:
    """The last lines of a log file, for error messages that explain a failed start."""
    try:
        with open(path, "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - 16384))
            text = log.read().decode("utf-8", errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(text.splitlines()[-lines:])
