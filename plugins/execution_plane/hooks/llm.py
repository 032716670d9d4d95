"""OpenAI-compatible LLM provider."""

from __future__ import annotations

from execution_plane.hooks.http import ProviderHook


class LlmHook(ProviderHook):
    system = "llm"
    default_conn_name = "llm_default"
    hook_name = "LLM provider"

    def complete(self, prompt: str, *, system_prompt: str = "", idempotency_key: str | None = None) -> str:
        model = self.get_connection(self.conn_id).extra_dejson.get("model", "gpt-4o-mini")
        messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + [
            {"role": "user", "content": prompt}
        ]
        body = self.json(
            "POST",
            "/chat/completions",
            json={"model": model, "messages": messages, "temperature": 0},
            idempotency_key=idempotency_key,
        )
        return str(body["choices"][0]["message"]["content"])
