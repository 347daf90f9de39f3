"""OCC, the protocol between a controller and one controlled process.

- ``client``: ``OccClient``, the async client (both transports; one shared stream subscription per process)
- ``process``: ``ControlledProcess``, the base class that makes a Python process OCC-controllable
- ``device``: ``FairMQDevice``, a FairMQ-like device served over the OCClite JSON codec
- ``states`` / ``fairmq``: the two state machines and the OCC -> FairMQ sequences
- ``arguments``: how pushed arguments are read (OCClib's tree) and how a config file is flattened into them
- ``jsoncodec``: the OCClite JSON codec; ``errors``: gRPC status -> user errors; ``launch``: start/wait/stop
- ``shutdown``: how a process is stopped for good (OCC walk to DONE, then signals), for the executor and ``launch``
"""
