"""Judge output formats: each module owns one format's prompt builder, output grammar and parser.

Training and serving import the same objects, so a checkpoint is trained on exactly the prompts the service
sends and scored by exactly the parser the service uses.
"""

from models.formats.pairwise import PAIRWISE, PairwiseFormat, PairwiseVerdict
from models.formats.pointwise import POINTWISE, PointwiseFormat, PointwiseVerdict
from models.formats.sections import FormatFailure, ParseFailure

__all__ = [
    "PAIRWISE",
    "POINTWISE",
    "FormatFailure",
    "PairwiseFormat",
    "PairwiseVerdict",
    "ParseFailure",
    "PointwiseFormat",
    "PointwiseVerdict",
]
