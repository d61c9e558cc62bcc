"""Task families; importing this package registers every task id."""

from roboforge.tasks import cartpole, lift, reach  # noqa: F401
