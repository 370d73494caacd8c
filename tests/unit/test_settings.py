"""Settings: read once from the environment; a bad one names itself and the rule."""

from __future__ import annotations

import pytest

from consumer.settings import Settings, SettingsError

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
