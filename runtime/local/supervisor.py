"""The process supervisor: start parts, wait until they are ready, restart the ones that die.

Start-up is all or nothing: a part that exits or misses its readiness deadline is reported by
name with the end of its log, and everything already started is stopped. Once running, a part
that dies is reported and restarted with exponential backoff, as a kubelet restarts a crashing
container (the backoff resets once the part has stayed up for a while). Stopping sends SIGTERM
to each part's process group, waits a grace period, then SIGKILLs what is left.

``stop`` may be called from another thread while ``start`` runs (a signal during start-up): from
then on nothing more is launched (``Stopped``) and the wait for readiness gives up.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import httpx

from runtime.local.errors import Stopped
from runtime.local.process import (
    PartFailed,
    PartSpec,
    check_port_free,
    group_alive,
    is_ready,
    launch,
    log_tail,
    signal_group,
)

__all__ = ["Supervisor", "PartStatus", "Stopped"]


@dataclass
class _Part:
    spec: PartSpec
    log_path: Path
    proc: subprocess.Popen[bytes]
    started_at: float
    state: str = "starting"  # starting | ready | backoff
    ready_at: float | None = None
    restarts: int = 0
    backoff_s: float = 0.0
    retry_at: float = 0.0


@dataclass(frozen=True)
class PartStatus:
    name: str
    state: str
    pid: int
    restarts: int


class Supervisor:
    def __init__(
        self,
        log_dir: Path,
        *,
        say: Callable[[str], None] = print,
        ready_timeout_s: float = 180.0,
        grace_s: float = 10.0,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        stable_after_s: float = 60.0,
        poll_s: float = 0.25,
    ) -> None:
        self.log_dir = log_dir
        self.say = say
        self.ready_timeout_s = ready_timeout_s
        self.grace_s = grace_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self.poll_s = poll_s
        self._parts: dict[str, _Part] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._client = httpx.Client(timeout=2.0, trust_env=False)

    # --- start-up ---------------------------------------------------------------------------

    def start(self, specs: Iterable[PartSpec]) -> None:
        """Start the parts together and wait until every one is ready; all or nothing."""
        specs = list(specs)
        for spec in specs:
            if spec.name in self._parts:
                raise ValueError(f"part {spec.name!r} is already running")
            check_port_free(spec)
        pending = []
        for spec in specs:
            self.say(f"  starting {spec.name} on port {spec.port} ...")
            pending.append(self._launch(spec))
        try:
            self._wait_ready(pending)
        except BaseException:
            self.stop()
            raise

    def _launch(self, spec: PartSpec) -> _Part:
        log_path = self.log_dir / spec.log_name
        # Launched and registered under the lock that ``stop`` takes: a part is either known to
        # stop, or never started.
        with self._lock:
            if self._stopping.is_set():
                raise Stopped()
            proc = launch(spec, log_path)
            part = self._parts.get(spec.name)
            if part is None:
                part = self._parts[spec.name] = _Part(spec, log_path, proc, time.monotonic())
            else:
                part.proc, part.started_at, part.state, part.ready_at = proc, time.monotonic(), "starting", None
        return part

    def _wait_ready(self, pending: list[_Part]) -> None:
        waiting = list(pending)
        while waiting:
            if self._stopping.is_set():
                raise Stopped()
            for part in list(waiting):
                code = part.proc.poll()
                if code is not None:
                    raise PartFailed(part.spec.name, f"exited with code {code}", part.log_path, log_tail(part.log_path))
                if is_ready(self._client, part.spec.ready_url):
                    part.state, part.ready_at = "ready", time.monotonic()
                    self.say(f"  {part.spec.name} ready in {part.ready_at - part.started_at:.1f} s")
                    waiting.remove(part)
                elif time.monotonic() - part.started_at > self.ready_timeout_s:
                    raise PartFailed(
                        part.spec.name,
                        f"not ready after {self.ready_timeout_s:g} s ({part.spec.ready_url} did not answer 200)",
                        part.log_path,
                        log_tail(part.log_path),
                    )
            if waiting:
                self._stopping.wait(self.poll_s)

    # --- running ----------------------------------------------------------------------------

    def watch(self) -> None:
        """Restart parts that die, in a background thread, until ``stop()``."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="supervisor", daemon=True)
            self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_s):
            for part in list(self._parts.values()):
                if self._stopping.is_set():
                    return
                try:
                    self._step(part)
                except Stopped:
                    return
                except Exception as exc:  # e.g. the command cannot be started: retry later, keep watching
                    part.backoff_s = min(max(part.backoff_s * 2, self.backoff_initial_s), self.backoff_max_s)
                    part.state, part.retry_at = "backoff", time.monotonic() + part.backoff_s
                    self.say(f"  {part.spec.name} could not be restarted ({exc}); retrying in {part.backoff_s:g} s")

    def _step(self, part: _Part) -> None:
        now = time.monotonic()
        name = part.spec.name
        if part.state == "backoff":
            if now >= part.retry_at:
                part.restarts += 1
                self.say(f"  restarting {name} (restart #{part.restarts}) ...")
                self._launch(part.spec)
            return
        code = part.proc.poll()
        if code is not None:
            # Like a kubelet's CrashLoopBackOff: double the wait each time, reset after a stable run.
            stable = part.ready_at is not None and now - part.ready_at >= self.stable_after_s
            if stable or part.backoff_s == 0:
                part.backoff_s = self.backoff_initial_s
            else:
                part.backoff_s = min(part.backoff_s * 2, self.backoff_max_s)
            was = "exited" if part.state == "ready" else "exited while starting"
            last = log_tail(part.log_path, lines=1)[:200]
            self.say(f"  {name} {was} with code {code}; restarting in {part.backoff_s:g} s (last log: {last})")
            signal_group(part.proc.pid, signal.SIGKILL)  # workers it left behind
            part.state, part.retry_at = "backoff", now + part.backoff_s
        elif part.state == "starting":
            if is_ready(self._client, part.spec.ready_url):
                part.state, part.ready_at = "ready", time.monotonic()
                self.say(f"  {name} ready again in {part.ready_at - part.started_at:.1f} s (restart #{part.restarts})")
            elif now - part.started_at > self.ready_timeout_s:
                self.say(f"  {name} not ready after {self.ready_timeout_s:g} s; stopping it")
                self._terminate([part])

    def status(self) -> list[PartStatus]:
        with self._lock:
            return [PartStatus(p.spec.name, p.state, p.proc.pid, p.restarts) for p in self._parts.values()]

    def pids(self) -> list[int]:
        """Current leader pid of every part."""
        with self._lock:
            return [p.proc.pid for p in self._parts.values()]

    # --- stopping ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop every part and everything it spawned; idempotent, and safe from another thread."""
        with self._lock:
            self._stopping.set()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=10)
        with self._lock:
            parts = list(self._parts.values())
            self._parts.clear()
        if parts:
            self.say(f"  stopping {', '.join(p.spec.name for p in reversed(parts))} ...")
            self._terminate(list(reversed(parts)))
        self._client.close()

    def _terminate(self, parts: list[_Part]) -> None:
        for part in parts:
            signal_group(part.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_s
        for part in parts:
            try:
                part.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for part in parts:
            # The group outlives its leader while forked workers still drain.
            while group_alive(part.proc.pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if group_alive(part.proc.pid):
                self.say(f"  {part.spec.name} did not stop within {self.grace_s:g} s; killing it")
                signal_group(part.proc.pid, signal.SIGKILL)
            try:
                part.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
