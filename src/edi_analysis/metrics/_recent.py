"""The last few results computed from given objects, found again by those objects' identity.

A metric context's tables are read-only, so a result computed from them (one context's
linked suppression decision, the in-scope cases of a workforce and cases table, the
year-on-year staff pairs of a context) can be handed out again while those same objects are
asked about. The objects are held by weak references: an entry is used only while every one
of them is alive and is the very object asked about (an ``id`` can be reused once an object
is gone), and entries whose objects are gone are dropped, so no result keeps its tables alive.
Callers must not modify what they are given.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence

_MISSING = object()


class Recent:
    """At most ``size`` results, the oldest dropped first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: dict[tuple, tuple[tuple[weakref.ref, ...], object]] = {}

    @staticmethod
    def _key(objects: Sequence, extra: tuple) -> tuple:
        return (tuple(id(o) for o in objects), extra)

    def get(self, objects: Sequence, *extra: Hashable, default=None):
        """The result kept for exactly these objects (and ``extra`` values), else ``default``."""
        for key in [k for k, (refs, _) in self._items.items() if any(r() is None for r in refs)]:
            del self._items[key]  # those objects are gone: do not keep their result alive
        hit = self._items.get(self._key(objects, extra), _MISSING)
        if hit is _MISSING or any(r() is not o for r, o in zip(hit[0], objects)):
            return default
        return hit[1]

    def put(self, objects: Sequence, *extra: Hashable, value) -> None:
        """Keep ``value`` for these objects; an object that cannot be weakly referenced is not
        kept at all."""
        try:
            refs = tuple(weakref.ref(o) for o in objects)
        except TypeError:
            return
        while len(self._items) >= self.size:
            self._items.pop(next(iter(self._items)))
        self._items[self._key(objects, extra)] = (refs, value)
