"""The one guard every command's outputs pass before any work: never write over an input.

``check_outputs`` is called by each command before it reads data or trains. It refuses an output
that is the same file as one of the command's inputs or the model it reads (compared by device
and inode, so another name, a symlink or a hard link is caught too), two outputs that are the
same file, an output whose extension contradicts what is written (a model into ``.csv``,
predictions into ``.safetensors``), a folder where a file is written and a file where a folder
is, and an existing file of another kind (a model file is never replaced by text, a data file
never by a model). The files themselves are then written with ``io.model_file.atomic_write``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

#: what each kind of output may be called; an extension of another kind contradicts it
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "model": (".safetensors",),
    "checkpoint": (".safetensors", ".ckpt"),
    "csv": (".csv", ".tsv", ".txt"),
    "history": (".json", ".csv"),
    "text": (".txt", ".md", ".markdown", ".json", ".html", ".htm", ".mmd", ".mermaid", ".dot", ".gv", ".tex"),
}
#: extensions whose meaning is known: an output named with one outside its kind's list is refused
KNOWN = frozenset(ext for exts in EXTENSIONS.values() for ext in exts) | {
    ".npz", ".npy", ".toml", ".gz", ".zip", ".png", ".svg", ".pdf", ".jpg", ".jpeg", ".pkl", ".pickle", ".pt",
    ".pth", ".onnx", ".idx", ".ubyte", ".py"}
_WHAT = {"model": "a model", "checkpoint": "a checkpoint", "csv": "CSV text", "history": "a history (JSON or CSV)",
         "text": "text", "folder": "figures"}


@dataclass(frozen=True)
class Output:
    """An output path, the option that named it and the kind written there; ``replaces`` names an input
    it may update in place (``--checkpoint`` the checkpoint ``--resume`` reads)."""

    option: str
    path: str
    kind: str
    replaces: str | None = None


def check_outputs(command: str, inputs: Iterable[tuple[str, str | None]], outputs: Iterable[Output | None]) -> None:
    """Refuse, before any work, an output that would destroy an input or contradict its name (see module doc)."""
    given = [(option, str(path), _identity(path)) for option, path in inputs if path]
    seen: list[tuple[Output, tuple[int, int] | str]] = []
    for out in outputs:
        if out is None or not out.path:
            continue
        p = Path(out.path)
        _check_shape(command, out, p)
        ident = _identity(out.path)
        for option, path, other in given:
            if other is not None and other == ident and option != out.replaces:
                raise ValueError(f"{command}: {out.option} {out.path!r} is the same file as {option} {path!r}; "
                                 f"writing it would destroy the input. Choose another name for {out.option}.")
        key: tuple[int, int] | str = ident if ident is not None else os.path.realpath(p)
        for prev, prev_key in seen:
            if prev_key == key:
                raise ValueError(f"{command}: {out.option} and {prev.option} name the same file {out.path!r}; "
                                 "give each output its own name.")
        seen.append((out, key))


def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(device, inode) of an existing file or folder (through symlinks), else None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _check_shape(command: str, out: Output, p: Path) -> None:
    """Folder against file, the extension, and what an existing file holds."""
    from ..io.model_file import file_kind

    if out.kind == "folder":
        if p.exists() and not p.is_dir():
            raise ValueError(f"{command}: {out.option} {out.path!r} is a file; pass a folder for the figures.")
        return
    if p.is_dir():
        raise ValueError(f"{command}: {out.option} {out.path!r} is a folder; pass a file name "
                         f"(e.g. {os.path.join(out.path, _example(out.kind))!r}).")
    ext = p.suffix.lower()
    allowed = EXTENSIONS[out.kind]
    if ext in KNOWN and ext not in allowed:
        raise ValueError(f"{command}: {out.option} {out.path!r} would hold {_WHAT[out.kind]}, but its extension "
                         f"{ext} says otherwise; use {' or '.join(allowed)}.")
    if not p.exists():
        return
    if not p.is_file():
        raise ValueError(f"{command}: {out.option} {out.path!r} is not a regular file (a device, pipe or socket); "
                         "pass the path of a file.")
    kind = file_kind(p)
    if out.kind == "model" and kind is None:
        raise ValueError(f"{command}: {out.option} {out.path!r} exists and is not a deltaprop model file; refusing "
                         "to replace it with a model. Choose another name.")
    if out.kind == "checkpoint" and kind != "checkpoint":
        what = "a model file" if kind == "model" else "not a deltaprop checkpoint"
        raise ValueError(f"{command}: {out.option} {out.path!r} exists and is {what}; a checkpoint would replace "
                         "it. Choose another name.")
    if out.kind not in ("model", "checkpoint") and kind is not None:
        raise ValueError(f"{command}: {out.option} {out.path!r} is a deltaprop {kind} file; refusing to replace it "
                         f"with {_WHAT[out.kind]}. Choose another name.")


def _example(kind: str) -> str:
    return {"model": "model.safetensors", "checkpoint": "run.ckpt.safetensors", "csv": "predictions.csv",
            "history": "history.json", "text": "out.txt"}[kind]
