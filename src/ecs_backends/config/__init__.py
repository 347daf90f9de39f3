"""Configuration store backends (``sqlite://``, ``file://``, ``etcd://``, ``memory://``), each a pluggy plugin."""
