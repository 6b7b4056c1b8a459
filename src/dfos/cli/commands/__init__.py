"""Command families of the dfos command line, one module each."""
