"""The package layers of ARCHITECTURE.md hold: no import cycles, no layer importing one listed after it."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "check_layers.py"


def load_checker():
    spec = importlib.util.spec_from_file_location("check_layers", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_layers_have_no_cycles_and_no_arrow_up():
    checker = load_checker()
    edges = checker.graph()
    assert len(edges) > 100, "the import graph was not read"
    assert checker.up_arrows(edges) == []
    assert checker.cycles(checker.graph(runtime_only=True)) == []


def test_every_package_is_in_the_layer_table():
    checker = load_checker()
    packages = {p.name for p in checker.ROOT.joinpath("roboforge").iterdir() if (p / "__init__.py").is_file()}
    assert packages <= set(checker.LAYERS), packages - set(checker.LAYERS)


def test_the_checker_finds_an_arrow_up_and_a_cycle():
    checker = load_checker()
    edges = {"roboforge.sim.a": {"roboforge.envs.b"}, "roboforge.envs.b": {"roboforge.sim.a"}}
    assert checker.up_arrows(edges) == [("roboforge.sim.a", "roboforge.envs.b")]
    assert checker.cycles(edges) == [["roboforge.envs.b", "roboforge.sim.a"]]
