"""EventBridge PutEvents, recorded so tests can read the build notifications back.

moto accepts PutEvents and routes to its own targets, but offers no way to list what was put on a bus that has
no rule. The response wrapper records each entry (with the id moto gave it) before answering.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.utils import utcnow
from moto.events.responses import EventsHandler

from .state import STATE

_original_put_events = EventsHandler.put_events


def put_events(self: EventsHandler) -> Any:
    entries = self._get_param("Entries") or []
    response = _original_put_events(self)
    body = response[0] if isinstance(response, tuple) else response
    results = json.loads(body).get("Entries", [])
    now = utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    for entry, result in zip(entries, results, strict=False):
        try:
            detail = json.loads(entry.get("Detail") or "null")
        except ValueError:
            detail = entry.get("Detail")
        STATE.events.append(
            {
                "eventId": result.get("EventId"),
                "errorCode": result.get("ErrorCode"),
                "region": self.region,
                "eventBusName": entry.get("EventBusName") or "default",
                "source": entry.get("Source"),
                "detailType": entry.get("DetailType"),
                "detail": detail,
                "resources": entry.get("Resources") or [],
                "time": now,
            }
        )
    return response


def apply() -> None:
    EventsHandler.put_events = put_events
