"""`workbench doctor` and the handshake's account of the engine: asked of a real engine, the
answer is what torch says on this machine (a CPU build here), and the Welcome names the host,
the device and what the engine serves."""

from __future__ import annotations

import asyncio
import os
import socket

import torch

from engine import protocol as P
from tests.helpers.cli import wb, wb_json
from tests.helpers.engine import RunningEngine
from workbench.engine.client import EngineClient
from workbench.engine.link import LinkState
from workbench.widgets.status_bar import render_status


async def test_the_doctor_says_what_this_machine_trains_on(client: EngineClient) -> None:
    d = await client.ask(P.Doctor())
    assert d.host == socket.gethostname()
    assert d.torch == torch.__version__
    assert d.cuda_available == torch.cuda.is_available()
    assert d.picked == ("cuda" if torch.cuda.is_available() else "cpu")
    assert d.picked_why
    assert d.cuda_version == (torch.version.cuda or "")
    assert len(d.gpus) == (torch.cuda.device_count() if torch.cuda.is_available() else 0)
    assert d.cpu_count == os.cpu_count()
    assert 0 < d.memory_available <= d.memory_total
    assert "gloo" in d.distributed  # every torch build has it
    assert d.torchrun.endswith("torchrun")  # the venv's, beside the engine's python
    assert not d.problems or all(isinstance(p, str) and p for p in d.problems)


async def test_the_welcome_names_host_device_and_capabilities(client: EngineClient) -> None:
    welcome = client.welcome
    assert welcome is not None
    assert welcome.host == socket.gethostname()
    for domain in ("attack", "datasets", "system", "tokenizers", "training"):
        assert domain in welcome.capabilities
    # the device is known once torch has loaded in the engine: a new connection then says it
    for _ in range(300):
        status = await client.ask(P.Status())
        if status.device.kind != "unknown":
            break
        await asyncio.sleep(0.1)
    again = EngineClient(client.endpoint, name="test")
    try:
        late = await again.connect(start=False)
    finally:
        await again.close()
    assert late.device == ("cuda" if torch.cuda.is_available() else "cpu")
    assert late.device_name
    assert late.device in late.capabilities and "gloo" in late.capabilities


def test_the_status_bar_names_a_remote_engine_host() -> None:
    state = LinkState(status="connected", host="gpu-box-7", remote=True, capabilities=["bf16"])
    state.device = P.DeviceInfo(name="H200", kind="cuda", memory_used=2**30, memory_total=2**34)
    line = render_status(state, 80).plain
    assert "engine@gpu-box-7" in line and "CUDA bf16" in line
    state.remote = False  # this machine's engine: no host, as before
    assert "@" not in render_status(state, 80).plain


def test_workbench_doctor_prints_a_table_and_json(engine: RunningEngine) -> None:
    data = wb_json(engine, "doctor")
    assert data["host"] == socket.gethostname() and data["picked"] in ("cpu", "cuda", "mps")
    assert set(data) >= {"cuda_version", "driver_version", "nvml", "gpus", "distributed"}
    shown = wb(engine, "doctor")
    assert shown.returncode == 0, shown.stderr
    assert "picked" in shown.stdout and data["torch"] in shown.stdout
    strict = wb(engine, "doctor", "--strict")
    assert strict.returncode == (1 if data["problems"] else 0)
