"""The bare-Flask floor: what any Python service on this stack pays before doing any work.

    python bench/floor_app.py --port 8099 --workers 2

Same routes the benchmark calls (POST /cds-services/<id>, GET /health), same gunicorn settings
and GC tuning as `cdshooks serve` (`cdshooks.serve.gunicorn_options`, `tune_for_serving`); the
service route only parses the JSON body with orjson and answers {"cards": []}. Loopback only.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson
from flask import Flask, Response, request


def create_floor_app() -> Flask:
    app = Flask("floor")

    @app.post("/cds-services/<service_id>")
    def service(service_id: str) -> Response:
        body = orjson.loads(request.get_data(cache=False))
        return Response(orjson.dumps({"cards": [], "n": len(body)}), mimetype="application/json")

    @app.get("/health")
    def health() -> Response:
        return Response(b'{"status": "ok"}', mimetype="application/json")

    return app


def _load() -> Any:
    from cdshooks.gctune import tune_for_serving

    app = create_floor_app()
    tune_for_serving()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    from cdshooks.serve import run_gunicorn

    run_gunicorn("127.0.0.1", args.port, args.workers, load=_load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
