"""`todo`: the command-line client of the todo-api service, talking to it only over HTTP."""

# Kept equal to the distribution's version by a test: reading it from the installed metadata
# costs ~50 ms of start-up, a third of the budget for `todo --version`.
__version__ = "0.1.0"
