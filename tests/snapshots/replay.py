"""The app against recorded engine replies, so that a picture of a screen is the same on every
machine and every day: a recording link (the real engine, each call's reply kept) and a replay
link (the kept replies, no engine). `python -m tests.snapshots.record` makes the recording.

A recording holds, per scenario, every call the app made (msgpack of the call) with the replies
it got in order (a result or an error), and the device the engine reported. Replay answers a
call with its replies in the same order, the last one again once they run out; a call never
recorded is answered with an error and listed in `missing`, which the tests check is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import msgspec
from textual.pilot import Pilot

from engine import protocol as P
from workbench.app import WorkbenchApp
from workbench.engine.client import EngineError
from workbench.engine.endpoint import Endpoint
from workbench.engine.link import EngineLink

R = TypeVar("R")
HERE = Path(__file__).parent
RECORDING = HERE / "recording.msgpack"
HOME = Path("/tmp/workbench-snapshots/home")  # the engine's home when recorded (it is shown)
CONFIG = Path("/tmp/workbench-snapshots/config")  # a fresh view state (its path is shown)
SIZE = (80, 24)


class Reply(msgspec.Struct, array_like=True):
    result: bytes = b""  # msgpack of the P.Result; empty when the call failed
    code: str = ""
    message: str = ""
    hint: str = ""


class Recorded(msgspec.Struct, array_like=True):
    after: int  # replies given before these events came
    events: bytes  # msgpack of the list of P.Event


class Scenario(msgspec.Struct):
    calls: dict[bytes, list[Reply]] = {}
    device: bytes = b""  # msgpack of the P.DeviceInfo the engine reported, or empty
    jobs: bytes = b""  # msgpack of the P.JobInfo list the app knew of
    events: list[Recorded] = []


class Recording(msgspec.Struct):
    scenarios: dict[str, Scenario] = {}
    now: float = 0.0  # when it was recorded: the pictures' clock stands there


def key_of(call: Any) -> bytes:
    return msgspec.msgpack.encode(call)


def load_recording(path: Path = RECORDING) -> Recording:
    return msgspec.msgpack.decode(path.read_bytes(), type=Recording)


def save_recording(recording: Recording, path: Path = RECORDING) -> None:
    path.write_bytes(msgspec.msgpack.encode(recording))


class RecordingLink(EngineLink):
    """The real link, keeping every reply in `scenario`."""

    scenario: ClassVar[Scenario] = Scenario()
    answered: ClassVar[int] = 0

    def _on_events(self, events: list[P.Event], dropped: int) -> None:
        kept = [e for e in events if not isinstance(e, P.DeviceUpdate)]  # the load moves
        if kept:
            self.scenario.events.append(Recorded(self.answered, msgspec.msgpack.encode(kept)))
        super()._on_events(events, dropped)

    async def ask(self, call: P.Returns[R], timeout: float | None = 120.0) -> R:
        type(self).answered += 1
        replies = self.scenario.calls.setdefault(key_of(call), [])
        try:
            result = await super().ask(call, timeout)
        except EngineError as exc:
            replies.append(Reply(code=exc.code, message=exc.message, hint=exc.hint))
            raise
        replies.append(Reply(result=msgspec.msgpack.encode(result)))
        return result

    def keep_state(self) -> None:
        """The device and the jobs as the app knew them at the end."""
        if self.state.device is not None:
            self.scenario.device = msgspec.msgpack.encode(self.state.device)
        self.scenario.jobs = msgspec.msgpack.encode(list(self.state.jobs.values()))


class ReplayLink(EngineLink):
    """No engine: the recorded replies of one scenario."""

    scenario: ClassVar[Scenario] = Scenario()
    missing: ClassVar[list[str]] = []

    def __init__(
        self,
        endpoint: Endpoint,
        on_ready: Callable[[bool], None],
        on_lost: Callable[[str], None],
        on_stopped: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(endpoint, on_ready, on_lost, on_stopped)
        self._served: dict[bytes, int] = {}
        self._answered = 0
        self._pending = list(self.scenario.events)

    async def run(self) -> None:
        state = self.state
        state.status, state.message = "connected", "connected"
        state.session_id, state.engine_pid = "recorded", 4242
        if self.scenario.device:
            state.device = msgspec.msgpack.decode(self.scenario.device, type=P.DeviceInfo)
        if self.scenario.jobs:
            for job in msgspec.msgpack.decode(self.scenario.jobs, type=list[P.JobInfo]):
                state.jobs[job.job_id] = job
        self._on_ready(False)
        await asyncio.Event().wait()  # connected until the app ends

    async def ask(self, call: P.Returns[R], timeout: float | None = 120.0) -> R:
        key = key_of(call)
        replies = self.scenario.calls.get(key)
        if not replies:
            self.missing.append(repr(call)[:200])
            raise EngineError("not_recorded", f"no recorded reply to {type(call).__name__}")
        n = self._served.get(key, 0)
        self._served[key] = n + 1
        reply = replies[min(n, len(replies) - 1)]
        self._answered += 1
        self._deliver()
        if not reply.result:
            raise EngineError(reply.code, reply.message, reply.hint)
        result = msgspec.msgpack.decode(reply.result, type=P.Result)
        job_id = getattr(result, "job_id", None)
        if isinstance(job_id, str):
            self._job_events(job_id)  # the job's progress and end follow its start
        return result  # type: ignore[no-any-return]

    def _job_events(self, job_id: str) -> None:
        events = [
            e
            for rec in self.scenario.events
            for e in msgspec.msgpack.decode(rec.events, type=list[P.Event])
            if getattr(getattr(e, "job", None), "job_id", None) == job_id
        ]
        if events:
            asyncio.get_running_loop().call_later(0.05, self._on_events, events, 0)

    def _deliver(self) -> None:
        """The recorded events (other than jobs') that came before this many replies, soon
        after this one."""
        while self._pending and self._pending[0].after <= self._answered:
            events = msgspec.msgpack.decode(self._pending.pop(0).events, type=list[P.Event])
            events = [e for e in events if not hasattr(e, "job")]  # those follow their start
            if events:
                asyncio.get_running_loop().call_later(0.05, self._on_events, events, 0)


class ReplayApp(WorkbenchApp):
    LINK = ReplayLink


class RecordingApp(WorkbenchApp):
    LINK = RecordingLink


# What each picture shows: the keys pressed from the app's start (screens open on the datasets
# browser), at 80x24. Tab keys are each screen's own (see the help screen).
SCENARIOS: dict[str, list[str]] = {
    "datasets-rows": ["1"],
    "datasets-stats": ["1", "a"],
    "datasets-splits": ["1", "p"],
    "tokenizers-tokens": ["2"],
    "tokenizers-model-input": ["2", "i"],
    "tokenizers-dataset": ["2", "a"],
    "tokenizers-encodings": ["2", "v"],
    "embeddings-neighbours": ["3"],
    "embeddings-context": ["3", "x"],
    "embeddings-projection": ["3", "v"],
    "builder": ["4"],
    "training-plots": ["5"],
    "training-confusion": ["5", "m"],
    "training-runs": ["5", "w"],
    "predict": ["6"],
    "predict-explained": ["6", "x"],
    "predict-history": ["6", "y"],
    "attack": ["7"],
    "attack-summary": ["7", "r", "r", "r", "r", "b"],
    "attack-examples": ["7", "r", "r", "r", "r", "b", "v"],
    "help": ["5", "question_mark"],
    "jobs": ["J"],
}


def drive(keys: list[str]) -> Callable[[Pilot[int]], object]:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        while not app.connected:  # type: ignore[attr-defined]
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.5)
        await pilot.pause(1.5)  # replies are at hand: what is left is the screens' own work

    return run_before
