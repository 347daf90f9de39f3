"""Integration plugins shipped with the project, registered by ``ecs_engine.plugins`` as built-in plugins."""
