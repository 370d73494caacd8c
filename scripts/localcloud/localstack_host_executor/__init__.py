"""LocalStack Lambda executor that runs each function as a host process (no Docker).

`plugin` registers the executor under the name `host` (LAMBDA_RUNTIME_EXECUTOR=host);
`executor` adapts LocalStack's executor interface; `runtime_api` is a minimal Lambda Runtime
API server; `runtime_process` starts and watches the `awslambdaric` process of a function.
"""
