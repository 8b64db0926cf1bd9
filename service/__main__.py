"""`python -m service [--config FILE] [--host H] [--port P]`: run the gateway (and its managed engines)."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from service.app import create_app
from service.logs import configure_logging
from service.settings import load_settings


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
    settings = load_settings(arguments.config, **overrides)
    configure_logging(settings.log_level, settings.log_format)
    app = create_app(settings)
    print(f"genrm-serve starting on http://{settings.host}:{settings.port} (engines take ~1 minute on CPU)",
          flush=True)

    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)


if __name__ == "__main__":
    main()
