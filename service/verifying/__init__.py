"""Verifiable rewards in the gateway: the verifier worker pool (`pool`) and the scorer that lets the verifier,
the judge, or both decide each item (`scorer`)."""
