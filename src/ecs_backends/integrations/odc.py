"""The ``odc`` integration (AliECS ``core/integration/odc``): the EPN farm's partitions through ODC.

Template-time functions (``odc.GenerateEPN*``) come from ``odc_topology.py`` whether or not the plugin is
enabled, so planning readout-dataflow with ``epn_enabled`` needs no ODC.
"""

from __future__ import annotations

from collections.abc import Mapping

from ecs_engine.hookspecs import TemplateConfiguration, hookimpl

from .odc_topology import EpnTopologyFunctions


@hookimpl
def ecs_template_objects(stack: dict[str, str], config: TemplateConfiguration | None) -> Mapping[str, object]:
    return {"odc": EpnTopologyFunctions(stack, config)}
