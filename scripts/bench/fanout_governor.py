"""Runs the deployed concurrency governor during the fan-out benchmark (bench.fanout).

LocalStack extracts no EMF metrics from the consumer's logs, so every `period` seconds this
puts what the governor reads from CloudWatch with PutMetricData (high-resolution), as
tests/integration/test_governor_wiring.py does: the consumer's `requests` and `throttled` of
the period just ended (from the entity API's counters: its requests and its token bucket's
429s); the governor reads the queue's backlog itself. Then it invokes the governor (one
decision: the event gives no `run_seconds`). Its EventBridge rule is disabled meanwhile, and
its target removed (LocalStack keeps running a disabled schedule), so the bench alone sets the
pace; its PERIOD_SECONDS is set to the bench's period. Everything is restored afterwards.
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime
from typing import Any

from sbc_tools.ops import stack as stack_lookup
from sbc_tools.ops.stack import set_function_environment

TERRAFORM_DEFAULT_CONCURRENCY = 5  # variables.tf: maximum_concurrency


class GovernorDriver:
    """Puts the governor's metrics and invokes it once per period."""

    def __init__(
        self, stack: stack_lookup.Stack, name: str, period: int, variables: dict[str, Any]
    ) -> None:
        self.stack, self.name, self.period = stack, name, period
        self.variables = variables
        self.lambda_client = stack.client("lambda")
        self.environment: dict[str, str] = {}
        self.rules: list[str] = []
        self.targets: dict[str, list[dict[str, Any]]] = {}
        self._boundary = 0.0
        self._counted = (0, 0)

    @classmethod
    def for_instance(
        cls, stack: stack_lookup.Stack, instance: str, period: int
    ) -> GovernorDriver | None:
        """The driver of the instance's governor; None when the stack has none."""
        folder = stack_lookup.stack_dir(instance) / "terraform"
        state = folder / "terraform.tfstate"
        outputs = json.loads(state.read_text()).get("outputs", {}) if state.exists() else {}
        name = (outputs.get("governor_function_name") or {}).get("value")
        if not name:
            return None
        variables = json.loads((folder / "stack.tfvars.json").read_text())
        return cls(stack, name, period, variables)

    @staticmethod
    def stack_settings(instance: str) -> dict[str, Any]:
        """The Terraform variables the bench's figures depend on."""
        path = stack_lookup.stack_dir(instance) / "terraform" / "stack.tfvars.json"
        variables = json.loads(path.read_text()) if path.exists() else {}
        keys = (
            "batch_size",
            "maximum_batching_window_in_seconds",
            "max_operations_per_request",
            "maximum_concurrency",
            "function_timeout",
        )
        return {key: variables[key] for key in keys if key in variables}

    def _adaptive(self) -> dict[str, Any]:
        adaptive: dict[str, Any] = self.variables.get("adaptive_concurrency") or {}
        return {"minimum": 2, "maximum": 20, **adaptive}

    def bounds(self) -> str:
        adaptive = self._adaptive()
        return f"{adaptive['minimum']}-{adaptive['maximum']}"

    def start_value(self) -> int:
        """Where Terraform starts the governed mapping: maximum_concurrency within the bounds."""
        adaptive = self._adaptive()
        wanted = int(self.variables.get("maximum_concurrency", TERRAFORM_DEFAULT_CONCURRENCY))
        return max(int(adaptive["minimum"]), min(int(adaptive["maximum"]), wanted))

    def take_over(self) -> None:
        """Disable the governor's schedule and set its period to the bench's."""
        configuration = self.lambda_client.get_function_configuration(FunctionName=self.name)
        self.environment = dict(configuration["Environment"]["Variables"])
        set_function_environment(
            self.lambda_client,
            self.name,
            {**self.environment, "PERIOD_SECONDS": str(self.period)},
        )
        events = self.stack.client("events")
        arn = configuration["FunctionArn"]
        self.rules = events.list_rule_names_by_target(TargetArn=arn)["RuleNames"]
        for rule in self.rules:
            events.disable_rule(Name=rule)
            # LocalStack keeps running a disabled schedule: its target goes too, for a while.
            targets = events.list_targets_by_rule(Rule=rule)["Targets"]
            self.targets[rule] = [t for t in targets if t["Arn"] == arn]
            if self.targets[rule]:
                events.remove_targets(Rule=rule, Ids=[t["Id"] for t in self.targets[rule]])

    def hand_back(self) -> None:
        """Restore the governor's environment and schedule."""
        if self.environment:
            set_function_environment(self.lambda_client, self.name, self.environment)
        events = self.stack.client("events")
        for rule in self.rules:
            if self.targets.get(rule):
                events.put_targets(Rule=rule, Targets=self.targets[rule])
            events.enable_rule(Name=rule)

    def tick(self, stats: dict[str, Any]) -> int | None:
        """After each period boundary: put its metrics, run the governor; its setting."""
        now = time.time()
        boundary = math.floor(now / self.period) * self.period
        counted = (int(stats["requests"]), int(stats.get("rate_limited", 0)))
        if not self._boundary:  # the first call of a row: start counting
            self._boundary, self._counted = boundary, counted
            return None
        if boundary <= self._boundary:
            return None
        requests = counted[0] - self._counted[0]
        throttled = counted[1] - self._counted[1]
        self._boundary, self._counted = boundary, counted
        self.put_metrics(boundary - self.period / 2, requests, throttled)
        concurrency = self.invoke().get("concurrency")
        return int(concurrency) if isinstance(concurrency, int | float) else None

    def invoke(self) -> dict[str, Any]:
        """Run the governor once; its decision (concurrency, changed, reason, ...)."""
        answer = self.lambda_client.invoke(FunctionName=self.name, Payload=b"{}")
        payload = json.loads(answer["Payload"].read() or b"{}")
        if answer.get("FunctionError") or not isinstance(payload, dict):
            raise stack_lookup.StackError(f"the governor failed: {payload}")
        return payload

    def reset(self) -> None:
        """Start counting afresh (a new row)."""
        self._boundary = 0.0

    def put_metrics(self, at: float, requests: int, throttled: int) -> None:
        """Put one point of each metric the governor reads from CloudWatch, at `at` (epoch
        seconds), as the consumer's high-resolution EMF lines would."""
        self.stack.client("cloudwatch").put_metric_data(
            Namespace=self.environment.get("METRICS_NAMESPACE", "SqsBatchConsumer"),
            MetricData=consumer_metric_data(
                self.environment["CONSUMER_FUNCTION_NAME"], at, requests, throttled
            ),
        )


def consumer_metric_data(
    function_name: str, at: float, requests: float, throttled: float
) -> list[dict[str, Any]]:
    """PutMetricData's MetricData for the consumer's `requests` and `throttled` at `at` (epoch
    seconds), high-resolution as its EMF lines declare them."""
    return [
        {
            "MetricName": name,
            "Dimensions": [{"Name": "FunctionName", "Value": function_name}],
            "Value": float(value),
            "Timestamp": datetime.fromtimestamp(at, UTC),
            "StorageResolution": 1,
        }
        for name, value in (("requests", requests), ("throttled", throttled))
    ]
