"""What ``env show`` prints of an environment, against a core on loopback that answers as a test says."""

from __future__ import annotations

from ecs_engine.protocols import o2control_pb2, o2control_pb2_grpc

from .conftest import loopback_service


class Control(o2control_pb2_grpc.ControlServicer):
    def GetEnvironment(self, request, context):
        info = o2control_pb2.EnvironmentInfo(id=request.id, state="ERROR", rootRole="dataflow-demo")
        info.vars.update({f"var{i:02}": str(i) for i in range(30)})
        return o2control_pb2.GetEnvironmentReply(environment=info, public=True)


def test_env_show_gives_public_among_the_facts_not_under_the_variables(coconut):
    with loopback_service(Control(), o2control_pb2_grpc.add_ControlServicer_to_server) as endpoint:
        result = coconut("--endpoint", endpoint, "env", "show", "env1")

    lines = result.out.splitlines()
    assert result.status == 0
    assert lines.index("public:             true") < lines.index("global vars and root vars")
