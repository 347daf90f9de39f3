"""The AliECS workflow and task template language."""
