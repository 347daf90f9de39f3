"""One module per command group; each function parses, calls the library, renders."""
