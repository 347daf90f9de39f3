"""Integration plugins shipped with the project, registered as ``ecs_backends`` entry points."""
