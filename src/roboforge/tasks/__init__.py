"""Task families; importing this package registers every task id."""

from roboforge.tasks import cartpole  # noqa: F401
