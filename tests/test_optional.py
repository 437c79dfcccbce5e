"""tests/optional.py: a missing optional test dependency skips, or fails under SEQLRP_REQUIRE_TEST_DEPS=1."""

import inspect

import pytest
from _pytest.outcomes import Failed, Skipped
from optional import REQUIRE, available, install_line, need, need_spec, requires

ABSENT = "seqlrp_no_such_module_xyz"


def outcome(check) -> tuple[type | None, str]:
    """What ``check()`` ends in: (Failed or Skipped, its message), or (None, "") when it returns.

    Both are caught here, so a skip where a failure is expected fails the test instead of
    skipping it."""
    try:
        check()
    except (Failed, Skipped) as err:
        return type(err), str(err)
    return None, ""


@pytest.fixture(params=["unset", "0", "1"])
def require(request, monkeypatch):
    """The variable unset, "0" and "1": only "1" makes a missing dependency fail."""
    if request.param == "unset":
        monkeypatch.delenv(REQUIRE, raising=False)
    else:
        monkeypatch.setenv(REQUIRE, request.param)
    return request.param == "1"


def test_a_present_module_is_returned_whatever_the_variable(require):
    import json

    assert need("json") is json
    assert outcome(lambda: need_spec("json", "os.path")) == (None, "")
    assert available("json") is True


def test_a_missing_module_skips_or_fails_naming_it(require):
    expected = Failed if require else Skipped
    for check in (lambda: need(ABSENT), lambda: need(f"{ABSENT}.sub"), lambda: need_spec("json", ABSENT),
                  lambda: need_spec(f"{ABSENT}.sub")):
        kind, message = outcome(check)
        assert kind is expected, message
        assert f"{ABSENT} is not installed" in message or f"{ABSENT}.sub is not installed" in message, message
        assert f"pip install {ABSENT}" in message and (REQUIRE in message) == require, message


def test_an_optional_part_of_a_test_is_left_out_unless_required(require):
    if require:
        kind, message = outcome(lambda: available(ABSENT))
        assert kind is Failed and ABSENT in message
    else:
        assert available(ABSENT) is False


def test_the_message_gives_the_makefiles_install_line(monkeypatch):
    monkeypatch.setenv(REQUIRE, "1")
    assert install_line("bpnetlite.bpnet") == 'pip install --no-deps "bpnet-lite==1.1.0"'
    assert outcome(lambda: need(ABSENT)) == (
        Failed, f"optional test dependency {ABSENT} is not installed; {REQUIRE}=1 requires it: install it with: "
                f"pip install {ABSENT} (make venv installs every one)")
    monkeypatch.setattr("optional.INSTALL", {"somepkg": 'pip install --no-deps "somepkg==1.0"'})
    kind, message = outcome(lambda: need_spec("somepkg.sub"))
    assert kind is Failed and 'somepkg.sub is not installed;' in message
    assert 'install it with: pip install --no-deps "somepkg==1.0"' in message


def test_a_module_whose_import_fails_counts_as_missing(tmp_path, monkeypatch, require):
    # a --no-deps install: the package is there, one of its own imports is not
    (tmp_path / "halfinstalled_pkg.py").write_text(f"import {ABSENT}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    kind, message = outcome(lambda: need("halfinstalled_pkg"))
    assert kind is (Failed if require else Skipped)
    assert "halfinstalled_pkg is not installed (import failed: No module named" in message and ABSENT in message


def test_requires_checks_before_the_test_runs_and_keeps_its_fixtures(require, tmp_path):
    ran = []

    @requires("json")
    def present(tmp_path):
        ran.append(tmp_path)

    @requires("json", ABSENT)
    def absent(tmp_path):
        ran.append("should not run")

    assert list(inspect.signature(present).parameters) == ["tmp_path"]  # pytest still sees the fixture
    present(tmp_path)
    assert outcome(lambda: absent(tmp_path))[0] is (Failed if require else Skipped)
    assert ran == [tmp_path]
