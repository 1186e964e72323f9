"""`python -m broadcaster.sim`: serve the simulator with a JSON config file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from broadcaster.sim.app import run_sim
from broadcaster.sim.config import SimConfig


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m broadcaster.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--config", type=Path, help="JSON file with SimConfig fields")
    args = parser.parse_args()
    data = json.loads(args.config.read_text()) if args.config else {}
    run_sim(host=args.host, port=args.port, config=SimConfig.model_validate(data))


if __name__ == "__main__":
    main()
