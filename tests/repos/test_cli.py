"""``coconut repo ...`` and ``coconut template list`` run in-process against a real data dir and git repos."""

from __future__ import annotations

import json

import yaml


def test_add_list_default_remove(coconut, history, tmp_path):
    plain = tmp_path / "plain"
    (plain / "workflows").mkdir(parents=True)
    added = coconut("repo", "add", str(history.path), "-d", "v2")
    assert added.status == 0, added.err
    assert added.out == f"Repository successfully added.\n{history.path} (index 0): default revision: v2\n"
    assert coconut("repository", "new", "plain").status == 0  # relative to the working directory
    listing = coconut("repo", "list")
    assert listing.out.startswith("Git repositories used as configuration sources:")
    assert "id   repository" in listing.out and "YES" in listing.out
    assert listing.out.endswith("Global default revision: master\n")
    data = json.loads(coconut("repo", "ls", "-o", "json", "--revisions").out)
    by_name = {r["name"]: r for r in data["repos"]}
    assert list(by_name) == [*sorted([str(history.path), str(plain)]), "examples"]  # the built-in ones last
    assert [r["id"] for r in data["repos"]] == [0, 1, 2]
    assert (by_name[str(history.path)]["default"], by_name[str(history.path)]["defaultRevision"]) == (True, "v2")
    assert by_name[str(history.path)]["revisions"][-2:] == ["v1", "v2"]
    assert (by_name[str(plain)]["default"], by_name[str(plain)]["defaultRevision"]) == (False, "local")
    plain_index = str(by_name[str(plain)]["id"])
    assert coconut("repo", "default", plain_index).out == f"Default repository updated successfully: {plain}\n"
    data = json.loads(coconut("repo", "list", "-o", "json").out)
    assert next(r for r in data["repos"] if r["default"])["name"] == str(plain)
    assert "revisions" not in data["repos"][0]
    removed = coconut("repo", "remove", plain_index)
    assert removed.out == f"Repository removed successfully.\nNew default repo is: {history.path}\n"
    assert yaml.safe_load(coconut("repo", "l", "-o", "yaml").out)["repos"][0]["default"] is True


def test_default_revisions(coconut, history):
    coconut("repo", "add", str(history.path))
    glob = coconut("repo", "default-revision", "flp-suite-v0.2")
    assert glob.out == 'The global default revision has been successfully updated to "flp-suite-v0.2".\n'
    one = coconut("repo", "default-revision", "0", "v1")
    assert one.out == f'The default revision for {history.path} has been successfully updated to "v1".\n'
    data = json.loads(coconut("repo", "list", "-o", "json").out)
    assert (data["globalDefaultRevision"], data["repos"][0]["defaultRevision"]) == ("flp-suite-v0.2", "v1")
    bad = coconut("repo", "default-revision", "0", "v9")
    assert bad.status == 1
    assert bad.err.startswith(f"coconut: error: repository {history.path} has no revision 'v9'\n  hint: closest: ")
    assert "v1" in bad.err
    assert coconut("repo", "default-revision", "x", "v1").status == 2
    assert coconut("repo", "default-revision", "0", "v1", "extra").status == 2


def test_refresh(coconut, mutable_history):
    coconut("repo", "add", str(mutable_history.path))
    mutable_history.workflow("brand-new")
    mutable_history.commit("new")
    assert "brand-new" not in coconut("template", "list").out
    assert coconut("repo", "refresh").out == "Repositories refreshed successfully\n"
    assert coconut("repo", "update", "0").out == "Repository refreshed successfully\n"
    assert "brand-new" in coconut("template", "list").out


def test_errors_are_one_line_with_the_reason(coconut, history):
    missing = coconut("repo", "add", "./nowhere")
    assert (missing.status, missing.out) == (2, "")
    assert missing.err.startswith("coconut: error: repository './nowhere':")
    assert "Traceback" not in missing.err
    coconut("repo", "add", str(history.path))
    again = coconut("repo", "add", str(history.path))
    assert (again.status, again.err) == (5, f"coconut: error: repository {history.path} is already present\n")
    assert coconut("repo", "remove", "7").err.startswith("coconut: error: no repository with index 7 (indexes: 0-0)")
    listed = [r["name"] for r in json.loads(coconut("repo", "list", "-o", "json").out)["repos"]]
    assert listed[1] == "examples"  # its index is said to be the built-in one, not an index not listed
    builtin = coconut("repo", "remove", "1")
    assert (builtin.status, builtin.err) == (
        5,
        "coconut: error: repository 1 is the built-in examples: it cannot be removed, refreshed or changed"
        " (the added ones are 0-0)\n",
    )
    assert coconut("repo", "list", "-o", "xml").status == 2


def test_template_list_tree(coconut, history):
    coconut("repo", "add", str(history.path))
    out = coconut("template", "list").out
    assert out == (
        "Available templates in loaded configuration:\n"
        f"{history.path}\n"
        "└── [revision] master\n"
        "    ├── b\n"
        "    ├── feature\n"
        "    └── readout\n"
        "examples\n"  # the built-in examples are a repository too, as the core lists them
        "└── [revision] local\n"
        "    └── dataflow-demo\n"
    )
    every = coconut("templ", "ls", "-a", "-i", "v1").out
    assert "[revision] v1" in every and "hidden\n" in every and "readout (public)" in every


def test_template_list_patterns_and_flags(coconut, history):
    coconut("repo", "add", str(history.path))
    rows = json.loads(coconut("template", "list", "*Control*@flp-suite-*", "-o", "json").out)
    assert {(r["revision"], r["template"]) for r in rows} >= {("flp-suite-v0.1", "old-only"), ("flp-suite-v0.2", "b")}
    assert all(set(r) == {"repo", "template", "revision", "public"} for r in rows)
    tags = json.loads(coconut("template", "list", "-t", "-o", "json").out)
    assert {(r["repo"], r["revision"]) for r in tags} == {
        (str(history.path), "v1"),
        (str(history.path), "v2"),
        ("examples", "local"),
    }
    branches = json.loads(coconut("template", "list", "-b", "-r", "0", "-o", "json").out)
    assert {r["revision"] for r in branches} == {"feature", "flp-suite-v0.1", "flp-suite-v0.2", "master"}
    both = coconut("template", "list", "-b", "-i", "v1", "-o", "json")
    assert both.err == "Ignoring --all-branches/--all-tags, as a revision has been specified\n"
    assert {r["revision"] for r in json.loads(both.out)} == {"v1"}
    assert coconut("template", "list", "a@b@c").status == 2
    unknown = coconut("template", "list", "-i", "v9")
    assert unknown.status == 1
    assert unknown.err == f"coconut: error: repository {history.path} has no revision 'v9'\n  hint: closest: v2, v1\n"


def test_a_fresh_install_lists_the_built_in_examples(coconut):
    """With no repository added, the examples are the repository (the core's ListRepos says so too)."""
    rows = json.loads(coconut("template", "list", "-o", "json").out)
    assert {"repo": "examples", "revision": "local", "template": "dataflow-demo", "public": True} in rows
    assert json.loads(coconut("template", "list", "exa*@local", "-o", "json").out) == rows
    assert coconut("template", "list", "other*").status == 1


def test_template_list_details(coconut, history):
    coconut("repo", "add", str(history.path))
    text = coconut("template", "list", "-d", "-i", "v1").out
    assert '    ├── old-only\n    │   ├── exists only at v1\n    │   └── speed = "3" (number, editBox) Speed\n' in text
    rows = yaml.safe_load(coconut("template", "list", "-d", "-i", "v1", "-o", "yaml").out)
    old = next(r for r in rows if r["template"] == "old-only")
    assert old["description"] == "exists only at v1"
    assert old["varSpecMap"]["speed"]["type"] == "number"
