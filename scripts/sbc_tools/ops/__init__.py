"""Tools for a deployed stack, local or on AWS: stack lookup, publish, redrive, report, drain,
the function's logs, and reading what a run left behind."""
