"""Run the `userauth` console script as `python -m userauth`."""

from userauth.cli import main

main(prog_name="userauth")
