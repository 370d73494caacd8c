"""The simulator runs the code that ships, not a copy of it: no policy name of the handler's
or the governor's modules is defined again under scripts/sim/, the decisions come from those
modules (patching them changes the simulation), and the defaults are Terraform's."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from dataclasses import replace
from pathlib import Path

import pytest
from sim_scenarios import small_scenario

import consumer.flow_control
from consumer import delivery, entity_api
from consumer.flow_control import backoff
from consumer.governor import run as governor_run
from sim import governor as sim_governor
from sim.scenario import Governor, Outage, RateChange, Scenario, Stack
from sim.simulation import Result, run

REPO = Path(__file__).resolve().parents[2]
SIM = REPO / "scripts" / "sim"
POLICY_MODULES = [
    "consumer.delivery",
    "consumer.governor.run",
    "consumer.governor.law",
    *(
        f"consumer.flow_control.{m.name}"
        for m in pkgutil.iter_modules(consumer.flow_control.__path__)
    ),
]


def defined_names(tree: ast.Module, *, in_classes: bool) -> set[str]:
    """Functions, classes and constants a module defines at its top level (and in its classes),
    leading underscores dropped."""
    names: set[str] = set()
    nodes: list[tuple[ast.stmt, bool]] = [(node, False) for node in tree.body]
    while nodes:
        node, in_class = nodes.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            if in_classes and isinstance(node, ast.ClassDef):
                nodes.extend((child, True) for child in node.body)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and (not in_class or node.value is not None)  # a dataclass field is no policy
        ):
            names.add(node.target.id)
    return {n.lstrip("_") for n in names if not n.startswith("__")}


def top_level_names(module: str) -> set[str]:
    source = Path(importlib.import_module(module).__file__ or "").read_text(encoding="utf-8")
    return defined_names(ast.parse(source), in_classes=False)


def test_no_policy_name_is_defined_again_in_the_simulator() -> None:
    policy = set().union(*(top_level_names(m) for m in POLICY_MODULES))
    assert {"THROTTLING_STATUSES", "Pacer", "schedule_retry", "govern", "decide"} <= policy
    for path in sorted(SIM.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        copies = defined_names(tree, in_classes=True) & policy
        assert not copies, f"{path.name} defines {sorted(copies)} again: import them instead"


def test_no_status_set_or_limiter_of_its_own_in_the_simulator() -> None:
    for path in sorted(SIM.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "AdaptiveRateLimiter" not in source, f"{path.name}: drive the handler's Pacer"
        assert "governor.law" not in source, f"{path.name}: run consumer.governor.run.govern"
        used = {
            getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Name | ast.Attribute | ast.alias)
        }
        retry_loop = {"MAX_ATTEMPTS", "backoff_seconds", "BACKOFF_BASE_SECONDS", "_retryable"}
        assert not used & retry_loop, f"{path.name}: ask consumer.entity_api.retry_wait"
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Set | ast.Tuple | ast.List):
                statuses = [
                    e.value
                    for e in node.elts
                    if isinstance(e, ast.Constant) and e.value in (429, 503)
                ]
                assert not statuses, f"{path.name}:{node.lineno}: a status set of its own"


def fingerprint(result: Result) -> tuple[object, ...]:
    return (
        result.requests,
        result.answers_429,
        result.drain_seconds,
        result.copies,
        result.sqs_requests,
        [(c.at, c.concurrency) for c in result.changes],
    )


def throttled_fan_out() -> Scenario:
    """20 concurrent batches against an API of 20 requests/s, an outage of 503s."""
    return small_scenario(
        count=6000,
        span=30.0,
        stack={"batch_size": 10, "maximum_concurrency": 20, "max_operations_per_request": 1},
        api={
            "rate": 20,
            "burst": 20,
            "latency_median_ms": 50,
            "retry_after_seconds": 1.0,
            "outages": (Outage(60.0, 30.0, 503),),
            "transient_operation_share": 0.05,  # records retried through the queue
        },
    )


@pytest.mark.parametrize(
    ("target", "name", "value"),
    [
        (delivery, "THROTTLING_STATUSES", frozenset({429, 503})),
        (delivery, "PACER_PER_ENVIRONMENT", not delivery.PACER_PER_ENVIRONMENT),
        (delivery, "REQUESTS_IN_FLIGHT", 1),
        (entity_api, "MAX_ATTEMPTS", 1),  # through retry_wait, as EntityApiClient.send
        (entity_api, "BACKOFF_BASE_SECONDS", 0.05),
    ],
)
def test_the_handlers_decisions_come_from_its_modules(
    monkeypatch: pytest.MonkeyPatch, target: object, name: str, value: object
) -> None:
    scenario = throttled_fan_out()
    before = fingerprint(run(scenario))
    monkeypatch.setattr(target, name, value)
    assert fingerprint(run(scenario)) != before


def test_the_retry_schedule_comes_from_flow_control(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = throttled_fan_out()
    before = fingerprint(run(scenario))
    shipped = backoff.schedule_retry

    def later(*args: object, **kwargs: object) -> backoff.RetryPlan:
        plan = shipped(*args, **kwargs)  # type: ignore[arg-type]
        return replace(plan, visibility_seconds=plan.visibility_seconds + 7)

    monkeypatch.setattr(backoff, "schedule_retry", later)
    assert fingerprint(run(scenario)) != before


def test_the_governors_decisions_come_from_govern(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = small_scenario(
        count=30_000,
        span=600.0,
        stack={"batch_size": 10, "maximum_concurrency": 20, "max_operations_per_request": 1},
        api={"rate": 100, "burst": 100, "rate_changes": (RateChange(at=200.0, rate=10.0),)},
        governor={"enabled": True},
        max_duration_seconds=1200,
    )
    moved = run(scenario).changes
    assert moved
    shipped = governor_run.decide

    def never_below_start(
        state: governor_run.GovernorState, seen: governor_run.Observations
    ) -> object:
        decision = shipped(state, seen)
        return (
            decision if decision.concurrency >= 20 else shipped(state, replace(seen, requests=None))
        )

    monkeypatch.setattr(governor_run, "decide", never_below_start)
    assert run(scenario).changes != moved


def terraform_default(text: str, name: str) -> float:
    match = re.search(rf"\b{name}\s*=\s*optional\(number, ([0-9.]+)\)", text)
    assert match, name
    return float(match.group(1))


def test_scenario_defaults_are_terraforms() -> None:
    variables = (REPO / "terraform" / "variables.tf").read_text(encoding="utf-8")
    governor = Governor()
    assert governor.minimum == terraform_default(variables, "minimum")
    assert governor.maximum == terraform_default(variables, "maximum")
    assert governor.target_throttle_ratio == terraform_default(variables, "target_throttle_ratio")
    assert governor.period_seconds == terraform_default(variables, "period_seconds")
    concurrency = re.search(r'variable "maximum_concurrency" \{[^}]*default\s*=\s*(\d+)', variables)
    assert concurrency
    assert Stack().maximum_concurrency == int(concurrency.group(1))
    module = (REPO / "terraform" / "modules" / "governor" / "main.tf").read_text(encoding="utf-8")
    assert 'schedule_expression = "rate(1 minute)"' in module
    assert sim_governor.SCHEDULE_SECONDS == 60
