"""`roboforge list`: the registered tasks."""

from __future__ import annotations

from rich.table import Table

from roboforge.cli.app import Imports, Json, app
from roboforge.cli.imports import import_modules
from roboforge.cli.run import run_command
from roboforge.utils.console import out_console


@app.command("list", epilog="Examples: roboforge list --json | roboforge list --import my_robots.tasks")
def list_cmd(as_json: Json = False, imports: Imports = None) -> None:
    """List the registered tasks and the RL libraries (and algorithms) each has agent configs for."""
    run_command(lambda: _list(as_json, imports), as_json)


def _list(as_json: bool, imports: list[str] | None) -> dict | None:
    import roboforge.tasks  # noqa: F401  (registers the built-in tasks)
    from roboforge.envs.registry import list_tasks, task_algorithms

    import_modules(imports)
    tasks = list_tasks()
    if as_json:
        return {
            name: {"description": desc, "libraries": task_algorithms(name)} for name, desc in tasks.items()
        }
    table = Table("task", "libraries", "description")
    for name, desc in sorted(tasks.items()):
        table.add_row(name, _libraries_cell(task_algorithms(name)), desc)
    out_console().print(table)
    return None


def _libraries_cell(libraries: dict[str, list[str]]) -> str:
    """`rsl_rl, skrl (+sac), rl_games`: every library trains PPO; SAC is named where there is one."""
    return ", ".join(lib + (" (+sac)" if "sac" in algos else "") for lib, algos in libraries.items())
