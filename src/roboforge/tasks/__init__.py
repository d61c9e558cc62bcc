"""Task families; importing this package registers every task id."""

from roboforge.tasks import cartpole, classic, lift, locomotion, navigation, reach, stack  # noqa: F401
