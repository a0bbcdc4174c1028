"""Every training run in its own process: a crash, an out-of-memory kill or a CUDA error ends
that run (failed, with the reason), never the engine, and the engine's loop never competes
with training for the GIL.

The engine's job thread starts the worker (forked from a forkserver that has torch loaded, so
a run starts in milliseconds, not seconds) and then serves it over a private pipe: the worker
runs the same TrainingWork as before, but its datasets, tokenizers, vectors, run book,
recorder and job are proxies whose calls travel to the engine and are answered there, in
order. The engine sends it control requests (pause, resume, stop, checkpoint now, a learning
rate) and a cancel; they reach the trainer between two batches, as they did in a thread.

Messages are pickled (multiprocessing.connection framing: a length, then the body) on a pipe
only these two processes hold. The worker ends itself when the pipe closes: an engine that
dies (kill -9 included) takes its training with it, and the run is marked interrupted by the
next engine, as before.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from engine.core.errors import Cancelled, EngineError, JobContext
from engine.training.control import Control

log = logging.getLogger("engine.training.worker")

# calls the worker does not wait on: they only report (their order is kept all the same)
TOLD = {
    ("recorder", "on_step"),
    ("recorder", "on_eval"),
    ("recorder", "on_robust"),
    ("recorder", "on_checkpoint"),
    ("recorder", "on_message"),
    ("recorder", "on_end"),
    ("recorder", "flush"),
    ("job", "progress"),
    ("book", "update"),
    ("book", "evaluated"),
}
POLL_SECONDS = 0.2  # how often the engine's side looks for a cancel while the worker is quiet

_context: Any = None
_context_lock = threading.Lock()


def context() -> Any:
    """The multiprocessing context workers start from: a forkserver with torch and the trainer
    loaded once (fork after that is fast and safe: the server starts no threads, no CUDA)."""
    global _context
    with _context_lock:
        if _context is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["engine.training.worker_preload"])
            _context = ctx
        return _context


def warm() -> None:
    """Start the workers' forkserver now (torch loads in it while the engine waits for work),
    so that the first run does not wait for it. Called once the engine's device is known."""
    try:
        context()
        from multiprocessing import forkserver

        forkserver.ensure_running()
    except Exception as exc:  # the first run starts it, and says why it cannot
        log.info("the training forkserver did not start ahead: %s", exc)


# ---------------------------------------------------------------- the engine's side


class RemoteControl(Control):
    """The run's Control as the engine holds it: every request is kept here (the run's
    state reads it) and sent to the worker, whose own Control the trainer reads."""

    def __init__(self, send: Any) -> None:
        super().__init__()
        self._send = send

    def pause(self) -> None:
        super().pause()
        self._send(("control", "pause", None))

    def resume(self) -> None:
        super().resume()
        self._send(("control", "resume", None))

    def stop(self) -> None:
        super().stop()
        self._send(("control", "stop", None))

    def checkpoint_now(self) -> None:
        super().checkpoint_now()
        self._send(("control", "checkpoint", None))

    def set_lr(self, lr: float) -> None:
        super().set_lr(lr)
        self._send(("control", "lr", float(lr)))


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "it did not end"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = " (the system may have run out of memory)" if -code == signal.SIGKILL else ""
        return f"it was killed by {name}{why}"
    return f"it exited with status {code}"


def run_in_worker(
    work: Any,
    cfg: Any,
    run_id: str,
    run_dir: Path,
    resume: bool,
    job: Any,
    recorder: Any,
) -> tuple[str, str]:
    """TrainingWork(cfg, ...) in a worker process (or, with devices > 1, in torchrun's ranks),
    served from this (the job's) thread; the same (state, message) it gives, Cancelled when
    the job was cancelled, EngineError with the reason when the worker fails or dies."""
    targets = {
        "datasets": work.datasets,
        "tokenizers": work.tokenizers,
        "vectors": work.vectors,
        "book": work.book,
        "recorder": recorder,
        "job": job,
    }
    devices = wanted_devices(cfg)
    if devices > 1 or wanted_nodes(cfg) > 1:
        from engine.training.launch import run_in_torchrun

        return run_in_torchrun(work.book, targets, cfg, run_id, run_dir, resume, job, devices)
    ctx = context()
    mine, theirs = ctx.Pipe(duplex=True)
    send = _sender(mine)
    proc = ctx.Process(
        target=worker_main,
        args=(theirs, cfg, run_id, run_dir, resume, getattr(job, "visible_gpus", None)),
        name=f"train-{run_id}",
        daemon=True,
    )
    with work.book.training(run_id, RemoteControl(send)):
        proc.start()
        theirs.close()
        log.info("run %s trains in process %s", run_id, proc.pid)
        try:
            return serve(mine, send, targets, job, lambda: _joined(proc))
        finally:
            mine.close()
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def wanted_devices(cfg: Any) -> int:
    """The processes a run asks for: [train] devices (0 or "all": every GPU, one on a CPU)."""
    asked = cfg.train.get("devices", 1) if isinstance(cfg.train, dict) else 1
    if asked in (0, "all"):
        import torch

        return max(1, torch.cuda.device_count()) if torch.cuda.is_available() else 1
    return int(asked) if isinstance(asked, int) and not isinstance(asked, bool) else 1


def wanted_nodes(cfg: Any) -> int:
    """The machines a run asks for: [train] nodes (1 unless set)."""
    asked = cfg.train.get("nodes", 1) if isinstance(cfg.train, dict) else 1
    return int(asked) if isinstance(asked, int) and not isinstance(asked, bool) else 1


def _joined(proc: Any) -> int | None:
    proc.join(5)
    return proc.exitcode  # type: ignore[no-any-return]


def _sender(conn: Connection) -> Callable[[Any], None]:
    lock = threading.Lock()

    def send(msg: Any) -> None:
        with lock, contextlib.suppress(OSError, ValueError):
            conn.send(msg)

    return send


def serve(
    conn: Connection,
    send: Callable[[Any], None],
    targets: dict[str, Any],
    job: Any,
    exit_code: Callable[[], int | None],
) -> tuple[str, str]:
    """Answer rank 0's (or the one worker's) calls until it says how the run ended."""
    cancelled = False
    while True:
        if not cancelled and job.cancel_requested:
            cancelled = True
            send(("cancel",))
        try:
            if not conn.poll(POLL_SECONDS):
                continue
            msg = conn.recv()
        except (EOFError, OSError):
            raise EngineError(
                f"the training process ended before the run did: {_exit_reason(exit_code())}",
                hint="the run keeps its checkpoints: workbench runs resume ID continues it",
            ) from None
        kind = msg[0]
        if kind == "call":
            _, target, name, args, kwargs, reply = msg
            try:
                value = getattr(targets[target], name)(*args, **kwargs)
            except BaseException as exc:  # the worker raises it where it asked
                if not reply:
                    log.exception("%s.%s from the training process failed", target, name)
                    send(("abort", f"{type(exc).__name__}: {exc}"))
                    raise
                send(("reply", None, _portable(exc)))
                continue
            if reply:
                send(("reply", value, None))
        elif kind == "set":
            _, target, name, value = msg
            setattr(targets[target], name, value)
        elif kind == "done":
            return msg[1], msg[2]
        elif kind == "cancelled":
            raise Cancelled()
        elif kind == "error":
            _, message, hint, code, detail = msg
            if detail:
                log.error("training process failed:\n%s", detail)
            raise EngineError(message, hint=hint, code=code)


DATA_TARGETS = ("datasets", "tokenizers", "vectors")


def serve_data(conn: Connection, targets: dict[str, Any]) -> bool:
    """Answer a rank other than 0: it reads data; it reports nothing. True when the rank said
    goodbye (its part of the run done), False when its link closed without a word."""
    send = _sender(conn)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return False
        if msg[0] == "bye":
            return True
        if msg[0] != "call":
            continue
        _, target, name, args, kwargs, reply = msg
        if target not in DATA_TARGETS:
            if reply:
                send(("reply", None, EngineError(f"rank calls {target}.{name}: not a data call")))
            continue
        try:
            value = getattr(targets[target], name)(*args, **kwargs)
        except BaseException as exc:
            send(("reply", None, _portable(exc)))
            continue
        if reply:
            send(("reply", value, None))


def _portable(exc: BaseException) -> BaseException:
    """The exception as the worker can raise it: an EngineError or Cancelled as it is, any
    other as an EngineError saying what it was."""
    if isinstance(exc, EngineError | Cancelled):
        return exc
    return EngineError(f"{type(exc).__name__}: {exc}")


# ---------------------------------------------------------------- the worker's side


class _Link:
    """The worker's end: calls to the engine (one at a time), replies and control requests
    read by a listener thread."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()
        self._call_lock = threading.Lock()
        self._replies: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue()
        self.cancelled = threading.Event()
        self.finished = False  # said how its part ended: the engine may hang up now
        self.control: Control | None = None
        self._pending: list[tuple[str, Any]] = []
        self._control_lock = threading.Lock()
        threading.Thread(target=self._listen, name="engine-link", daemon=True).start()

    def send(self, msg: Any) -> None:
        with self._send_lock:
            self.conn.send(msg)

    def call(self, target: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if (target, name) in TOLD:
            self.send(("call", target, name, args, kwargs, False))
            return None
        with self._call_lock:
            self.send(("call", target, name, args, kwargs, True))
            value, error = self._replies.get()
        if error is not None:
            raise error
        return value

    def _listen(self) -> None:
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                if self.finished:
                    return
                os._exit(3)  # the engine is gone: its run is interrupted, this process too
            kind = msg[0]
            if kind == "reply":
                self._replies.put((msg[1], msg[2]))
            elif kind == "control":
                self._apply(msg[1], msg[2])
            elif kind == "cancel":
                self.cancelled.set()
                self._apply("stop", None)
            elif kind == "abort":
                os._exit(4)

    def _apply(self, action: str, value: Any) -> None:
        with self._control_lock:
            if self.control is None:
                self._pending.append((action, value))
                return
            _act(self.control, action, value)

    def adopt(self, control: Control) -> None:
        """The trainer's Control, once the run has one: requests that came before apply now."""
        with self._control_lock:
            self.control = control
            for action, value in self._pending:
                _act(control, action, value)
            self._pending.clear()


def _act(control: Control, action: str, value: Any) -> None:
    if action == "pause":
        control.pause()
    elif action == "resume":
        control.resume()
    elif action == "stop":
        control.stop()
    elif action == "checkpoint":
        control.checkpoint_now()
    elif action == "lr":
        control.set_lr(value)


class _Remote:
    """An object in the engine, called from the worker: each method call is a message."""

    def __init__(self, link: _Link, target: str) -> None:
        object.__setattr__(self, "_link", link)
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_values", {})  # attributes set here, read back here

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name.startswith("__"):
            raise AttributeError(name)
        link, target = self._link, self._target

        def call(*args: Any, **kwargs: Any) -> Any:
            return link.call(target, name, args, kwargs)

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value
        self._link.send(("set", self._target, name, value))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._link.call(self._target, "__call__", args, kwargs)


class _RemoteBook(_Remote):
    """The run book, except training(): the Control lives here, beside the trainer."""

    @contextmanager
    def training(self, run_id: str, control: Control) -> Iterator[Control]:
        self._link.adopt(control)
        yield control


class _RemoteJob(_Remote):
    """The job: progress goes to the engine; a cancel came over the link."""

    def check_cancelled(self) -> None:
        if self._link.cancelled.is_set():
            raise Cancelled()


class _Null:
    """What a rank other than 0 reports to: nothing (rank 0 reports for the run)."""

    def __init__(self) -> None:
        object.__setattr__(self, "_values", {})

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *args, **kwargs: None

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    @contextmanager
    def training(self, run_id: str, control: Control) -> Iterator[Control]:
        yield control

    def check_cancelled(self) -> None:
        return None


def worker_main(
    conn: Connection,
    cfg: Any,
    run_id: str,
    run_dir: Path,
    resume: bool,
    visible: str | None = None,
) -> None:
    """The one-device worker process: the run's TrainingWork with the engine's objects
    behind proxies, on the GPU the engine gave its job (visible: CUDA_VISIBLE_DEVICES, set
    before CUDA starts in this process; the forkserver never starts it)."""
    if visible is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible
    run_rank(conn, cfg, run_id, run_dir, resume, main=True)


def run_rank(
    conn: Connection, cfg: Any, run_id: str, run_dir: Path, resume: bool, main: bool
) -> None:
    """The run's TrainingWork in this process; main: this one reports (rank 0, or the one
    worker), else it only reads data through the engine."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the engine's terminal is its own
    from engine.training.job import TrainingWork

    link = _Link(conn)
    work = TrainingWork(
        _Remote(link, "datasets"),  # type: ignore[arg-type]
        _Remote(link, "tokenizers"),  # type: ignore[arg-type]
        _Remote(link, "vectors"),
        _RemoteBook(link, "book") if main else _Null(),  # type: ignore[arg-type]
    )
    job: JobContext = _RemoteJob(link, "job") if main else _Null()  # type: ignore[assignment]
    recorder = _Remote(link, "recorder") if main else _Null()

    def end(msg: tuple[Any, ...]) -> None:
        link.finished = True
        link.send(msg)

    try:
        state, message = work(cfg, run_id, run_dir, resume, job, recorder)  # type: ignore[arg-type]
        if not main:
            end(("bye",))
            return
        end(("done", state, message))
    except Cancelled:
        end(("cancelled",) if main else ("bye",))
    except EngineError as exc:
        if not main:
            raise
        end(("error", exc.message, exc.hint, exc.code, ""))
    except BaseException as exc:
        if not main:
            raise  # torchrun ends every rank, and rank 0's end says so
        detail = traceback.format_exc()
        end(("error", f"{type(exc).__name__}: {exc}", "", "internal", detail))
    finally:
        with contextlib.suppress(OSError):
            conn.close()
