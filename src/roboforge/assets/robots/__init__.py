"""Ready-made robot configs: built-in UR arms, Menagerie Franka Panda."""
