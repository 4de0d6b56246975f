"""``roofline accuracy``: every published measurement of the dataset against the bound and the
expected model (:mod:`simulator.accuracy`)."""

from __future__ import annotations

import argparse

from simulator.cli.common import add_format_option, add_progress_option


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", choices=("gpu", "mcu", "llm"), action="append", default=None,
                        help="only the rows of these dataset tables (repeatable; default all)")
    parser.add_argument("--device", action="append", default=None,
                        help="only the rows of these devices (repeatable); DEVICE@RUNTIME: only the rows "
                             "that runtime predicts")
    add_format_option(parser, "markdown")
    add_progress_option(parser, "row")
    parser.add_argument("--cv", action="store_true",
                        help="out-of-sample figures instead of the rows: the expected model's figures fitted "
                             "in code per device family on every row of a training fold, scored on the "
                             "held-out rows (leave-one-device-out, leave-one-family-out, time-split), beside "
                             "the in-sample figure; per device class and device (--device: those lines)")
    parser.add_argument("--protocol", action="append", default=None,
                        choices=("leave-one-device-out", "leave-one-family-out", "time-split", "in-sample",
                                 "shipped"),
                        help="with --cv: only these protocols (repeatable; default all but shipped, the "
                             "shipped profiles' in-sample figure, which simulates every row)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from simulator.accuracy import (
        accuracy_table,
        format_accuracy,
        format_markdown,
        load_measurements,
        row_device,
    )
    from simulator.cli.progress import Progress
    from simulator.errors import SimulatorError, UnknownNameError
    from simulator.io import dumps_json

    rows = [row for row in load_measurements() if args.table is None or row["table"] in args.table]
    if args.device is not None and not args.cv:
        # a row answers to its device's name and to the DEVICE@RUNTIME it is predicted on
        names = {id(row): {row["device"], row_device(row)[0]} for row in rows}
        known = set().union(*names.values())
        for name in args.device:
            if name not in known:
                raise UnknownNameError("device in the dataset", name, known)
        rows = [row for row in rows if names[id(row)] & set(args.device)]
    if not rows:
        raise SimulatorError("no dataset rows match " + ", ".join(f"--table {t}" for t in args.table or []))
    if args.protocol and not args.cv:
        raise SimulatorError("--protocol needs --cv (it chooses the cross-validation protocols)")
    if args.cv:
        return run_cv(args, rows)
    with Progress("accuracy", "lines" if args.progress else "auto", unit="rows") as line:
        table = accuracy_table(rows, progress=line.update)
    if args.format == "json":
        print(dumps_json(table.to_dict(orient="records")))
    elif args.format == "csv":
        print(table.to_csv(index=False), end="")
    elif args.format == "markdown":
        print(format_markdown(table))
    else:
        print(format_accuracy(table))
    return 0


def run_cv(args: argparse.Namespace, rows: list[dict[str, str]]) -> int:
    """``--cv``: the cross-validation of ``rows`` (every device's, so that each fold fits on all the
    rows it may); ``--device`` keeps those devices' lines of the summary."""
    from simulator.calibration import crossval
    from simulator.calibration.cv_energy import with_energy_lines
    from simulator.cli.progress import Progress
    from simulator.errors import UnknownNameError
    from simulator.io import dumps_json

    with Progress("accuracy --cv", "lines" if args.progress else "auto", unit="rows") as line:
        protocols = args.protocol or crossval.DEFAULT_PROTOCOLS
        # with the microcontroller energy rows, predicted from these latencies (cv_energy)
        table, selected = crossval.run(rows, protocols, progress=line.update, extra=with_energy_lines)
    if args.device is not None:
        # a device's LLM rows are a line of their own, "DEVICE (LLM)": the device's name selects both
        devices = table.name.str.replace(" (LLM)", "", regex=False)
        known = set(devices[table.scope == "device"])
        for name in args.device:
            if name not in known:
                raise UnknownNameError("device cross-validated", name, known)
        table = table[(table.scope == "class") | devices.isin(args.device)]
    if args.format == "json":
        print(dumps_json({"summary": table.to_dict(orient="records"), "not_cross_validated": dict(
            selected.excluded)}))
    elif args.format == "csv":
        print(table.to_csv(index=False), end="")
    elif args.format == "markdown":
        print(crossval.format_markdown(table, selected))
    else:
        print(crossval.format_text(table, selected))
    return 0
