"""coconut: the command line client of the experiment control system."""
