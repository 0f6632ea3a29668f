"""The Apache Airflow provider of vendorgate (Airflow 3.3, written against ``airflow.sdk``).

This package is the only part of vendorgate that imports Airflow. Names are imported
lazily, so ``import vendorgate.airflow`` stays cheap at DAG-parse time.

Public names:
    VendorGateHook: the hook of the ``vendorgate`` connection type.
    VendorApiOperator: one API call, the JSON reply to XCom under a size guard.
    VendorExtractOperator: a paginated pull to a file or object storage, atomic, resumable.
    VendorSensor: wait until an endpoint's reply passes a check (poke, reschedule, deferrable).
    VendorPollTrigger: the trigger behind the deferrable sensor.
    AirflowVariableStore: the token store in Airflow Variables.
    AirflowVariableStateStore: the high-water marks of incremental pulls in Airflow Variables.
    XComSizeError, VendorWaitError: errors of the operators and the sensor.
    get_provider_info: what Airflow's provider discovery reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vendorgate._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "AirflowVariableStateStore": "vendorgate.airflow.state",
    "AirflowVariableStore": "vendorgate.airflow.cache",
    "VendorApiOperator": "vendorgate.airflow.operators",
    "VendorExtractOperator": "vendorgate.airflow.operators",
    "VendorGateHook": "vendorgate.airflow.hooks",
    "VendorPollTrigger": "vendorgate.airflow.triggers",
    "VendorSensor": "vendorgate.airflow.sensors",
    "VendorWaitError": "vendorgate.airflow.sensors",
    "XComSizeError": "vendorgate.airflow.operators",
    "get_provider_info": "vendorgate.airflow._provider_info",
}

__all__ = [
    "AirflowVariableStateStore",
    "AirflowVariableStore",
    "VendorApiOperator",
    "VendorExtractOperator",
    "VendorGateHook",
    "VendorPollTrigger",
    "VendorSensor",
    "VendorWaitError",
    "XComSizeError",
    "get_provider_info",
]

if TYPE_CHECKING:
    from vendorgate.airflow._provider_info import get_provider_info
    from vendorgate.airflow.cache import AirflowVariableStore
    from vendorgate.airflow.hooks import VendorGateHook
    from vendorgate.airflow.operators import VendorApiOperator, VendorExtractOperator, XComSizeError
    from vendorgate.airflow.sensors import VendorSensor, VendorWaitError
    from vendorgate.airflow.state import AirflowVariableStateStore
    from vendorgate.airflow.triggers import VendorPollTrigger

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
