"""Drive the `caldav` library, as a calendar app would, for tests/test_dav_client.py.

Runs in the clients' environment (tests/client_tools.py):

    caldav_client.py URL TOKEN COMMAND [ARGUMENT...]

Each run discovers the user's calendars from the bare server address, as an app does on
first setup, does one thing and prints what the client saw as JSON.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import caldav


def _summary(item: Any) -> str:
    return str(item.icalendar_component["SUMMARY"])


def main(url: str, token: str, command: str, *arguments: str) -> Any:
    client = caldav.DAVClient(
        url=url, headers={"Authorization": f"Bearer {token}"}, require_tls=False
    )
    principal = client.principal()
    if command == "calendars":
        return [
            {"name": calendar.get_display_name(), "components": calendar.get_supported_components()}
            for calendar in principal.calendars()
        ]
    if command == "make-calendar":
        principal.make_calendar(name=arguments[0])
        return None
    calendar = next(c for c in principal.calendars() if c.get_display_name() == arguments[0])
    if command == "save-todo":
        fields = json.loads(arguments[1])
        if "due" in fields:
            due = datetime.fromisoformat(fields["due"])
            zone = fields.pop("due_zone", None)
            fields["due"] = due.replace(tzinfo=ZoneInfo(zone)) if zone else due
        return {"uid": str(calendar.save_todo(**fields).icalendar_component["UID"])}
    if command == "rename-todo":
        todo = calendar.todo_by_uid(arguments[1])
        todo.icalendar_component["SUMMARY"] = arguments[2]
        todo.save()
        return None
    if command == "complete-todo":
        calendar.todo_by_uid(arguments[1]).complete()
        return None
    if command == "delete-todo":
        calendar.todo_by_uid(arguments[1]).delete()
        return None
    if command == "read-todo":
        todo = calendar.todo_by_uid(arguments[1])
        todo.load()
        component = todo.icalendar_component
        due = component["DUE"].dt
        related = component.get("RELATED-TO")
        return {
            "status": str(component["STATUS"]),
            "due": due.isoformat(),
            "due_zone": str(getattr(due.tzinfo, "key", due.tzinfo)),
            "rrule": component["RRULE"].to_ical().decode() if "RRULE" in component else None,
            "related_to": None if related is None else [str(related), related.params["RELTYPE"]],
        }
    if command == "todos":
        return sorted(_summary(t) for t in calendar.todos(include_completed=arguments[1] == "all"))
    if command == "search":
        return [_summary(t) for t in calendar.search(todo=True, summary=arguments[1])]
    if command == "todo-by-uid":
        return _summary(calendar.todo_by_uid(arguments[1]))
    if command == "sync":
        token_given = arguments[1] if len(arguments) > 1 else None
        found = calendar.objects_by_sync_token(sync_token=token_given, load_objects=True)
        summaries = sorted(_summary(item) for item in found if item.data is not None)
        return {"token": str(found.sync_token), "summaries": summaries}
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    print(json.dumps(main(*sys.argv[1:])))
