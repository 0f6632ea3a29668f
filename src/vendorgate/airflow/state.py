"""High-water marks of incremental pulls in Airflow Variables (one Variable per mark).

:class:`AirflowVariableStateStore` is the default store of
``VendorExtractOperator(incremental={...})``: the mark lives in the metadata database
next to the DAG's other state, readable and resettable in the UI (Admin -> Variables) or
with ``airflow variables get/set/delete``. The Variable key is ``vendorgate_mark_<key>``,
``<key>`` defaulting to ``<dag_id>.<task_id>`` (``.<map_index>`` for a mapped task).

What is stored: the state of :class:`vendorgate.http.Incremental`, a short JSON text,
``{"mark": 154}`` between runs and ``{"mark": 149, "pending": {"output", "partial",
"mark"}}`` while a run commits. Only the mark and file paths, never a secret or a token.

Variables are upserts: no compare-and-set, no lock. One run at a time per key keeps the
exactly-once guarantee (the operator sets ``max_active_tis_per_dag=1`` when it pulls
incrementally). If two runs of the task overlap anyway (a manual run next to a scheduled
one), both start from the same mark and the last to finish writes its mark: records are
then fetched twice (into both outputs), never lost, because every stored mark comes from
an output that was committed with every record up to it.

Marks are read from the metadata database (through the Execution API), where
``Variable.set`` writes them: a secrets backend holding a Variable of the same key
(``AIRFLOW_VAR_VENDORGATE_MARK_...``, Vault) does not shadow them. A read that fails is an
error, never "no mark yet", which would pull everything again.
"""

from __future__ import annotations

import hashlib
import re

from vendorgate.http._incremental import StateStoreError

__all__ = ["MARK_PREFIX", "AirflowVariableStateStore"]

#: Prefix of the mark Variables' keys.
MARK_PREFIX = "vendorgate_mark_"
_MAX_KEY = 250  # Airflow's ID_LEN for Variable keys
_SAFE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_DESCRIPTION = (
    "vendorgate incremental pull: the high-water mark of the last committed run (delete it "
    "and the next run pulls everything again)"
)


class AirflowVariableStateStore:
    """Incremental marks in Airflow Variables (``airflow.sdk.Variable``).

    Works wherever ``airflow.sdk.Variable`` does: in a task (through the Execution API),
    in ``dag.test()``. Errors reaching Airflow become :class:`~vendorgate.http.StateStoreError`.

    :param prefix: Prefix of the Variable keys (default ``vendorgate_mark_``).
    """

    def __init__(self, *, prefix: str = MARK_PREFIX) -> None:
        if not isinstance(prefix, str) or not _SAFE.match(prefix) or len(prefix) > 100:
            from vendorgate._errors import ConfigurationError

            raise ConfigurationError(
                "must be up to 100 letters, digits, '_', '.' or '-'", field="prefix"
            )
        self.prefix = prefix

    def __repr__(self) -> str:
        return f"AirflowVariableStateStore(prefix={self.prefix!r})"

    def variable_key(self, key: str) -> str:
        """The Variable key of mark ``key``: readable when it can be, bounded in length."""
        name = self.prefix + key
        if _SAFE.match(key) and len(name) <= _MAX_KEY:
            return name
        slug = re.sub(r"[^A-Za-z0-9_.\-]+", "_", key)[:80]
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return f"{self.prefix}{slug}_{digest}"

    def get(self, key: str) -> str | None:
        """The stored state of ``key`` (``None``: never set, the first run pulls from the start).

        A read that fails raises :class:`~vendorgate.http.StateStoreError`: taking it for
        "never set" would pull everything again.
        """
        from vendorgate.airflow._variables import VariableUnreadable, read_variable

        name = self.variable_key(key)
        try:
            value = read_variable(name)
        except VariableUnreadable as exc:
            raise StateStoreError(
                f"cannot read the Airflow Variable {name!r} holding the incremental mark "
                f"({exc}): check that the task reaches Airflow's API; nothing was pulled"
            ) from None
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        """Store the state of ``key`` (an upsert of one Variable)."""
        from airflow.sdk import Variable

        name = self.variable_key(key)
        try:
            Variable.set(name, value, description=_DESCRIPTION)
        except Exception as exc:
            raise StateStoreError(
                f"cannot write the Airflow Variable {name!r} holding the incremental mark "
                f"({type(exc).__name__}): rerun the task; the next run resolves the "
                "stored intent, so no record is lost or repeated"
            ) from exc
