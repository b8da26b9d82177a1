"""`pmbot grader train`: fit the learned grader on the labelled reports in the repository.

Needs scikit-learn (the `train` extra); the bot itself only reads the file this writes. Training is
reproducible: the same data gives the same model. Part of the real-world dev set is held out by source
repository (a fixed fifth, chosen by a hash of the repository's name), so the shipped model can be
scored on reports whose repository it never saw.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.domain.grading import normalise
from bot.domain.pii import redact
from bot.domain.textmodel import MODEL_PATH, TextModel, load, save

DATA_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "grading"
DEV_FILE = "real_reports_dev.jsonl"
CATEGORIES = ("personal_data", "security", "harmful", "wrong_answer", "no_answer", "speed_cost", "tone_language",
              "display", "feature")
TOKENS = r"(?u)\b\w+\b"
CHAR_FEATURES = 60000
C = 1.0


@dataclass(frozen=True)
class Report:
    id: str
    text: str
    grade: int
    acceptable: frozenset[int]
    category: str | None
    source: str
    file: str

    @property
    def group(self) -> str:
        return group_of(self.source)


def group_of(source: str) -> str:
    """The repository (owner/repo) or web page a report came from: cross-validation keeps each whole."""
    base = source.split("#")[0].strip().lower()
    match = re.match(r"https?://(?:www\.)?([^/]+)(/[^/?#]*)?", base)
    return (match.group(1) + (match.group(2) or "")) if match else base


def held_out(group: str) -> bool:
    """A fixed fifth of the dev set's repositories, never trained on by the shipped model."""
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % 5 == 0


def read_reports(data_dir: Path = DATA_DIR) -> list[Report]:
    """Every labelled report in the directory's `*.jsonl` files, in a stable order."""
    reports = []
    for path in sorted(data_dir.glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            row = json.loads(line)
            try:
                grade = int(row["grade"])
                reports.append(Report(str(row["id"]), row["text"], grade,
                                      frozenset([grade, *map(int, row.get("acceptable") or [])]),
                                      row.get("category"), str(row.get("source") or path.name), path.name))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"{path.name} line {number}: {exc}") from exc
    return reports


def training_set(reports: Sequence[Report]) -> list[Report]:
    """All reports but the dev set's held-out repositories (and any report sharing such a repository)."""
    kept_out = {r.group for r in reports if r.file == DEV_FILE and held_out(r.group)}
    return [r for r in reports if r.group not in kept_out]


def prepare(text: str) -> str:
    """What the model reads: the redacted, normalised text, as the bot has it when grading."""
    return normalise(redact(text).text)


def fit(reports: Sequence[Report], *, meta: dict | None = None) -> TextModel:
    """Fit the grade and category heads on these reports; the result as the bot would load it."""
    buffer = io.BytesIO()
    _write(buffer, reports, meta or {})
    buffer.seek(0)
    return load(buffer)


def train(out: Path = MODEL_PATH, data_dir: Path = DATA_DIR) -> tuple[TextModel, list[Report], list[Report]]:
    """Fit on the repository's data (less the held-out part) and write the model; returns it with the
    training and held-out reports."""
    reports = read_reports(data_dir)
    used = training_set(reports)
    held = [r for r in reports if r not in set(used) and r.file == DEV_FILE]
    digest = hashlib.sha256("\n".join(f"{r.id}\t{r.grade}\t{r.category}\t{r.text}" for r in used).encode())
    meta = {"reports": len(used), "data_sha256": digest.hexdigest(), "held_out": sorted(r.id for r in held)}
    with out.open("wb") as handle:
        _write(handle, used, meta)
    return load(out), used, held


def _write(handle, reports: Sequence[Report], meta: dict) -> None:
    vectorizers, heads = fit_sklearn(reports)
    blocks = []
    for v in vectorizers:
        terms = sorted(v.vocabulary_, key=v.vocabulary_.__getitem__)
        blocks.append({"terms": terms, "idf": v.idf_, "analyzer": v.analyzer, "ngram_range": list(v.ngram_range),
                       "token_pattern": v.token_pattern if v.analyzer == "word" else None})
    save(handle, blocks=blocks, meta=meta,
         **{name: {"classes": list(m.classes_), "coef": m.coef_, "intercept": m.intercept_}
            for name, m in heads.items()})


def fit_sklearn(reports: Sequence[Report]):
    """The fitted scikit-learn vectorizers and the grade and category classifiers."""
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    texts = [prepare(r.text) for r in reports]
    vectorizers = [
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, lowercase=False,
                        max_features=CHAR_FEATURES, dtype=np.float64),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=False,
                        token_pattern=TOKENS, dtype=np.float64),
    ]
    matrix = hstack([v.fit_transform(texts) for v in vectorizers]).tocsr()
    heads = {}
    labelled = {"grade": [(i, r.grade) for i, r in enumerate(reports)],
                "category": [(i, r.category) for i, r in enumerate(reports) if r.category in CATEGORIES]}
    for name, pairs in labelled.items():
        model = LogisticRegression(C=C, max_iter=5000, class_weight="balanced")
        model.fit(matrix[[i for i, _ in pairs]], [label for _, label in pairs])
        heads[name] = model
    return vectorizers, heads


def counts(reports: Iterable[Report]) -> Counter[str]:
    """Reports per file."""
    return Counter(r.file for r in reports)
