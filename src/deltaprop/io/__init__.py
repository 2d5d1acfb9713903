"""Files in and out: safe model files (``model_file``), ONNX export (``onnx``), the PyTorch bridge
(``torch_bridge``). ``deltaprop.io.load`` / ``save`` / ``read_metadata`` are the model-file API; the
format-level names (``read_file``, ``encode``, ``decode``, the limits) are here for tools and tests."""

from .model_file import (
    FORMAT_VERSION,
    MAX_FILE_BYTES,
    MAX_HEADER_BYTES,
    MAX_METADATA_DEPTH,
    MAX_RANK,
    READABLE_VERSIONS,
    ModelFileError,
    PathLike,
    SafeFile,
    atomic_write,
    build_model,
    check_loadable,
    decode,
    decode_metadata,
    encode,
    file_kind,
    load,
    model_metadata,
    model_tensors,
    read_file,
    read_metadata,
    save,
    write_text_atomic,
)

__all__ = ["FORMAT_VERSION", "MAX_FILE_BYTES", "MAX_HEADER_BYTES", "MAX_METADATA_DEPTH", "MAX_RANK",
           "READABLE_VERSIONS", "ModelFileError", "PathLike", "SafeFile", "atomic_write", "build_model",
           "check_loadable", "decode", "decode_metadata", "encode", "file_kind", "load", "model_metadata",
           "model_tensors", "read_file", "read_metadata", "save", "write_text_atomic"]
