"""Does more data still pay? Macro-F1 on the frozen test set when training on 10%, 20%, ...,
100% of the training data, as a table and a PNG.

Each fraction is a prefix of one seeded shuffle, so the sets are nested. Training time is
printed as a ratio against the smallest fraction's, measured in the same run.

    python bench/learning_curve.py [--output reports/learning_curve.png]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display here; and no font or backend is fetched
import matplotlib.pyplot as plt
import numpy as np

from classifier.catalogue import DEPARTMENT_IDS
from classifier.data import load_records
from classifier.evaluation import evaluate, label_matrix
from classifier.model import TriageModel
from classifier.policy import EscalationPolicy
from classifier.settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=settings.training_data)
    parser.add_argument("--test", type=Path, default=settings.test_data)
    parser.add_argument("--fractions", default="0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1.0",
                        help="comma-separated fractions of the training data")  # fmt: skip
    parser.add_argument("--output", type=Path, default=Path("reports/learning_curve.png"))
    parser.add_argument("--seed", type=int, default=settings.seed)
    args = parser.parse_args()

    train = load_records(args.data)
    test = load_records(args.test)
    order = np.random.default_rng(args.seed).permutation(len(train))
    policy = EscalationPolicy.of(settings)
    rows = []
    print(f"{'fraction':>8}{'records':>9}{'macro-F1':>10}{'micro-F1':>10}"
          f"{'esc recall':>12}{'esc prec':>10}{'fit time':>10}")  # fmt: skip
    for fraction in (float(f) for f in args.fractions.split(",")):
        subset = [train[i] for i in order[: max(10, round(fraction * len(train)))]]
        start = time.perf_counter()
        model = TriageModel(random_state=args.seed).fit(
            [r.text for r in subset], label_matrix(subset, DEPARTMENT_IDS)
        )
        seconds = time.perf_counter() - start
        report = evaluate(model, test, policy)
        rows.append((fraction, len(subset), report, seconds))
        print(f"{fraction:>8.0%}{len(subset):>9}{report['macro_f1']:>10.3f}"
              f"{report['micro_f1']:>10.3f}{report['escalation']['recall']:>12.3f}"
              f"{report['escalation']['precision']:>10.3f}{seconds / rows[0][3]:>9.1f}x",
              flush=True)  # fmt: skip

    sizes = [n for _, n, _, _ in rows]
    figure, axis = plt.subplots(figsize=(7, 4.2), dpi=120)
    axis.plot(sizes, [r["macro_f1"] for _, _, r, _ in rows], "o-", label="macro-F1 (departments)")
    axis.plot(sizes, [r["micro_f1"] for _, _, r, _ in rows], "s--", label="micro-F1 (departments)")
    axis.plot(sizes, [r["escalation"]["recall"] for _, _, r, _ in rows], "^:",
              label="escalation recall")  # fmt: skip
    axis.set_xlabel("training complaints")
    axis.set_ylabel(f"score on the frozen test set ({len(test)} complaints)")
    axis.set_ylim(0, 1)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    axis.set_title("Learning curve: does more data still pay?")
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
