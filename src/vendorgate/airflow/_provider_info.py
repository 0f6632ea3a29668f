"""``get_provider_info()``: what Airflow's provider discovery reads (entry point target).

Registered as the ``apache_airflow_provider`` entry point of the ``vendorgate``
distribution. Airflow validates the returned dict against its own
``provider_info.schema.json`` (an invalid dict breaks ``airflow providers list`` for every
provider), so a test validates it too. Imports nothing but the standard library.
"""

from __future__ import annotations

from typing import Any

from vendorgate.airflow._fields import EXTRA_FIELDS

__all__ = ["get_provider_info"]

_INTEGRATION = "vendorgate"
_PKG = "vendorgate.airflow"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager consumes."""
    return {
        "package-name": "vendorgate",
        "name": "vendorgate",
        "description": (
            "OAuth 2.0 machine-to-machine tokens for vendor REST APIs: Vault secrets, one "
            "token cache shared by every task (Airflow Variables), resilient paginated pulls."
        ),
        "integrations": [
            {
                "integration-name": _INTEGRATION,
                "external-doc-url": "https://example.invalid/vendorgate/airflow/",
                "tags": ["protocol"],
            }
        ],
        "hooks": [{"integration-name": _INTEGRATION, "python-modules": [f"{_PKG}.hooks"]}],
        "operators": [{"integration-name": _INTEGRATION, "python-modules": [f"{_PKG}.operators"]}],
        "sensors": [{"integration-name": _INTEGRATION, "python-modules": [f"{_PKG}.sensors"]}],
        "triggers": [{"integration-name": _INTEGRATION, "python-modules": [f"{_PKG}.triggers"]}],
        "connection-types": [
            {
                "connection-type": "vendorgate",
                "hook-class-name": f"{_PKG}.hooks.VendorGateHook",
                "hook-name": "vendorgate (OAuth 2.0 vendor API)",
                "conn-fields": {f.name: f.conn_field() for f in EXTRA_FIELDS},
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {
                        "host": "API base URL",
                        "login": "Client ID",
                        "password": "Client secret",
                    },
                    "placeholders": {
                        "host": "https://api.vendor.example/v1",
                        "login": "the client id the vendor gave you",
                        "password": "or a reference in 'Client secret reference'",
                    },
                },
            }
        ],
    }
