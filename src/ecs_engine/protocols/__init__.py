"""Wire protocols: this project's own .proto files (``protos/``) and the Python stubs generated from them.

Import a package's messages as ``from ecs_engine.protocols import occ_pb2`` (services: ``occ_pb2_grpc``).
Regenerate after editing a .proto with ``python -m ecs_engine.protocols.generate``.
Additions beyond the upstream AliECS protocols use field numbers >= 1000.
"""
