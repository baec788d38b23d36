"""The ONNX embedding backend: the sentence-transformers model run by onnxruntime and ``tokenizers``.

The query path imports neither torch nor sentence-transformers (that import alone costs seconds), and
onnxruntime embeds one question several times faster than torch. The ``.onnx`` file is exported once,
from the local model folder, into ``NEWSRAG_HOME/models/`` (``NEWSRAG_MODELS_DIR``) by :func:`export` (torch's own exporter;
optimum-onnx pins transformers < 4.58, which sentence-transformers 6 cannot use). Nothing is downloaded.

Variants: ``onnx`` (fp32) gives the torch backend's vectors (cosine >= 0.99999, checked by the tests),
so a store built with either backend serves the other; ``onnx-int8`` (weights quantized per channel)
gives vectors within about 0.99 cosine of torch's, so it is a model identity of its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = ["OnnxEmbedder", "export", "onnx_supported", "export_ready", "exported_path", "usable_cores"]

log = logging.getLogger(__name__)

_EXPORT_LOCK = threading.Lock()
#: bump when the exported graph or the quantization changes, so old exports are redone
EXPORT_VERSION = 2
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: padded tokens per batch at most (64 texts of 128 tokens, or 32 of 256)
TOKEN_BUDGET = 8192


#: a container's CPU limit (``docker run --cpus=N``): cgroup v2's file, then v1's quota and period
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = (Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us"))


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity, capped by its container's CPU limit.
    ``os.cpu_count()`` counts the host's; a batch session with a thread per host core in a 2-CPU container
    spends its time waiting for its own threads."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    limit = _cgroup_limit()
    if limit is not None:
        cores = min(cores, math.ceil(limit))
    return max(cores, 1)


def _cgroup_limit() -> float | None:
    """CPUs the cgroup allows (quota / period), or None when it sets no limit or cannot be read."""
    try:
        quota, period = CGROUP_CPU_MAX.read_text(encoding="utf-8").split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        pass
    try:
        quota_us, period_us = (int(f.read_text(encoding="utf-8")) for f in CGROUP_V1_QUOTA)
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def _weights(model_path: Path) -> Path | None:
    for name in ("model.safetensors", "pytorch_model.bin"):
        if (model_path / name).exists():
            return model_path / name
    return None


def _pooling(model_path: Path) -> str:
    """``mean`` or ``cls``, from the model's ``modules.json``; anything else cannot run here."""
    modules_file = model_path / "modules.json"
    if not modules_file.exists():
        return "mean"  # a plain transformers folder: sentence-transformers itself would mean-pool
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    unsupported = [k for k in kinds if k not in ("Transformer", "Pooling", "Normalize")]
    if unsupported:
        raise ConfigError(f"{model_path}: modules {unsupported} have no ONNX path here; use NEWSRAG_EMBEDDING_BACKEND=torch")
    for m in modules:
        if m.get("type", "").endswith("Pooling"):
            config = json.loads((model_path / m.get("path", "") / "config.json").read_text(encoding="utf-8"))
            if config.get("pooling_mode_cls_token"):
                return "cls"
            if config.get("pooling_mode_mean_tokens", True):
                return "mean"
            raise ConfigError(f"{model_path}: only mean or CLS pooling runs on ONNX; use NEWSRAG_EMBEDDING_BACKEND=torch")
    return "mean"


def _max_length(model_path: Path) -> int:
    config = model_path / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text(encoding="utf-8")).get("max_seq_length", 512))
    return 512


def onnx_supported(model_path: Path) -> str | None:
    """None when the model can run on ONNX here, else the reason it cannot."""
    if not (model_path / "tokenizer.json").exists():
        return f"{model_path} has no tokenizer.json"
    try:
        _pooling(model_path)
    except ConfigError as e:
        return str(e)
    return None


def _slug(model_path: Path) -> str:
    import hashlib

    digest = hashlib.sha256(str(model_path.resolve()).encode("utf-8")).hexdigest()[:10]
    return f"{model_path.name}-{digest}"


def exported_path(models: Path, model_path: Path, quantized: bool) -> Path:
    """Where the export of ``model_path`` lives under ``models`` (``Settings.models_path``)."""
    return models / _slug(model_path) / ("model.int8.onnx" if quantized else "model.onnx")


def _manifest(model_path: Path, quantized: bool) -> dict[str, Any]:
    weights = _weights(model_path)
    stat = weights.stat() if weights else None
    return {
        "source": str(model_path.resolve()),
        "weights_size": stat.st_size if stat else None,
        "weights_mtime": int(stat.st_mtime) if stat else None,
        "quantized": quantized,
        "version": EXPORT_VERSION,
    }


def export_ready(home: Path, model_path: Path, quantized: bool) -> bool:
    """True when an export for this model, variant and exporter version is already on disk."""
    target = exported_path(home, model_path, quantized)
    meta = target.with_suffix(".json")
    if not (target.exists() and meta.exists()):
        return False
    try:
        return bool(json.loads(meta.read_text(encoding="utf-8")) == _manifest(model_path, quantized))
    except (OSError, ValueError):
        return False


class _DropRecords(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence the exporters' tracer warnings, progress bars and root-logger advice: one line says it all."""
    root, drop = logging.getLogger(), _DropRecords()
    root.addFilter(drop)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()
            transformers_logging.set_verbosity_error()
            yield
    finally:
        root.removeFilter(drop)


def _export_fp32(model_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModel, AutoTokenizer

    # eager attention: torch exports it as the MatMul/Softmax pattern that onnxruntime fuses (see _fuse)
    model = AutoModel.from_pretrained(str(model_path), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    sample = tokenizer(["a short sentence", "a second, longer sentence for the trace"], padding=True, return_tensors="pt")
    names = [n for n in _INPUTS if n in sample]

    class Wrapper(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(names, args, strict=True))).last_hidden_state

    axes = {n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]}
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(
            Wrapper(model),
            tuple(sample[n] for n in names),
            str(tmp),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    _fuse(model, tokenizer, tmp)
    os.replace(tmp, target)


def _fuse(model: Any, tokenizer: Any, path: Path) -> None:
    """Rewrite the exported graph with onnxruntime's BERT fusions (one Attention node per layer, fused layer
    norms and GELU): ingest embeds at 1.06x torch's throughput in fp32 and 1.98x in int8, against 0.80x and
    1.25x unfused (docs/benchmarks.md, before the batch arena). The fused graph must give the same hidden
    states on sample texts; a model whose graph the fusions do not fit, or change, keeps the plain export."""
    import onnxruntime as ort
    from onnxruntime.transformers.optimizer import optimize_model

    config = model.config
    fused_path = path.with_name(path.name + ".fused")
    try:
        fused = optimize_model(
            str(path),
            model_type="bert",
            num_heads=int(getattr(config, "num_attention_heads", 0)),
            hidden_size=int(getattr(config, "hidden_size", 0)),
            opt_level=1,
            use_gpu=False,
        )
        fused.save_model_to_file(str(fused_path))
        texts = ["a short sentence", "A longer sentence, with punctuation, numbers (42) and an unusual word: ferry."]
        sample = tokenizer(texts, padding=True, return_tensors="np")
        mask = sample["attention_mask"][..., None]
        outputs = []
        for candidate in (path, fused_path):
            session = ort.InferenceSession(str(candidate), providers=["CPUExecutionProvider"])
            names = {i.name for i in session.get_inputs()}
            feed = {k: v.astype(np.int64) for k, v in sample.items() if k in names}
            outputs.append(session.run(None, feed)[0] * mask)
        if not np.allclose(outputs[0], outputs[1], atol=1e-4):
            log.warning("onnxruntime's fusions change %s's outputs; keeping the plain export", path)
            return
        os.replace(fused_path, path)
    finally:
        fused_path.unlink(missing_ok=True)


_CHILD = """
import sys
from pathlib import Path
from newsrag.rag.onnx_embed import _export_fp32, _quiet
with _quiet():
    _export_fp32(Path(sys.argv[1]), Path(sys.argv[2]))
"""


def _export_in_child(model_path: Path, target: Path) -> None:
    """:func:`_export_fp32` in a child process: torch and transformers (about 300 MB) are loaded there
    and freed with it, so a server that exports on its first start does not keep them."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(model_path), str(target)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"the exporting process exited with {done.returncode}")


def _quantize(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    # the fused Attention nodes have no type inference in the quantizer: their outputs are fp32
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    quantize_dynamic(str(source), str(tmp), weight_type=QuantType.QInt8, per_channel=True, extra_options=extra)
    os.replace(tmp, target)


def export(home: Path, model_path: Path, quantized: bool) -> Path:
    """Export ``model_path`` to ONNX under ``home`` (once; later calls return the file). Imports
    torch and transformers, so it runs at the first ingest or question, never again on the query path."""
    target = exported_path(home, model_path, quantized)
    with _EXPORT_LOCK:
        if export_ready(home, model_path, quantized):
            return target
        reason = onnx_supported(model_path)
        if reason:
            raise ConfigError(reason)
        target.parent.mkdir(parents=True, exist_ok=True)
        log.warning("exporting the embedding model %s to ONNX, once (about 10 s), into %s", model_path, target.parent)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        fp32 = exported_path(home, model_path, False)
        try:
            with _quiet():
                if not export_ready(home, model_path, False):
                    _export_in_child(model_path, fp32)
                    fp32.with_suffix(".json").write_text(json.dumps(_manifest(model_path, False)), encoding="utf-8")
                if quantized:
                    _quantize(fp32, target)
                    target.with_suffix(".json").write_text(json.dumps(_manifest(model_path, True)), encoding="utf-8")
        except (ImportError, RuntimeError, OSError, ValueError) as e:
            raise ConfigError(
                f"exporting {model_path} to ONNX into {target.parent} failed: {e}. "
                "Set NEWSRAG_EMBEDDING_BACKEND=torch to run the model on torch instead."
            ) from e
        return target


class OnnxEmbedder:
    """Unit-length vectors from an exported model: ``tokenizers`` + onnxruntime + pooling in numpy.

    One text (a question) runs on a one-thread session, so a busy machine does not stall it on thread
    hand-offs; batches (ingest) run on a session with every core. Batches are sorted by length so that
    padding stays small, as sentence-transformers does.
    """

    def __init__(self, name: str, model_path: Path, home: Path, quantized: bool, batch_size: int = 64) -> None:
        self.name = name
        self.model_path = model_path
        self.home = home
        self.quantized = quantized
        self.batch_size = batch_size
        self._lock = threading.Lock()
        #: by role: False for one text, True for batches
        self._sessions: dict[bool, Any] = {}
        self._tokenizer: Any = None
        self._pool = "mean"
        self._dim: int | None = None

    def _setup(self) -> None:
        if self._tokenizer is not None:
            return
        from tokenizers import Tokenizer

        path = export(self.home, self.model_path, self.quantized)
        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.enable_truncation(max_length=_max_length(self.model_path))
        pad = tokenizer.padding or {}
        tokenizer.enable_padding(pad_id=int(pad.get("pad_id", 0)), pad_token=str(pad.get("pad_token", "[PAD]")))
        self._pool = _pooling(self.model_path)
        self._path = path
        self._tokenizer = tokenizer

    def _session(self, batch: bool) -> Any:
        """The session for one text (a question: one thread, memory pattern kept) or for batches (every
        usable core, no memory pattern). Two sessions even on one core, so that batches never keep patterns."""
        session = self._sessions.get(batch)
        if session is None:
            import onnxruntime as ort

            options = ort.SessionOptions()
            options.intra_op_num_threads = usable_cores() if batch else 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            # idle pool threads must not spin: on a small machine they take the cores from whatever runs next
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            # the arena reuses activation buffers from batch to batch: 1.3x the int8 throughput and 1.15x the
            # fp32 one; it holds ~300-400 MB while an ingest runs, bounded by TOKEN_BUDGET, not by the corpus
            # (docs/benchmarks.md, Ingest), and release_batch_memory() frees it
            if batch:
                # a memory pattern is planned and kept per input shape; batches come in many widths, so the
                # patterns piled up with corpus size (peak +484 MB over 1,000 articles' texts against +342 MB
                # without, and +345 / +341 MB over 120 articles), at the same throughput
                options.enable_mem_pattern = False
            session = ort.InferenceSession(str(self._path), options, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            self._sessions[batch] = session
        return session

    def release_batch_memory(self) -> None:
        """Drop the session that embeds batches, and its arena (about 300 MB after an ingest), so that a
        server that ingested an upload comes back to its size; the next batch makes a new one (0.2 s)."""
        with self._lock:
            self._sessions.pop(True, None)

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self.encode(["dimension"]).shape[1])
        return self._dim

    def _run(self, session: Any, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        if self._pool == "cls":
            pooled = hidden[:, 0]
        else:
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.clip(norms, 1e-12, None), dtype=np.float32)

    def _batches(self, lengths: list[int]) -> Iterator[list[int]]:
        """Rows longest first, at most ``batch_size`` a batch and at most :data:`TOKEN_BUDGET` padded
        tokens, so that a batch of long texts does not need a gigabyte of activations."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        batch: list[int] = []
        for i in order:
            if batch and (len(batch) >= self.batch_size or (len(batch) + 1) * lengths[batch[0]] > TOKEN_BUDGET):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    def encode(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            self._setup()
            session = self._session(len(texts) > 1)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self._tokenizer.encode_batch(texts)  # right-padded to the longest text
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        lengths = mask.sum(axis=1).tolist()
        out: np.ndarray | None = None
        for rows in self._batches(lengths):
            width = lengths[rows[0]]
            vectors = self._run(session, ids[rows, :width], mask[rows, :width])
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        assert out is not None
        return out
