"""The core: the gRPC ``o2control.Control`` service over the environment manager and the executor.

``core.Core`` is the process, ``service.ControlService`` the RPCs, ``client.CoreClient`` how coconut talks to
it, ``daemon`` how coconut starts and stops it in the background.
"""
