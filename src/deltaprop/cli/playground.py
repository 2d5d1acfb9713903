"""``deltaprop playground``: train a network in the browser, watch it learn, and see one step of backprop."""

from __future__ import annotations

import argparse
from typing import Any

from .parser import add_command, non_negative_int, positive_int


def add_parser(sub: Any) -> None:
    p = add_command(sub, "playground", run, "train a network in your browser and watch backprop",
                    "Serve a page that trains a network with the real engine one step at a time: the network with "
                    "its weights, the decision boundary, what each neuron computes, the loss curves, and for any "
                    "neuron you click the step written out in the seeds' notation with the engine's numbers. "
                    "Upload a CSV, or start from --data. Each browser gets its own model. Ctrl-C or SIGTERM stops it.",
                    "  deltaprop playground\n  deltaprop playground --data spirals --port 8000\n"
                    "  deltaprop playground --data iris.csv --target species --no-browser")
    p.add_argument("--data", metavar="SOURCE",
                   help="the data to start from: a data set name (moons, the default) or a .csv/.npz file")
    p.add_argument("--target", metavar="COLUMN", help="the CSV column to predict (default: the last)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1: this computer only)")
    p.add_argument("--port", type=non_negative_int, default=8765, help="port (8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="print the URL but do not open a browser")
    p.add_argument("--max-upload", type=positive_int, default=5 * 1024 * 1024, metavar="BYTES",
                   help="the largest CSV the page accepts (5 MiB)")


def run(args: argparse.Namespace) -> int:
    from ..teach.playground import serve

    return serve(data=args.data, target=args.target, host=args.host, port=args.port, open_browser=not args.no_browser,
                 max_upload=args.max_upload)
