"""Typed agent configs of the RL libraries (rsl_rl today), shared by the tasks that register them and
the training code that reads them."""

from roboforge.agents.rsl_rl_cfg import RslRlCnnCfg, RslRlModelCfg, RslRlPpoAlgorithmCfg, RslRlPpoRunnerCfg

__all__ = ["RslRlCnnCfg", "RslRlModelCfg", "RslRlPpoAlgorithmCfg", "RslRlPpoRunnerCfg"]
