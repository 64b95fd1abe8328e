"""workshop down: stop the background local AWS."""

from ..localaws import process

NAME = "down"
HELP = "stop the local AWS started by 'workshop up' (its state is lost)"


def add_arguments(parser):
    pass


def run(args) -> int:
    state = process.down()
    print(f"local AWS at {state['endpoint']} stopped" if state else "no local AWS was running")
    return 0
