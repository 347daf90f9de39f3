"""``coconut template validate REPO@REVISION``: a branch or tag of an added repository, read from git."""

from __future__ import annotations

from tests.repos.conftest import TASK


def test_validate_a_revision_of_an_added_repository(coconut, upstream_factory):
    up = upstream_factory()
    up.write("tasks/sleeper.yaml", TASK.format(name="sleeper", command="sleep 1"))
    up.write("workflows/w.yaml", "name: !public w\nroles:\n  - name: one\n    task:\n      load: sleeper\n")
    up.commit("good")
    up.git("tag", "v1")
    up.write("workflows/w.yaml", "name: !public w\nroles:\n  - name: one\n    task:\n      load: sleepr\n")
    up.commit("typo")
    assert coconut("repo", "add", str(up.path)).status == 0

    good = coconut("template", "validate", f"{up.path}@v1", "--config-endpoint", "memory://")
    assert good.status == 0, good.out + good.err
    assert good.out.splitlines()[-1] == "2 valid, 0 invalid"

    bad = coconut("template", "validate", "@master", "-o", "github", "--config-endpoint", "memory://")
    assert bad.status == 1
    (annotation,) = [line for line in bad.out.splitlines() if line.startswith("::")]
    assert annotation.startswith("::error file=workflows/w.yaml,line=5::role w.one, field task.load: cannot load task")

    missing = coconut("template", "validate", f"{up.path}@v3", "--config-endpoint", "memory://")
    assert missing.status == 1 and f"repository {up.path} has no revision 'v3'" in missing.err
