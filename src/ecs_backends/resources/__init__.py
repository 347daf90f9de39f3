"""Resource managers (``local``; batch systems later), each a pluggy plugin of ``ecs_resource_manager``."""
