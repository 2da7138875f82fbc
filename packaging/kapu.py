"""The `kapu` binary: the same command group as `flask --app app`, plus `kapu --version`."""

import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup


def version() -> str:
    """The build's stamp (written by `make dist`), or "checkout" when run from the source tree."""
    stamp = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent)) / "VERSION"
    return stamp.read_text().strip() if stamp.exists() else "checkout"


def create_app():
    """Imported only when a command needs the app: `kapu --version` and `--help` answer without it."""
    from app import create_app

    return create_app()


def main():
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # a checkout: app.py one level up
    group = FlaskGroup(
        name="kapu",
        create_app=create_app,
        add_default_commands=False,
        add_version_option=False,
        load_dotenv=False,
        set_debug_flag=False,
        help="Kapu: citizen account activation portal.",
    )
    group.params = [p for p in group.params if p.name not in ("env_file", "app", "debug")]  # the app is fixed
    click.version_option(version(), "--version", prog_name="kapu", message="%(prog)s %(version)s")(group)
    group.main(prog_name="kapu")


if __name__ == "__main__":
    main()
