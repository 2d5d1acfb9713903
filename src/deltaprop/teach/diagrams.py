"""Diagrams in the seeds' style: your network's neurons and connections, one neuron, the training loop.

``mermaid(model)`` and ``dot(model)`` draw a ``Sequential`` as the first seed draws a multilayer
perceptron (``graph LR``, inputs → neurons → outputs), one box per layer; layers wider than
``max_neurons`` show their first neurons, a "…" node standing for the rest, and their last
neuron. ``weights=True`` writes each shown connection's w_ji on its edge (W[j, i], E1).
``neuron()`` is the first seed's single-neuron diagram (inputs times weights, weighted sum plus
bias, activation, output) and ``workflow()`` the second seed's loop (forward → loss → backward
→ update). Mermaid renders on GitHub, in MkDocs and in Jupyter; DOT renders with Graphviz.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.types import Array
from ..core.validation import is_int
from ..nn.layers import Activation, Dense

FORMATS = ("mermaid", "dot")
KINDS = ("network", "neuron", "workflow")
_SUB = str.maketrans("0123456789n", "₀₁₂₃₄₅₆₇₈₉ₙ")


@dataclass
class _Layer:
    """One column of the drawing: a title, the neuron indices shown (None = the "…" node), and the
    weights and biases into it (from the Dense that produced it; None for the inputs)."""

    key: str
    title: str
    label: str
    size: int
    shown: list[int | None]
    W: Array | None
    b: Array | None = None
    names: list[str] | None = None


def _columns(model: Any, max_neurons: int, input_names: Any = None, output_names: Any = None) -> list[_Layer]:
    from ..nn.model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"diagram: model must be a deltaprop.Sequential, got {type(model).__name__}.")
    if not is_int(max_neurons) or max_neurons < 3:
        raise ValueError(f"diagram: max_neurons must be an int >= 3 (first neurons, '…', last), got {max_neurons!r}.")
    dense = [(i, layer) for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
    cols = [_Layer("L0", f"Input layer ({model.n_inputs})", "Input", model.n_inputs,
                   _shown(model.n_inputs, max_neurons), None, names=_names("input_names", input_names, model.n_inputs))]
    for k, (i, layer) in enumerate(dense, start=1):
        acts = [a.name for a in model.layers[i + 1:_next_dense(model.layers, i)] if isinstance(a, Activation)]
        act = "∘".join(reversed(acts)) or "identity"
        last = k == len(dense)
        title = (f"Output layer ({layer.n_out}, {act})" if last else f"Hidden layer {k} ({layer.n_out}, {act})")
        cols.append(_Layer(f"L{k}", title, "Output" if last else f"Neuron {k}.", layer.n_out,
                           _shown(layer.n_out, max_neurons), layer.W, layer.b,
                           names=_names("output_names", output_names, layer.n_out) if last else None))
    return cols


def _next_dense(layers: list[Any], i: int) -> int:
    return next((j for j in range(i + 1, len(layers)) if isinstance(layers[j], Dense)), len(layers))


def _shown(n: int, limit: int) -> list[int | None]:
    """Neuron indices drawn for a layer of n: all of them, or the first limit−2, "…" (None), the last."""
    return list(range(n)) if n <= limit else [*range(limit - 2), None, n - 1]


def _names(arg: str, names: Any, n: int) -> list[str] | None:
    if names is None:
        return None
    names = [str(v) for v in names]
    if len(names) != n:
        raise ValueError(f"diagram: {arg} must name all {n} units, got {len(names)} names.")
    return [v.replace('"', "'") for v in names]


def _node_label(col: _Layer, j: int | None) -> str:
    if j is None:
        return f"… {col.size - len(col.shown) + 1} more"
    if col.names is not None:
        return col.names[j]
    if col.W is None:
        return f"Input {j + 1}"
    if col.label == "Output":
        return "Output" if col.size == 1 else f"Output {j + 1}"
    return f"{col.label}{j + 1}"


def _node_id(col: _Layer, j: int | None) -> str:
    return f"{col.key}_{'more' if j is None else j + 1}"


def _number(v: float, precision: int) -> str:
    return f"{float(v):.{precision}g}"


def _node_text(col: _Layer, j: int | None, weights: bool, precision: int, newline: str) -> str:
    """A node's label, with its bias on a second line when weights are shown."""
    label = _node_label(col, j)
    if weights and j is not None and col.b is not None:
        label += f"{newline}b = {_number(col.b[j], precision)}"
    return label


def _edges(cols: list[_Layer], weights: bool, precision: int) -> Iterator[tuple[str, str, str | None, bool]]:
    """(source id, target id, weight label or None, elided) for every drawn connection, w_ji on i → j."""
    for below, above in zip(cols[:-1], cols[1:]):
        for j in above.shown:
            for i in below.shown:
                elided = i is None or j is None
                label = (_number(above.W[j, i], precision)
                         if weights and not elided and above.W is not None else None)
                yield _node_id(below, i), _node_id(above, j), label, elided


def mermaid(model: Any, *, weights: bool = False, max_neurons: int = 6, precision: int = 3,
            direction: str = "LR", input_names: Sequence[str] | None = None,
            output_names: Sequence[str] | None = None) -> str:
    """Mermaid flowchart of ``model``: a box per layer, a node per neuron, an arrow per connection.

    ``weights=True`` labels each arrow from neuron i to neuron j with w_ji = W[j, i] (``precision``
    significant digits) and each neuron with its bias. Arrows to or from a "…" node stand for the
    connections not drawn. ``input_names``/``output_names`` label the inputs (feature names) and
    outputs (class names)."""
    if direction not in ("LR", "TD", "TB", "RL", "BT"):
        raise ValueError(f"mermaid: direction must be LR, TD, TB, RL or BT, got {direction!r}.")
    cols = _columns(model, max_neurons, input_names, output_names)
    lines = [f"graph {direction}"]
    for col in cols:
        lines.append(f'  subgraph {col.key}["{col.title}"]')
        for j in col.shown:
            nid, label = _node_id(col, j), _node_text(col, j, weights, precision, "<br/>")
            lines.append(f'    {nid}["{label}"]' if j is None or col.W is None else f'    {nid}(("{label}"))')
        lines.append("  end")
    for src, dst, label, elided in _edges(cols, weights, precision):
        if elided:
            lines.append(f"  {src} -.-> {dst}")
        elif label is not None:
            lines.append(f'  {src} -->|"{label}"| {dst}')
        else:
            lines.append(f"  {src} --> {dst}")
    return "\n".join(lines) + "\n"


def dot(model: Any, *, weights: bool = False, max_neurons: int = 6, precision: int = 3,
        input_names: Sequence[str] | None = None, output_names: Sequence[str] | None = None) -> str:
    """Graphviz DOT of ``model``, the same drawing as ``mermaid`` (``dot -Tsvg net.dot > net.svg``)."""
    cols = _columns(model, max_neurons, input_names, output_names)
    lines = ["digraph network {", "  rankdir=LR;", "  splines=line;", "  nodesep=0.3;",
             '  node [fontname="Helvetica", fontsize=11];', '  edge [color="#555555", arrowsize=0.6];']
    for col in cols:
        lines += [f"  subgraph cluster_{col.key} {{", f'    label="{col.title}";', '    style="rounded";']
        for j in col.shown:
            shape = "box" if j is None or col.W is None else "circle"
            style = ', style="dashed"' if j is None else ""
            label = _node_text(col, j, weights, precision, "\\n")
            lines.append(f'    {_node_id(col, j)} [label="{label}", shape={shape}{style}];')
        lines.append("  }")
    for src, dst, label, elided in _edges(cols, weights, precision):
        if elided:
            lines.append(f"  {src} -> {dst} [style=dashed];")
        elif label is not None:
            lines.append(f'  {src} -> {dst} [label="{label}", fontsize=9];')
        else:
            lines.append(f"  {src} -> {dst};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def neuron(n_inputs: int = 3, *, activation: str = "σ", fmt: str = "mermaid") -> str:
    """The first seed's neuron: each input xᵢ times its weight wᵢ, the weighted sum z = Σ wᵢxᵢ + b,
    the activation a = σ(z) (E1, E2). With more than 3 inputs the middle ones are shown as "…"."""
    if not is_int(n_inputs) or n_inputs < 1:
        raise ValueError(f"neuron: n_inputs must be a positive int, got {n_inputs!r}.")
    fmt = _check_fmt(fmt)
    idx = [str(i) for i in range(1, n_inputs + 1)] if n_inputs <= 3 else ["1", "2", "n"]
    nodes: list[tuple[str, str, str]] = []  # (id, label, shape)
    edges: list[tuple[str, str]] = []
    for k in idx:
        sub = k.translate(_SUB)
        nodes += [(f"x{k}", f"x{sub}", "box"), (f"w{k}", f"w{sub}", "box"), (f"m{k}", "×", "diamond")]
        edges += [(f"x{k}", f"m{k}"), (f"w{k}", f"m{k}"), (f"m{k}", "zsum")]
    nodes += [("b", "Bias b", "round"), ("zsum", "Weighted sum z = Σ wᵢxᵢ + b", "box"),
              ("act", f"Activation function {activation}", "diamond"), ("out", f"Output a = {activation}(z)", "round")]
    edges += [("b", "zsum"), ("zsum", "act"), ("act", "out")]
    return _flowchart(nodes, edges, fmt, direction="LR")


def workflow(*, code: bool = True, fmt: str = "mermaid") -> str:
    """The second seed's loop: inputs → forward pass → loss → backward pass → gradients → update, and
    back to the forward pass. ``code=True`` names the deltaprop call that does each step."""
    fmt = _check_fmt(fmt)
    steps = [
        ("inputs", "Inputs x, targets y", "X, y"),
        ("forward", "Forward pass: z = W a + b, a = σ(z)", "model.forward(X)"),
        ("loss", "Compute loss L", "loss.value(a, y)"),
        ("backward", "Backward pass: δ(L) = ∂L/∂a ⊙ σ'(z), δ(l) = (Wᵀ δ) ⊙ σ'(z)", "model.backward(loss.grad(a, y))"),
        ("grads", "Compute gradients: ∂L/∂W = δ aᵀ, ∂L/∂b = δ", "layer.dW, layer.db"),
        ("update", "Update weights and biases: w ← w − η ∂L/∂w", "optimizer.step(model)"),
    ]
    nodes = [(key, f"{text}\n{call}" if code else text, "box") for key, text, call in steps]
    edges = [(a[0], b[0]) for a, b in zip(steps[:-1], steps[1:])] + [("update", "forward")]
    return _flowchart(nodes, edges, fmt, direction="TD")


def _check_fmt(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"diagram: unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    return fmt


def _flowchart(nodes: list[tuple[str, str, str]], edges: list[tuple[str, str]], fmt: str, *,
               direction: str) -> str:
    if fmt == "mermaid":
        brackets = {"box": ('["', '"]'), "diamond": ('{"', '"}'), "round": ('("', '")')}
        lines = [f"graph {direction}"]
        for nid, label, shape in nodes:
            left, right = brackets[shape]
            lines.append(f"  {nid}{left}{label.replace(chr(10), '<br/>')}{right}")
        lines += [f"  {a} --> {b}" for a, b in edges]
        return "\n".join(lines) + "\n"
    shapes = {"box": "box", "diamond": "diamond", "round": "ellipse"}
    rankdir = "LR" if direction == "LR" else "TB"
    lines = ["digraph G {", f"  rankdir={rankdir};", '  node [fontname="Helvetica", fontsize=11];']
    for nid, label, shape in nodes:
        text = label.replace('"', r"\"").replace("\n", r"\n")
        lines.append(f'  {nid} [label="{text}", shape={shapes[shape]}];')
    lines += [f"  {a} -> {b};" for a, b in edges]
    lines.append("}")
    return "\n".join(lines) + "\n"


def diagram(kind: str = "network", model: Any = None, *, fmt: str = "mermaid", **kwargs: Any) -> str:
    """One entry point for the CLI: ``kind`` is "network" (needs ``model``), "neuron" or "workflow"."""
    fmt = _check_fmt(fmt)
    if kind == "network":
        if model is None:
            from .seed import seed_network

            model = seed_network()
        return (mermaid if fmt == "mermaid" else dot)(model, **kwargs)
    if kind == "neuron":
        return neuron(fmt=fmt, **kwargs)
    if kind == "workflow":
        return workflow(fmt=fmt, **kwargs)
    raise ValueError(f"diagram: unknown kind {kind!r}; choose one of: {', '.join(KINDS)}.")

