"""The numpy all-MiniLM-L6-v2 encoder against vectors computed by sentence-transformers + torch.

tests/data/minilm_reference.json was written by tests/data/make_minilm_reference.py in a separate venv with
torch; the suite itself never needs torch. Measured agreement: cosine >= 0.99999993 and max |diff| <= 6e-7
per component (the reference is rounded to 6 decimals). The thresholds below leave a margin for other CPUs and
BLAS kernels yet still catch small deviations: swapping in the tanh GELU approximation moves components by up
to 3e-4 (cosine 0.9999988), and a wrong pooling, mask or truncation is far worse.
"""

from __future__ import annotations

import json
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ragweave.datasources.minilm import MiniLMEncoder, ModelNotInstalled

REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))
REF_TEXTS: list[str] = REFERENCE["texts"]
REF_VECTORS = np.asarray(REFERENCE["vectors"], dtype=np.float64)

MIN_REFERENCE_COSINE = 0.9999995
MAX_REFERENCE_ABS_DIFF = 5e-6
SAME_COSINE = 0.99999

VARIED = [
    "hello",
    "how do I rotate the API key for a tenant?",
    "The ingestion job splits every document into chunks of about two hundred tokens with a small overlap.",
    "graph",
    "Which service owns the billing database, and who is on call for it this week?",
    "Vectors are stored per tenant; a query never sees another tenant's chunks.",
    "ok",
    "Reranking reads the query and each candidate passage together and orders them by relevance. " * 3,
    "¿Dónde está la documentación? — naïve café, 東京, 🚀",
    "error 503 from the embeddings endpoint after 30 s",
]


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return (a * b).sum(axis=-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder.load()


def test_attributes(encoder: MiniLMEncoder) -> None:
    assert (encoder.name, encoder.dim, encoder.max_tokens) == ("all-MiniLM-L6-v2", 384, 256)


def test_shape_dtype_and_unit_norm(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode(VARIED)
    assert vectors.shape == (len(VARIED), 384)
    assert vectors.dtype == np.float32
    assert np.all(np.isfinite(vectors))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input(encoder: MiniLMEncoder) -> None:
    vectors = encoder.encode([])
    assert vectors.shape == (0, 384)
    assert vectors.dtype == np.float32


def test_a_bare_string_is_refused(encoder: MiniLMEncoder) -> None:
    with pytest.raises(TypeError):
        encoder.encode("not a list")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def reference_batch(encoder: MiniLMEncoder) -> np.ndarray:
    return encoder.encode(REF_TEXTS)


@pytest.mark.parametrize("index", range(len(REF_TEXTS)), ids=[f"ref{i}" for i in range(len(REF_TEXTS))])
def test_matches_sentence_transformers(encoder: MiniLMEncoder, reference_batch: np.ndarray, index: int) -> None:
    # Both in one batch (padding, masking) and alone.
    batched = reference_batch[index]
    single = encoder.encode([REF_TEXTS[index]])[0]
    for vector in (batched, single):
        assert cosine(vector, REF_VECTORS[index]) >= MIN_REFERENCE_COSINE
        assert np.abs(vector - REF_VECTORS[index]).max() <= MAX_REFERENCE_ABS_DIFF


def test_reference_covers_truncation() -> None:
    assert max(REFERENCE["untruncated_token_counts"]) > 256
    assert REFERENCE["max_seq_length"] == 256


def test_truncates_at_256_tokens(encoder: MiniLMEncoder) -> None:
    long_text = max(REF_TEXTS, key=len)
    longer = long_text + " An extra tail that lies past the window and must not change the vector."
    a, b = encoder.encode([long_text, longer])
    assert cosine(a, b) > SAME_COSINE


def test_order_is_preserved(encoder: MiniLMEncoder) -> None:
    texts = VARIED * 4  # 40 texts: more than one batch of 32, lengths out of order
    expected = encoder.encode(texts)
    permutation = list(range(len(texts)))
    random.Random(7).shuffle(permutation)
    shuffled = encoder.encode([texts[i] for i in permutation])
    assert np.all(cosine(shuffled, expected[permutation]) > SAME_COSINE)
    # Duplicates get the same vector wherever they sit.
    assert np.all(cosine(expected[: len(VARIED)], expected[len(VARIED) : 2 * len(VARIED)]) > SAME_COSINE)


def test_batch_equals_single(encoder: MiniLMEncoder) -> None:
    batched = encoder.encode(VARIED)
    singles = np.vstack([encoder.encode([text]) for text in VARIED])
    assert np.all(cosine(batched, singles) > SAME_COSINE)


def test_concurrent_calls_agree(encoder: MiniLMEncoder) -> None:
    expected = encoder.encode(VARIED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: encoder.encode(VARIED), range(4)))
    for result in results:
        assert np.all(cosine(result, expected) > SAME_COSINE)


def test_semantic_similarity(encoder: MiniLMEncoder) -> None:
    food, bread, baby, rotate_key, change_key, cat = encoder.encode(
        [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "How do I rotate the API key?",
            "How can I change my API key?",
            "The cat sleeps on the sofa.",
        ]
    )
    assert food @ bread > 0.6
    assert food @ bread > food @ baby + 0.3
    assert food @ bread > bread @ baby + 0.3
    assert rotate_key @ change_key > max(rotate_key @ food, rotate_key @ cat, rotate_key @ baby) + 0.3


def test_missing_model_dir_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotInstalled, match=r"model\.safetensors"):
        MiniLMEncoder.load(tmp_path)
