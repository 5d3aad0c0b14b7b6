"""Settings, read once from the environment. A bad value stops start-up with a message naming the variable."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

LOOPS = ("auto", "asyncio", "uvloop")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    name: str
    base_url: str
    api_key: str
    models: dict[str, str]


def parse_providers(raw: str, env: Mapping[str, str]) -> tuple[ProviderConfig, ...]:
    """RAGWEAVE_PROVIDERS: a JSON list, or `@path` to a JSON file, of
    {"name", "base_url", "api_key" | "api_key_env", "models": {"chat", "extract", "embed"}}."""
    if raw.startswith("@"):
        try:
            raw = Path(raw[1:]).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingsError(f"RAGWEAVE_PROVIDERS: cannot read {raw[1:]}: {exc.strerror}") from None
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"RAGWEAVE_PROVIDERS is not valid JSON: {exc}") from None
    if not isinstance(items, list) or not items:
        raise SettingsError("RAGWEAVE_PROVIDERS must be a non-empty JSON list")
    configs = []
    for item in items:
        if not isinstance(item, dict) or not item.get("name") or not item.get("base_url"):
            raise SettingsError("RAGWEAVE_PROVIDERS: every provider needs `name` and `base_url`")
        models = item.get("models") or {}
        if not isinstance(models, dict) or not all(isinstance(v, str) for v in models.values()):
            raise SettingsError(f"RAGWEAVE_PROVIDERS: `models` of {item['name']} must map aliases to model names")
        key = item.get("api_key") or env.get(item.get("api_key_env") or "", "") or "unused"
        configs.append(ProviderConfig(str(item["name"]), str(item["base_url"]), key, dict(models)))
    return tuple(configs)


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    debug_extensions: bool = False
    dev_mode: bool = False
    tenant: str = "default"
    graphql_ide: bool = True
    keys_file: Path | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    # uvicorn's event loop: auto (uvloop when installed) | asyncio | uvloop. perf (a), (c), (g): uvloop spent 5-20% less
    # server CPU per op; tail latency at saturation went either way between runs
    loop: str = "auto"
    # server processes, new connections dealt to them in turn (ragweave/workers.py); the embedded backends are
    # in-process, so more than one needs the server backends
    workers: int = 1
    # seconds an idle keep-alive connection stays open. uvicorn's 5 s default races clients and proxies that reuse
    # a connection after a pause: the server closes it as the next request arrives (the soak saw a ReadError).
    # Longer than the 60 s idle timeout common in load balancers, so that they close first.
    keep_alive_s: int = 75
    # admission per process (ragweave/admission.py): GraphQL HTTP requests running at once, then a bounded queue.
    # perf (c), 400/s over 400 connections: 64 and 1 s kept p95 near 0.5 s with nothing shed (no limit: 1.1 s); 16 and
    # 0.25 s shed 27-35% and served a quarter fewer requests
    max_in_flight: int = 64
    admission_wait_s: float = 1.0
    max_queued: int = 256
    # vectors: QDRANT_URL selects the qdrant-client adapter; otherwise the embedded qdrant-edge shards
    qdrant_url: str | None = None
    qdrant_api_key: str | None = None
    qdrant_timeout_s: float = 10.0
    default_collection: str = "chunks"
    # the embedded store scans every vector until its index is built (ragweave ingest, ragweave index-vectors):
    # 20k vectors of 384 dimensions scan in 2.5-5 ms here, an index makes the answer approximate
    vector_index_min: int = 20_000
    # graph: NEO4J_URI selects the neo4j adapter; otherwise an embedded FalkorDB child process
    neo4j_uri: str | None = None
    neo4j_user: str | None = None
    neo4j_password: str | None = None
    neo4j_database: str = "neo4j"
    falkordb_url: str | None = None
    graph_name: str = "ragweave"
    graph_timeout_s: float = 5.0
    # deadlines: one per request (queries, chat, extractGraph); stages take shares of the time left
    request_deadline_s: float = 30.0
    graph_stage_share: float = 0.5
    grounding_share: float = 0.5
    # language models: OPENAI_BASE_URL selects an OpenAI-compatible endpoint; otherwise offline MiniLM
    openai_base_url: str | None = None
    openai_api_key: str | None = None
    chat_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    embedding_dim: int = 384
    llm_timeout_s: float = 30.0
    llm_max_retries: int = 2
    providers: tuple[ProviderConfig, ...] = ()
    hedge_delay_s: float = 1.0
    provider_concurrency: int = 64
    stream_concurrency: int = 1000
    reranker_url: str | None = None
    reranker_timeout_s: float = 10.0
    # limits
    max_query_depth: int = 12
    max_aliases: int = 30
    max_root_fields: int = 10
    max_tokens: int = 4000
    max_cost: int = 20_000
    rate_per_s: float = 20_000.0
    rate_burst: float = 100_000.0
    redis_url: str | None = None
    graph_query_row_cap: int = 1000
    chunk_size: int = 800
    chunk_overlap: int = 120
    load_demo: bool = False
    # operations: metrics, logs, persisted queries (tracing reads the standard OTEL_* variables itself)
    metrics_token: str | None = None
    log_json: bool = False
    log_debug: bool = False
    trusted_documents: Path | None = None
    apq_cache_size: int = 10_000
    gc_tuning: bool = False  # the server's default is on (RAGWEAVE_GC_TUNING); off for apps built in-process
    query_lane: bool = True  # queries skip Strawberry's operation pipeline (ragweave/schema/query_lane.py)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        reader = _Reader(env)
        settings = cls(
            host=reader.str("RAGWEAVE_HOST", "127.0.0.1"),
            port=reader.int("RAGWEAVE_PORT", 8000, 1, 65535),
            data_dir=Path(reader.str("RAGWEAVE_DATA_DIR", "data")),
            debug_extensions=reader.bool("RAGWEAVE_DEBUG_EXTENSIONS", False),
            dev_mode=reader.bool("RAGWEAVE_DEV_MODE", False),
            tenant=reader.str("RAGWEAVE_TENANT", "default"),
            graphql_ide=reader.bool("RAGWEAVE_GRAPHQL_IDE", True),
            keys_file=Path(reader.optional("RAGWEAVE_KEYS_FILE")) if reader.optional("RAGWEAVE_KEYS_FILE") else None,
            max_body_bytes=reader.int("RAGWEAVE_MAX_BODY_BYTES", 16 * 1024 * 1024, 1024, 1 << 31),
            loop=reader.choice("RAGWEAVE_LOOP", "auto", LOOPS),
            workers=reader.int("RAGWEAVE_WORKERS", 1, 1, 64),
            keep_alive_s=reader.int("RAGWEAVE_KEEP_ALIVE_S", 75, 1, 3600),
            max_in_flight=reader.int("RAGWEAVE_MAX_IN_FLIGHT", 64, 0, 100_000),
            admission_wait_s=reader.float("RAGWEAVE_ADMISSION_WAIT_S", 1.0),
            max_queued=reader.int("RAGWEAVE_MAX_QUEUED", 256, 0, 1_000_000),
            qdrant_url=reader.optional("QDRANT_URL"),
            qdrant_api_key=reader.optional("QDRANT_API_KEY"),
            qdrant_timeout_s=reader.float("RAGWEAVE_QDRANT_TIMEOUT_S", 10.0),
            default_collection=reader.str("RAGWEAVE_COLLECTION", "chunks"),
            vector_index_min=reader.int("RAGWEAVE_VECTOR_INDEX_MIN", 20_000, 1, 10**9),
            neo4j_uri=reader.optional("NEO4J_URI"),
            neo4j_user=reader.optional("NEO4J_USER"),
            neo4j_password=reader.optional("NEO4J_PASSWORD"),
            neo4j_database=reader.str("NEO4J_DATABASE", "neo4j"),
            falkordb_url=reader.optional("RAGWEAVE_FALKORDB_URL"),
            graph_name=reader.str("RAGWEAVE_GRAPH_NAME", "ragweave"),
            graph_timeout_s=reader.float("RAGWEAVE_GRAPH_TIMEOUT_S", 5.0),
            request_deadline_s=reader.float("RAGWEAVE_REQUEST_DEADLINE_S", 30.0),
            graph_stage_share=reader.share("RAGWEAVE_GRAPH_STAGE_SHARE", 0.5),
            grounding_share=reader.share("RAGWEAVE_GROUNDING_SHARE", 0.5),
            openai_base_url=reader.optional("OPENAI_BASE_URL"),
            openai_api_key=reader.optional("OPENAI_API_KEY"),
            chat_model=reader.str("RAGWEAVE_CHAT_MODEL", "gpt-4o-mini"),
            embedding_model=reader.str("RAGWEAVE_EMBEDDING_MODEL", "text-embedding-3-small"),
            embedding_dim=reader.int("RAGWEAVE_EMBEDDING_DIM", 384, 1, 65536),
            llm_timeout_s=reader.float("RAGWEAVE_LLM_TIMEOUT_S", 30.0),
            llm_max_retries=reader.int("RAGWEAVE_LLM_MAX_RETRIES", 2, 0, 10),
            providers=parse_providers(reader.optional("RAGWEAVE_PROVIDERS") or "[]", env)
            if reader.optional("RAGWEAVE_PROVIDERS") else (),
            hedge_delay_s=reader.float("RAGWEAVE_HEDGE_DELAY_S", 1.0),
            provider_concurrency=reader.int("RAGWEAVE_PROVIDER_CONCURRENCY", 64, 1, 10_000),
            stream_concurrency=reader.int("RAGWEAVE_STREAM_CONCURRENCY", 1000, 1, 100_000),
            reranker_url=reader.optional("RAGWEAVE_RERANKER_URL"),
            reranker_timeout_s=reader.float("RAGWEAVE_RERANKER_TIMEOUT_S", 10.0),
            max_query_depth=reader.int("RAGWEAVE_MAX_DEPTH", 12, 1, 100),
            max_aliases=reader.int("RAGWEAVE_MAX_ALIASES", 30, 1, 1000),
            max_root_fields=reader.int("RAGWEAVE_MAX_ROOT_FIELDS", 10, 1, 1000),
            max_tokens=reader.int("RAGWEAVE_MAX_TOKENS", 4000, 10, 1_000_000),
            max_cost=reader.int("RAGWEAVE_MAX_COST", 20_000, 1, 10**9),
            rate_per_s=reader.int("RAGWEAVE_RATE_PER_S", 20_000, 0, 10**9),
            rate_burst=reader.int("RAGWEAVE_RATE_BURST", 100_000, 1, 10**9),
            redis_url=reader.optional("RAGWEAVE_REDIS_URL"),
            chunk_size=reader.int("RAGWEAVE_CHUNK_SIZE", 800, 100, 20_000),
            chunk_overlap=reader.int("RAGWEAVE_CHUNK_OVERLAP", 120, 0, 10_000),
            load_demo=reader.bool("RAGWEAVE_LOAD_DEMO", False),
            metrics_token=reader.optional("RAGWEAVE_METRICS_TOKEN"),
            log_json=reader.bool("RAGWEAVE_LOG_JSON", False),
            log_debug=reader.bool("RAGWEAVE_LOG_DEBUG", False),
            trusted_documents=Path(reader.optional("RAGWEAVE_TRUSTED_DOCUMENTS"))
            if reader.optional("RAGWEAVE_TRUSTED_DOCUMENTS") else None,
            apq_cache_size=reader.int("RAGWEAVE_APQ_CACHE_SIZE", 10_000, 0, 10_000_000),
            gc_tuning=reader.bool("RAGWEAVE_GC_TUNING", True),
            query_lane=reader.bool("RAGWEAVE_QUERY_LANE", True),
        )
        if settings.chunk_overlap >= settings.chunk_size:
            raise SettingsError("RAGWEAVE_CHUNK_OVERLAP must be smaller than RAGWEAVE_CHUNK_SIZE")
        if settings.workers > 1 and (settings.qdrant_url in (None, ":memory:")
                                     or not (settings.neo4j_uri or settings.falkordb_url)):
            raise SettingsError("RAGWEAVE_WORKERS above 1 needs server backends that the workers share: QDRANT_URL, "
                                "and NEO4J_URI or RAGWEAVE_FALKORDB_URL (the embedded ones live in one process)")
        return replace(settings, **overrides) if overrides else settings

    @property
    def keys_path(self) -> Path:
        return self.keys_file or self.data_dir / "keys.json"

    def provider_configs(self) -> tuple[ProviderConfig, ...]:
        """The fallback chain: RAGWEAVE_PROVIDERS, else one provider from OPENAI_BASE_URL, else none."""
        if self.providers:
            return self.providers
        if self.openai_base_url:
            models = {"chat": self.chat_model, "extract": self.chat_model, "embed": self.embedding_model}
            return (ProviderConfig("openai", self.openai_base_url, self.openai_api_key or "unused", models),)
        return ()


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def optional(self, name: str) -> str | None:
        value = self.env.get(name, "").strip()
        return value or None

    def str(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(name, default).lower()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def bool(self, name: str, default: bool) -> bool:
        raw = self.optional(name)
        if raw is None:
            return default
        if raw.lower() in {"1", "true", "yes", "on"}:
            return True
        if raw.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name} must be a boolean (1/0, true/false), got {raw!r}")

    def int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
        return value

    def share(self, name: str, default: float) -> float:
        value = self.float(name, default)
        if value > 1:
            raise SettingsError(f"{name} is a share of the time left: more than 0 and at most 1, got {value}")
        return value

    def float(self, name: str, default: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{name} must be positive, got {value}")
        return value
