"""python -m loop_deck: the same as the loop-deck command."""

from loop_deck.cli import main

main()
