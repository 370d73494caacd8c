"""Discrete-event simulator and capacity planner of the stack at AWS scale (docs/simulator.md).

Run as `python -m sim` with PYTHONPATH=function:scripts; `make simulate`, `make plan-capacity`.
"""
