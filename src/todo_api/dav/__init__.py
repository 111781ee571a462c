"""CalDAV (RFC 4791, with WebDAV RFC 4918, RFC 5397 and RFC 6578) for tasks, under `/dav/`.

The modules, from the outside in: `routes.py` (each level of the tree: read the inputs,
answer), `authentication.py` (who the request speaks for), `dependencies.py` (the service
for the signed-in caller; another user's address is 403 there), `reports.py` (REPORTs),
`properties.py` (what each resource says of itself), `calendar_text.py` (a task's VCALENDAR
text for GET and reports), `service.py` (CalDAV's own rules, over TaskService and
ListService, which keep every rule of tasks and lists), `repository.py` (CalDAV's bulk
reads), `ical.py` (the VTODO mapping table; reading a PUT), `filters.py` (calendar-query),
`xml.py` (every piece of WebDAV XML), `paths.py` (the addresses).
"""
