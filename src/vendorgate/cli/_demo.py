"""``vendorgate demo``: every preset against a local OpenBao and the vendor sandbox."""

from __future__ import annotations

import argparse

__all__ = ["add_parser"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``vendorgate demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="run the offline demo pipeline (OpenBao + vendor sandbox, every preset)",
        description=(
            "Start OpenBao and the vendor sandbox, store demo secrets in Vault, fetch a token "
            "for every preset through one shared cache, pull a few pages each, print a "
            "summary, and stop everything. Needs the 'testing' extra."
        ),
    )
    parser.add_argument("--pages", type=int, default=3, help="pages per vendor (default 3)")
    parser.add_argument("--page-size", type=int, default=25, help="records per page (default 25)")
    parser.add_argument(
        "--airflow",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also run the mapped example DAG with Airflow (default: when Airflow is installed)",
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from vendorgate._errors import ConfigurationError
    from vendorgate.cli._extras import missing_extra

    if args.pages < 1 or args.page_size < 1:
        raise ConfigurationError("must be >= 1", field="--pages/--page-size")
    if missing_extra("demo", "testing"):
        return 1
    from vendorgate.testing._demo import run_demo

    steps = []
    airflow = args.airflow
    if airflow is not False:
        import importlib.util

        from vendorgate.airflow._demo import airflow_demo_step, example_dags_folder

        available = importlib.util.find_spec("airflow") is not None and bool(example_dags_folder())
        if airflow and not available:
            raise ConfigurationError(
                "needs the 'airflow' extra and a clone's dags_examples/", field="--airflow"
            )
        if available:
            steps.append(airflow_demo_step)
    run_demo(pages=args.pages, page_size=args.page_size, steps=steps)
    return 0
