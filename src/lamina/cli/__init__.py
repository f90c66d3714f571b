"""The ``lamina`` command: ``serve`` runs the server; every other command is a client of one."""
