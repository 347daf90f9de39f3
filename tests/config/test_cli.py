"""``coconut config``: run in-process on a SQLite store in a temporary data dir (and etcd for migrate)."""

from __future__ import annotations

import datetime
import io
import json
import re
import sqlite3
import subprocess
import sys
import time
import tomllib
from contextlib import closing
from pathlib import Path

import pytest
import yaml

from coconut.cli import main
from coconut.context import CliContext
from ecs_engine.config import Configuration, open_store
from ecs_engine.config.tree import flatten
from ecs_engine.plugins import backends


class Run:
    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        (tmp_path / "data").mkdir()  # the data directory coconut's default store is in (it makes it when it opens it)
        self.url = f"sqlite:///{tmp_path / 'data' / 'config.sqlite'}"

    def __call__(self, *args: str, stdin: str = "", endpoint: str | None = None) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        cli = CliContext(
            stdout=out,
            stderr=err,
            stdin=io.StringIO(stdin),
            environ={},
            config_dir=self.tmp / "conf",
            data_dir=self.tmp / "data",
            state_dir=self.tmp / "state",
        )
        argv = ["--nocolor", *(["--config-endpoint", endpoint] if endpoint else []), *args]
        code = main(argv, cli=cli)
        return code, out.getvalue(), err.getvalue()

    def config(self) -> Configuration:
        return Configuration.open(self.url, backends())


@pytest.fixture
def run(tmp_path) -> Run:
    return Run(tmp_path)


@pytest.fixture
def seeded(run) -> Run:
    with run.config() as cfg:
        cfg.store.put_many(
            {
                "components/readout/ANY/any/readout-stfb-flp001": "[readout]\nhost={{ host|default:'none' }}\n",
                "components/readout/PHYSICS/flp001/cfg": '{"a": 1}',
                "components/qc/ANY/any/tpc/clusters": "qc",
                "hardware/detectors/TST/flps/flp001/": "",
                "hardware/detectors/TRG/flps/flp199/": "",
                "hardware/flps/flp001/cards": json.dumps({"0": {"serial": "1041", "endpoint": "0"}}),
                "runtime/aliecs/defaults/modulepath": "",
                "runtime/run_number": "7",
            }
        )
    return run


def test_default_store_is_sqlite_in_the_data_dir(run, tmp_path):
    code, out, err = run("config", "runtime", "set", "aliecs", "k", "v")
    assert (code, out, err) == (0, "aliecs/k set\n", "")
    assert (tmp_path / "data" / "config.sqlite").exists()


def test_list_components_and_entries_in_every_output(seeded):
    assert seeded("conf", "list") == (0, "qc\nreadout\n", "")
    code, out, _ = seeded("c", "ls", "readout", "-o", "json")
    assert json.loads(out) == ["ANY/any/readout-stfb-flp001", "PHYSICS/flp001/cfg"]
    code, out, _ = seeded("configuration", "l", "qc", "-o", "yaml", "-t")
    assert yaml.safe_load(out) == ["ANY/any/tpc/clusters"]
    code, _, err = seeded("config", "list", "read/out")
    assert code == 2 and "cannot contain `/` or `@`" in err


def test_show_forms_and_simulation(seeded):
    assert (
        seeded("config", "show", "readout", "readout-stfb-flp001")[1] == "[readout]\nhost={{ host|default:'none' }}\n"
    )
    assert seeded("config", "show", "readout", "cfg", "-r", "PHYSICS", "-l", "flp001")[1] == '{"a": 1}\n'
    assert seeded("config", "show", "readout/PHYSICS/flp001/cfg")[1] == '{"a": 1}\n'
    code, out, _ = seeded("config", "show", "readout/ANY/any/readout-stfb-flp001", "-s", "-e", "host=flp001")
    assert (code, out) == (0, "[readout]\nhost=flp001\n")
    assert seeded("config", "s", "readout/ANY/any/readout-stfb-flp001", "-s")[1] == "[readout]\nhost=none\n"


def test_show_renders_with_the_query_of_the_path(seeded):
    """AliECS's ``?process=true&k=v``: the query's variables on top of -e's; process=true renders without -s."""
    path = "readout/ANY/any/readout-stfb-flp001"
    assert seeded("config", "show", f"{path}?host=flp009", "-s")[1] == "[readout]\nhost=flp009\n"
    assert seeded("config", "show", f"{path}?host=flp009", "-s", "-e", "host=flp001")[1] == "[readout]\nhost=flp009\n"
    assert seeded("config", "show", f"{path}?process=true&host=flp009")[1] == "[readout]\nhost=flp009\n"
    assert seeded("config", "show", f"{path}?process=true", "-e", "host=flp002")[1] == "[readout]\nhost=flp002\n"
    assert seeded("config", "show", f"{path}?process=false&host=x")[1] == "[readout]\nhost={{ host|default:'none' }}\n"
    code, out, err = seeded("config", "show", f"{path}?process=false", "-s")
    assert (code, out) == (2, "") and "-s/--simulate and the path's ?process=false contradict each other" in err


def test_show_takes_the_entries_config_list_prints(seeded):
    """``config list COMPONENT`` prints RUNTYPE/role/entry: ``config show COMPONENT`` that must find it."""
    entries = seeded("config", "list", "readout")[1].split()
    for entry in entries:
        code, out, err = seeded("config", "show", "readout", entry)
        assert (code, err) == (0, "") and out == seeded("config", "show", f"readout/{entry}")[1]
    code, out, err = seeded("config", "show", "readout", "a/b")
    assert code == 2 and "RUNTYPE/role/entry (as `coconut config list COMPONENT` prints it)" in err
    code, _, err = seeded("config", "show", "readout", "PHYSICS/flp001/cfg", "-r", "ANY")
    assert code == 2 and "cannot be combined with an entry's RUNTYPE/role" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["readout"], 2, "please provide entry name"),
        (["readout/physics/any/x"], 2, "bad run type 'physics'"),
        (["readout", "nope"], 1, "no payload at configuration path o2/components/readout/ANY/any/nope"),
        (["readout/PHYSICS/any/readout-stfb-flp001"], 1, "no payload at configuration path"),
        (["readout", "x", "-r", "PHYS"], 2, "bad run type 'PHYS'"),
        (["readout", "readout-stfb-flp001", "-e", "a=1"], 2, "only applies with -s/--simulate"),
    ],
)
def test_show_errors_are_one_line_with_the_reason(seeded, args, code, message):
    result, out, err = seeded("config", "show", *args)
    assert result == code
    assert message in err
    assert "Traceback" not in err and out == ""


def test_an_empty_store_s_listing_says_which_store_and_how_to_fill_it(run):
    code, out, err = run("config", "list", endpoint=run.url)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"coconut: error: no components found in {run.url}",
        "  hint: 'coconut config init' writes the site file's; 'coconut config import COMPONENT ... FILE -n' one",
    ]
    assert run("config", "list", "nope", endpoint=run.url)[2].endswith("hint: the components: 'coconut config list'\n")


@pytest.mark.parametrize("rendered", [(), ("-s",)])
def test_a_payload_path_holding_nothing_says_where_the_component_s_paths_are_listed(seeded, rendered):
    code, _, err = seeded("config", "show", "readout", "nope", *rendered)
    assert code == 1
    assert err.splitlines() == [
        "coconut: error: no payload at configuration path o2/components/readout/ANY/any/nope",
        "  hint: the paths of readout: 'coconut config list readout' (no ANY/any fallback here)",
    ]


def test_import_new_component_then_update(run, tmp_path):
    payload = tmp_path / "readout.ini"
    payload.write_text("[readout]\nrate=10\n")
    code, out, err = run("config", "import", "readout", "ANY", "any", "main", str(payload))
    assert code == 1 and "component readout does not exist" in err and "-n/--new-component" in err
    code, out, _ = run("config", "import", "readout", "ANY", "any", "main", str(payload), "-n")
    assert code == 0
    assert (
        out == "New component created: readout\nNew entry created: main\nConfiguration imported: readout/ANY/any/main\n"
    )
    code, out, _ = run("config", "i", "readout/ANY/any/main", str(payload))
    assert out == "Entry unchanged: main (it holds this payload already)\n"
    history = json.loads(run("config", "history", "components/readout/ANY/any/main", "-o", "json")[1])
    assert len(history) == 1  # the identical import wrote no revision
    payload.write_text("[readout]\nrate=20\n")
    code, out, _ = run("config", "i", "readout/ANY/any/main", str(payload))
    assert out == "Entry updated: main\nConfiguration imported: readout/ANY/any/main\n"
    code, out, _ = run("config", "imp", "readout", "other", "-", "-r", "PHYSICS", "-f", "json", stdin='{"x": 1}')
    assert out.startswith("New entry created: other\n")
    code, _, err = run("config", "import", "readout", "ANY", "any", "main", str(payload), "-n")
    assert code == 2 and "component readout already exists" in err
    assert "hint: import into it without -n/--new-component" in err  # what to do, as 'coconut config init' made it


def test_import_rejects_unknown_extension_and_missing_file(run, tmp_path):
    odd = tmp_path / "payload.txt"
    odd.write_text("x")
    code, _, err = run("config", "import", "readout/ANY/any/main", str(odd), "-n")
    assert code == 2 and "supported file extensions: JSON, YAML, INI or TOML" in err
    code, _, err = run("config", "import", "readout/ANY/any/main", str(tmp_path / "absent.json"), "-n")
    assert code == 1 and "no such file" in err
    code, _, err = run("config", "import", "readout/ANY/any/main?process=true", str(odd), "-n", "-f", "ini")
    assert code == 2 and "has a query (?...): only config show takes one" in err
    code, _, err = run("config", "import", "readout", "ANY", "any", "-n")  # the file left out: 'any' is no file
    assert (code, err.splitlines()) == (
        1,
        [
            "coconut: error: any: no such file",
            "  hint: the forms: component/RUNTYPE/role/entry FILE, component entry FILE, or component RUNTYPE role"
            " entry FILE (the file last)",
        ],
    )


def test_import_dump_round_trip_in_every_format(run, tmp_path):
    text = "# comment kept\nkey: value\nlist: [1, 2]\n"
    (tmp_path / "p.yaml").write_text(text)
    assert run("config", "import", "qc/PHYSICS/flp001/tpc/main", str(tmp_path / "p.yaml"), "-n")[0] == 0
    assert run("config", "dump", "o2/components/qc/PHYSICS/flp001/tpc/main")[1] == text
    assert run("config", "show", "qc/PHYSICS/flp001/tpc/main")[1] == text
    expected = {"PHYSICS": {"flp001": {"tpc": {"main": text}}}}
    assert json.loads(run("config", "dump", "o2/components/qc")[1]) == expected
    assert yaml.safe_load(run("config", "d", "components/qc", "-f", "yaml")[1]) == expected
    assert tomllib.loads(run("config", "dump", "o2/components/qc", "-f", "toml")[1]) == expected
    code, _, err = run("config", "dump", "o2/nothing")
    assert code == 1 and "no configuration at 'o2/nothing'" in err


def test_inventory_commands(seeded):
    code, out, _ = seeded("config", "inventory", "detectors")
    assert code == 0 and "TST" in out and "flp001" in out and "TRG" not in out
    assert json.loads(seeded("config", "inventory", "detectors", "-a", "-o", "json")[1]) == {
        "TRG": ["flp199"],
        "TST": ["flp001"],
    }
    assert seeded("config", "inventory", "hosts", "TST") == (0, "flp001\n", "")
    code, out, _ = seeded("config", "inventory", "cards", "flp001")
    assert out == "host: flp001\ndetector: TST\ncard 1041: endpoints 0\n"
    code, _, err = seeded("config", "inventory", "cards", "flp404")
    assert code == 1 and "detector not found for host flp404" in err


def test_runtime_get_set_list(seeded):
    assert seeded("config", "runtime", "set", "trg/ltu", "cfg", "payload")[0] == 0
    assert seeded("config", "runtime", "get", "trg/ltu", "cfg") == (0, "payload\n", "")
    assert seeded("config", "runtime", "list", "trg") == (0, "ltu/cfg: payload\n", "")
    code, _, err = seeded("config", "runtime", "get", "aliecs", "absent")
    assert code == 1 and "no runtime entry aliecs/absent" in err


def test_config_endpoint_option_and_read_only_file(run, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("o2: {components: {readout: {ANY: {any: {e: from-file}}}}}\n")
    url = f"file://{path}"
    assert run("config", "show", "readout", "e", endpoint=url)[1] == "from-file\n"
    code, _, err = run("config", "runtime", "set", "a", "b", "c", endpoint=url)
    assert code == 1 and "is read-only" in err
    hint = err.splitlines()[1]  # a command to copy it, with this store's URL (--from takes a URL, not a path)
    assert hint.startswith(
        f"  hint: copy it into a writable store and use that one: 'coconut config migrate --from {url} --to URL'"
    )
    copy = tmp_path / "copy.sqlite"
    assert run("config", "migrate", "--from", url, "--to", f"sqlite:///{copy}")[0] == 0
    code, _, err = run("config", "list", endpoint="consul://127.0.0.1:8500")
    assert code == 2 and "unknown configuration store scheme 'consul://'" in err


def test_an_etcd_store_without_its_client_package_is_one_error_saying_what_to_install(run, monkeypatch):
    monkeypatch.setitem(sys.modules, "aetcd", None)  # as on an install without the 'etcd' extra
    code, out, err = run("config", "list", endpoint="etcd://127.0.0.1:2379")
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "coconut: error: configuration store etcd://127.0.0.1:2379: etcd:// stores need the aetcd package,"
        " which is not installed",
        "  hint: pip install 'aetcd>=1.0' (the 'etcd' extra of coconut-ecs)",
    ]


def test_migrate_file_into_sqlite_is_idempotent_and_keeps_higher_run_counter(run, tmp_path):
    source = tmp_path / "site.yaml"
    source.write_text(
        yaml.safe_dump(
            {
                "o2": {
                    "components": {"readout": {"ANY": {"any": {"e": "payload"}}}},
                    "hardware": {"detectors": {"TST": {"flps": {"flp001": {}}}}},
                    "runtime": {"run_number": "5"},
                }
            }
        )
    )
    with run.config() as cfg:
        cfg.store.put("runtime/run_number", "40")
    code, out, _ = run("config", "migrate", "--from", f"file://{source}", "--dry-run")
    assert (code, out) == (0, "2 keys would be written, 0 unchanged\n")
    code, out, err = run("config", "migrate", "--from", f"file://{source}")
    assert (code, out) == (0, "2 keys written, 0 unchanged\n")
    assert "kept the target's run counter 40" in err
    assert run("config", "migrate", "--from", f"file://{source}", "--to", run.url)[1] == "0 keys written, 2 unchanged\n"
    with run.config() as cfg:
        assert cfg.get_component("readout/ANY/any/e") == "payload"
        assert cfg.detector_for_host("flp001") == "TST"
        assert cfg.next_run_number() == 41


def test_migrate_sqlite_to_etcd_and_export_back_to_a_file(run, tmp_path, etcd_server):
    with run.config() as cfg:
        cfg.store.put_many({"components/c/ANY/any/e": "x", "hardware/detectors/TST/flps/flp001/": ""})
    etcd_url = f"etcd://{etcd_server.endpoint}/migrate-{tmp_path.name}/"
    assert run("config", "migrate", "--to", etcd_url)[1] == "2 keys written, 0 unchanged\n"
    assert run("config", "migrate", "--to", etcd_url)[1] == "0 keys written, 2 unchanged\n"
    exported = tmp_path / "export.yaml"
    assert run("config", "migrate", "--from", etcd_url, "--to", f"file://{exported}")[0] == 0
    assert yaml.safe_load(exported.read_text()) == {
        "o2": {
            "components": {"c": {"ANY": {"any": {"e": "x"}}}},
            "hardware": {"detectors": {"TST": {"flps": {"flp001": {}}}}},
        }
    }
    assert (
        run("config", "migrate", "--from", etcd_url, "--to", f"file://{exported}")[1] == "0 keys written, 2 unchanged\n"
    )
    with open_store(f"file://{exported}", backends()) as reread:
        assert reread.get_tree("") == {"components/c/ANY/any/e": "x", "hardware/detectors/TST/flps/flp001/": ""}


def test_migrate_from_a_store_that_does_not_exist_is_an_error_and_creates_nothing(run, tmp_path):
    typo, target = tmp_path / "typo.sqlite", tmp_path / "b.sqlite"
    code, out, err = run("config", "migrate", "--from", f"sqlite:///{typo}", "--to", f"sqlite:///{target}")
    assert (code, out) == (1, "")
    assert f"--from sqlite:///{typo}: there is no configuration store there" in err
    assert not typo.exists() and not target.exists()


def test_migrate_to_a_file_in_a_directory_that_does_not_exist_is_refused_as_for_sqlite(seeded, tmp_path):
    target = tmp_path / "nodir" / "site.yaml"
    code, out, err = seeded("config", "migrate", "--to", f"file://{target}")
    assert (code, out) == (1, "")
    assert f"configuration file {target}: the directory {target.parent} does not exist" in err
    assert not target.parent.exists()


PAYLOADS = {
    "ini": "[readout]\nrate={{ rate }}\n",
    "no final newline": "a\nb",
    "blank lines kept": "a\n\n\n",
    "indented first line": "  a\nb\n",
    "trailing space": "a \nb\n",
    "control character": "\x01\nb",
    "one line": "a",
}


def test_yaml_dumps_and_exports_write_multi_line_payloads_as_literal_blocks_that_read_back_exactly(run, tmp_path):
    entries = {f"components/c/ANY/any/{name.replace(' ', '-')}": text for name, text in PAYLOADS.items()}
    with run.config() as cfg:
        cfg.store.put_many(entries)
    code, out, _ = run("config", "dump", "components/c", "-f", "yaml")
    assert code == 0 and "    ini: |\n      [readout]\n      rate={{ rate }}\n" in out
    assert flatten(yaml.safe_load(out), "components/c") == entries
    exported = tmp_path / "site.yaml"
    assert run("config", "migrate", "--to", f"file://{exported}")[0] == 0
    assert "ini: |\n" in exported.read_text()
    with open_store(f"file://{exported}", backends()) as reread:
        assert reread.get_tree("") == entries


def test_migrate_needs_a_direction(run):
    code, _, err = run("config", "migrate")
    assert code == 2 and "give --from URL, --to URL or both" in err


def test_an_unknown_host_is_named_with_how_to_add_it_and_inventory_add_then_delete(seeded):
    code, _, err = seeded("config", "inventory", "cards", "localhost")
    assert code == 1 and "detector not found for host localhost" in err
    assert (
        "hint: the inventory lists no localhost: add it with 'coconut config inventory add DETECTOR localhost'" in err
    )

    assert seeded("config", "inventory", "add", "TST", "localhost", "flp002") == (
        0,
        "detector TST: localhost, flp002 added\n",
        "",
    )
    assert seeded("config", "inventory", "hosts", "TST") == (0, "flp001\nflp002\nlocalhost\n", "")
    # every FLP: the hosts just added too, not only those with cards (hardware/flps/flp001)
    assert seeded("config", "inventory", "hosts") == (0, "flp001\nflp002\nflp199\nlocalhost\n", "")

    assert seeded("config", "delete", "o2/hardware/detectors/TST/flps/localhost") == (
        0,
        "deleted o2/hardware/detectors/TST/flps/localhost\n",
        "",
    )
    assert seeded("config", "inventory", "hosts", "TST") == (0, "flp001\nflp002\n", "")
    code, _, err = seeded("config", "delete", "hardware/detectors/TST")
    assert code == 2 and "'hardware/detectors/TST' has 2 key(s) below it; -r/--recursive removes them too" in err
    assert seeded("config", "delete", "hardware/detectors/TST", "-r")[0] == 0
    assert json.loads(seeded("config", "inventory", "detectors", "-a", "-o", "json")[1]) == {"TRG": ["flp199"]}
    code, _, err = seeded("config", "delete", "components/nope")
    assert code == 1 and "no configuration at 'o2/components/nope'" in err


TIMED = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+"  # local date, time and zone
NOT_TIMED = r"\(time not recorded\)"


def _history_rows(out: str, times: str | list[str] = TIMED) -> list[list[str]]:
    """``config history``'s table: its header checked, each row's time matching ``times`` (one pattern, or one
    per row), then each row's key and value (revisions increase)."""
    lines = out.splitlines()
    assert lines[1].split() == ["revision", "time", "key", "value"] and set(lines[2].strip()) == {"─"}
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[3:] if line.strip()]
    revisions = [int(row[0]) for row in rows]
    assert revisions == sorted(revisions)
    patterns = times if isinstance(times, list) else [times] * len(rows)
    assert all(re.fullmatch(pattern, row[1]) for pattern, row in zip(patterns, rows, strict=True)), rows
    return [row[2:] for row in rows]


def test_history_lists_the_recorded_writes_of_a_key_and_its_subtree(seeded):
    start = time.time()
    assert seeded("config", "runtime", "set", "aliecs", "defaults/modulepath", "/opt/modules")[0] == 0
    assert seeded("config", "delete", "runtime/aliecs/defaults/modulepath")[0] == 0
    end = time.time()
    code, out, _ = seeded("config", "history", "o2/runtime/aliecs")
    assert code == 0
    assert _history_rows(out) == [
        ["o2/runtime/aliecs/defaults/modulepath"],
        ["o2/runtime/aliecs/defaults/modulepath", "/opt/modules"],
        ["o2/runtime/aliecs/defaults/modulepath", "(deleted)"],
    ]
    rows = json.loads(seeded("config", "history", "runtime/aliecs/defaults/modulepath", "-o", "json")[1])
    assert [r["value"] for r in rows] == ["", "/opt/modules", None]
    assert rows[0]["revision"] < rows[1]["revision"] < rows[2]["revision"]
    written = [datetime.datetime.fromisoformat(r["time"]).timestamp() for r in rows[1:]]
    assert start - 0.001 <= written[0] <= written[1] <= end  # ISO with milliseconds, in UTC


def test_history_of_a_sqlite_file_made_before_times_were_recorded_says_which_have_none(run):
    path = run.tmp / "data" / "config.sqlite"
    with closing(sqlite3.connect(path)) as db:  # the schema of the files written before
        db.executescript(
            "CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, value TEXT);"
            "INSERT INTO changes (key, value) VALUES ('runtime/aliecs/x', 'old');"
            "INSERT INTO kv VALUES ('runtime/aliecs/x', 'old', 1);"
        )
    assert run("config", "runtime", "set", "aliecs", "x", "new")[0] == 0
    code, out, err = run("config", "history", "runtime/aliecs/x")
    assert code == 0, err
    assert _history_rows(out, [NOT_TIMED, TIMED]) == [["o2/runtime/aliecs/x", "old"], ["o2/runtime/aliecs/x", "new"]]
    rows = json.loads(run("config", "history", "runtime/aliecs/x", "-o", "json")[1])
    assert rows[0]["time"] is None and rows[1]["time"]


def test_history_on_etcd_lists_the_writes_etcd_keeps_with_the_times_of_coconut_s(run, tmp_path, etcd_server):
    """Each write made through the store has its time; one made by another client (etcdctl) has none."""
    from tests.servers import need_program

    etcdctl = need_program("etcdctl", "etcd-client")
    etcd_url = f"etcd://{etcd_server.endpoint}/history-{tmp_path.name}/"
    key = f"history-{tmp_path.name}/runtime/aliecs/defaults/modulepath"
    start = time.time()
    assert run("config", "runtime", "set", "aliecs", "defaults/modulepath", "/opt/a", endpoint=etcd_url)[0] == 0
    assert run("config", "runtime", "set", "aliecs", "defaults/modulepath", "/opt/b", endpoint=etcd_url)[0] == 0
    assert run("config", "delete", "runtime/aliecs/defaults/modulepath", endpoint=etcd_url)[0] == 0
    end = time.time()
    subprocess.run(
        [etcdctl, f"--endpoints={etcd_server.endpoint}", "put", key, "/opt/c"],
        env={"ETCDCTL_API": "3"},
        capture_output=True,
        timeout=30,
        check=True,
    )
    code, out, err = run("config", "history", "runtime/aliecs", endpoint=etcd_url)
    assert code == 0, err
    assert _history_rows(out, [TIMED, TIMED, TIMED, NOT_TIMED]) == [
        [key, "/opt/a"],
        [key, "/opt/b"],
        [key, "(deleted)"],
        [key, "/opt/c"],
    ]
    rows = json.loads(run("config", "history", "runtime/aliecs", "-o", "json", endpoint=etcd_url)[1])
    assert rows[-1]["time"] is None  # written by etcdctl: etcd's revisions carry no time
    written = [datetime.datetime.fromisoformat(r["time"]).timestamp() for r in rows[:-1]]
    assert start - 0.001 <= written[0] <= written[1] <= written[2] <= end  # ISO with milliseconds, in UTC


def test_history_of_a_store_that_keeps_none_says_so(run, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text("o2: {runtime: {aliecs: {defaults: {modulepath: ''}}}}\n")
    code, _, err = run("config", "history", "runtime", endpoint=f"file://{site}")
    assert code == 1 and "keeps no history of its writes" in err and "sqlite://" in err
