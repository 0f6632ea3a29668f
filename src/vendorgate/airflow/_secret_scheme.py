"""The ``airflow-conn:`` secret reference scheme: a secret held by another Airflow connection.

``airflow-conn:ID#password`` (or ``#login``, ``#host``, ``#<extra key>``) reads that field
of connection ``ID`` through Airflow (so the user's secrets backend may supply it) and
registers the value with the masker. Registered with the core's secret-scheme registry
as ``"vendorgate.airflow._secret_scheme:resolve_airflow_conn"``.
"""

from __future__ import annotations

from vendorgate._errors import SecretNotFoundError, SecretReferenceError

__all__ = ["resolve_airflow_conn"]

_FIELDS = ("password", "login", "host", "schema")


def resolve_airflow_conn(target: str) -> str:
    """Return the value of ``<conn id>#<field>`` (the text after ``airflow-conn:``).

    Raises:
        SecretReferenceError: the text is not ``<conn id>#<field>``.
        SecretNotFoundError: the connection or the field does not exist or is empty.
    """
    conn_id, sep, field = target.strip().partition("#")
    if not sep or not conn_id or not field:
        raise SecretReferenceError(
            "write airflow-conn:<connection id>#<field>, e.g. airflow-conn:vendor_x#password",
            field="airflow-conn",
        )
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:
        raise SecretNotFoundError(
            f"airflow-conn: connection {conn_id!r} not found ({type(exc).__name__}); "
            "create it or fix the reference"
        ) from None
    if field in _FIELDS:
        value = getattr(conn, field, None)
    else:
        extra = conn.extra_dejson
        value = extra.get(field) if isinstance(extra, dict) else None
    if not isinstance(value, str) or not value:
        raise SecretNotFoundError(
            f"airflow-conn: connection {conn_id!r} has no {field!r}; set it or fix the reference"
        )
    from vendorgate.airflow._masking import mask

    mask(value, field)
    return value
