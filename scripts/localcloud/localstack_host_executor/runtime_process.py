"""One function runtime process on the host: `python -m awslambdaric <handler>`, watched.

Processes are started from one long-lived thread so that PR_SET_PDEATHSIG (which fires when
the *thread* that forked the child ends) kills them exactly when LocalStack itself dies.
Output (stdout and stderr together) is collected for the function's CloudWatch log stream.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import queue
import select
import signal
import subprocess
import termios
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import IO

_PR_SET_PDEATHSIG = 1
_MAX_BUFFERED_OUTPUT = 4 * 1024 * 1024


def _load_prctl() -> Callable[[int, int], int] | None:
    """Resolve prctl(2) once in the parent: the forked child must not load libraries."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[[int, int], int] = libc.prctl
    except (OSError, AttributeError):  # not Linux: no parent-death signal
        return None
    return prctl


_PRCTL = _load_prctl()


def _die_with_parent(parent_pid: int) -> Callable[[], None]:
    """Build the preexec hook: SIGKILL this child when its parent goes away."""

    def hook() -> None:
        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return hook


class _Spawner:
    """A daemon thread that lives as long as LocalStack and forks every runtime process."""

    def __init__(self) -> None:
        self._requests: queue.Queue[tuple[dict[str, object], Future[subprocess.Popen[bytes]]]]
        self._requests = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="host-executor-spawner")
        self._thread.daemon = True
        self._thread.start()

    def _run(self) -> None:
        while True:
            kwargs, future = self._requests.get()
            try:
                future.set_result(
                    subprocess.Popen(
                        preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 (see hook)
                        start_new_session=True,
                        stdin=subprocess.DEVNULL,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        **kwargs,  # type: ignore[call-overload]
                    )
                )
            except Exception as error:  # noqa: BLE001 (handed to the caller)
                future.set_exception(error)

    def spawn(self, **kwargs: object) -> subprocess.Popen[bytes]:
        future: Future[subprocess.Popen[bytes]] = Future()
        self._requests.put((kwargs, future))
        return future.result(timeout=30)


_SPAWNER: _Spawner | None = None
_SPAWNER_LOCK = threading.Lock()


def _spawner() -> _Spawner:
    global _SPAWNER  # noqa: PLW0603 (one per LocalStack process, created on first use)
    with _SPAWNER_LOCK:
        if _SPAWNER is None:
            _SPAWNER = _Spawner()
        return _SPAWNER


class RuntimeProcess:
    """The awslambdaric process of one execution environment and its collected output."""

    def __init__(self, interpreter: str, handler: str, code_dir: Path, env: dict[str, str]):
        self._argv = [interpreter, "-m", "awslambdaric", handler]
        self._code_dir = code_dir
        self._env = env
        self._process: subprocess.Popen[bytes] | None = None
        self._output = bytearray()
        self._lock = threading.Lock()
        self.started_at = 0.0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> None:
        """Start the process and a thread that collects its output."""
        self.started_at = time.monotonic()
        process = _spawner().spawn(args=self._argv, cwd=str(self._code_dir), env=self._env)
        self._process = process
        pipe = process.stdout
        if pipe is None:
            raise RuntimeError("the runtime process has no output pipe")
        os.set_blocking(pipe.fileno(), False)
        reader = threading.Thread(
            target=self._collect, args=(pipe,), name=f"host-executor-output-{process.pid}"
        )
        reader.daemon = True
        reader.start()

    def _collect(self, pipe: IO[bytes]) -> None:
        fd = pipe.fileno()
        while True:
            try:
                select.select([fd], [], [], 0.5)
                with self._lock:  # read under the lock: see take_output()
                    chunk = os.read(fd, 65536)
                    if not chunk:  # the process has ended: release the pipe
                        pipe.close()
                        return
                    if len(self._output) < _MAX_BUFFERED_OUTPUT:
                        self._output.extend(chunk)
            except BlockingIOError:
                continue
            except (OSError, ValueError):  # closed after kill()
                return

    def take_output(self, settle_seconds: float = 0.2) -> str:
        """Everything the process printed since the last call (waits for the pipe to drain).

        The runtime writes its output before it posts the result, so once the pipe is empty
        with the lock held, all of an invocation's output has been collected.
        """
        give_up = time.monotonic() + settle_seconds
        while True:
            with self._lock:
                if self._pending_bytes() == 0 or time.monotonic() > give_up:
                    text = self._output.decode("utf-8", errors="replace")
                    self._output.clear()
                    return text
            time.sleep(0.001)

    def _pending_bytes(self) -> int:
        if self._process is None or self._process.stdout is None:
            return 0
        try:
            buf = bytearray(4)
            fcntl.ioctl(self._process.stdout.fileno(), termios.FIONREAD, buf)
        except (OSError, ValueError):
            return 0
        return int.from_bytes(buf, "little")

    def exit_code(self) -> int | None:
        """The exit status once the process has ended, else None."""
        return None if self._process is None else self._process.poll()

    def max_memory_mb(self) -> int:
        """Peak resident memory of the process (VmHWM), 0 when unknown."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
        return 0

    def kill(self) -> None:
        """SIGKILL the whole process group (the handler's children too) and reap it."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
