"""Pure ranking functions: no I/O, no Strawberry.

Fusion is reciprocal-rank fusion (Cormack et al., 2009): for every ranked list L a chunk appears in,
    fused(c) = sum over L of 1 / (RRF_K + rank_L(c)),   ranks starting at 1, RRF_K = 60.
The graph list ranks chunks by graph score: for each reached entity e that mentions the chunk,
    graph(c) = sum over e of 1 / (1 + hops(e)),   hops = 0 for seed entities.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from operator import itemgetter

RRF_K = 60
_WORD = re.compile(r"[\w][\w'&.-]*", re.UNICODE)


def rrf(rankings: Iterable[Sequence[str]], k: int = RRF_K) -> dict[str, float]:
    fused: dict[str, float] = defaultdict(float)
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] += 1.0 / (k + rank)
    return dict(fused)


def graph_scores(
    reached_hops: Mapping[str, int], mentions: Mapping[str, Sequence[str]]
) -> tuple[dict[str, float], dict[str, list[str]]]:
    """Score chunks reached through entities; also return which entities reached each chunk (nearest first)."""
    scores: dict[str, float] = {}
    via: dict[str, list[str]] = {}
    for entity_id, hops in sorted(reached_hops.items(), key=itemgetter(1, 0)):
        weight = 1.0 / (1 + hops)
        for chunk_id in mentions.get(entity_id, ()):
            if chunk_id in scores:
                scores[chunk_id] += weight
                via[chunk_id].append(entity_id)
            else:
                scores[chunk_id] = weight
                via[chunk_id] = [entity_id]
    return scores, via


def ranked(scores: Mapping[str, float]) -> list[str]:
    """Items by score, highest first; ties broken by id for a stable order."""
    by_id = sorted(scores)
    by_id.sort(key=scores.__getitem__, reverse=True)  # a stable sort: equal scores keep the id order
    return by_id


def name_candidates(text: str, max_words: int = 4) -> list[str]:
    """Lower-cased word n-grams of a query: the names an entity-name index can match exactly."""
    words = [w.strip(".-'") for w in _WORD.findall(text.lower())]
    words = [w for w in words if w]
    grams = {
        " ".join(words[i : i + n]) for n in range(1, max_words + 1) for i in range(len(words) - n + 1)
    }
    return sorted(grams)
