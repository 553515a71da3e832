"""all-MiniLM-L6-v2 for one prompt at a time through onnxruntime, without torch.

The ONNX graph is written straight from the bundled safetensors weights (the same BERT forward
pass as `difficulty.minilm`, mean pooling and unit norm included), once, into the thinkgate cache
dir; later processes only load it. One session runs on one intra-op thread: the gateway gets its
concurrency from one scoring thread per core, and onnxruntime sessions are safe to share.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["OnnxMiniLM", "build_graph", "default_onnx_dir", "onnx_available"]

_LAYERS = 6
_HEADS = 12
_MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_EPS = 1e-12
_OPSET = 18  # LayerNormalization from 17; reduction axes as an input from 18
_GRAPH_VERSION = "1"  # bump when build_graph changes what it writes


def onnx_available() -> bool:
    """Whether onnxruntime imports and onnx (which writes the graph the first time) is installed."""
    import importlib.util

    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return importlib.util.find_spec("onnx") is not None


def default_onnx_dir() -> Path:
    """Where the written graphs live: `$THINKGATE_CACHE_DIR/onnx` or ~/.cache/thinkgate/onnx."""
    root = os.environ.get("THINKGATE_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "thinkgate"
    return base / "onnx"


def build_graph(weights: dict[str, np.ndarray]) -> Any:
    """The ONNX model: int64 token ids (n,) -> float32 unit-norm sentence embedding (384,)."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def node(op: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def dense(x: str, prefix: str, out: str) -> str:
        # Linear layers are stored (out, in): transpose once here, not per call.
        w = const(prefix + ".weight", weights[prefix + ".weight"].T.astype(np.float32))
        b = const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32))
        return node("Add", [node("MatMul", [x, w], out + "_mm"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        w = const(prefix + ".weight", weights[prefix + ".weight"].astype(np.float32))
        b = const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32))
        return node("LayerNormalization", [x, w, b], out, axis=-1, epsilon=_EPS)

    width = int(weights["embeddings.word_embeddings.weight"].shape[1])
    head = width // _HEADS
    const("zero", np.array([0], dtype=np.int64))
    const("heads_shape", np.array([0, _HEADS, head], dtype=np.int64))
    const("width_shape", np.array([0, width], dtype=np.int64))
    const("scale", np.array(1.0 / np.sqrt(head), dtype=np.float32))
    const("sqrt_half", np.array(1.0 / np.sqrt(2.0), dtype=np.float32))
    const("one", np.array(1.0, dtype=np.float32))
    const("half", np.array(0.5, dtype=np.float32))
    const("tiny", np.array(1e-12, dtype=np.float32))
    const("word", weights["embeddings.word_embeddings.weight"].astype(np.float32))
    const("position", weights["embeddings.position_embeddings.weight"].astype(np.float32))
    const("token_type", weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))

    node("Shape", ["input_ids"], "n")
    node("Slice", ["position", "zero", "n"], "positions")
    node("Gather", ["word", "input_ids"], "words", axis=0)
    node("Add", [node("Add", ["words", "positions"], "emb_wp"), "token_type"], "emb")
    x = layer_norm("emb", "embeddings.LayerNorm", "x0")
    for i in range(_LAYERS):
        p = f"encoder.layer.{i}"
        o = f"l{i}"
        split = {}
        for part in ("query", "key", "value"):
            flat = dense(x, f"{p}.attention.self.{part}", f"{o}_{part}")
            split[part] = node("Reshape", [flat, "heads_shape"], f"{o}_{part}_heads")
        q = node("Transpose", [split["query"]], f"{o}_q", perm=[1, 0, 2])  # (h, n, d)
        k = node("Transpose", [split["key"]], f"{o}_k", perm=[1, 2, 0])  # (h, d, n)
        v = node("Transpose", [split["value"]], f"{o}_v", perm=[1, 0, 2])  # (h, n, d)
        scores = node("Mul", [node("MatMul", [q, k], f"{o}_qk"), "scale"], f"{o}_scores")
        attn = node("Softmax", [scores], f"{o}_attn", axis=-1)
        ctx = node(
            "Transpose", [node("MatMul", [attn, v], f"{o}_ctx_h")], f"{o}_ctx_t", perm=[1, 0, 2]
        )
        ctx = node("Reshape", [ctx, "width_shape"], f"{o}_ctx")
        attn_out = dense(ctx, f"{p}.attention.output.dense", f"{o}_attn_out")
        x = layer_norm(
            node("Add", [attn_out, x], f"{o}_res1"), f"{p}.attention.output.LayerNorm", f"{o}_x1"
        )
        inner = dense(x, f"{p}.intermediate.dense", f"{o}_inner")
        # BERT's exact (erf) GELU; onnxruntime fuses this pattern into one Gelu kernel.
        erf = node("Erf", [node("Mul", [inner, "sqrt_half"], f"{o}_gs")], f"{o}_erf")
        gate = node("Mul", [node("Add", [erf, "one"], f"{o}_g1"), "half"], f"{o}_g2")
        act = node("Mul", [inner, gate], f"{o}_gelu")
        out = dense(act, f"{p}.output.dense", f"{o}_out")
        x = layer_norm(node("Add", [out, x], f"{o}_res2"), f"{p}.output.LayerNorm", f"{o}_x2")
    pooled = node("ReduceMean", [x, "zero"], "pooled", keepdims=0)
    norm = node("Max", [node("ReduceL2", [pooled], "norm_raw", keepdims=1), "tiny"], "norm")
    node("Div", [pooled, norm], "embedding")
    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["n"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [width])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    return model


def _graph_path(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    # Keyed by the weights file's identity, so a different model never reuses a stale graph.
    weights = model_dir / "model.safetensors"
    stat = weights.stat()
    tag = f"{_GRAPH_VERSION}:{weights.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    kind = "int8" if quantized else "fp32"
    return cache_dir / f"minilm-{hashlib.sha256(tag.encode()).hexdigest()[:16]}-{kind}.onnx"


def _write_atomic(path: Path, write: Callable[[str], object]) -> None:
    # Write then rename: a concurrent reader never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".onnx.tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _fp32_graph(model_dir: Path, path: Path) -> str | bytes:
    """The fp32 graph's path, written on first use; its bytes if the cache dir is read-only."""
    if path.exists():
        return str(path)
    from safetensors.numpy import load_file

    data = build_graph(load_file(str(model_dir / "model.safetensors"))).SerializeToString()
    try:
        _write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    except OSError:
        return bytes(data)
    return str(path)


def _int8_graph(fp32: Path, path: Path) -> str:
    """The weight-quantised graph's path, written on first use from the fp32 one."""
    if path.exists():
        return str(path)
    import logging

    from onnx import load
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = load(str(fp32))
    weights = {t.name for t in model.graph.initializer}
    # Only weight products, per output channel, and not the feed-forward output projections:
    # quantising those (their input is the wide GELU activation) drops cosine to ~0.988.
    targets = [
        n.name
        for n in model.graph.node
        if n.op_type == "MatMul"
        and n.input[1] in weights
        and not (n.name.endswith("_out_mm") and "_attn_out" not in n.name)
    ]
    root = logging.getLogger()
    level = root.level
    # quantize_dynamic logs a pre-processing hint on the root logger: not the user's concern.
    root.setLevel(max(level, logging.ERROR))
    try:
        _write_atomic(
            path,
            lambda tmp: quantize_dynamic(
                fp32,
                tmp,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_quantize=targets,
            ),
        )
    finally:
        root.setLevel(level)
    return str(path)


class OnnxMiniLM:
    """A BERT encoder (MiniLM-L6-H384) with mean pooling and L2 normalisation, on onnxruntime.

    `quantized=True` runs most weight products in int8 (about 2x faster, cosine >= 0.99 to fp32).
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        cache_dir: str | Path | None = None,
        threads: int = 1,
        quantized: bool = False,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        root = Path(model_dir)
        directory = Path(cache_dir) if cache_dir is not None else default_onnx_dir()
        graph = _fp32_graph(root, _graph_path(root, directory, quantized=False))
        if quantized:
            if isinstance(graph, bytes):
                raise OSError(f"cannot write the quantised graph under {directory}")
            graph = _int8_graph(Path(graph), _graph_path(root, directory, quantized=True))
        self.quantized = quantized
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle workers must not spin: the cores are shared with the event loop and upstream I/O.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer = tokenizer

    def encode(self, text: str) -> np.ndarray:
        """The unit-norm sentence embedding of `text` -> float32 (384,)."""
        ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
        (vector,) = self._session.run(["embedding"], {"input_ids": ids})
        return np.asarray(vector, dtype=np.float32)
