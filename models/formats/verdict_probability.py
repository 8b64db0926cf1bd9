"""Probability verdicts: the judge's distribution over its allowed verdicts, read from the engine's top
log-probabilities at the answer position instead of sampled.

A verdict may be more than one token: with digit-splitting tokenizers (SmolLM2, Qwen2.5) `10` is `1` then `0`,
and `1` is `1` then the answer's closing tag. The verdicts are a token tree: each verdict is a path from the
answer's opening tag, ending where the closing tag begins. Only nodes where the path branches are read (the root;
for 0-10 also the node after `1`, which decides between `1` and `10`); at each, the probabilities of the node's
children are renormalised over those children alone (as the grammar would restrict them), and a verdict's
probability is the product along its path. The service reads each node's top log-probabilities and then, for an
allowed token missing from them, that token's own (service/judging/runner.py); a node whose children all have
probability zero (or no answer) cannot be read: the distribution is then unknown, never guessed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

TokenPath = tuple[int, ...]
# The top log-probabilities asked for at each read: vLLM's default `max_logprobs`.
TOP_LOGPROBS = 20


class UnreadableVerdicts(ValueError):
    """The tokenizer does not keep the verdicts apart from the closing tag, so no tree can be built."""


@dataclass(frozen=True)
class VerdictTree:
    """The allowed verdicts as token paths after the opening answer tag, and the closing tag's first token."""

    paths: Mapping[str, TokenPath]
    end: int

    def children(self, node: TokenPath) -> set[int]:
        """The tokens that may follow `node`: the next token of every path through it, and the closing tag's first
        token where a verdict ends there."""
        depth = len(node)
        found = {path[depth] for path in self.paths.values() if len(path) > depth and path[:depth] == node}
        if node in self.paths.values():
            found.add(self.end)
        return found

    def reads(self) -> list[TokenPath]:
        """The nodes whose next token must be read: those with more than one possible child, root first."""
        nodes = {path[:depth] for path in self.paths.values() for depth in range(len(path) + 1)}
        return sorted((node for node in nodes if len(self.children(node)) > 1), key=lambda node: (len(node), node))

    def distribution(self, readings: Mapping[TokenPath, Mapping[int, float]]) -> dict[str, float] | None:
        """Each verdict's probability from the top log-probabilities read at each node of `reads()` (token id ->
        log-probability); None when a node's children are all missing from its reading."""
        conditional: dict[TokenPath, dict[int, float]] = {}
        for node in self.reads():
            children = self.children(node)
            weights = {token: math.exp(readings[node][token]) for token in children if token in readings[node]}
            total = sum(weights.values())
            if total <= 0.0:
                return None
            conditional[node] = {token: weights.get(token, 0.0) / total for token in children}
        probabilities: dict[str, float] = {}
        for verdict, path in self.paths.items():
            probability = 1.0
            for depth, token in enumerate((*path, self.end)):
                probability *= conditional.get(path[:depth], {}).get(token, 1.0)
            probabilities[verdict] = probability
        return probabilities


def verdict_tree(verdicts: Sequence[str], closing: str, encode: Callable[[str], list[int]]) -> VerdictTree:
    """The token tree of `verdicts` as `encode` writes them before `closing` (the answer's closing tag)."""
    closing_ids = encode(closing)
    if not closing_ids:
        raise UnreadableVerdicts(f"the closing tag {closing!r} encodes to no token")
    paths: dict[str, TokenPath] = {}
    for verdict in verdicts:
        alone, together = encode(verdict), encode(verdict + closing)
        if not alone or together != alone + closing_ids:
            raise UnreadableVerdicts(f"the tokenizer merges verdict {verdict!r} with {closing!r} ({together} is not "
                                     f"{alone} + {closing_ids}); its probability cannot be read token by token")
        paths[verdict] = tuple(alone)
    if len(set(paths.values())) != len(paths):
        raise UnreadableVerdicts("two verdicts encode to the same tokens")
    return VerdictTree(paths, closing_ids[0])


def expected_value(distribution: Mapping[str, float], values: Mapping[str, float]) -> float:
    """Σ p(v)·value(v): the distribution is already normalised over the verdicts."""
    return math.fsum(p * values[verdict] for verdict, p in distribution.items())


def mean_distribution(distributions: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The average of several readings, verdict by verdict (all over the same verdicts); needs at least one."""
    if not distributions:
        raise ValueError("no distributions to average")
    return {verdict: math.fsum(d[verdict] for d in distributions) / len(distributions) for verdict in distributions[0]}
