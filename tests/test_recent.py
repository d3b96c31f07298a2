"""The identity-keyed cache of recent results the metrics engine reuses (metrics/_recent.py)."""

from __future__ import annotations

import gc

import pandas as pd

from edi_analysis.metrics._recent import Recent


def test_a_result_is_found_only_for_the_very_objects_it_was_computed_from():
    a, b = pd.DataFrame({"x": [1]}), pd.DataFrame({"x": [1]})  # equal, not the same
    memo = Recent(2)
    memo.put((a,), "disciplinary", value="from a")
    assert memo.get((a,), "disciplinary") == "from a"
    assert memo.get((b,), "disciplinary") is None
    assert memo.get((a,), "capability") is None  # another extra value, another entry


def test_the_oldest_goes_first_and_a_gone_object_takes_its_result_with_it():
    frames = [pd.DataFrame({"x": [i]}) for i in range(3)]
    memo = Recent(2)
    for i, f in enumerate(frames):
        memo.put((f,), value=i)
    assert memo.get((frames[0],)) is None  # dropped when the third came in
    assert memo.get((frames[2],)) == 2
    del frames[1]
    gc.collect()
    memo.get((frames[1],))  # any look-up drops entries whose objects are gone
    assert len(memo._items) == 1


def test_an_object_without_weak_references_is_not_kept():
    memo = Recent(2)
    memo.put((("a", "tuple"),), value=1)  # tuples cannot be weakly referenced
    assert memo.get((("a", "tuple"),)) is None
