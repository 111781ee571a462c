"""Authentication: token verification, built-in accounts and the `CurrentUser` dependency."""
