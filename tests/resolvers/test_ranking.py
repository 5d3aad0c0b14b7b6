"""The ranking functions against their definitions (ragweave.resolvers.ranking's docstring), on random data."""

from __future__ import annotations

import random

import pytest

from ragweave.resolvers import ranking


def _random_case(seed: int) -> tuple[dict[str, int], dict[str, list[str]]]:
    rng = random.Random(seed)
    entities = [f"e{n:03d}" for n in range(rng.randint(1, 60))]
    reached = {e: rng.randint(0, 3) for e in entities}
    chunks = [f"c{n:03d}" for n in range(200)]
    mentions = {e: rng.sample(chunks, rng.randint(0, 12)) for e in entities if rng.random() < 0.9}
    return reached, mentions


@pytest.mark.parametrize("seed", range(20))
def test_graph_scores_follow_the_definition(seed):
    reached, mentions = _random_case(seed)
    scores, via = ranking.graph_scores(reached, mentions)
    expected = {}
    for entity, hops in reached.items():
        for chunk in mentions.get(entity, ()):
            expected[chunk] = expected.get(chunk, 0.0) + 1.0 / (1 + hops)
    assert scores.keys() == expected.keys()
    assert all(scores[c] == pytest.approx(expected[c]) for c in expected)
    for chunk, entities in via.items():  # every entity that mentions the chunk, nearest first, then by id
        assert sorted(entities) == sorted(e for e in reached if chunk in mentions.get(e, ()))
        assert entities == sorted(entities, key=lambda e: (reached[e], e))


@pytest.mark.parametrize("seed", range(20))
def test_ranked_orders_by_score_then_id(seed):
    rng = random.Random(seed)
    scores = {f"c{n:03d}": rng.choice([0.5, 0.25, 1.0, rng.random()]) for n in rng.sample(range(500), 80)}
    assert ranking.ranked(scores) == sorted(scores, key=lambda c: (-scores[c], c))


def test_rrf_sums_reciprocal_ranks():
    fused = ranking.rrf([["a", "b", "c"], ["c", "a"]])
    assert fused == pytest.approx({"a": 1 / 61 + 1 / 62, "b": 1 / 62, "c": 1 / 63 + 1 / 61})
    assert ranking.ranked(fused) == ["a", "c", "b"]
