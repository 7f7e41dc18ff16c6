"""The conformance test every detector inherits (STYLE.md practice 5).

A detector's test class subclasses :class:`DetectorConformance` and sets ``detector``
(the registered class), ``params`` (parameters for the worked example), ``example``
(a tiny ``actions`` table), ``expected`` (the unordered account pairs, with type, the
example must give) and ``stricter`` (the same parameters with a raised threshold).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from echoscope import schema
from echoscope.detect import DETECTORS, DetectorBase, DetectParams
from echoscope.detect.base import Detector

T0 = dt.datetime(2024, 1, 1)


def actions(rows: list[tuple[str, float, str, str]]) -> pa.Table:
    """An actions table from (account, seconds, type, key) rows."""
    return pa.table({
        "account_id": pa.array([r[0] for r in rows], pa.string()),
        "time": pa.array([T0 + dt.timedelta(seconds=r[1]) for r in rows], pa.timestamp("us")),
        "type": pa.array([r[2] for r in rows], pa.string()),
        "key": pa.array([r[3] for r in rows], pa.string()),
        "post_id": pa.array([f"p{i}" for i in range(len(rows))], pa.string()),
    })


def edge_set(edges: pa.Table) -> set[tuple[str, str, str, float]]:
    return {(r["account_a"], r["account_b"], r["type"], r["window"]) for r in edges.to_pylist()}


def rows(edges: pa.Table) -> list[dict[str, Any]]:
    """Rows with NaN as None (NaN != NaN would make equal tables differ)."""
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
            for r in edges.to_pylist()]


class DetectorConformance:
    detector: ClassVar[type[DetectorBase]]
    params: ClassVar[Any]
    example: ClassVar[pa.Table]
    expected: ClassVar[set[tuple[str, str, str]]]
    stricter: ClassVar[list[Any]]

    def run(self, acts: pa.Table | None = None, params: Any = None, seed: int = 0) -> pa.Table:
        return self.detector().edges(self.example if acts is None else acts,
                                     self.params if params is None else params, seed)

    def test_registered_with_unique_name(self) -> None:
        assert self.detector.name
        assert DETECTORS.get(self.detector.name) is self.detector
        assert isinstance(self.detector(), Detector)
        assert set(self.detector.action_types) <= set(schema.TABLES["actions"].docs["type"]
                                                       .replace(",", " ").split())

    def test_documented_in_methods(self) -> None:
        doc = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
        assert self.detector.doc_section, "set doc_section to its docs/methods.md heading"
        assert f"\n## {self.detector.doc_section}\n" in doc.read_text(encoding="utf-8")

    def test_output_schema(self) -> None:
        out = self.run()
        assert out.schema.equals(schema.TABLES["edges"].schema)

    def test_account_order(self) -> None:
        for r in self.run().to_pylist():
            assert r["account_a"] < r["account_b"]

    def test_worked_example(self) -> None:
        got = {(a, b, t) for a, b, t, _ in edge_set(self.run())}
        assert got == self.expected

    def test_deterministic_per_seed(self) -> None:
        assert rows(self.run(seed=3)) == rows(self.run(seed=3))

    def test_row_order_independent(self) -> None:
        rng = np.random.default_rng(0)
        perm = rng.permutation(self.example.num_rows)
        shuffled = self.example.take(pa.array(perm))
        assert rows(self.run(shuffled)) == rows(self.run())

    def test_stricter_never_adds_edges(self) -> None:
        base = edge_set(self.run())
        for p in self.stricter:
            assert {e[:3] for e in edge_set(self.run(params=p))} <= {e[:3] for e in base}

    def test_empty_input(self) -> None:
        out = self.run(schema.empty("actions"))
        assert out.num_rows == 0
        assert out.schema.equals(schema.TABLES["edges"].schema)


# ---------------------------------------------------------------------------------------

_EX = [
    # a, b and c repost the same three posts within seconds; d once, late; e alone
    ("a", 0, "repost", "p1"), ("b", 5, "repost", "p1"), ("c", 9, "repost", "p1"),
    ("a", 1000, "repost", "p2"), ("b", 1003, "repost", "p2"), ("c", 1010, "repost", "p2"),
    ("a", 5000, "repost", "p3"), ("b", 5001, "repost", "p3"), ("c", 5030, "repost", "p3"),
    ("d", 900, "repost", "p1"), ("e", 20, "repost", "p9"),
    # a and b share two hashtags within a minute; c uses one of them much later
    ("a", 100, "hashtag", "x"), ("b", 130, "hashtag", "x"), ("c", 9000, "hashtag", "x"),
    ("a", 200, "hashtag", "y"), ("b", 200, "hashtag", "y"),
]


class TestCoactionConformance(DetectorConformance):
    detector = DETECTORS.get("coaction")
    params = DetectParams(windows=(60.0,), null="none")
    example = actions(_EX)
    expected: ClassVar[set[tuple[str, str, str]]] = {
        ("a", "b", "repost"), ("a", "c", "repost"), ("b", "c", "repost"),
        ("a", "b", "hashtag"),
    }
    stricter: ClassVar[list[Any]] = [
        DetectParams(windows=(60.0,), null="none", min_keys=3),
        DetectParams(windows=(10.0,), null="none"),
        DetectParams(windows=(60.0,), null="none", types=("hashtag",)),
        DetectParams(windows=(60.0,), alpha=0.5),
        DetectParams(windows=(60.0,), alpha=0.0),
    ]
