"""workshop down: stop the background local AWS."""

from ..localaws import process

NAME = "down"
HELP = "stop the local AWS started by 'workshop up' (its state is lost)"


def add_arguments(parser):
    pass


def run(args) -> int:
    done = process.down()
    for state in done:
        print(process.describe(state))
    if not done:
        print("no local AWS was running")
    return 0
