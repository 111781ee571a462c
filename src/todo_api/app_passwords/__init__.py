"""App passwords: what calendar and reminder apps sign in to `/dav/` with.

The seam for `/dav/` (HTTP Basic with an app password), in basic.py:
- `subject_from_basic(request, connection, authorization)`: the subject (`user_id`) that an
  `Authorization: Basic ...` value signs in as, or a 401 with the Basic challenge, or a 429
  once the user name's failed sign-ins reach RATE_LIMIT_LOGIN_FAILURES; `connection` is the
  request's `RequestConnection`. `BasicSubject` is the same as a route dependency.
- Beneath it, `AppPasswordService.authenticate(username, password) -> str | None`
  (service.py), built per request by `dependencies.app_password_service(resources,
  connection)` from the app's `Resources` (state.py): the throttle, then one statement that
  checks the password and records `last_used_at`.

The rest is the `/auth/app-passwords` routes, in the layers of lists/: routes.py ->
service.py -> repository.py -> statements.py; models.py, schemas.py; credentials.py says how a
password is made and why it is stored as SHA-256.
"""
