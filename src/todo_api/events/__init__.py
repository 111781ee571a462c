"""Live updates: `GET /events` (Server-Sent Events) and `POST /events/tickets`.

- `service.py`: where a stream starts and what it delivers next (the `/tasks/changes`
  query from the stream's last token), and tickets; `tickets.py` their format.
- `stream.py`: one stream on the wire; `hub.py`: this process's streams, woken by user.
- `listener.py`: PostgreSQL's notifications (triggers on `change_counters`, migration 0009)
  into the hub; SQLite's come from todo_api/database/change_feed.py.
- `live.py`: what the lifespan starts and stops, and the signal hook that ends streams.
"""
