"""Baseline (a): the bare Flask route, the ceiling for any Flask endpoint under gunicorn.

Run by the benchmark with the same gunicorn settings as `userauth serve`:
`gunicorn -k gthread -w W --threads T bench.bare:app`.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify

app = Flask("bare")


@app.get("/")
def index() -> Response:
    return jsonify(message="Bienvenue")
