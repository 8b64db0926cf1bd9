"""API keys, scopes and per-key judging quotas (README, "Security")."""
