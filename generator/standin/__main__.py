"""`python -m generator.standin --tickets my-tickets/ --pages my-pages/ --port 9000`: the stand-in on its own."""

from generator.standin.server import main

main()
