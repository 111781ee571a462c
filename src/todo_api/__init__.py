"""todo-api: a multi-user task service."""

__version__ = "0.1.0"
