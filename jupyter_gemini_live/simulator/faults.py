"""Scripted faults: the ways the real service misbehaves, on demand."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..models import bare_name

#: what the real service says when a key is refused (close code 1007 after `setup`)
BAD_KEY_REASON = "API key not valid. Please pass a valid API key."
NO_KEY_REASON = "Method doesn't allow unregistered callers (callers without established identity)."
#: a resumption handle that is unknown, expired or refused: close code 1007 (invalid
#: argument, the code the service uses for a bad field of `setup`) with this reason
INVALID_HANDLE_CODE = 1007
INVALID_HANDLE_REASON = "Invalid session resumption handle: the handle is unknown or expired."


def refused_model_reason(model: str, api_version: str) -> str:
    """The close reason of an unknown or unsupported model (close code 1008)."""
    return (
        f"{model} is not found for API version {api_version}, or is not supported for "
        "bidiGenerateContent."
    )


@dataclass
class Faults:
    """What goes wrong, and when. Timed faults count from the connection's setup.

    Timed faults hit the first connection only, unless `repeat` is set (then every
    connection gets them: a service whose connections keep being recycled).
    """

    #: send goAway this many seconds into a connection
    go_away_after: float | None = None
    #: the goAway's timeLeft; the connection closes then (or when the client closes)
    go_away_time_left: float = 5.0
    #: close the connection with `close_code` this many seconds into it
    close_after: float | None = None
    close_code: int = 1011
    close_reason: str = "Internal error encountered."
    #: seconds to wait before each message the simulator sends
    message_delay: float = 0.0
    #: model names (bare, or resource names ending in one) refused with close code 1008
    refuse_models: set[str] = field(default_factory=set)
    #: refuse every API key, the way the service refuses a bad one
    bad_key: bool = False
    repeat: bool = False
    #: refuse every resumption handle (as if expired): close `INVALID_HANDLE_CODE`
    refuse_resumption: bool = False
    #: handles expire this many seconds after they were issued (None: they do not)
    handle_lifetime: float | None = None
    #: seconds to wait before taking each client message (a slow service: the socket
    #: buffers fill and the client's sends wait)
    read_delay: float = 0.0

    def refuses(self, model: str) -> bool:
        return bare_name(model) in {bare_name(name) for name in self.refuse_models}

    def timed_for(self, connection_index: int) -> bool:
        """Whether the timed faults apply to the connection with this 0-based index."""
        return self.repeat or connection_index == 0
