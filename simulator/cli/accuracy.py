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
    if args.device is not None:
        # a row answers to its device's name and to the DEVICE@RUNTIME it is predicted on
        names = {id(row): {row["device"], row_device(row)[0]} for row in rows}
        known = set().union(*names.values())
        for name in args.device:
            if name not in known:
                raise UnknownNameError("device in the dataset", name, known)
        rows = [row for row in rows if names[id(row)] & set(args.device)]
    if not rows:
        raise SimulatorError("no dataset rows match " + ", ".join(f"--table {t}" for t in args.table or []))
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
