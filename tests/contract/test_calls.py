"""The contract's shape, checked statically: every call has exactly one handler that returns its
declared result; every tagged message is in exactly one union; every tag is namespaced."""

from __future__ import annotations

import inspect
import re
import typing
from pathlib import Path

import msgspec
import pytest

from engine import protocol as P
from engine.core.calls import CallTable, Dispatch, JobWork, RegistrationError
from engine.paths import resolve_home
from engine.wiring import Engine

DOMAINS = (
    "system",
    "jobs",
    "datasets",
    "tokenizers",
    "embeddings",
    "training",
    "lm",
    "attack",
    "wire",
)
UNIONS = {
    "Call": P.Call,
    "Result": P.Result,
    "Event": P.Event,
    "ClientFrame": P.ClientFrame,
    "EngineFrame": P.EngineFrame,
}
TAGGED = [
    cls
    for _, cls in inspect.getmembers(P, inspect.isclass)
    if issubclass(cls, msgspec.Struct) and cls.__struct_config__.tag is not None
]
CALLS = list(typing.get_args(P.Call))


@pytest.fixture(scope="module")
def dispatch(tmp_path_factory: pytest.TempPathFactory) -> Dispatch:
    """The handlers as the engine binds them (built, never served)."""
    home = resolve_home(tmp_path_factory.mktemp("contract") / "home")
    home.ensure()
    return Engine(home).dispatch


@pytest.mark.parametrize("cls", TAGGED, ids=lambda c: c.__name__)
def test_every_tagged_struct_is_in_exactly_one_union(cls: type) -> None:
    found = [name for name, union in UNIONS.items() if cls in typing.get_args(union)]
    assert len(found) == 1, f"{cls.__name__} is in {found or 'no union'}"


@pytest.mark.parametrize("cls", TAGGED, ids=lambda c: c.__name__)
def test_every_tag_is_namespaced(cls: type) -> None:
    tag = cls.__struct_config__.tag
    assert isinstance(tag, str) and re.fullmatch(r"[a-z]+\.[a-z_]+", tag), tag
    assert tag.split(".")[0] in DOMAINS, f"{tag}: the domain is not one of {DOMAINS}"


def test_tags_are_unique_within_each_union() -> None:
    for name, union in UNIONS.items():
        tags = [c.__struct_config__.tag for c in typing.get_args(union)]
        assert len(tags) == len(set(tags)), name


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.__name__)
def test_every_call_declares_a_result_in_the_result_union(call: type) -> None:
    results = typing.get_args(P.Result)
    assert P.result_type(call) in results
    job = P.job_result_type(call)
    assert job is None or job in results
    assert (job is not None) == (P.result_type(call) is P.JobStarted)


def test_every_call_has_exactly_one_handler(dispatch: Dispatch) -> None:
    assert set(dispatch.bound) == set(CALLS)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.__name__)
def test_every_handler_returns_its_declared_type(dispatch: Dispatch, call: type) -> None:
    handler = dispatch.bound[call].handler
    if P.job_result_type(call) is None:
        returns = typing.get_type_hints(handler.fn)["return"]
        assert handler.run in ("loop", "pool")
        assert returns is P.result_type(call), f"{handler.fn.__name__} returns {returns}"
    else:  # a job handler returns the job's body; the job's end is checked in the spec test
        assert handler.run == "job"
        assert handler.fn.__annotations__["return"] in ("JobWork", JobWork)


@pytest.mark.parametrize("call", CALLS, ids=lambda c: c.__name__)
def test_every_handler_lives_in_its_domain(dispatch: Dispatch, call: type) -> None:
    domain = dispatch.bound[call].handler.domain
    tag_domain = call.__struct_config__.tag.split(".")[0]
    assert domain == ("system" if tag_domain == "jobs" else tag_domain)


def test_a_call_declared_twice_is_refused() -> None:
    table: CallTable[object] = CallTable("test")

    @table.on(P.Ping)
    def first(_: object, call: P.Ping) -> P.Pong:
        return P.Pong()

    with pytest.raises(RegistrationError, match="two handlers"):

        @table.on(P.Ping)
        def second(_: object, call: P.Ping) -> P.Pong:
            return P.Pong()

    other: CallTable[object] = CallTable("other")
    other.on(P.Ping)(first)
    dispatch = Dispatch()
    dispatch.mount(table, object())
    with pytest.raises(RegistrationError, match="both test and other"):
        dispatch.mount(other, object())


def test_jobs_and_calls_are_declared_with_the_right_decorator() -> None:
    table: CallTable[object] = CallTable("test")
    with pytest.raises(RegistrationError, match="starts a job"):
        table.on(P.DatasetImport)
    with pytest.raises(RegistrationError, match="not a job call"):
        table.job(P.Ping, kind="x", title=str)


def test_other_domains_call_only_a_domain_service() -> None:
    """engine/<domain>/ modules import another domain only through its service.py."""
    root = Path(__file__).resolve().parents[2] / "engine"
    domains = ("datasets", "tokenizers", "embeddings", "models", "training", "attack")
    pattern = re.compile(r"^\s*(?:from|import) engine\.(\w+)((?:\.\w+)*)(?: import (\w+))?", re.M)
    wrong = []
    for domain in domains:
        for path in (root / domain).rglob("*.py"):
            for other, rest, name in pattern.findall(path.read_text(encoding="utf-8")):
                target = rest or f".{name}"
                if other in domains and other != domain and target != ".service":
                    wrong.append(f"{path.relative_to(root)} imports engine.{other}{target}")
    assert wrong == []
