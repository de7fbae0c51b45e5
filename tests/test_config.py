"""Settings resolved from FLOWTRACK_* environment variables at every call."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowtrack import _config
from flowtrack._config import HOME_DIR_NAME, Settings, settings

ALL_VARS = ("FLOWTRACK_HOME", "FLOWTRACK_METADATA", "FLOWTRACK_STORE", "FLOWTRACK_USER")


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
