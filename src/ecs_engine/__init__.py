"""ecs_engine: the experiment control library (templates, environments, tasks, OCC, events, core service)."""

__version__ = "0.1.0"
