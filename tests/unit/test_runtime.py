"""housing.web.runtime: the heap settling that services do after loading long-lived state."""

import gc
import weakref

from housing.web.runtime import settle_heap


class Node:
    def __init__(self):
        self.other = self


def test_settle_heap_freezes_live_objects_and_collects_frozen_garbage():
    kept = Node()
    dropped = Node()
    settle_heap()
    try:
        assert gc.get_freeze_count() > 0
        frozen_at_first = weakref.ref(dropped)
        del dropped  # a cycle: only the cyclic collector can free it, and it was frozen
        gc.collect()
        assert frozen_at_first() is not None  # frozen objects are out of the collector's way
        settle_heap()
        assert frozen_at_first() is None  # the next settle collects it
        assert kept.other is kept
    finally:
        gc.unfreeze()
