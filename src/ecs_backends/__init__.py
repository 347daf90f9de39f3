"""Built-in backends of the experiment control system: pluggy plugins that ``ecs_engine.plugins`` registers by name."""
