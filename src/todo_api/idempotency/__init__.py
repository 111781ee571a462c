"""Safe retries of task writes: the `Idempotency-Key` header, stored responses and replays."""
