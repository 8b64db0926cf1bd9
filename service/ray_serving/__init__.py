"""The judge inside a Ray cluster (optional: `ray` is only imported here and by `genrm_client.ray_judge`).

- `spec.RayJudgeSpec`: what to start: the judge model, how many engines, what each takes from the cluster (GPUs,
  a fraction of one, or custom resources) and how the placement group spreads them.
- `engine_actor.JudgeEngine`: one vLLM engine as a Ray actor in its placement-group bundle; Ray restarts it when
  it dies (on the same bundle, or wherever the bundle is rescheduled when its node is gone).
- `gateway_actor.JudgeGateway`: the gateway (the same app as `python -m service`) in a named, detached actor. It
  creates its engine actors, finds their addresses through Ray, follows them when they come back elsewhere, and
  shuts them down with itself.
- `deploy`: get or start a judge by name; stop it.
"""
