"""Drop-in reward functions for RL trainers, on top of the typed clients.

    trl ..... ScoreReward, ReferenceReward, GroupReward, VerifiedReward: TRL `reward_funcs` (one request per batch)
    verl .... compute_score: verl's `custom_reward_function` (async, pooled, bounded, with a deadline)

OpenRLHF and slime post to the service directly: point their reward URL at `/v1/openrlhf/...` or
`/v1/slime/...` (see the README).
"""
