"""The HTTP protocol `serve` runs uvicorn with: uvicorn's httptools one, shutting down
connections only after reading what clients already sent on them.

On SIGTERM uvicorn closes every connection with no request in progress at once. Triage runs
on the event loop, which reads sockets only between its turns, so a request a client sent a
moment before the signal may still be unread in the socket; the close then resets it, and a
request the client saw as in flight fails. Here an idle connection is closed two turns of the
loop later (the loop polls its sockets at the start of each turn, and a plain asyncio loop
runs what it read after callbacks already queued): a request read meanwhile is served, and
its connection closed after the response, as uvicorn does for requests in progress.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

# The import string uvicorn's `http` setting takes.
DRAINING_HTTP = "classifier.api.protocol:DrainingHttpToolsProtocol"


class DrainingHttpToolsProtocol(HttpToolsProtocol):
    def shutdown(self) -> None:
        if self.cycle is None or self.cycle.response_complete:
            self.loop.call_soon(self._shutdown_after, 1)
        else:
            super().shutdown()

    def _shutdown_after(self, turns: int) -> None:
        if turns > 0:
            self.loop.call_soon(self._shutdown_after, turns - 1)
        else:
            super().shutdown()
