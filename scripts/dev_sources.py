#!/usr/bin/env python3
"""The development sources of dev-sources.toml, for the scripts and the docs.

    scripts/dev_sources.py secret SOURCE     a source's development secret
    scripts/dev_sources.py sources-json      HOOKBRIDGE_SOURCES of those sources
    scripts/dev_sources.py outbound-secret   the development outbound key

The other scripts import it (`import dev_sources`: a script's own directory
is on Python's path). Python 3.11 standard library only (tomllib).
"""

import json
import pathlib
import sys
import tomllib

PATH = pathlib.Path(__file__).resolve().parent.parent / "dev-sources.toml"
_CONFIG = tomllib.loads(PATH.read_text(encoding="utf-8"))


def secrets() -> dict:
    """Source name -> its development secret, in the file's order."""
    return {name: source["secrets"][0] for name, source in _CONFIG["sources"].items()}


def secret(source: str) -> str:
    return secrets()[source]


def outbound_secret() -> str:
    return _CONFIG["outbound_secrets"][0]


def sources_json() -> str:
    """The sources as HOOKBRIDGE_SOURCES: their options, without the secrets."""
    options = {name: {key: value for key, value in source.items() if key != "secrets"}
               for name, source in _CONFIG["sources"].items()}
    return json.dumps(options, separators=(",", ":"))


def main(argv) -> int:
    if len(argv) == 2 and argv[0] == "secret" and argv[1] in secrets():
        print(secret(argv[1]))
    elif argv == ["sources-json"]:
        print(sources_json())
    elif argv == ["outbound-secret"]:
        print(outbound_secret())
    else:
        print(__doc__.strip(), f"\nsources: {' '.join(secrets())}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
