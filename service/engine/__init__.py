"""Engines: where judgments are generated. The gateway talks to vLLM's OpenAI-compatible server over HTTP."""
