"""Configuration store backends (``sqlite://``, ``file://``, ``etcd://``), each a pluggy plugin."""
