"""The provider registers itself with Airflow: provider info, connection form, masking."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.airflow


def _info() -> dict:
    from vendorgate.airflow import get_provider_info

    return get_provider_info()


def test_provider_info_passes_airflows_own_schema() -> None:
    """Airflow's discovery accepts the provider (an invalid one breaks 'providers list' for all)."""
    import jsonschema

    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(_info(), schema)


def test_provider_info_package_name_is_the_distribution_name() -> None:
    """Discovery requires package-name to equal the installed distribution's normalised name."""
    from importlib.metadata import entry_points

    (ep,) = [
        e for e in entry_points(group="apache_airflow_provider") if e.dist.name == "vendorgate"
    ]
    assert ep.load()()["package-name"] == "vendorgate"


def test_connection_form_fields_pass_airflows_field_behaviour_schema() -> None:
    """The UI accepts the declarative form: relabelled standard fields, hidden unused ones."""
    import jsonschema

    import airflow

    (conn_type,) = _info()["connection-types"]
    behaviour = conn_type["ui-field-behaviour"]
    schema = json.loads(
        (Path(airflow.__file__).parent / "customized_form_field_behaviours.schema.json").read_text()
    )
    jsonschema.validate(
        {"hidden_fields": behaviour["hidden-fields"], "relabeling": behaviour["relabeling"]}, schema
    )
    assert behaviour["relabeling"] == {
        "host": "API base URL",
        "login": "Client ID",
        "password": "Client secret",
    }
    assert set(behaviour["hidden-fields"]) == {"schema", "port"}


def test_every_secret_bearing_extra_key_is_masked_by_airflow_and_no_other() -> None:
    """Airflow masks extras by key name: secret keys are named so, plain keys are readable."""
    from airflow.sdk._shared.secrets_masker.secrets_masker import (
        DEFAULT_SENSITIVE_FIELDS,
        SecretsMasker,
    )

    from vendorgate.airflow._fields import EXTRA_FIELDS

    masker = SecretsMasker()  # configured as airflow.settings does by default
    masker.sensitive_variables_fields = list(DEFAULT_SENSITIVE_FIELDS)
    for field in EXTRA_FIELDS:
        assert masker.should_hide_value_for_key(field.name) is field.secret, field.name


def test_preset_choices_are_the_registered_presets() -> None:
    """The form's preset select box offers exactly the built-in presets."""
    from vendorgate.airflow._fields import EXTRA_FIELDS
    from vendorgate.dialects import list_dialects

    (preset,) = [f for f in EXTRA_FIELDS if f.name == "preset"]
    assert set(preset.choices) == {d.name for d in list_dialects(include_custom=False)}


def test_provider_info_imports_nothing_heavy() -> None:
    """Provider discovery (every Airflow CLI call) does not load Airflow, httpx or hvac."""
    code = (
        "import sys; from vendorgate.airflow._provider_info import get_provider_info;"
        "get_provider_info();"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('airflow', 'httpx', 'hvac', 'jwt', 'cryptography'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("list", "vendorgate"),
        ("hooks", "vendorgate.airflow.hooks.VendorGateHook"),
        ("triggers", "vendorgate.airflow.triggers"),
    ],
)
def test_airflow_providers_cli_shows_the_provider(
    tmp_path: Path, command: str, expected: str
) -> None:
    """'airflow providers list/hooks/triggers' show vendorgate."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    env = dict(os.environ, AIRFLOW_HOME=str(tmp_path))
    out = subprocess.run(
        [airflow, "providers", command, "--output", "plain"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert expected in out.stdout
