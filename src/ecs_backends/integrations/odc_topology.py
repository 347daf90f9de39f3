"""The ``odc.*`` template-time functions: which EPN topology an environment runs, and the ``gen_topo`` command.

readout-dataflow derives ``odc_topology_fullname`` (Bookkeeping's ``odcTopologyFullName``) from
``odc.GenerateEPNTopologyFullname()`` and ``odc_script`` (what ODC runs to generate the topology) from
``odc.GenerateEPNWorkflowScript()`` (integrations.md §1.3), so both must work at plan time with no ODC
anywhere. They read only variables and the configuration store: the store's defaults and vars give what a
variable set to ``default`` stands for, its runtime key ``qc/config_hash`` the QC JSON version.

The script is AliECS's byte for byte (same variables, order and spacing): ODC and gen_topo's cache key
depend on it through ``GEN_TOPO_CACHE_HASH``, the md5 of everything after it but the environment id and the
cache-wipe flag. Where AliECS logs an error and returns "" (a variable missing or malformed, no default in
the store), these return ``{"error":"..."}`` naming the variable, as the other look-up helpers do: the plan
shows it and ``odc.PartitionInitialize()`` refuses to send it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from ecs_engine.template.functions import error_string

#: ``pdp_config_option`` values and what each makes of the workflow source
HASH, PATH, MANUAL_XML = "Repository hash", "Repository path", "Manual XML"
#: FLP host prefixes whose suffixes are FLP ids (staging ids get an "S")
FLP_PREFIXES = (("alio2-cr1-flp", ""), ("alio2-cr1-mvs", "S"))
_GO_INT = re.compile(r"[+-]?[0-9]+")
#: Go's ``strconv.ParseBool``
GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


class ScriptError(Exception):
    """A variable the script needs is missing or malformed; the message names it."""


def flp_ids(hosts_json: str) -> list[str]:
    """The FLP ids of the P2 hosts in ``hosts`` (JSON list): production suffixes, staging ones prefixed S."""
    out = []
    for host in json.loads(hosts_json):
        for prefix, mark in FLP_PREFIXES:
            if str(host).startswith(prefix) and len(host) > len(prefix):
                out.append(mark + host[len(prefix) :])
                break
    return out


def detector_list(text: str, name: str) -> list[str]:
    """A JSON list of detector names (the ``detectors`` variable)."""
    try:
        value = json.loads(text)
    except ValueError:
        raise ScriptError(f"{name} is not a JSON list of detectors: {text!r}") from None
    if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
        raise ScriptError(f"{name} is not a JSON list of detectors: {text!r}")
    return value


class EpnTopologyFunctions:
    """``odc.*`` for one role's variables; ``config`` (the store, may be None) resolves ``default`` values."""

    def __init__(self, stack: Mapping[str, str], config: Any = None):
        self._stack = stack
        self._config = config

    # -- the functions templates call ----------------------------------------------------------------------

    def GenerateEPNTopologyFullname(self) -> str:
        """``(hash, SRC, LIB, WF)``, ``(path, SRC, LIB, WF)`` or ``(xml, TOPOLOGY)``; "" for another option."""
        try:
            option = self._need("pdp_config_option")
            library = self._need("pdp_topology_description_library_file")
            workflow = self._need("pdp_workflow_name")
            if option == HASH:
                return f"(hash, {self._need('pdp_o2_data_processing_hash')}, {library}, {workflow})"
            if option == PATH:
                return f"(path, {self._need('pdp_o2_data_processing_path')}, {library}, {workflow})"
            if option == MANUAL_XML:
                return f"(xml, {self._need('odc_topology')})"
            return ""
        except ScriptError as exc:
            return error_string(f"odc.GenerateEPNTopologyFullname(): {exc}")

    def GenerateEPNWorkflowScript(self) -> str:
        """The ``gen_topo`` command line ODC runs for a repository topology; "" for a manual XML topology."""
        try:
            return self.workflow_script()
        except ScriptError as exc:
            return error_string(f"odc.GenerateEPNWorkflowScript(): {exc}")

    # -- building the script -------------------------------------------------------------------------------

    def workflow_script(self) -> str:
        """The script, or ScriptError naming what is missing; "" when ``pdp_config_option`` is not a repository."""
        option = self._need("pdp_config_option")
        if option == HASH:
            parts = ["GEN_TOPO_HASH=1"]
            source = self._with_default("pdp_o2_data_processing_hash")
        elif option == PATH:
            parts = ["GEN_TOPO_HASH=0"]
            source = self._need("pdp_o2_data_processing_path")
        else:
            return ""
        parts += [
            self._quoted("GEN_TOPO_SOURCE", source.strip()),
            self._quoted("DDMODE", self._need("tfb_dd_mode").strip()),
            self._quoted("GEN_TOPO_LIBRARY_FILE", self._need("pdp_topology_description_library_file").strip()),
            self._quoted("GEN_TOPO_WORKFLOW_NAME", self._need("pdp_workflow_name").strip()),
            self._quoted("WORKFLOW_DETECTORS", self._workflow_detectors().strip()),
            self._quoted("WORKFLOW_DETECTORS_EXCLUDE_QC", self._need("pdp_detector_exclude_list_qc").strip()),
            self._quoted("WORKFLOW_DETECTORS_EXCLUDE_CALIB", self._need("pdp_detector_exclude_list_calib").strip()),
            self._quoted("WORKFLOW_PARAMETERS", self._need("pdp_workflow_parameters").strip()),
            f"RECO_NUM_NODES_OVERRIDE={self._integer('odc_n_epns')}",
            f"RECO_MAX_FAIL_NODES_OVERRIDE={self._integer('odc_n_epns_max_fail')}",
            f"MULTIPLICITY_FACTOR_RAWDECODERS={self._need('pdp_raw_decoder_multi_factor').strip()}",
            f"MULTIPLICITY_FACTOR_CTFENCODERS={self._need('pdp_ctf_encoder_multi_factor').strip()}",
            f"MULTIPLICITY_FACTOR_REST={self._need('pdp_reco_process_multi_factor').strip()}",
            self._quoted("BEAMTYPE", self._need("pdp_beam_type").strip()),
            f"NHBPERTF={self._need('pdp_n_hbf_per_tf').strip()}",
            "GEN_TOPO_ONTHEFLY=1",
            self._quoted("OVERRIDE_PDPSUITE_VERSION", self._with_default("pdp_o2pdpsuite_version")),
            self._quoted("SET_QCJSON_VERSION", self._qc_config_hash()),
            self._quoted("DD_DISK_FRACTION", self._need("epn_store_raw_data_fraction")),
            self._quoted("SHM_MANAGER_SHMID", self._need("pdp_epn_shmid")),
            f"RUNTYPE={self._stack.get('run_type', 'NONE').strip()}",
            self._quoted("FLP_IDS", ",".join(self._flp_ids())),
            f"GEN_TOPO_DEPLOYMENT_TYPE={self._stack.get('setup_name', 'UNKNOWN').strip().replace(' ', '_')}",
            self._need("pdp_extra_env_vars").strip(),
            self._need("pdp_epn_shm_sizes").strip(),
            self._need("pdp_generator_script_path").strip(),
        ]
        body = " ".join(parts)  # empty parts keep their spaces, as upstream: the cache hash is over this text
        digest = hashlib.md5(body.encode()).hexdigest()
        wipe = 1 if GO_BOOLS.get(self._stack.get("pdp_wipe_workflow_cache", "")) else 0  # unparsable: no wipe
        environment_id = self._stack.get("environment_id", "")
        return f"ECS_ENVIRONMENT_ID={environment_id} GEN_TOPO_WIPE_CACHE={wipe} GEN_TOPO_CACHE_HASH={digest} {body}"

    def _need(self, name: str) -> str:
        value = self._stack.get(name)
        if value is None:
            raise ScriptError(f"the variable {name} is not set")
        return value

    @staticmethod
    def _quoted(key: str, value: str) -> str:
        """``KEY='value'``; a quote inside would end the shell word early, so it is refused."""
        if "'" in value:
            raise ScriptError(f"{key} would contain a single quote: {value!r}")
        return f"{key}='{value}'"

    def _integer(self, name: str) -> int:
        text = self._need(name)
        if not _GO_INT.fullmatch(text):
            raise ScriptError(f"{name} is not an integer: {text!r}")
        return int(text)

    def _with_default(self, name: str) -> str:
        """The variable, or when it says ``default`` the store's own value of it (its vars over its defaults)."""
        value = self._need(name)
        if value.strip() != "default":
            return value
        base: dict[str, str] = {}
        if self._config is not None:
            base.update(self._config.global_defaults())
            base.update(self._config.global_vars())
        if name not in base:
            raise ScriptError(
                f"{name} is 'default' and the configuration store has no {name} "
                "(set it in o2/runtime/aliecs/defaults or vars)"
            )
        return base[name]

    def _qc_config_hash(self) -> str:
        value = self._config.runtime_get("qc", "config_hash") if self._config is not None else None
        if value is None:
            raise ScriptError("the configuration store has no runtime key qc/config_hash (the QC JSON version)")
        return value

    def _workflow_detectors(self) -> str:
        """``pdp_detector_list_global``; ``default``: the environment's detectors, plus TRG with CTP readout."""
        value = self._need("pdp_detector_list_global")
        if value.strip() != "default":
            return value
        detectors = detector_list(self._need("detectors"), "detectors")
        if self._stack.get("ctp_readout_enabled", "").strip().lower() == "true":
            detectors.append("TRG")
        return ",".join(detectors)

    def _flp_ids(self) -> list[str]:
        try:
            return flp_ids(self._stack.get("hosts", "[]"))
        except (ValueError, TypeError):
            return []  # upstream logs it and sends an empty list
