"""Jupyter notebooks in MUSCode: run headless in the sandbox, and nbgrader assignments
made, graded and scored the way nbgrader does it (see docs/notebooks.md).

``nbrun``, ``nbkernel`` and ``nbevents`` are the executor copied into the sandbox (the
standard library and IPython only); the other modules are the host's side.
"""
