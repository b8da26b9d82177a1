"""Which learned model grades best: sparse n-grams, static word embeddings, or both.

Run: .venv/bin/pip install wordllama && .venv/bin/python bench/grader_models.py

Grouped 5-fold cross-validation on the real-world dev set, as in bench/grading.py (folds keep each source
repository whole; everything else in tests/data/grading is training data, less the fold's repositories).
Each model is a class-balanced logistic regression over:
- tfidf: character 2–5-grams within words + word 1–2-grams (what pmbot ships);
- wordllama: WordLlama's 256-dimension static embeddings (weights inside the wheel, nothing downloaded);
- both: the two side by side.
Printed with and without the safety floors on top. wordllama is not a dependency of pmbot: this script is
how the choice was made, and can be run again when the data grows.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from scipy.sparse import csr_matrix, hstack  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GroupKFold  # noqa: E402

from bot.domain.grading import grade_report  # noqa: E402
from bot.grader_train import CHAR_FEATURES, DEV_FILE, TOKENS, prepare, read_reports  # noqa: E402


def wordllama():
    """WordLlama from the files in its wheel (its loader looks in the wrong folder and then downloads)."""
    import wordllama as package
    from safetensors import safe_open
    from tokenizers import Tokenizer
    from wordllama.inference import WordLlamaInference

    base = Path(package.__file__).parent
    tokenizer = Tokenizer.from_file(str(base / "tokenizers" / "l2_supercat_tokenizer_config.json"))
    with safe_open(str(base / "weights" / "l2_supercat_256.safetensors"), framework="np", device="cpu") as f:
        return WordLlamaInference(f.get_tensor("embedding.weight"), tokenizer)


def tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_union

    return make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, lowercase=False,
                        max_features=CHAR_FEATURES),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True, lowercase=False,
                        token_pattern=TOKENS))


def main() -> None:
    reports = read_reports()
    dev = [r for r in reports if r.file == DEV_FILE]
    others = [r for r in reports if r.file != DEV_FILE]
    embedder = wordllama()
    floors = np.array([grade_report(r.text).floor for r in dev])
    groups = [r.group for r in dev]
    predictions = {kind: np.zeros(len(dev), int) for kind in ("tfidf", "wordllama", "both")}
    for train_rows, test_rows in GroupKFold(n_splits=5).split(dev, groups=groups):
        kept_out = {groups[i] for i in test_rows}
        train = [r for r in others if r.group not in kept_out] + [dev[i] for i in train_rows]
        test = [dev[i] for i in test_rows]
        vectorizer = tfidf()
        sparse_train = vectorizer.fit_transform([prepare(r.text) for r in train])
        sparse_test = vectorizer.transform([prepare(r.text) for r in test])
        dense_train = embedder.embed([r.text for r in train], norm=True)
        dense_test = embedder.embed([r.text for r in test], norm=True)
        inputs = {"tfidf": (sparse_train, sparse_test), "wordllama": (dense_train, dense_test),
                  "both": (hstack([sparse_train, csr_matrix(dense_train)]).tocsr(),
                           hstack([sparse_test, csr_matrix(dense_test)]).tocsr())}
        for kind, (a, b) in inputs.items():
            model = LogisticRegression(C=1.0, max_iter=5000, class_weight="balanced").fit(a, [r.grade for r in train])
            predictions[kind][test_rows] = model.predict(b)
    print(f"grouped 5-fold cross-validation on {DEV_FILE} ({len(dev)} reports)")
    for kind, predicted in predictions.items():
        for floored in (False, True):
            grades = np.where(floors, 1, predicted) if floored else predicted
            within = np.mean([g in r.acceptable for g, r in zip(grades, dev, strict=True)])
            recall = np.mean([g == 1 for g, r in zip(grades, dev, strict=True) if r.grade == 1])
            false_ones = sum(1 for g, r in zip(grades, dev, strict=True) if r.grade >= 4 and g == 1)
            label = f"{kind}{' + floors' if floored else ''}"
            print(f"  {label:22} within acceptable {within:.1%} · grade-1 recall {recall:.1%} · "
                  f"false grade 1 on 4–5: {false_ones}")


if __name__ == "__main__":
    main()
