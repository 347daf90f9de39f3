"""How a repository given by the user is classified and named (AliECS identifiers: host/path/name)."""

from __future__ import annotations

import subprocess

import pytest

from ecs_engine.errors import UsageError
from ecs_engine.repos import parse_location


@pytest.mark.parametrize(
    ("spec", "protocol", "identifier", "url"),
    [
        (
            "https://github.com/AliceO2Group/ControlWorkflows.git",
            "https",
            "github.com/AliceO2Group/ControlWorkflows",
            "https://github.com/AliceO2Group/ControlWorkflows.git",
        ),
        (
            "github.com/AliceO2Group/ControlWorkflows/",
            "https",
            "github.com/AliceO2Group/ControlWorkflows",
            "https://github.com/AliceO2Group/ControlWorkflows",
        ),
        ("http://127.0.0.1:8080/git/cw", "http", "127.0.0.1:8080/git/cw", "http://127.0.0.1:8080/git/cw"),
        ("gitlab.cern.ch:aliceo2/cw.git", "ssh", "gitlab.cern.ch/aliceo2/cw", "git@gitlab.cern.ch:aliceo2/cw.git"),
        ("me@gitlab.cern.ch:aliceo2/cw", "ssh", "gitlab.cern.ch/aliceo2/cw", "me@gitlab.cern.ch:aliceo2/cw"),
        ("ssh://git@host.org:2222/a/b.git", "ssh", "host.org/a/b", "ssh://git@host.org:2222/a/b.git"),
    ],
)
def test_remote_forms(spec, protocol, identifier, url):
    loc = parse_location(spec)
    assert (loc.protocol, loc.identifier, loc.url) == (protocol, identifier, url)
    assert str(loc.storage_path()) == identifier


def test_local_git_repository_is_cloned_and_named_by_its_path(tmp_path):
    repo = tmp_path / "cw"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for spec in (str(repo), "cw", repo.as_uri()):
        loc = parse_location(spec, cwd=tmp_path)
        assert loc.identifier == str(repo)
        assert loc.protocol == "file"
        assert loc.is_git
    assert str(parse_location(str(repo)).storage_path()) == f"_local{repo}"


def test_plain_directory_is_used_in_place(tmp_path):
    loc = parse_location(str(tmp_path))
    assert (loc.protocol, loc.identifier, loc.url, loc.is_git) == ("directory", str(tmp_path), str(tmp_path), False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty repository name"),
        ("nodots", "neither an existing directory nor a remote address"),
        ("ftp://host/x", "unsupported URL scheme 'ftp'"),
        ("https:///x", "no host name"),
        ("github.com/../x", "contains '.'/'..'"),
        ("./does-not-exist", "is not a directory"),
    ],
)
def test_bad_specs_are_one_clear_error(spec, message):
    with pytest.raises(UsageError) as err:
        parse_location(spec)
    assert message in err.value.message
    assert "expected https://HOST/PATH/NAME" in err.value.render()


def test_a_file_is_not_a_repository(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="is not a directory"):
        parse_location(str(tmp_path / "f"))
