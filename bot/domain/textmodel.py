"""The learned grader's model, read without scikit-learn: TF-IDF over character and word n-grams, and
two linear classifiers (grade, category) over them.

`pmbot grader train` fits the model with scikit-learn and writes its numbers into one `.npz` file; this
module computes the same features and scores with the standard library and NumPy, so the bot needs
neither scikit-learn nor anything downloaded at run time. A test checks both give the same
probabilities.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import BinaryIO

import numpy as np

MODEL_PATH = Path(__file__).with_name("grader_model.npz")
_SPACES = re.compile(r"\s\s+")
WORD_CACHE = 50_000  # words whose n-grams are kept worked out (a few MB)
# Words too common to explain anything on their own ("the", "is", "a user" is shown only with its noun).
_FILLER = frozenset("""a an the is are was were be been it its this that these those to of in on at by for with
from and or but not no so as if then than when while i we you he she they me my our your their them us can could
would should will just also very after before into out up down over there here what which who how all any some
do does did has have had get got one user users""".split())


@dataclass(frozen=True)
class Vector:
    """A report's features: sorted column indices and their weights (each block L2-normalised)."""

    columns: np.ndarray
    values: np.ndarray

    def dot(self, other: Vector) -> float:
        """Cosine similarity in [0, 1]: both vectors have the same number of unit-length blocks."""
        common, mine, theirs = np.intersect1d(self.columns, other.columns, assume_unique=True,
                                              return_indices=True)
        if not len(common):
            return 0.0
        return float(self.values[mine] @ other.values[theirs]) / 2


@dataclass(frozen=True, eq=False)
class Block:
    """One TF-IDF vectorizer: its analyzer settings, vocabulary and idf, at an offset in the columns."""

    analyzer: str  # "char_wb" or "word"
    ngram_range: tuple[int, int]
    vocabulary: dict[str, int]
    idf: np.ndarray
    offset: int
    token_pattern: re.Pattern[str] | None = None

    @cached_property
    def idf_list(self) -> list[float]:
        return self.idf.tolist()

    def _word_columns(self, word: str) -> list[int]:
        """The known n-grams of one word; words repeat, so each is worked out once (up to a bound)."""
        cache = self._cache
        columns = cache.get(word)
        if columns is None:
            low, high = self.ngram_range
            columns = [c for c in map(self.vocabulary.get, _char_wb(word, low, high)) if c is not None]
            if len(cache) >= WORD_CACHE:
                cache.clear()
            cache[word] = columns
        return columns

    @cached_property
    def _cache(self) -> dict[str, list[int]]:
        return {}

    @cached_property
    def names(self) -> dict[int, str]:
        """Column (with the offset) → term, for explanations."""
        return {index + self.offset: term for term, index in self.vocabulary.items()}

    def _word_terms(self, text: str) -> list[str]:
        """Word n-grams: scikit-learn's `word` analyzer (char n-grams go word by word, in `vector`)."""
        low, high = self.ngram_range
        assert self.token_pattern is not None
        tokens = self.token_pattern.findall(text)
        grams = list(tokens) if low == 1 else []
        for n in range(max(2, low), high + 1):
            grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
        return grams

    def vector(self, text: str) -> tuple[list[int], list[float]]:
        if self.analyzer == "char_wb":
            found: list[int] = []
            for word in _SPACES.sub(" ", text).split():
                found += self._word_columns(word)
            counts = Counter(found)
        else:
            counts = Counter(map(self.vocabulary.get, self._word_terms(text)))
            counts.pop(None, None)
        columns = sorted(counts)
        idf = self.idf_list
        weights = [(1 + math.log(counts[c])) * idf[c] for c in columns]
        norm = math.sqrt(sum(w * w for w in weights)) or 1.0
        return [c + self.offset for c in columns], [w / norm for w in weights]


def _char_wb(text: str, low: int, high: int) -> list[str]:
    """Character n-grams inside word boundaries, padded with one space: scikit-learn's `char_wb`."""
    grams = []
    for word in _SPACES.sub(" ", text).split():
        word = f" {word} "
        size = len(word)
        for n in range(low, high + 1):
            if n > size:
                # scikit-learn keeps the whole (padded) word once when it is shorter than n
                grams.append(word)
                break
            grams += [word[i:i + n] for i in range(size - n + 1)]
            if n == size:
                break
    return grams


@dataclass(frozen=True)
class Head:
    """A multinomial logistic regression: one row of weights per class."""

    classes: tuple
    coef: np.ndarray  # (classes, columns)
    intercept: np.ndarray

    def probabilities(self, vector: Vector) -> dict:
        scores = self.coef[:, vector.columns] @ vector.values + self.intercept
        scores = np.exp(scores - scores.max())
        return dict(zip(self.classes, (scores / scores.sum()).tolist(), strict=True))

    def contributions(self, vector: Vector, label) -> np.ndarray:
        """How much each of the vector's columns pushed towards `label` (for explanations)."""
        return self.coef[self.classes.index(label), vector.columns] * vector.values


@dataclass(frozen=True)
class TextModel:
    blocks: tuple[Block, ...]
    grade: Head
    category: Head
    meta: dict

    def vector(self, text: str) -> Vector:
        columns: list[int] = []
        values: list[float] = []
        for block in self.blocks:
            c, v = block.vector(text)
            columns += c
            values += v
        return Vector(np.asarray(columns, dtype=np.int64), np.asarray(values, dtype=np.float64))

    def words_for(self, vector: Vector, grade: int, limit: int = 3) -> list[str]:
        """The word n-grams that pushed hardest towards `grade`: what a person can check in the text."""
        words = next((b for b in self.blocks if b.analyzer == "word"), None)
        if words is None:
            return []
        inside = (vector.columns >= words.offset) & (vector.columns < words.offset + len(words.idf))
        pushes = self.grade.contributions(vector, grade)
        order = [i for i in np.argsort(-pushes) if inside[i] and pushes[i] > 0]
        terms = [words.names[int(vector.columns[i])] for i in order]
        return [t for t in terms if not {w for w in t.split() if len(w) > 2 and not w.isdigit()} <= _FILLER][:limit]


def save(handle: BinaryIO, *, blocks: list[dict], grade: dict, category: dict, meta: dict) -> None:
    """Write a model as plain arrays (no pickle): blocks hold vocabulary terms in column order."""
    arrays: dict[str, np.ndarray] = {}
    for i, block in enumerate(blocks):
        arrays[f"block{i}_terms"] = np.asarray(block["terms"], dtype=str)
        arrays[f"block{i}_idf"] = np.asarray(block["idf"], dtype=np.float32)
    for name, head in (("grade", grade), ("category", category)):
        arrays[f"{name}_classes"] = np.asarray([str(c) for c in head["classes"]], dtype=str)
        arrays[f"{name}_coef"] = np.asarray(head["coef"], dtype=np.float32)
        arrays[f"{name}_intercept"] = np.asarray(head["intercept"], dtype=np.float32)
    settings = [{k: block[k] for k in ("analyzer", "ngram_range", "token_pattern")} for block in blocks]
    arrays["meta"] = np.asarray(json.dumps({**meta, "blocks": settings}, sort_keys=True))
    np.savez_compressed(handle, **arrays)


def load(source: Path | BinaryIO = MODEL_PATH) -> TextModel:
    with np.load(source, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        blocks, offset = [], 0
        for i, settings in enumerate(meta["blocks"]):
            terms = data[f"block{i}_terms"].tolist()
            pattern = settings.get("token_pattern")
            blocks.append(Block(settings["analyzer"], tuple(settings["ngram_range"]),
                                {t: j for j, t in enumerate(terms)}, data[f"block{i}_idf"].astype(np.float64),
                                offset, re.compile(pattern) if pattern else None))
            offset += len(terms)
        heads = {}
        for name, cast in (("grade", int), ("category", str)):
            heads[name] = Head(tuple(cast(c) for c in data[f"{name}_classes"].tolist()),
                               data[f"{name}_coef"].astype(np.float64), data[f"{name}_intercept"].astype(np.float64))
    return TextModel(tuple(blocks), heads["grade"], heads["category"], meta)


@lru_cache(maxsize=1)
def shipped() -> TextModel:
    """The model in the package, loaded once per process."""
    return load(MODEL_PATH)
