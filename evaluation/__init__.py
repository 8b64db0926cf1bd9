"""`genrm eval`: measure a judge on preference benchmarks through the service, over HTTP.

Reads pairs (`loaders`), judges them through `genrm_client` (`runner`, resumable into `results.jsonl`), computes
every figure from those per-item results (`metrics`, `summary`), and writes the report (`report`, `markdown`).
`compare` sets two runs side by side with a paired test. Imports only the client package: the eval measures
exactly what a trainer gets.
"""
