"""Task families; importing this package registers every task id."""

from roboforge.tasks import cartpole, reach  # noqa: F401
