"""Baseline (a): the bare Flask route, the ceiling for any Flask endpoint under its server.

Run by the benchmark with the same server and settings as `userauth serve`:
`granian --interface wsgi --workers W --blocking-threads T bench.bare:app`.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask("bare")


@app.get("/")
def index() -> Response:
    return jsonify(message="Bienvenue")
