"""Settings: read once from the environment; a bad one names itself and the rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from consumer.settings import NAMESPACE_PATTERN, Settings, SettingsError

BASE = {
    "ENTITY_API_URL": "https://api.example.com/v1/operations:batch",
    "DLQ_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/orders-dlq",
}


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_environ(BASE)

    assert settings.max_operations_per_request == 100
    assert settings.max_request_bytes == 1_048_576
    assert settings.entity_api_timeout_seconds == 10.0
    assert settings.metrics_namespace == "SqsBatchConsumer"
    assert settings.token is None
    assert settings.retry_horizon_seconds == 3600
    assert settings.retry_backoff_base_seconds == 2.0
    assert settings.retry_backoff_max_seconds == 900
    assert settings.backoff_enabled


def test_retry_settings_are_read_and_zero_turns_backoff_off() -> None:
    settings = Settings.from_environ(
        {
            **BASE,
            "RETRY_HORIZON_SECONDS": "600",
            "RETRY_BACKOFF_BASE_SECONDS": "0.5",
            "RETRY_BACKOFF_MAX_SECONDS": "0",
        }
    )

    assert settings.retry_horizon_seconds == 600
    assert settings.retry_backoff_base_seconds == 0.5
    assert settings.retry_backoff_max_seconds == 0
    assert not settings.backoff_enabled


def test_every_setting_is_read() -> None:
    settings = Settings.from_environ(
        {
            **BASE,
            "MAX_OPERATIONS_PER_REQUEST": "25",
            "MAX_REQUEST_BYTES": "65536",
            "ENTITY_API_TIMEOUT_SECONDS": "2.5",
            "METRICS_NAMESPACE": "Team/Orders",
            "ENTITY_API_TOKEN": "local-token",
        }
    )

    assert (settings.max_operations_per_request, settings.max_request_bytes) == (25, 65536)
    assert settings.entity_api_timeout_seconds == 2.5
    assert settings.metrics_namespace == "Team/Orders"
    assert settings.token == "local-token"


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"ENTITY_API_URL": ""}, "ENTITY_API_URL is required"),
        ({"DLQ_URL": "   "}, "DLQ_URL is required"),
        ({"ENTITY_API_URL": "ftp://x/y"}, "ENTITY_API_URL must be an http(s) URL"),
        ({"DLQ_URL": "not a url"}, "DLQ_URL must be an http(s) URL"),
        ({"MAX_OPERATIONS_PER_REQUEST": "0"}, "MAX_OPERATIONS_PER_REQUEST must be an integer"),
        ({"MAX_OPERATIONS_PER_REQUEST": "ten"}, "MAX_OPERATIONS_PER_REQUEST must be an integer"),
        ({"MAX_OPERATIONS_PER_REQUEST": "2.5"}, "MAX_OPERATIONS_PER_REQUEST must be an integer"),
        ({"MAX_REQUEST_BYTES": "100"}, "MAX_REQUEST_BYTES must be an integer in 1024-"),
        ({"ENTITY_API_TIMEOUT_SECONDS": "0"}, "ENTITY_API_TIMEOUT_SECONDS must be a number"),
        ({"METRICS_NAMESPACE": "AWS/Lambda"}, "METRICS_NAMESPACE"),
        ({"RETRY_HORIZON_SECONDS": "59"}, "RETRY_HORIZON_SECONDS must be an integer in 60-"),
        ({"RETRY_HORIZON_SECONDS": "1209601"}, "RETRY_HORIZON_SECONDS must be an integer"),
        ({"RETRY_HORIZON_SECONDS": "1h"}, "RETRY_HORIZON_SECONDS must be an integer"),
        ({"RETRY_BACKOFF_BASE_SECONDS": "-1"}, "RETRY_BACKOFF_BASE_SECONDS must be a number"),
        ({"RETRY_BACKOFF_BASE_SECONDS": "nan"}, "RETRY_BACKOFF_BASE_SECONDS must be a number"),
        ({"RETRY_BACKOFF_MAX_SECONDS": "43201"}, "RETRY_BACKOFF_MAX_SECONDS must be an integer"),
        ({"RETRY_BACKOFF_MAX_SECONDS": "1.5"}, "RETRY_BACKOFF_MAX_SECONDS must be an integer"),
        ({"METRICS_NAMESPACE": "bad|name"}, "METRICS_NAMESPACE"),
        ({"ENTITY_API_URL": "http://[::1"}, "ENTITY_API_URL must be an http(s) URL"),
        ({"SOURCE_MAX_RECEIVE_COUNT": "0"}, "SOURCE_MAX_RECEIVE_COUNT must be an integer in 1-"),
        ({"SOURCE_MAX_RECEIVE_COUNT": "1001"}, "SOURCE_MAX_RECEIVE_COUNT must be an integer"),
        ({"SOURCE_MAX_RECEIVE_COUNT": "five"}, "SOURCE_MAX_RECEIVE_COUNT must be an integer"),
        ({"ENTITY_API_TOKEN_PARAMETER": "has spaces"}, "ENTITY_API_TOKEN_PARAMETER must be"),
        (
            {"ENTITY_API_TOKEN_PARAMETER": "/p", "ENTITY_API_TOKEN": "t"},
            "set only one",
        ),
    ],
)
def test_a_bad_setting_is_named_with_its_rule(overrides: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_environ({**BASE, **overrides})

    assert named in str(caught.value)


def test_missing_required_setting_when_environment_is_empty() -> None:
    with pytest.raises(SettingsError, match="ENTITY_API_URL is required"):
        Settings.from_environ({})


def test_the_token_is_read_from_the_parameter_once() -> None:
    calls: list[str] = []

    def read(name: str) -> str:
        calls.append(name)
        return "from-ssm"

    settings = Settings.from_environ({**BASE, "ENTITY_API_TOKEN_PARAMETER": "/orders/token"}, read)

    assert settings.token == "from-ssm"
    assert calls == ["/orders/token"]


def test_the_token_never_shows_in_repr_or_str() -> None:
    settings = Settings.from_environ({**BASE, "ENTITY_API_TOKEN": "super-secret-value"})

    assert "super-secret-value" not in repr(settings)
    assert "super-secret-value" not in str(settings)
    assert "token='***'" in repr(settings)


def test_the_token_is_read_from_ssm_parameter_store(moto_endpoint: str) -> None:
    import os
    from unittest import mock

    import boto3

    ssm = boto3.client("ssm", endpoint_url=moto_endpoint, region_name="us-east-1")
    ssm.put_parameter(
        Name="/unit/api-token", Value="ssm-secret", Type="SecureString", Overwrite=True
    )
    with mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": moto_endpoint}):
        settings = Settings.from_environ({**BASE, "ENTITY_API_TOKEN_PARAMETER": "/unit/api-token"})
        with pytest.raises(SettingsError, match="cannot read SSM parameter '/unit/missing'"):
            Settings.from_environ({**BASE, "ENTITY_API_TOKEN_PARAMETER": "/unit/missing"})

    assert settings.token == "ssm-secret"


@pytest.mark.parametrize(
    ("variable", "token"),
    [
        ("ENTITY_API_TOKEN_PARAMETER", "sekrit\n"),  # a SecureString stored from a file
        ("ENTITY_API_TOKEN_PARAMETER", "sek\r\nrit"),
        ("ENTITY_API_TOKEN", "sek\x00rit"),
        ("ENTITY_API_TOKEN", "sek\u20acrit"),  # not Latin-1: cannot be a header value
    ],
)
def test_a_token_that_cannot_be_sent_in_a_header_fails_the_cold_start(
    variable: str, token: str
) -> None:
    # Otherwise every request fails before it is sent (ValueError from http.client), every
    # record is retried until the redrive policy takes it, and nothing is logged as an error.
    environ = {**BASE, variable: "/orders/api-token" if variable.endswith("PARAMETER") else token}

    with pytest.raises(SettingsError, match=variable) as caught:
        Settings.from_environ(environ, read_parameter=lambda name: token)
    assert "sek" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com/v1/batch",
        "http://10.0.0.5:8080/v1/batch",
        "http://127.0.0.1.nip.io/v1/batch",
        "http://[2001:db8::1]/v1/batch",
    ],
)
@pytest.mark.parametrize("token_source", ["ENTITY_API_TOKEN", "ENTITY_API_TOKEN_PARAMETER"])
def test_a_token_over_plain_http_to_another_host_fails_the_cold_start(
    url: str, token_source: str
) -> None:
    environ = {**BASE, "ENTITY_API_URL": url, token_source: "/orders/token"}
    with pytest.raises(SettingsError, match="ENTITY_API_URL must be https://"):
        Settings.from_environ(environ, read_parameter=lambda name: "secret")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/v1/batch",
        "http://127.0.0.1:8080/v1/batch",
        "http://127.8.9.10/v1/batch",
        "http://localhost:8080/v1/batch",
        "http://LOCALHOST/v1/batch",
        "http://[::1]:8080/v1/batch",
    ],
)
def test_a_token_goes_over_https_or_to_a_loopback_host(url: str) -> None:
    settings = Settings.from_environ({**BASE, "ENTITY_API_URL": url, "ENTITY_API_TOKEN": "t"})

    assert (settings.entity_api_url, settings.token) == (url, "t")


def test_plain_http_without_a_token_is_allowed() -> None:
    url = "http://api.example.com/v1/batch"

    assert Settings.from_environ({**BASE, "ENTITY_API_URL": url}).entity_api_url == url


@pytest.mark.parametrize("port", ["0", "65536", "99999", "-5", "http", "80a"])
def test_a_bad_port_fails_the_cold_start_naming_the_setting(port: str) -> None:
    url = f"https://api.example.com:{port}/v1/batch"
    with pytest.raises(SettingsError, match=r"^ENTITY_API_URL must have a port in 1-65535"):
        Settings.from_environ({**BASE, "ENTITY_API_URL": url})


@pytest.mark.parametrize(
    ("namespace", "accepted"),
    [
        ("Team/Orders", True),
        ("a.b_c/d#e:f-g", True),
        ("x" * 255, True),
        ("x" * 256, False),
        ("AWS/Lambda", False),
        ("Team Orders", True),
        ("Team/\nOrders", False),
        ("bad|name", False),
        ("Équipe", False),
    ],
)
def test_the_metrics_namespace_rule_is_terraforms(namespace: str, accepted: bool) -> None:
    # terraform/modules/consumer/variables.tf, metrics_namespace: NAMESPACE_PATTERN and not "AWS/"
    environ = {**BASE, "METRICS_NAMESPACE": namespace}
    if accepted:
        assert Settings.from_environ(environ).metrics_namespace == namespace
    else:
        with pytest.raises(SettingsError, match="METRICS_NAMESPACE"):
            Settings.from_environ(environ)


def test_every_terraform_metrics_namespace_rule_is_the_handlers_pattern() -> None:
    terraform = Path(__file__).resolve().parents[2] / "terraform"
    files = [terraform / "variables.tf", *sorted(terraform.glob("modules/*/variables.tf"))]
    rules = {
        match
        for file in files
        for match in re.findall(
            r'can\(regex\("\^(.*?)\$", var\.metrics_namespace\)\)', file.read_text()
        )
    }
    assert rules == {NAMESPACE_PATTERN.pattern}, rules
    assert (
        'startswith(var.metrics_namespace, "AWS/")'
        in (terraform / "modules/alarms/variables.tf").read_text()
    )


def test_the_redrive_limit_terraform_passes_is_read() -> None:
    assert Settings.from_environ(BASE).source_max_receive_count is None
    settings = Settings.from_environ({**BASE, "SOURCE_MAX_RECEIVE_COUNT": "7"})
    assert settings.source_max_receive_count == 7


def test_terraforms_function_timeout_rule_is_the_handlers_budget() -> None:
    # one request at its floor timeout + its margin, one SQS call, the client, the return
    from consumer.entity_api import REQUEST_MARGIN_SECONDS
    from consumer.settings import MIN_REQUEST_TIMEOUT_SECONDS
    from consumer.sqs import SQS_CALL_SECONDS, SQS_CLIENT_SECONDS
    from consumer.time_budget import SAFETY_MARGIN_SECONDS

    budget = REQUEST_MARGIN_SECONDS + SQS_CALL_SECONDS + SQS_CLIENT_SECONDS + SAFETY_MARGIN_SECONDS
    terraform = Path(__file__).resolve().parents[2] / "terraform"
    rule = re.compile(
        r"var\.function_timeout >= min\(coalesce\(var\.entity_api_timeout_seconds, "
        r"([0-9.]+)\), ([0-9.]+)\) \+ ([0-9.]+)"
    )
    for path in (terraform / "variables.tf", terraform / "modules/consumer/variables.tf"):
        [(default, floor, reserve)] = rule.findall(path.read_text())
        assert float(default) == Settings("http://a", "http://b").entity_api_timeout_seconds
        assert float(floor) == MIN_REQUEST_TIMEOUT_SECONDS
        assert float(reserve) == pytest.approx(budget), path


@pytest.mark.parametrize(
    ("raw", "share"), [(None, None), ("0", None), ("2.5", 2.5), ("1e-05", 1e-05)]
)
def test_the_rate_share_is_read_and_zero_or_unset_means_unknown(
    raw: str | None, share: float | None
) -> None:
    environ = BASE if raw is None else {**BASE, "ENTITY_API_RATE_SHARE": raw}
    assert Settings.from_environ(environ).entity_api_rate_share == share


@pytest.mark.parametrize("raw", ["-1", "100001", "fast"])
def test_a_bad_rate_share_is_named(raw: str) -> None:
    with pytest.raises(SettingsError, match="ENTITY_API_RATE_SHARE must be a number in 0-100000"):
        Settings.from_environ({**BASE, "ENTITY_API_RATE_SHARE": raw})
