"""App passwords: what calendar and reminder apps sign in to `/dav/` with (service.py)."""
