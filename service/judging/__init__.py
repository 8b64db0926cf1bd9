"""Judging logic, independent of HTTP and of the wire models: plain classes on the judging layer's own types
(`items`), which get their engines through the constructor.

    items ........ what the judges take and give (items, settings, outcomes)
    context ...... what a request's items share; the per-item failure; the deadline
    runner ....... one prompt: render and length-check once, draw n votes, parse them
    scoring ...... PointwiseJudge          comparing ... PairwiseJudge (position swap)
    batch ........ BatchJudge: dedup, cache, deadline and per-item failure around both judges
    dedup ........ in-batch deduplication   cache ....... the judgment LRU   keys ... content and affinity keys
    aggregation .. mean/majority scores, pairwise tallies
    admission .... 429/503 before any work is queued
    registry ..... the judge models served
"""
