"""Bodies of live updates."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TicketRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"ticket": "WyJ1c2VyLTEi...Xa1b2c", "expires_in": 60}]}
    )

    ticket: str = Field(
        description="Pass it as `?ticket=` to `GET /events`, once, within `expires_in` seconds."
    )
    expires_in: int = Field(description="Seconds the ticket stays valid.", examples=[60])
