"""Audit rows written by one background thread per worker, so a CDS call never waits on the
commit (the fsync on SQLite, the round-trip on PostgreSQL).

Why: the audit row is our own record of what we showed; the EHR never reads it back, so the
answer need not wait for its commit (bench/README.md measured that commit at 1.5-8 ms of a
~600-resource order-sign call on a shared disk). Feedback stays synchronous: the EHR is told it
was stored only once it is.

What "acknowledged" means here, and what is guaranteed:
  * `submit` accepts rows only while the writer is healthy; otherwise it raises StoreUnavailable
    and the call is answered 503, exactly as a failed synchronous write was. A call is never
    answered 200 with rows the writer had already refused.
  * an accepted row is kept in memory until it is committed: a failed batch is put back and
    retried; the failure is logged at ERROR (once per outage, no PHI), `problem()` makes
    /health (readiness) answer 503 so the balancer stops sending calls, and further submits are
    refused until a retry succeeds.
  * `close()` (gunicorn's worker_exit after the SIGTERM drain, or process exit) commits every
    accepted row before returning; rows it still cannot write within its timeout are counted in
    a CRITICAL log line, never dropped silently. Only SIGKILL (no drain) can lose accepted rows,
    at most the last BATCH_WAIT_SECONDS (+ one commit) worth.
  * group commit: the writer lets the first rows of a batch wait up to BATCH_WAIT_SECONDS for
    the next calls' rows, so under load one commit (its fsync, the transaction set-up) carries
    several calls: a 10-row commit cost ~0.8 ms of CPU through SQLAlchemy, ~0.35 ms on the kept
    driver connection (writer_connection.py). `flush()` and `close()` end the wait at once; a
    retry after a failure does not wait.
  * one wake-up per batch under load: after a commit the writer waits BATCH_WAIT_SECONDS for the
    next calls' rows on its own (a row arriving then waits less than that), and only an idle
    writer (nothing came in that wait) is woken by the next row. Each wake-up costs both threads
    a GIL hand-over and context switches; waking once for a call's first row and again when its
    wait ended made two per batch.
  * reads that judge audit rows in this process (feedback's `card_issued`, the report) call
    `flush()` first, so they never miss a card this process has answered.
"""

from __future__ import annotations

import logging
import os
import select
import threading
import time
from typing import Any, Callable

from ..errors import StoreUnavailable

log = logging.getLogger(__name__)

MAX_PENDING_ROWS = 20_000  # ~2,000 calls' rows: a stalled store refuses calls (503) past this
RETRY_SECONDS = 0.5
CLOSE_TIMEOUT_SECONDS = 10.0
# How long a batch's first rows wait for more (group commit). Why 0.1 s and not 0.025: a commit's
# CPU is mostly fixed (the WAL fdatasync, its page writes, the GIL hand-overs around each system
# call; ~1.5-2 ms in a busy worker), so at one client (~17 ms a call) 25 ms carried 1-2 calls per
# commit and the writer cost ~0.8 ms per call; 0.1 s carries ~5 and costs ~0.35 (threads.py, one
# worker). The price is the SIGKILL bound above: the last ~0.1 s of accepted rows, not ~25 ms.
BATCH_WAIT_SECONDS = 0.1
MAX_BATCH_ROWS = 1_000  # a batch this large is written at once


class AuditWriter:
    """Commits accepted audit rows in batches from one daemon thread; see the module docstring."""

    def __init__(
        self,
        write: Callable[[list[dict[str, Any]]], None],
        *,
        max_pending: int = MAX_PENDING_ROWS,
        retry_seconds: float = RETRY_SECONDS,
        batch_wait: float = BATCH_WAIT_SECONDS,
        on_exit: Callable[[], None] | None = None,
    ) -> None:
        """`write(rows)` commits rows in one transaction or raises (store/writer_connection.py);
        `on_exit()` runs on the writer thread as it stops (it releases that thread's connection)."""
        self._write = write
        self._on_exit = on_exit
        self.max_pending = max_pending
        self.retry_seconds = retry_seconds
        self.batch_wait = batch_wait
        self._flushing = 0  # callers waiting in flush(): the batch is written without waiting for more
        self.batches = 0  # transactions committed (bench and tests read it)
        self._cond = threading.Condition()
        self._pending: list[dict[str, Any]] = []
        self._in_flight = 0
        self._failure: str | None = None
        self._closing = False
        self.committed = 0  # rows committed by this writer (bench and tests read it)
        self._idle = False  # the writer waits for a first row (submit wakes it)
        self._wrote = False  # a batch was just committed: the writer waits for the next calls' rows unwoken
        self._woken = False  # a byte is in the wake pipe (written and drained with the lock held)
        self._wake_r, self._wake_w = os.pipe()  # ends the group-commit wait early (`_gather`)
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._thread = threading.Thread(target=self._run, name="cdshooks-audit-writer", daemon=True)
        self._thread.start()

    # -- request side ---------------------------------------------------------------------------
    def submit(self, rows: list[dict[str, Any]]) -> None:
        """Accept rows for commit, or raise StoreUnavailable (503) if they could not be kept."""
        if not rows:
            return
        with self._cond:
            if self._closing:
                raise StoreUnavailable("store unavailable (the worker is stopping); the audit rows not kept")
            if self._failure is not None:
                raise StoreUnavailable(f"store unavailable ({self._failure}); the audit rows not kept")
            if len(self._pending) + self._in_flight + len(rows) > self.max_pending:
                raise StoreUnavailable("store unavailable (audit backlog full); the audit rows not kept")
            self._pending.extend(rows)
            if self._idle:
                self._cond.notify_all()  # the writer waits for a first row
            if len(self._pending) >= MAX_BATCH_ROWS:
                self._wake()  # ... or, gathering, for a full batch

    def problem(self) -> str | None:
        """Why accepted rows are not being committed (for readiness), or None."""
        with self._cond:
            return f"audit rows are not being written ({self._failure})" if self._failure else None

    def pending(self) -> int:
        with self._cond:
            return len(self._pending) + self._in_flight

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every row accepted so far is committed; False if that did not happen in time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            self._wake()  # a batch still gathering rows is written now
            try:
                while self._pending or self._in_flight:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(left)
            finally:
                self._flushing -= 1
        return True

    def close(self, timeout: float = CLOSE_TIMEOUT_SECONDS) -> int:
        """Refuse new rows, commit the accepted ones, stop the thread; returns rows not written."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            self._wake()
        self._thread.join(timeout)
        lost = self.pending()
        if lost:
            log.critical("audit: %d accepted audit row(s) could not be written before the worker stopped (%s)",
                         lost, self._failure or "timed out")
        return lost

    # -- writer thread --------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._on_exit is not None:
                self._on_exit()
            with self._cond:
                for fd in (self._wake_r, self._wake_w):
                    os.close(fd)
                self._wake_r = self._wake_w = -1

    def _loop(self) -> None:
        deadline: float | None = None
        while True:
            with self._cond:
                if self._wrote:
                    self._wrote = False
                    self._gather()  # the next calls' rows, which under load come in during this wait
                if not self._pending and not self._closing:
                    self._idle = True
                    try:
                        while not self._pending and not self._closing:
                            self._cond.wait()
                    finally:
                        self._idle = False
                    self._gather()
                if not self._pending:
                    return  # closing and nothing left
                if self._closing and deadline is None:
                    deadline = time.monotonic() + CLOSE_TIMEOUT_SECONDS
                batch, self._pending = self._pending, []
                self._in_flight = len(batch)
            try:
                self._write(batch)
            except Exception as exc:  # any failure: keep the rows, say so, retry
                reason = _reason(exc)
                with self._cond:
                    self._pending[:0] = batch
                    self._in_flight = 0
                    first = self._failure is None
                    self._failure = reason
                    self._cond.notify_all()
                if first:
                    log.error("audit: writing %d audit row(s) failed (%s); kept in memory, retrying every %.1f s; "
                              "new calls are refused (503) until a write succeeds", len(batch), reason, self.retry_seconds)
                if deadline is not None and time.monotonic() >= deadline:
                    return  # close() reports what is left
                time.sleep(self.retry_seconds)
                continue
            with self._cond:
                self._in_flight = 0
                self.committed += len(batch)
                self.batches += 1
                self._wrote = True
                if self._failure is not None:
                    log.warning("audit: writes resumed (%d row(s) committed)", len(batch))
                    self._failure = None
                self._cond.notify_all()

    def _gather(self) -> None:
        """With the lock held: wait up to `batch_wait` for more rows (group commit), unless closing,
        flushing, retrying after a failure, or the batch is full.

        The wait is one `select` on a pipe with the lock released; `flush`, `close` and a full
        batch write a byte to the pipe to end it at once (`_wake`). Not a timed `Condition.wait`:
        a timed wait's deadline is read from the monotonic clock, and under a shifted clock
        (libfaketime, `.ci/run` step 2) that deadline lay 400 days past the kernel's, so the wait
        never ended; select's timeout is relative. Not sleeps in short steps either (the previous
        way): at one call per ~16 ms, the 2 ms steps woke this thread a dozen times per batch,
        each time taking the GIL from the thread serving the next call. The pipe is read only when
        a byte was written (`_woken`): every system call here hands the GIL to the request thread
        and waits to get it back."""
        until = time.monotonic() + self.batch_wait
        if self._woken:
            self._drain_wake()  # a byte left by an earlier flush: its rows went out with that batch
        while not (self._closing or self._flushing or self._failure is not None or len(self._pending) >= MAX_BATCH_ROWS):
            left = until - time.monotonic()
            if left <= 0:
                return
            self._cond.release()
            try:
                ready = select.select([self._wake_r], [], [], left)[0]
            finally:
                self._cond.acquire()
            if ready or self._woken:
                self._drain_wake()

    def _wake(self) -> None:
        """With the lock held: end a `_gather` wait now (one byte in the pipe until it is drained)."""
        if self._woken:
            return
        try:
            os.write(self._wake_w, b"w")
            self._woken = True
        except (BlockingIOError, OSError):  # full (a wake is already pending) or closed (stopped)
            pass

    def _drain_wake(self) -> None:
        """With the lock held: empty the wake pipe."""
        self._woken = False
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, OSError):
            pass


def _reason(exc: BaseException) -> str:
    """A short, PHI-free reason: the exception's type (and StoreUnavailable's own message)."""
    if isinstance(exc, StoreUnavailable):
        return exc.message.split(";")[0].removeprefix("store unavailable").strip(" ()") or "store unavailable"
    return type(getattr(exc, "orig", None) or exc).__name__
