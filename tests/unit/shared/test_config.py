from pathlib import Path

import pytest

from shared.config import ConfigError, load_settings, redact_url, substitute

BASE_ENV = {
    "DISAN_DATABASE_URL": "postgresql://disan:s3cret@127.0.0.1:5432/disan",
    "DISAN_S3_ACCESS_KEY": "ak",
    "DISAN_S3_SECRET_KEY": "sk",
}


def test_substitute_uses_environment_then_default():
    assert substitute("${A:x}-${B:y}", {"A": "1"}) == "1-y"


def test_substitute_without_default_and_unset_is_an_error_naming_the_variable():
    with pytest.raises(ConfigError, match="DISAN_SECRET"):
        substitute("key: ${DISAN_SECRET}", {})


def test_default_config_loads_with_only_the_secrets_given():
    settings = load_settings(env=BASE_ENV)
    assert settings.environment == "development"
    assert settings.s3.secure is False
    assert settings.ports.http["front"] == 8000
    assert settings.ops_port("gateway") == 9101


def test_missing_secret_stops_start_up():
    env = dict(BASE_ENV)
    del env["DISAN_S3_SECRET_KEY"]
    with pytest.raises(ConfigError, match="DISAN_S3_SECRET_KEY"):
        load_settings(env=env)


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("DISAN_ENV", "staging", "environment"),
        ("DISAN_AMQP_URI", "http://broker", "amqp_uri"),
        ("DISAN_RETRY_MAX_ATTEMPTS", "0", "max_attempts"),
        ("DISAN_RETRY_MAX_ATTEMPTS", "many", "max_attempts"),
    ],
)
def test_wrong_values_are_refused_with_the_field_named(key, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        load_settings(env=BASE_ENV | {key: value})


def test_unreadable_config_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read config"):
        load_settings(tmp_path / "absent.yaml", env=BASE_ENV)


def test_redacted_settings_hide_passwords():
    settings = load_settings(env=BASE_ENV)
    assert "s3cret" not in str(settings.redacted())
    assert redact_url("amqp://u:pw@h/v") == "amqp://u:***@h/v"


def test_secrets_with_yaml_syntax_stay_data():
    tricky = 'p@ss: #word\' "x"\n- y'
    settings = load_settings(env=BASE_ENV | {"DISAN_S3_SECRET_KEY": tricky})
    assert settings.s3.secret_key == tricky
