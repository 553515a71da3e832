"""all-MiniLM-L6-v2 for one prompt at a time through onnxruntime, without torch.

The ONNX graph is written straight from the bundled safetensors weights (the same BERT forward
pass as `difficulty.minilm`, mean pooling and unit norm included), once, into the thinkgate cache
dir; later processes only load it. One session runs on one intra-op thread: the gateway gets its
concurrency from one scoring thread per core, and onnxruntime sessions are safe to share; an
optional wider session serves a prompt that arrives while nothing else is being embedded.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
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
_GRAPH_VERSION = "3"  # bump when build_graph changes what it writes
_BLOCK = 32  # MatMulNBits' quantisation block along the input dimension


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


def _quantize_blocks(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A stored (out, in) weight as MatMulNBits' 8-bit symmetric blocks along `in`.

    Returns uint8 codes (out, in / block, block), offset by 128, and float32 scales
    (out, in / block): w ~= (code - 128) * scale.
    """
    out_dim, in_dim = weight.shape
    blocks = weight.astype(np.float32).reshape(out_dim, in_dim // _BLOCK, _BLOCK)
    scales = np.abs(blocks).max(axis=-1) / 127.0
    scales[scales == 0] = 1.0
    codes = np.clip(np.rint(blocks / scales[..., None]), -127, 127) + 128
    return codes.astype(np.uint8), scales.astype(np.float32)


def build_graph(weights: dict[str, np.ndarray], *, quantized: bool = False) -> Any:
    """The ONNX model: int64 token ids (n,) -> float32 unit-norm sentence embedding (384,).

    `quantized` runs the 36 linear layers in int8 (onnxruntime's DynamicQuantizeMatMul, and
    MatMulNBits for the feed-forward outputs); embeddings, norms and attention stay float32.
    """
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
        weight = weights[prefix + ".weight"]  # stored (out, in)
        b = const(prefix + ".bias", weights[prefix + ".bias"].astype(np.float32))
        if not quantized:
            w = const(prefix + ".weight", weight.T.astype(np.float32))  # transposed once, here
            return node("Add", [node("MatMul", [x, w], out + "_mm"), b], out)
        if prefix.endswith(".output.dense") and ".attention." not in prefix:
            # The feed-forward output reads the wide GELU activation: one int8 scale for the
            # whole row costs too much precision (cosine 0.988), so quantise it by blocks.
            codes, scales = _quantize_blocks(weight)
            product = node(
                "MatMulNBits",
                [x, const(prefix + ".codes", codes), const(prefix + ".scales", scales)],
                out + "_mm",
                domain="com.microsoft",
                K=int(weight.shape[1]),
                N=int(weight.shape[0]),
                bits=8,
                block_size=_BLOCK,
                accuracy_level=4,  # int8 products, activations quantised per block
            )
            return node("Add", [product, b], out)
        # int8 weights per output column; each call quantises the activations once.
        scale = np.abs(weight).max(axis=1) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.rint(weight / scale[:, None]), -127, 127).astype(np.int8).T
        zero = np.zeros(len(scale), dtype=np.int8)
        inputs = [x, const(prefix + ".q", q), const(prefix + ".q_scale", scale.astype(np.float32))]
        inputs += [const(prefix + ".q_zero", zero), b]
        return node("DynamicQuantizeMatMul", inputs, out, domain="com.microsoft")

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
    opsets = [helper.make_opsetid("", _OPSET), helper.make_opsetid("com.microsoft", 1)]
    model = helper.make_model(graph, opset_imports=opsets)
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


def _graph(model_dir: Path, path: Path, quantized: bool) -> str | bytes:
    """The graph's path, written on first use; its bytes if the cache dir is not writable."""
    if path.exists():
        return str(path)
    from safetensors.numpy import load_file

    weights = load_file(str(model_dir / "model.safetensors"))
    data = build_graph(weights, quantized=quantized).SerializeToString()
    try:
        _write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))
    except OSError:
        return bytes(data)
    return str(path)


class OnnxMiniLM:
    """A BERT encoder (MiniLM-L6-H384) with mean pooling and L2 normalisation, on onnxruntime.

    `quantized=True` runs the linear layers in int8: about half the time, cosine to fp32 >= 0.99.
    `idle_threads` > `threads` adds a second session with that many intra-op threads, used
    when no other `encode` is running: a lone request gets every core, concurrent ones one each.
    """

    def __init__(
        self,
        model_dir: str | Path,
        *,
        cache_dir: str | Path | None = None,
        threads: int = 1,
        idle_threads: int | None = None,
        quantized: bool = False,
    ) -> None:
        from tokenizers import Tokenizer

        root = Path(model_dir)
        directory = Path(cache_dir) if cache_dir is not None else default_onnx_dir()
        graph = _graph(root, _graph_path(root, directory, quantized), quantized)
        self.quantized = quantized
        self._session = _session(graph, threads)
        wide = idle_threads is not None and idle_threads > threads
        self._idle_session = _session(graph, idle_threads) if wide and idle_threads else None
        self._running = 0
        self._lock = threading.Lock()
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=_MAX_TOKENS)
        self._tokenizer = tokenizer

    def encode(self, text: str) -> np.ndarray:
        """The unit-norm sentence embedding of `text` -> float32 (384,)."""
        ids = np.asarray(self._tokenizer.encode(text).ids, dtype=np.int64)
        with self._lock:
            alone = self._running == 0
            self._running += 1
        try:
            session = self._idle_session if alone and self._idle_session else self._session
            (vector,) = session.run(["embedding"], {"input_ids": ids})
        finally:
            with self._lock:
                self._running -= 1
        return np.asarray(vector, dtype=np.float32)


def _session(graph: str | bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle workers must not spin: the cores are shared with the event loop and upstream I/O.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
