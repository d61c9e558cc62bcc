"""`roboforge list`: the registered tasks."""

from __future__ import annotations

from rich.table import Table

from roboforge.cli.app import Json, app
from roboforge.utils.console import out_console
from roboforge.utils.files import dumps_json


@app.command("list", epilog="Example: roboforge list --json")
def list_cmd(as_json: Json = False) -> None:
    """List the registered tasks and the RL libraries (and algorithms) each has agent configs for."""
    import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
    from roboforge.envs.registry import list_tasks, task_algorithms

    tasks = list_tasks()
    if as_json:
        rows = {
            name: {"description": desc, "libraries": task_algorithms(name)} for name, desc in tasks.items()
        }
        print(dumps_json(rows), flush=True)
        return
    table = Table("task", "libraries", "description")
    for name, desc in sorted(tasks.items()):
        table.add_row(name, _libraries_cell(task_algorithms(name)), desc)
    out_console().print(table)


def _libraries_cell(libraries: dict[str, list[str]]) -> str:
    """`rsl_rl, skrl (+sac), rl_games`: every library trains PPO; SAC is named where there is one."""
    return ", ".join(lib + (" (+sac)" if "sac" in algos else "") for lib, algos in libraries.items())
