"""State that gateway replicas share through Redis when configured (`shared_state`): the judgment cache and the
per-key rate limits. Without it, or while Redis is away, each replica uses its own (docs/operations.md, "Several
replicas")."""
