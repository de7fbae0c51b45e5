"""Settings resolved from FLOWTRACK_* environment variables at every call, and the
METAFLOW_* names read in their place."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowtrack import _config
from flowtrack._config import HOME_DIR_NAME, Settings, settings

ALL_VARS = ("FLOWTRACK_HOME", "FLOWTRACK_METADATA", "FLOWTRACK_STORE", "FLOWTRACK_USER",
            "METAFLOW_USER")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for var in ALL_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_defaults_live_in_dot_flowtrack_in_the_cwd(clean_env, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    cfg = settings()
    home = clean_env.absolute() / HOME_DIR_NAME
    assert HOME_DIR_NAME == ".flowtrack"
    assert isinstance(cfg, Settings)
    assert cfg.home == home and cfg.home.is_absolute()
    assert cfg.metadata_url == f"sqlite:///{home / 'metadata.db'}"
    assert cfg.store_url == str(home / "blobs")
    assert cfg.user == "alice"
    assert cfg.is_default_metadata
    assert not home.exists()  # resolving settings creates nothing


def test_settings_are_frozen(clean_env):
    cfg = settings()
    with pytest.raises(AttributeError):
        cfg.user = "mallory"  # type: ignore[misc]


def test_flowtrack_home_moves_metadata_and_blobs(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWTRACK_HOME", str(tmp_path / "elsewhere"))
    cfg = settings()
    assert cfg.home == tmp_path / "elsewhere"
    assert cfg.metadata_url == f"sqlite:///{tmp_path / 'elsewhere' / 'metadata.db'}"
    assert cfg.store_url == str(tmp_path / "elsewhere" / "blobs")


def test_relative_flowtrack_home_is_made_absolute(clean_env, monkeypatch):
    monkeypatch.setenv("FLOWTRACK_HOME", "rel/home")
    cfg = settings()
    assert cfg.home == clean_env.absolute() / "rel" / "home"
    assert cfg.home.is_absolute()


def test_flowtrack_metadata_overrides_the_database_only(clean_env, monkeypatch):
    monkeypatch.setenv("FLOWTRACK_METADATA", "postgresql+psycopg://u@db/flowtrack")
    cfg = settings()
    assert cfg.metadata_url == "postgresql+psycopg://u@db/flowtrack"
    assert not cfg.is_default_metadata
    assert cfg.store_url == str(clean_env.absolute() / HOME_DIR_NAME / "blobs")


def test_flowtrack_store_overrides_the_blob_store_only(clean_env, monkeypatch):
    monkeypatch.setenv("FLOWTRACK_STORE", "file:///data/blobs")
    cfg = settings()
    assert cfg.store_url == "file:///data/blobs"
    assert cfg.metadata_url.endswith(f"{HOME_DIR_NAME}/metadata.db")


def test_flowtrack_user_wins_over_user(clean_env, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("USERNAME", "bob")
    monkeypatch.setenv("FLOWTRACK_USER", "carol")
    assert settings().user == "carol"
    monkeypatch.delenv("FLOWTRACK_USER")
    assert settings().user == "alice"
    monkeypatch.delenv("USER")
    assert settings().user == "bob"


def test_user_falls_back_to_getpass_then_unknown(clean_env, monkeypatch):
    for var in ("USER", "USERNAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(_config.getpass, "getuser", lambda: "from-passwd")
    assert settings().user == "from-passwd"

    def no_passwd() -> str:
        raise KeyError("getpwuid(): uid not found")

    monkeypatch.setattr(_config.getpass, "getuser", no_passwd)
    assert settings().user == "unknown"


def test_empty_variables_mean_unset(clean_env, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    for var in ALL_VARS:
        monkeypatch.setenv(var, "")
    cfg = settings()
    assert cfg.home == clean_env.absolute() / HOME_DIR_NAME
    assert cfg.metadata_url == f"sqlite:///{cfg.home / 'metadata.db'}"
    assert cfg.store_url == str(cfg.home / "blobs")
    assert cfg.user == "alice"


def test_environment_changes_between_calls_are_honoured(clean_env, monkeypatch, tmp_path):
    first = settings()
    monkeypatch.setenv("FLOWTRACK_HOME", str(tmp_path / "h1"))
    monkeypatch.setenv("FLOWTRACK_USER", "u1")
    second = settings()
    monkeypatch.setenv("FLOWTRACK_HOME", str(tmp_path / "h2"))
    monkeypatch.setenv("FLOWTRACK_METADATA", "sqlite:///:memory:")
    monkeypatch.setenv("FLOWTRACK_STORE", str(tmp_path / "s"))
    monkeypatch.setenv("FLOWTRACK_USER", "u2")
    third = settings()
    assert first.home == clean_env.absolute() / HOME_DIR_NAME
    assert (second.home, second.user) == (tmp_path / "h1", "u1")
    assert (third.home, third.metadata_url, third.store_url, third.user) == (
        tmp_path / "h2", "sqlite:///:memory:", str(tmp_path / "s"), "u2")
    monkeypatch.delenv("FLOWTRACK_METADATA")
    assert settings().is_default_metadata
    assert settings().metadata_url == f"sqlite:///{tmp_path / 'h2' / 'metadata.db'}"


def test_cwd_changes_between_calls_are_honoured(clean_env, monkeypatch, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    in_a = settings().home
    monkeypatch.chdir(tmp_path / "b")
    assert in_a == tmp_path / "a" / HOME_DIR_NAME
    assert settings().home == tmp_path / "b" / HOME_DIR_NAME


# -- Metaflow's names ---------------------------------------------------------------
def test_metaflow_user_stands_in_for_flowtrack_user(clean_env, monkeypatch):
    monkeypatch.setenv("USER", "alice")
    monkeypatch.setenv("METAFLOW_USER", "mf-user")
    assert settings().user == "mf-user"  # over $USER, as in Metaflow
    monkeypatch.setenv("FLOWTRACK_USER", "ft-user")
    assert settings().user == "ft-user"  # the FLOWTRACK_ name wins
    monkeypatch.setenv("FLOWTRACK_USER", "")
    assert settings().user == "mf-user"  # empty means unset
    monkeypatch.setenv("METAFLOW_USER", "")
    assert settings().user == "alice"


def test_env_names_lists_the_flowtrack_name_first(clean_env):
    assert _config.env_names("FLOWTRACK_USER") == ["FLOWTRACK_USER", "METAFLOW_USER"]
    assert _config.env_names("FLOWTRACK_RUN_MAX_WORKERS") == [
        "FLOWTRACK_RUN_MAX_WORKERS", "METAFLOW_RUN_MAX_WORKERS"]
    # where Metaflow's option has another destination name, its variable follows it
    assert _config.env_names("FLOWTRACK_RUN_TAG") == ["FLOWTRACK_RUN_TAG", "METAFLOW_RUN_TAGS"]
    assert _config.env_names("FLOWTRACK_RESUME_WITH") == [
        "FLOWTRACK_RESUME_WITH", "METAFLOW_RESUME_DECOSPECS"]
    # flowtrack's own settings and options have no Metaflow name
    for own in ("FLOWTRACK_HOME", "FLOWTRACK_METADATA", "FLOWTRACK_STORE", "FLOWTRACK_FSYNC",
                "FLOWTRACK_RUN_EXECUTOR", "FLOWTRACK_RUN_NO_LINT", "FLOWTRACK_RUN_COUNT"):
        assert _config.env_names(own) == [own]


def test_flow_parameters_read_metaflow_run_names(clean_env):
    assert _config.env_names("FLOWTRACK_RUN_COUNT", flow_parameter=True) == [
        "FLOWTRACK_RUN_COUNT", "METAFLOW_RUN_COUNT"]
    assert _config.env_names("FLOWTRACK_RUN_LEARNING_RATE", flow_parameter=True) == [
        "FLOWTRACK_RUN_LEARNING_RATE", "METAFLOW_RUN_LEARNING_RATE"]


def test_every_alias_is_a_metaflow_name_of_a_flowtrack_name():
    aliases = _config.METAFLOW_ALIASES
    assert aliases  # the one table of Metaflow's names
    for ours, theirs in aliases.items():
        assert ours.startswith("FLOWTRACK_") and theirs.startswith("METAFLOW_")
    assert len(set(aliases.values())) == len(aliases)


def test_env_reads_the_first_non_empty_name(clean_env, monkeypatch):
    monkeypatch.delenv("FLOWTRACK_RUN_MAX_WORKERS", raising=False)
    monkeypatch.delenv("METAFLOW_RUN_MAX_WORKERS", raising=False)
    assert _config.env("FLOWTRACK_RUN_MAX_WORKERS") is None
    monkeypatch.setenv("METAFLOW_RUN_MAX_WORKERS", "3")
    assert _config.env("FLOWTRACK_RUN_MAX_WORKERS") == "3"
    monkeypatch.setenv("FLOWTRACK_RUN_MAX_WORKERS", "")
    assert _config.env("FLOWTRACK_RUN_MAX_WORKERS") == "3"
    monkeypatch.setenv("FLOWTRACK_RUN_MAX_WORKERS", "5")
    assert _config.env("FLOWTRACK_RUN_MAX_WORKERS") == "5"


@pytest.mark.parametrize("var, value", [
    ("METAFLOW_PROFILE", "prod"),  # flowtrack has no configuration profiles
    ("METAFLOW_DATASTORE_SYSROOT_LOCAL", "/elsewhere"),  # the dir holding .metaflow
    ("METAFLOW_DEFAULT_METADATA", "service"),
    ("METAFLOW_SERVICE_URL", "http://metadata:8080"),
    ("METAFLOW_HOME", "/home/x/.metaflowconfig"),
])
def test_metaflow_variables_without_an_equivalent_change_nothing(clean_env, monkeypatch, var,
                                                                   value):
    monkeypatch.setenv("USER", "alice")
    before = settings()
    monkeypatch.setenv(var, value)
    assert settings() == before
