"""`python -m service.auth new --name NAME [--scopes judge,admin] [--rate R]`: make an API key.

Prints the key once (give it to the caller; it is not stored anywhere) and the `api_keys` entry to add to the
gateway's config, which holds only its hash. `python -m service.auth hash` hashes a key read from stdin.
"""

from __future__ import annotations

import argparse
import sys

from service.auth.api_keys import hash_key, new_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m service.auth", description="Make and hash API keys.")
    commands = parser.add_subparsers(dest="command", required=True)
    made = commands.add_parser("new", help="Make a key; print it and its config entry.")
    made.add_argument("--name", required=True, help="Labels the key's metrics and logs (e.g. the job's name).")
    made.add_argument("--scopes", default="judge", help="Comma-separated: judge, admin (default: judge).")
    made.add_argument("--rate", type=float, default=None, help="Judgments per second this key may use.")
    commands.add_parser("hash", help="Hash a key read from stdin.")
    arguments = parser.parse_args(argv)
    if arguments.command == "hash":
        print(hash_key(sys.stdin.readline().strip()))
        return 0
    scopes = [scope.strip() for scope in arguments.scopes.split(",") if scope.strip()]
    unknown = sorted(set(scopes) - {"judge", "admin"})
    if unknown:
        parser.error(f"unknown scopes {unknown}; use judge and/or admin")
    key = new_key()
    rate = f", rate: {arguments.rate:g}" if arguments.rate is not None else ""
    print(f"key (shown once; send it as `Authorization: Bearer <key>`):\n  {key}\n")
    print("add to the gateway config:\napi_keys:")
    print(f"  - {{name: {arguments.name}, hash: \"{hash_key(key)}\", scopes: [{', '.join(scopes)}]{rate}}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
