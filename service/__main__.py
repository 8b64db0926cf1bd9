"""`python -m service [--config FILE] [--host H] [--port P]`: run the gateway (and its managed engines).

SIGTERM drains (service/api/draining.py): new work gets 503, in-flight work finishes within `drain_grace_s`, then
the gateway stops its engines and exits. A second SIGTERM, or SIGINT, stops at once. SIGHUP reloads the rubrics.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType

import uvicorn
from pydantic import ValidationError

from service.api.draining import Drain
from service.app import create_app
from service.logs import configure_logging
from service.settings import load_settings


class DrainingServer(uvicorn.Server):
    """uvicorn, except that the first SIGTERM drains instead of closing the listener at once."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self.drain.draining:
            self.drain.begin()
            return
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self.drain.finished():
            self.should_exit = True
        return await super().on_tick(counter)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve generative reward models over HTTP.")
    parser.add_argument("--config", type=Path, default=None, help="YAML settings file (env GENRM_* wins).")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--checkpoint", type=Path, action="append", default=None,
                        help="Serve a checkpoint written by `train` (repeatable).")
    arguments = parser.parse_args()
    given = {"host": arguments.host, "port": arguments.port, "checkpoints": arguments.checkpoint}
    overrides = {k: v for k, v in given.items() if v is not None}
    try:
        settings = load_settings(arguments.config, **overrides)
    except ValidationError as error:
        problems = "\n".join(f"  {'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}"
                             for e in error.errors())
        sys.exit(f"genrm-serve: invalid settings:\n{problems}")
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    print(f"genrm-serve starting on http://{settings.host}:{settings.port} (engines take ~1 minute on CPU)",
          flush=True)

    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level=settings.log_level,
                            access_log=False)
    DrainingServer(config, app.state.drain).run()


if __name__ == "__main__":
    main()
