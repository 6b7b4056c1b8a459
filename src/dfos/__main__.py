"""``python -m dfos`` is the ``dfos`` command."""

from dfos.cli.main import run

if __name__ == "__main__":
    run()
