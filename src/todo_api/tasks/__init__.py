"""Tasks: the model, request/response schemas, owner-scoped queries and routes."""
