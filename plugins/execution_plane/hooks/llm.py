"""OpenAI-compatible LLM provider: chat completions and embeddings.

The connection's extra names the models: ``model`` (chat, default gpt-4o-mini), ``embedding_model``
(default text-embedding-3-small) and ``embedding_dimensions`` (default 384, sent as ``dimensions``: the
knowledge store's vector column has that size, and OpenAI's text-embedding-3 models shorten to it).
"""

from __future__ import annotations

from typing import Any

from execution_plane.hooks.http import ProviderError, ProviderHook

EMBEDDING_BATCH = 128


class LlmHook(ProviderHook):
    system = "llm"
    default_conn_name = "llm_default"
    hook_name = "LLM provider"

    def model(self) -> str:
        """The chat model the connection names."""
        return str(self.get_connection(self.conn_id).extra_dejson.get("model", "gpt-4o-mini"))

    def complete(
        self,
        prompt: str,
        *,
        system_prompt: str = "",
        idempotency_key: str | None = None,
        json_object: bool = False,
    ) -> str:
        """The model's answer; ``json_object`` asks for a JSON object (the provider's JSON mode)."""
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
            {"role": "user", "content": prompt}
        ]
        request: dict[str, Any] = {"model": self.model(), "messages": messages, "temperature": 0}
        if json_object:
            request["response_format"] = {"type": "json_object"}
        body = self.json("POST", "/chat/completions", json=request, idempotency_key=idempotency_key)
        return str(body["choices"][0]["message"]["content"])

    def embedding_settings(self) -> tuple[str, int]:
        """(embedding model, dimensions) from the connection's extra."""
        extra: dict[str, Any] = self.get_connection(self.conn_id).extra_dejson
        return str(extra.get("embedding_model", "text-embedding-3-small")), int(
            extra.get("embedding_dimensions", 384)
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order, through ``POST /embeddings`` in batches of ``EMBEDDING_BATCH``.
        An answer with a missing item or another dimension is a ProviderError, never a silent mismatch."""
        model, dimensions = self.embedding_settings()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), EMBEDDING_BATCH):
            batch = texts[start : start + EMBEDDING_BATCH]
            body = self.json(
                "POST",
                "/embeddings",
                json={"model": model, "input": batch, "dimensions": dimensions, "encoding_format": "float"},
            )
            items = sorted(body.get("data", []), key=lambda item: int(item["index"]))
            if len(items) != len(batch):
                raise ProviderError(
                    self.system, 200, f"{len(items)} embeddings for {len(batch)} texts", retryable=False
                )
            for item in items:
                vector = [float(value) for value in item["embedding"]]
                if len(vector) != dimensions:
                    raise ProviderError(
                        self.system,
                        200,
                        f"embedding of {len(vector)} dimensions, not {dimensions}",
                        retryable=False,
                    )
                vectors.append(vector)
        return vectors
