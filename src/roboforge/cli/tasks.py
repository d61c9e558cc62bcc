"""`roboforge list`: the registered tasks."""

from __future__ import annotations

from rich.table import Table

from roboforge.cli.app import Json, app
from roboforge.utils.console import out_console
from roboforge.utils.files import dumps_json


@app.command("list", epilog="Example: roboforge list --json")
def list_cmd(as_json: Json = False) -> None:
    """List the registered tasks."""
    import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
    from roboforge.envs.registry import list_tasks

    tasks = list_tasks()
    if as_json:
        print(dumps_json(tasks), flush=True)
        return
    table = Table("task", "description")
    for name, desc in sorted(tasks.items()):
        table.add_row(name, desc)
    out_console().print(table)
