"""Built-in backends of the experiment control system, registered as pluggy plugins (entry points)."""
