"""What an environment's create made (the environment, its expansion's expression objects) is freed at its destroy
by reference counting: none of it waits in a reference cycle for the collector (issue 19)."""

from __future__ import annotations

import collections
import gc
import weakref

import pytest

from ecs_engine.template.config_objects import ConfigFunctions
from ecs_engine.template.functions import Util
from ecs_engine.template.jit import Dpl

from .conftest import source_of
from .workflows import SMALL

#: made per rendering of a field with an expression (``Expander.objects``)
EXPRESSION_OBJECTS = (Dpl, Util, ConfigFunctions)


def expression_objects() -> collections.Counter[str]:
    return collections.Counter(type(o).__name__ for o in gc.get_objects() if isinstance(o, EXPRESSION_OBJECTS))


@pytest.fixture
def no_automatic_collection():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def test_a_destroyed_environment_and_its_expansion_are_freed_without_a_collection(
    small_repo, harness_factory, no_automatic_collection
):
    small_repo.workflow("small", SMALL)
    async with harness_factory() as h:
        before = expression_objects()
        env = await h.manager.create(source_of(small_repo), "small")
        await h.manager.control(env.id, "START_ACTIVITY")
        environment, environment_id = weakref.ref(env), env.id
        del env
        await h.manager.destroy(environment_id, allow_in_running_state=True)
        assert environment() is None
        assert expression_objects() == before
