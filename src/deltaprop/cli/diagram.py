"""``deltaprop diagram``: Mermaid or Graphviz diagrams of a network, a neuron or the training loop."""

from __future__ import annotations

import argparse
from typing import Any

from .common import emit, model_from_args
from .outputs import Output, check_outputs
from .parser import add_command, model_options, positive_int


def add_parser(sub: Any) -> None:
    p = add_command(sub, "diagram", run, "Mermaid or Graphviz diagrams: your network, a neuron, the training loop",
                    "Diagrams in the seeds' style. 'network' draws your network's neurons and connections (wide "
                    "layers collapsed with '…', --weights writes w_ji on the edges); 'neuron' the single neuron; "
                    "'workflow' the forward → loss → backward → update loop.",
                    "  deltaprop diagram\n  deltaprop diagram network --weights --fenced >> README.md\n"
                    "  deltaprop diagram --model mnist.safetensors --format dot --out net.dot\n"
                    "  deltaprop diagram neuron\n  deltaprop diagram workflow")
    p.add_argument("kind", nargs="?", default="network", choices=["network", "neuron", "workflow"])
    model_options(p, what="draw")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid", help="mermaid (default) or dot")
    p.add_argument("--weights", action="store_true", help="write each weight on its edge and each bias")
    p.add_argument("--max-neurons", type=positive_int, default=6, metavar="N",
                         help="collapse wider layers with '…' (6)")
    p.add_argument("--precision", type=positive_int, default=3, help="significant digits of weights (3)")
    p.add_argument("--inputs", type=positive_int, default=3, help="inputs of the neuron diagram (3)")
    p.add_argument("--fenced", action="store_true", help="wrap in a ``` fence for Markdown")
    p.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout")


def run(args: argparse.Namespace) -> int:
    from ..teach import diagrams

    check_outputs("diagram", [("--model", args.model)], [Output("--out", args.out, "text")])
    if args.kind == "network":
        model, meta = model_from_args(args)
        maker = diagrams.mermaid if args.format == "mermaid" else diagrams.dot
        text = maker(model, weights=args.weights, max_neurons=args.max_neurons, precision=args.precision,
                     input_names=model.preprocessor.feature_names if model.preprocessor is not None
                     else meta.get("feature_names"),
                     output_names=meta.get("classes") if len(meta.get("classes") or ()) == model.n_outputs else None)
    elif args.kind == "neuron":
        text = diagrams.neuron(args.inputs, fmt=args.format)
    else:
        text = diagrams.workflow(fmt=args.format)
    if args.fenced:
        text = f"```{args.format}\n{text}```\n"
    emit(text, args.out)
    return 0
