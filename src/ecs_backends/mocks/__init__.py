"""Mock services: stand-ins of the external services the integration plugins talk to (``coconut mock NAME``)."""
