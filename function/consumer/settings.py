"""Handler settings: read and validated once per container from the environment."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

DEFAULT_MAX_OPERATIONS = 100
DEFAULT_MAX_REQUEST_BYTES = 1_048_576
DEFAULT_TIMEOUT_SECONDS = 10.0
MIN_REQUEST_TIMEOUT_SECONDS = 1.0
"""The shortest timeout a request is sent with when the time left caps it (or the timeout
setting, when that is shorter): with less time left than this floor (plus a margin), no
request starts. Terraform's `function_timeout` rule counts with it."""
DEFAULT_METRICS_NAMESPACE = "SqsBatchConsumer"
DEFAULT_RETRY_HORIZON_SECONDS = 3600
DEFAULT_RETRY_BACKOFF_BASE_SECONDS = 2.0
DEFAULT_RETRY_BACKOFF_MAX_SECONDS = 900

MAX_OPERATIONS_RANGE = (1, 10_000)
MAX_REQUEST_BYTES_RANGE = (1_024, 6 * 1_048_576)
TIMEOUT_RANGE = (0.1, 900.0)
RETRY_HORIZON_RANGE = (60, 1_209_600)
"""One minute to fourteen days (SQS's longest retention)."""
RETRY_BACKOFF_BASE_RANGE = (0.0, 43_200.0)
MAX_RECEIVE_COUNT_RANGE = (1, 1_000)
"""SQS's maxReceiveCount range."""
ENTITY_API_RATE_SHARE_RANGE = (0.0, 100_000.0)
"""Requests/s one execution environment starts paced at; 0 (the default): unknown, unpaced."""
RETRY_BACKOFF_MAX_RANGE = (0, 43_200)
"""Up to SQS's visibility maximum (12 hours); 0 turns visibility backoff off."""
_LETTERS_DIGITS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_SSM_NAME_CHARS = _LETTERS_DIGITS | frozenset("_.-/")
NAMESPACE_PATTERN = re.compile(r"[A-Za-z0-9._/#: -]{1,255}")
"""The metrics namespace rule, the same as the Terraform variable `metrics_namespace`'s
(`^[A-Za-z0-9._/#: -]{1,255}$`, CloudWatch's characters, not starting with `AWS/`); matched
whole (fullmatch). tests/unit/test_settings.py reads Terraform's rule to keep the two equal."""


class SettingsError(ValueError):
    """A missing or invalid setting; the message names the setting and the rule."""


@dataclass(frozen=True)
class Settings:
    """The handler's configuration (contract section 3)."""

    entity_api_url: str
    dlq_url: str
    max_operations_per_request: int = DEFAULT_MAX_OPERATIONS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    entity_api_timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    metrics_namespace: str = DEFAULT_METRICS_NAMESPACE
    token_parameter: str | None = None
    token: str | None = field(default=None, repr=False)
    retry_horizon_seconds: int = DEFAULT_RETRY_HORIZON_SECONDS
    """A valid change failing transiently after this long since its first send is
    dead-lettered as `expired`."""
    retry_backoff_base_seconds: float = DEFAULT_RETRY_BACKOFF_BASE_SECONDS
    retry_backoff_max_seconds: int = DEFAULT_RETRY_BACKOFF_MAX_SECONDS
    """Cap of the visibility backoff; 0: visibility is left alone (backoff off)."""
    source_max_receive_count: int | None = None
    """The source queue's maxReceiveCount as Terraform set it (SOURCE_MAX_RECEIVE_COUNT); None:
    read the queue's RedrivePolicy when it is needed (the fallback)."""
    entity_api_rate_share: float | None = None
    """Requests/s each execution environment starts paced at (Terraform: the API's known
    limit, `entity_api_rate_limit`, over the largest concurrency); None: unpaced until a 429."""

    @property
    def entity_api_timeout_floor(self) -> float:
        """The shortest timeout a request is started with (see MIN_REQUEST_TIMEOUT_SECONDS)."""
        return min(self.entity_api_timeout_seconds, MIN_REQUEST_TIMEOUT_SECONDS)

    @property
    def backoff_enabled(self) -> bool:
        """Whether transiently failed records get their visibility set (max > 0)."""
        return self.retry_backoff_max_seconds > 0

    def __repr__(self) -> str:
        hidden = "'***'" if self.token else "None"
        return (
            f"Settings(entity_api_url={self.entity_api_url!r}, dlq_url={self.dlq_url!r}, "
            f"max_operations_per_request={self.max_operations_per_request}, "
            f"max_request_bytes={self.max_request_bytes}, "
            f"entity_api_timeout_seconds={self.entity_api_timeout_seconds}, "
            f"metrics_namespace={self.metrics_namespace!r}, "
            f"token_parameter={self.token_parameter!r}, token={hidden}, "
            f"retry_horizon_seconds={self.retry_horizon_seconds}, "
            f"retry_backoff_base_seconds={self.retry_backoff_base_seconds}, "
            f"retry_backoff_max_seconds={self.retry_backoff_max_seconds}, "
            f"source_max_receive_count={self.source_max_receive_count}, "
            f"entity_api_rate_share={self.entity_api_rate_share})"
        )

    __str__ = __repr__

    @classmethod
    def from_environ(
        cls,
        environ: Mapping[str, str],
        read_parameter: Callable[[str], str] | None = None,
    ) -> Settings:
        """Build settings from environment variables; raise SettingsError on the first bad one.

        `read_parameter` reads an SSM SecureString (default: SSM GetParameter with decryption).
        """
        token_parameter, token = _token(environ, read_parameter or read_ssm_parameter)
        namespace = _metrics_namespace(environ)
        entity_api_url = _entity_api_url(environ, has_token=token is not None)
        return cls(
            entity_api_url=entity_api_url,
            dlq_url=_url(environ, "DLQ_URL"),
            max_operations_per_request=int(
                _number(environ, "MAX_OPERATIONS_PER_REQUEST", DEFAULT_MAX_OPERATIONS, int)
            ),
            max_request_bytes=int(
                _number(environ, "MAX_REQUEST_BYTES", DEFAULT_MAX_REQUEST_BYTES, int)
            ),
            entity_api_timeout_seconds=_number(
                environ, "ENTITY_API_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS, float
            ),
            metrics_namespace=namespace,
            token_parameter=token_parameter,
            token=token,
            retry_horizon_seconds=int(
                _number(environ, "RETRY_HORIZON_SECONDS", DEFAULT_RETRY_HORIZON_SECONDS, int)
            ),
            retry_backoff_base_seconds=_number(
                environ, "RETRY_BACKOFF_BASE_SECONDS", DEFAULT_RETRY_BACKOFF_BASE_SECONDS, float
            ),
            retry_backoff_max_seconds=int(
                _number(
                    environ, "RETRY_BACKOFF_MAX_SECONDS", DEFAULT_RETRY_BACKOFF_MAX_SECONDS, int
                )
            ),
            source_max_receive_count=_optional_int(environ, "SOURCE_MAX_RECEIVE_COUNT"),
            entity_api_rate_share=_number(environ, "ENTITY_API_RATE_SHARE", 0.0, float) or None,
        )


def _token(
    environ: Mapping[str, str], read_parameter: Callable[[str], str]
) -> tuple[str | None, str | None]:
    """(ENTITY_API_TOKEN_PARAMETER, the token): read from SSM when the parameter is set, else
    ENTITY_API_TOKEN (local runs); at most one of the two may be set."""
    token_parameter = _optional(environ, "ENTITY_API_TOKEN_PARAMETER")
    token = _optional(environ, "ENTITY_API_TOKEN")
    if token_parameter and token:
        raise SettingsError(
            "ENTITY_API_TOKEN_PARAMETER and ENTITY_API_TOKEN are both set: set only one "
            "(the SSM parameter in AWS, the plain token for local runs only)"
        )
    if token_parameter:
        if not _is_ssm_name(token_parameter):
            raise SettingsError(
                "ENTITY_API_TOKEN_PARAMETER must be an SSM parameter name or ARN, "
                f"got {token_parameter!r}"
            )
        token = read_parameter(token_parameter)
    if token is not None and not _is_header_safe(token):
        raise SettingsError(
            f"{'ENTITY_API_TOKEN_PARAMETER' if token_parameter else 'ENTITY_API_TOKEN'}: "
            "the token must be Latin-1 text without control characters (e.g. no trailing "
            "newline) to be sent as an Authorization header"
        )
    return token_parameter, token


def _metrics_namespace(environ: Mapping[str, str]) -> str:
    """METRICS_NAMESPACE, or the default when unset."""
    namespace = _optional(environ, "METRICS_NAMESPACE") or DEFAULT_METRICS_NAMESPACE
    if not is_metrics_namespace(namespace):
        raise SettingsError(
            "METRICS_NAMESPACE must be 1-255 characters of letters, digits, spaces and "
            f". _ / # : -, not starting with 'AWS/'; got {namespace!r}"
        )
    return namespace


def _entity_api_url(environ: Mapping[str, str], *, has_token: bool) -> str:
    """ENTITY_API_URL: https whenever a token is sent (plain http to a loopback host only)."""
    entity_api_url = _url(environ, "ENTITY_API_URL")
    if has_token and not _may_carry_token(entity_api_url):
        raise SettingsError(
            "ENTITY_API_URL must be https:// when a token is set (ENTITY_API_TOKEN or "
            "ENTITY_API_TOKEN_PARAMETER): a bearer token over http:// is readable on the "
            f"way; plain http is only for a loopback host; got {entity_api_url!r}"
        )
    return entity_api_url


_RANGES: dict[str, tuple[float, float]] = {
    "MAX_OPERATIONS_PER_REQUEST": MAX_OPERATIONS_RANGE,
    "MAX_REQUEST_BYTES": MAX_REQUEST_BYTES_RANGE,
    "ENTITY_API_TIMEOUT_SECONDS": TIMEOUT_RANGE,
    "RETRY_HORIZON_SECONDS": RETRY_HORIZON_RANGE,
    "RETRY_BACKOFF_BASE_SECONDS": RETRY_BACKOFF_BASE_RANGE,
    "RETRY_BACKOFF_MAX_SECONDS": RETRY_BACKOFF_MAX_RANGE,
    "SOURCE_MAX_RECEIVE_COUNT": MAX_RECEIVE_COUNT_RANGE,
    "ENTITY_API_RATE_SHARE": ENTITY_API_RATE_SHARE_RANGE,
}


def is_metrics_namespace(value: str) -> bool:
    """A CloudWatch namespace we accept: NAMESPACE_PATTERN, not AWS's own (`AWS/...`)."""
    return NAMESPACE_PATTERN.fullmatch(value) is not None and not value.startswith("AWS/")


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a URL's hostname) names this machine: localhost, 127.0.0.0/8, ::1."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _may_carry_token(url: str) -> bool:
    """A bearer token goes only over https, or over http to a loopback host (local use)."""
    parts = urlsplit(url)
    return parts.scheme == "https" or is_loopback_host(parts.hostname or "")


def _is_ssm_name(value: str) -> bool:
    """An SSM parameter name (letters, digits, _ . - /) or an SSM ARN."""
    if value.startswith("arn:"):
        return ":ssm:" in value and not any(c.isspace() for c in value)
    return len(value) <= 2048 and set(value) <= _SSM_NAME_CHARS


def _is_header_safe(token: str) -> bool:
    """Whether `Bearer <token>` can be sent as a header value (Latin-1, no control chars)."""
    return all(0x20 <= ord(c) < 0x7F or 0xA0 <= ord(c) <= 0xFF for c in token)


def _optional(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _url(environ: Mapping[str, str], name: str) -> str:
    value = _optional(environ, name)
    if value is None:
        raise SettingsError(f"{name} is required and not set")
    try:
        parts = urlsplit(value)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host = None
    if host is None or parts.scheme not in ("http", "https") or not host:
        raise SettingsError(f"{name} must be an http(s) URL with a host, got {value!r}")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = 0
    if port == 0:
        raise SettingsError(f"{name} must have a port in 1-65535 (or none), got {value!r}")
    return value


def read_number(
    environ: Mapping[str, str],
    name: str,
    default: float | None,
    kind: type[int] | type[float],
    bounds: tuple[float, float],
) -> float:
    """The setting `name` as a number within `bounds` (inclusive), `default` when unset
    (None: required); SettingsError naming the setting and its rule otherwise."""
    if default is None and _optional(environ, name) is None:
        raise SettingsError(f"{name} is required and not set")
    return _number(environ, name, 0.0 if default is None else default, kind, bounds)


def _number(
    environ: Mapping[str, str],
    name: str,
    default: float,
    kind: type[int] | type[float],
    bounds: tuple[float, float] | None = None,
) -> float:
    raw = _optional(environ, name)
    low, high = bounds or _RANGES[name]
    if raw is None:
        return default
    rule = f"{name} must be {'an integer' if kind is int else 'a number'} in {_n(low)}-{_n(high)}"
    try:
        value = kind(raw)
    except ValueError:
        raise SettingsError(f"{rule}, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{rule}, got {raw!r}")
    return value


def _optional_int(environ: Mapping[str, str], name: str) -> int | None:
    """An optional integer setting within its range; None when unset."""
    if _optional(environ, name) is None:
        return None
    return int(_number(environ, name, 0, int))


def _n(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


def read_ssm_parameter(name: str) -> str:
    """Read a SecureString from SSM Parameter Store (boto3 imported here, lazily)."""
    import boto3  # noqa: PLC0415 - lazy: only when the token lives in SSM
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    config = Config(connect_timeout=2, read_timeout=3, retries={"total_max_attempts": 2})
    try:
        answer = boto3.client("ssm", config=config).get_parameter(Name=name, WithDecryption=True)
    except (BotoCoreError, ClientError) as exc:
        raise SettingsError(
            f"ENTITY_API_TOKEN_PARAMETER: cannot read SSM parameter {name!r}: {exc}"
        ) from None
    value = answer.get("Parameter", {}).get("Value")
    if not isinstance(value, str) or not value:
        raise SettingsError(f"ENTITY_API_TOKEN_PARAMETER: SSM parameter {name!r} is empty")
    return value
