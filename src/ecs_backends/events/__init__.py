"""Event services the core publishes its events to (Kafka), registered by ``ecs_engine.plugins`` as built-ins."""
