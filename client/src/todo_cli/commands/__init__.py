"""The `todo` commands, a module per subject; main.py puts them in order under `todo`."""
