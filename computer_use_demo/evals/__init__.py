"""Evals: measure an agent on a suite of desktop tasks, each on a fresh desktop, many at once.

What lives here: the task format and its loader (task.py, task.schema.json), the checkers
(checkers.py), a task's setup on its desktop (setup_steps.py), the suite's local web pages
(pages.py), the worker that runs one task's agent or oracle in its own process (worker.py),
the runner (runner.py), the report (report.py), the ``eval`` command (cli.py) and the starter
suite (suites/starter/). The desktops themselves (start, reset, stop) are generic:
desktop/virtual.py.

A top layer, beside app/ and door/: it may import sessions, agent, tools and desktop; nothing
below imports it.
"""
